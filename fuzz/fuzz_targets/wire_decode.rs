//! `pd_core::wire::decode` never panics; whatever it accepts re-encodes
//! (`try_encode` succeeds unless an option grows past 65,535 octets, which
//! only the U+FFFD repair of over 21,000 octets of non-UTF-8 Status Code
//! text can cause), decodes back to
//! the same value (the decoder already yields the canonical option order),
//! and the encoding is a fixed point. The RFC 9915 §16 checks and
//! `sanitize_ia_pd` never panic on an accepted message either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pd_core::duid::Duid;
use pd_core::wire::{
    check_from_client, check_from_server, decode, encode, sanitize_ia_pd, try_encode, EncodeError,
};

fuzz_target!(|data: &[u8]| {
    let Ok(env) = decode(data) else {
        return;
    };
    let bytes = match try_encode(&env) {
        Ok(b) => b,
        // Status Code text that is not UTF-8 is repaired with U+FFFD (3
        // octets per bad octet) and can outgrow its option, but only from
        // about 21,845 bad octets on (see pd-core/tests/fuzz_regressions.rs);
        // `encode` then gives an empty datagram instead of panicking.
        Err(EncodeError::OptionTooLong(_)) if data.len() > 21_000 => {
            assert!(encode(&env).is_empty());
            return;
        }
        Err(e) => panic!("accepted message does not re-encode: {e}\n{env:?}"),
    };
    assert_eq!(encode(&env), bytes, "encode and try_encode disagree");
    let again = decode(&bytes).unwrap_or_else(|d| panic!("re-encoded bytes rejected: {d:?}"));
    assert_eq!(again, env, "decode(encode(x)) != x");
    assert_eq!(
        try_encode(&again).ok(),
        Some(bytes),
        "encoding is not a fixed point"
    );

    let d = Duid::ll(1, &[2, 0, 0, 0, 0, 1]);
    let _ = check_from_client(&env.msg, &d);
    let _ = check_from_client(&env.msg, env.msg.server_id.as_ref().unwrap_or(&d));
    let _ = check_from_server(&env.msg, &d, env.msg.xid);
    let _ = check_from_server(
        &env.msg,
        env.msg.client_id.as_ref().unwrap_or(&d),
        env.msg.xid,
    );
    for ia in &env.msg.ia_pd {
        if let Some(s) = sanitize_ia_pd(ia) {
            assert!(s.prefixes.iter().all(|p| p.preferred <= p.valid));
            assert!(s.t2 == 0 || s.t1 <= s.t2);
        }
    }
});
