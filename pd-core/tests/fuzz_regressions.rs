//! What `fuzz/` checks, replayed as ordinary tests: the committed seed
//! corpora of the `wire_decode` and `ra_roundtrip` targets go through the
//! same properties (so CI checks them without cargo-fuzz), and edge cases
//! the fuzzing work turned up are pinned one test each.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::path::PathBuf;

use pd_core::ra::{decode_ra, decode_rs, encode_ra, encode_rs};
use pd_core::wire::{decode, encode, try_encode, Discard, EncodeError, MsgType};

/// Every file of fuzz/corpus/TARGET (the committed seeds).
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// The `wire_decode` property for one input; true if it was accepted.
fn wire_roundtrip(name: &str, data: &[u8]) -> bool {
    let Ok(env) = decode(data) else {
        return false;
    };
    let bytes = try_encode(&env).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(encode(&env), bytes, "{name}");
    assert_eq!(decode(&bytes).as_ref(), Ok(&env), "{name}");
    assert_eq!(
        try_encode(&decode(&bytes).unwrap()).unwrap(),
        bytes,
        "{name}"
    );
    true
}

#[test]
fn wire_decode_seed_corpus_round_trips() {
    let seeds = corpus("wire_decode");
    assert!(seeds.len() >= 20, "seeds missing: {}", seeds.len());
    let accepted: Vec<&str> = seeds
        .iter()
        .filter(|(n, d)| wire_roundtrip(n, d))
        .map(|(n, _)| n.as_str())
        .collect();
    // Every golden is a valid message; the hand-made edge cases are not.
    for (n, _) in &seeds {
        assert_eq!(
            accepted.contains(&n.as_str()),
            n.starts_with("golden-") || n == "relay-8-hops",
            "{n}"
        );
    }
}

#[test]
fn ra_seed_corpus_round_trips() {
    let seeds = corpus("ra_roundtrip");
    assert!(seeds.len() >= 5);
    let (mut ra, mut rs) = (0, 0);
    for (name, data) in &seeds {
        if let Ok(m) = decode_ra(data) {
            let bytes = encode_ra(&m);
            assert_eq!(decode_ra(&bytes).as_ref(), Ok(&m), "{name}");
            assert_eq!(encode_ra(&decode_ra(&bytes).unwrap()), bytes, "{name}");
            ra += 1;
        }
        if let Ok(m) = decode_rs(data) {
            assert_eq!(decode_rs(&encode_rs(&m)), Ok(m), "{name}");
            rs += 1;
        }
    }
    assert_eq!((ra, rs), (4, 3), "every RA/RS seed decodes");
}

/// A Reply whose top-level Status Code text is `n` octets of 0xff.
fn reply_with_bad_text(n: usize) -> Vec<u8> {
    let mut m = hex::decode(
        concat!(
            "07 abcdef",                        // Reply, xid
            "0001 000a 0003 0001 02000000000a", // Client ID: DUID-LL 02:00:00:00:00:0a
            "0002 000a 0003 0001 02000000000b", // Server ID: DUID-LL 02:00:00:00:00:0b
            "000d",                             // Status Code, length below
        )
        .replace(' ', ""),
    )
    .unwrap();
    m.extend_from_slice(&u16::try_from(2 + n).unwrap().to_be_bytes());
    m.extend_from_slice(&[0, 1]); // UnspecFail
    m.resize(m.len() + n, 0xff);
    m
}

/// Status Code text that is not UTF-8 is repaired with U+FFFD (3 octets per
/// bad octet), so the repaired text can outgrow the 65,535-octet option
/// limit: from about 21,845 bad octets on, an accepted message cannot be
/// re-encoded. `try_encode` says so and `encode` gives an empty datagram;
/// nothing panics. (Unreachable with libFuzzer's default 4 KiB inputs; the
/// `wire_decode` target allows exactly this error and only for inputs over
/// 21,000 octets.)
#[test]
fn repaired_status_text_too_long_to_re_encode_is_refused_not_panicked() {
    let small = reply_with_bad_text(4);
    assert!(wire_roundtrip("small", &small));
    let env = decode(&small).unwrap();
    assert_eq!(env.msg.status.unwrap().message, "\u{fffd}".repeat(4));

    let big = reply_with_bad_text(22_000);
    let env = decode(&big).expect("accepted: the framing is fine");
    assert_eq!(env.msg.msg_type, MsgType::Reply);
    assert_eq!(env.msg.status.as_ref().unwrap().message.len(), 66_000);
    assert_eq!(try_encode(&env), Err(EncodeError::OptionTooLong(13)));
    assert!(encode(&env).is_empty());
    assert_eq!(decode(&encode(&env)), Err(Discard::TooShort));
}
