//! Property tests: decode never panics; encode → decode gives the input back
//! (up to the canonical option order); decode → encode → decode is stable.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod wire_common;
mod wire_oracle;

use std::net::Ipv6Addr;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::wire::{
    check_from_client, check_from_server, decode, opt, sanitize_ia_pd, try_encode, Envelope,
    IaAddr, IaPd, IaPrefix, Message, MsgType, RawOption, RelayHop, Status,
};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use wire_common::*;

fn duid() -> impl Strategy<Value = Duid> {
    prop_oneof![
        (any::<u16>(), any::<u32>(), vec(any::<u8>(), 1..8))
            .prop_map(|(h, t, l)| Duid::llt(h, t, &l)),
        (any::<u16>(), vec(any::<u8>(), 1..8)).prop_map(|(h, l)| Duid::ll(h, &l)),
        (any::<u32>(), vec(any::<u8>(), 1..8)).prop_map(|(e, i)| Duid::en(e, &i)),
        any::<[u8; 16]>().prop_map(Duid::uuid),
        (5u16.., vec(any::<u8>(), 1..20)).prop_map(|(t, b)| {
            let mut v = t.to_be_bytes().to_vec();
            v.extend(b);
            Duid::from_bytes(&v).unwrap()
        }),
    ]
}

fn status() -> impl Strategy<Value = Status> {
    (any::<u16>(), "\\PC{0,12}").prop_map(|(c, m)| Status::new(c, m))
}

fn raw(exclude: &'static [u16]) -> impl Strategy<Value = RawOption> {
    (
        any::<u16>().prop_filter("interpreted code", move |c| !exclude.contains(c)),
        vec(any::<u8>(), 0..16),
    )
        .prop_map(|(code, data)| RawOption { code, data })
}

fn addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn iaprefix() -> impl Strategy<Value = IaPrefix> {
    (
        any::<u32>(),
        any::<u32>(),
        addr(),
        0u8..=128,
        of(status()),
        vec(raw(&[opt::STATUS_CODE]), 0..3),
    )
        .prop_map(|(preferred, valid, a, len, status, options)| IaPrefix {
            preferred,
            valid,
            prefix: Prefix::truncate(a, len),
            status,
            options,
        })
}

fn ia_pd() -> impl Strategy<Value = IaPd> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        vec(iaprefix(), 0..3),
        of(status()),
    )
        .prop_map(|(iaid, t1, t2, prefixes, status)| IaPd {
            iaid,
            t1,
            t2,
            prefixes,
            status,
        })
}

fn ia_addr() -> impl Strategy<Value = IaAddr> {
    (
        any::<bool>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        of(status()),
    )
        .prop_map(|(temporary, iaid, t1, t2, status)| IaAddr {
            temporary,
            iaid,
            // IA_TA has no T1/T2 on the wire.
            t1: if temporary { 0 } else { t1 },
            t2: if temporary { 0 } else { t2 },
            status,
        })
}

fn msg_type() -> impl Strategy<Value = MsgType> {
    prop_oneof![
        (1u8..=11).prop_map(MsgType::from_code),
        prop_oneof![Just(0u8), 14u8..=255].prop_map(MsgType::Other),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        (
            msg_type(),
            any::<[u8; 3]>(),
            of(duid()),
            of(duid()),
            vec(ia_pd(), 0..3),
            vec(ia_addr(), 0..3),
        ),
        (
            vec(any::<u16>(), 0..5),
            of(any::<u8>()),
            of(any::<u16>()),
            of(status()),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            vec(addr(), 0..3),
            of(any::<u32>()),
            vec(raw(&opt::INTERPRETED), 0..4),
        ),
    )
        .prop_map(
            |(
                (msg_type, xid, client_id, server_id, ia_pd, ia_addr),
                (oro, preference, elapsed, status, rapid_commit, reconfigure_accept),
                (dns_servers, sol_max_rt, other),
            )| Message {
                msg_type,
                xid,
                client_id,
                server_id,
                ia_pd,
                ia_addr,
                oro,
                preference,
                elapsed,
                status,
                rapid_commit,
                reconfigure_accept,
                dns_servers,
                sol_max_rt,
                other,
            },
        )
}

fn hop() -> impl Strategy<Value = RelayHop> {
    (
        any::<u8>(),
        addr(),
        addr(),
        of(vec(any::<u8>(), 0..12)),
        vec(raw(&[opt::RELAY_MSG, opt::INTERFACE_ID]), 0..3),
    )
        .prop_map(
            |(hop_count, link_addr, peer_addr, interface_id, other)| RelayHop {
                hop_count,
                link_addr,
                peer_addr,
                interface_id,
                other,
            },
        )
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (vec(hop(), 0..=8), message()).prop_map(|(relays, msg)| Envelope { relays, msg })
}

/// The canonical form: options in ascending code order (stable).
fn normalise(mut env: Envelope) -> Envelope {
    env.msg.other.sort_by_key(|o| o.code);
    env.msg.ia_addr.sort_by_key(|ia| ia.temporary);
    for ia in &mut env.msg.ia_pd {
        for p in &mut ia.prefixes {
            p.options.sort_by_key(|o| o.code);
        }
    }
    for hop in &mut env.relays {
        hop.other.sort_by_key(|o| o.code);
    }
    env
}

/// Anything that decodes re-encodes, and decodes to the same value again;
/// the checks never panic on it either.
fn stable(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(env) = decode(bytes) {
        let again = try_encode(&env).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decode(&again), Ok(env.clone()));
        let d = Duid::ll(1, &[1]);
        let _ = check_from_client(&env.msg, &d);
        let _ = check_from_server(&env.msg, &d, env.msg.xid);
        for ia in &env.msg.ia_pd {
            let _ = sanitize_ia_pd(ia);
        }
    }
    Ok(())
}

/// Well-framed TLVs with interesting codes and random bodies, to get past
/// the framing checks into the per-option ones.
fn tlvs() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        Just(1u16),
        Just(2),
        Just(3),
        Just(4),
        Just(6),
        Just(7),
        Just(8),
        Just(9),
        Just(13),
        Just(14),
        Just(18),
        Just(20),
        Just(23),
        Just(25),
        Just(26),
        Just(82),
        any::<u16>(),
    ];
    vec((code, vec(any::<u8>(), 0..40)), 0..8).prop_map(|opts| {
        let mut v = Vec::new();
        for (c, body) in opts {
            v.extend_from_slice(&c.to_be_bytes());
            v.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
            v.extend_from_slice(&body);
        }
        v
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    match *m {
        Mutation::Flip(i, x) if n > 0 => bytes[i % n] ^= x,
        Mutation::Truncate(i) => bytes.truncate(i % (n + 1)),
        Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
        Mutation::Remove(i) if n > 0 => {
            bytes.remove(i % n);
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Our encoder writes what dhcproto 0.15 wrote for the same envelope
    /// (the encoder pd used before), also with raw options of any code,
    /// typed codes among them, in any order.
    #[test]
    fn encode_matches_the_dhcproto_oracle(
        mut env in envelope(),
        extra in vec(raw(&[]), 0..4),
    ) {
        env.msg.other.extend(extra);
        let ours = try_encode(&env).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ours, wire_oracle::encode(&env));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..1500)) {
        stable(&bytes)?;
    }

    #[test]
    fn decode_never_panics_on_framed_options(ty in any::<u8>(), body in tlvs()) {
        let mut m = vec![ty, 1, 2, 3];
        m.extend_from_slice(&body);
        stable(&m)?;
        // The same options as relay options around a Solicit.
        let mut r = vec![12, 0];
        r.extend_from_slice(&[0; 32]);
        r.extend_from_slice(&[0, 9, 0, 4, 1, 1, 2, 3]);
        r.extend_from_slice(&body);
        stable(&r)?;
    }

    #[test]
    fn decode_never_panics_on_mutated_goldens(
        which in 0..SYNTHETIC.len() + CAPTURED.len(),
        muts in vec(mutation(), 1..6),
    ) {
        let name = SYNTHETIC.iter().chain(CAPTURED.iter()).nth(which).unwrap();
        let mut bytes = golden(name);
        for m in &muts {
            apply(&mut bytes, m);
        }
        stable(&bytes)?;
    }

    #[test]
    fn encode_then_decode_is_identity(env in envelope()) {
        let bytes = try_encode(&env).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decode(&bytes), Ok(normalise(env)));
    }
}
