//! Malformed datagrams: every one is a `Discard`, none panics.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod wire_common;

use pd_core::wire::{check_from_client, decode, encode, Discard, Envelope, MsgType};
use wire_common::*;

/// A message: type, xid 01 02 03, then the given options.
fn message(msg_type: u8, opts: &[&[u8]]) -> Vec<u8> {
    let mut v = vec![msg_type, 1, 2, 3];
    for o in opts {
        v.extend_from_slice(o);
    }
    v
}

/// One option TLV.
fn opt(code: u16, body: &[u8]) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn client_id() -> Vec<u8> {
    opt(1, syn_client().as_bytes())
}

/// IA_PD iaid 1, T1 = T2 = 0, with these sub-options.
fn ia_pd(sub: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    for s in sub {
        body.extend_from_slice(s);
    }
    opt(25, &body)
}

/// IAPREFIX 0/0 with this length and address bytes.
fn iaprefix(len: u8, addr: [u8; 16]) -> Vec<u8> {
    let mut body = vec![0; 8];
    body.push(len);
    body.extend_from_slice(&addr);
    opt(26, &body)
}

/// A relay header (type, hop count, link ::, peer ::1) with these options.
fn relay(msg_type: u8, hop: u8, opts: &[&[u8]]) -> Vec<u8> {
    let mut v = vec![msg_type, hop];
    v.extend_from_slice(&[0; 16]);
    let mut peer = [0; 16];
    peer[15] = 1;
    v.extend_from_slice(&peer);
    for o in opts {
        v.extend_from_slice(o);
    }
    v
}

/// `inner` wrapped in `depth` Relay-Forw headers.
fn nest(inner: Vec<u8>, depth: usize) -> Vec<u8> {
    (0..depth).fold(inner, |acc, i| {
        relay(12, u8::try_from(i).unwrap(), &[&opt(9, &acc)])
    })
}

fn solicit() -> Vec<u8> {
    message(1, &[&client_id()])
}

#[test]
fn truncated_header() {
    assert_eq!(decode(&[]), Err(Discard::TooShort));
    assert_eq!(decode(&[1]), Err(Discard::TooShort));
    assert_eq!(decode(&[1, 2, 3]), Err(Discard::TooShort));
    // A relay header needs 34 octets.
    assert_eq!(decode(&relay(12, 0, &[])[..33]), Err(Discard::TooShort));
    // A Relay Message option holding less than a message header.
    assert_eq!(
        decode(&relay(12, 0, &[&opt(9, &[1, 2])])),
        Err(Discard::TooShort)
    );
    // The shortest valid message: a header with no options.
    assert!(decode(&[1, 2, 3, 4]).is_ok());
}

#[test]
fn option_length_past_the_end() {
    let mut m = solicit();
    m.extend_from_slice(&[0, 23, 0, 16, 1, 2, 3]);
    assert_eq!(decode(&m), Err(Discard::OptionOverrun));
    // A partial option header (3 octets) after a good option.
    let mut m = solicit();
    m.extend_from_slice(&[0, 8, 0]);
    assert_eq!(decode(&m), Err(Discard::OptionOverrun));
    // Inside an IA_PD, a sub-option longer than the IA_PD body.
    let mut body = vec![0; 12];
    body.extend_from_slice(&[0, 26, 0, 25, 0, 0]);
    assert_eq!(
        decode(&message(1, &[&client_id(), &opt(25, &body)])),
        Err(Discard::OptionOverrun)
    );
    // Inside a relay.
    let mut r = relay(12, 0, &[&opt(9, &solicit())]);
    r.extend_from_slice(&[0, 18, 0, 9, 1]);
    assert_eq!(decode(&r), Err(Discard::OptionOverrun));
}

#[test]
fn one_byte_status_code() {
    // dhcproto 0.15 panics (debug) on this; we never hand it such bytes.
    let top = message(7, &[&client_id(), &opt(13, &[0])]);
    assert_eq!(decode(&top), Err(Discard::BadOptionLength));
    let in_ia = message(7, &[&client_id(), &ia_pd(&[&opt(13, &[6])])]);
    assert_eq!(decode(&in_ia), Err(Discard::BadOptionLength));
    let in_prefix = {
        let mut body = vec![0; 8];
        body.push(56);
        body.extend_from_slice(&[0; 16]);
        body.extend_from_slice(&opt(13, &[]));
        message(7, &[&ia_pd(&[&opt(26, &body)])])
    };
    assert_eq!(decode(&in_prefix), Err(Discard::BadOptionLength));
    // Two octets (code, empty message) is fine.
    let ok = decode(&message(7, &[&opt(13, &[0, 6])])).unwrap();
    assert_eq!(ok.msg.status.unwrap().code, 6);
}

#[test]
fn short_fixed_parts() {
    // IA_PD shorter than 12.
    assert_eq!(
        decode(&message(1, &[&client_id(), &opt(25, &[0; 11])])),
        Err(Discard::BadOptionLength)
    );
    // IAPREFIX shorter than 25.
    assert_eq!(
        decode(&message(1, &[&ia_pd(&[&opt(26, &[0; 24])])])),
        Err(Discard::BadOptionLength)
    );
    // IA_NA shorter than 12, IA_TA shorter than 4, IAADDR shorter than 24.
    assert_eq!(
        decode(&message(1, &[&opt(3, &[0; 11])])),
        Err(Discard::BadOptionLength)
    );
    assert_eq!(
        decode(&message(1, &[&opt(4, &[0; 3])])),
        Err(Discard::BadOptionLength)
    );
    let mut na = vec![0; 12];
    na.extend_from_slice(&opt(5, &[0; 23]));
    assert_eq!(
        decode(&message(1, &[&opt(3, &na)])),
        Err(Discard::BadOptionLength)
    );
}

#[test]
fn fixed_length_options() {
    for (code, body) in [
        (8u16, &[0u8][..]), // Elapsed Time is 2
        (8, &[0, 0, 0]),    // ... not 3
        (7, &[]),           // Preference is 1
        (7, &[1, 2]),       //
        (14, &[1]),         // Rapid Commit is empty
        (20, &[1]),         // Reconfigure Accept is empty
        (82, &[0, 0, 1]),   // SOL_MAX_RT is 4
        (23, &[0; 15]),     // DNS servers: multiple of 16
        (23, &[0; 17]),     //
        (6, &[0, 23, 0]),   // ORO: multiple of 2
    ] {
        assert_eq!(
            decode(&message(1, &[&client_id(), &opt(code, body)])),
            Err(Discard::BadOptionLength),
            "option {code} with {} octets",
            body.len()
        );
    }
}

#[test]
fn iaprefix_length_129() {
    let m = message(1, &[&client_id(), &ia_pd(&[&iaprefix(129, [0; 16])])]);
    assert_eq!(decode(&m), Err(Discard::BadPrefix));
    let m = message(1, &[&client_id(), &ia_pd(&[&iaprefix(255, [0; 16])])]);
    assert_eq!(decode(&m), Err(Discard::BadPrefix));
    // 128 is a valid length.
    let m = message(1, &[&client_id(), &ia_pd(&[&iaprefix(128, [0xff; 16])])]);
    assert_eq!(
        decode(&m).unwrap().msg.ia_pd[0].prefixes[0].prefix.len(),
        128
    );
}

#[test]
fn sloppy_hint_host_bits_are_cleared() {
    let mut addr = [0; 16];
    addr[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    addr[15] = 1; // 2001:db8::1/56
    let m = message(1, &[&client_id(), &ia_pd(&[&iaprefix(56, addr)])]);
    let p = decode(&m).unwrap().msg.ia_pd[0].prefixes[0].prefix;
    assert_eq!(p, "2001:db8::/56".parse().unwrap());
}

#[test]
fn non_utf8_status_message_is_decoded_lossily() {
    let m = message(7, &[&opt(13, &[0, 1, b'b', 0xff, b'd'])]);
    let s = decode(&m).unwrap().msg.status.unwrap();
    assert_eq!((s.code, s.message.as_str()), (1, "b\u{fffd}d"));
}

#[test]
fn relay_nesting_limit() {
    // HOP_COUNT_LIMIT (8) relays are fine, 9 are not.
    let eight = decode(&nest(solicit(), 8)).unwrap();
    assert_eq!(eight.relays.len(), 8);
    assert_eq!(eight.relays[0].hop_count, 7);
    assert_eq!(decode(&nest(solicit(), 9)), Err(Discard::TooManyHops));
    assert_eq!(decode(&nest(solicit(), 40)), Err(Discard::TooManyHops));
}

#[test]
fn relay_without_relay_message() {
    let r = relay(12, 0, &[&opt(18, b"eth0")]);
    assert_eq!(decode(&r), Err(Discard::NoRelayMessage));
    assert_eq!(decode(&relay(13, 0, &[])), Err(Discard::NoRelayMessage));
    // Two Relay Message options.
    let two = relay(12, 0, &[&opt(9, &solicit()), &opt(9, &solicit())]);
    assert_eq!(decode(&two), Err(Discard::DuplicateOption));
}

#[test]
fn relay_types_must_match_the_direction() {
    let advertise = message(2, &[&client_id()]);
    // A Relay-Repl carries a server message, a Relay-Forw a client message.
    assert_eq!(
        decode(&relay(13, 0, &[&opt(9, &solicit())])),
        Err(Discard::UnexpectedType)
    );
    assert_eq!(
        decode(&relay(12, 0, &[&opt(9, &advertise)])),
        Err(Discard::UnexpectedType)
    );
    assert!(decode(&relay(13, 0, &[&opt(9, &advertise)])).is_ok());
    // No mixing Relay-Forw and Relay-Repl in one chain.
    let inner = relay(13, 0, &[&opt(9, &advertise)]);
    assert_eq!(
        decode(&relay(12, 1, &[&opt(9, &inner)])),
        Err(Discard::UnexpectedType)
    );
}

#[test]
fn duplicate_singletons() {
    let cid = client_id();
    let sid = opt(2, syn_server().as_bytes());
    assert_eq!(
        decode(&message(1, &[&cid, &cid])),
        Err(Discard::DuplicateOption)
    );
    for dup in [
        sid,
        opt(8, &[0, 0]),
        opt(7, &[1]),
        opt(14, &[]),
        opt(20, &[]),
        opt(13, &[0, 0]),
        opt(6, &[0, 23]),
        opt(23, &[0; 16]),
        opt(82, &[0, 0, 0, 60]),
    ] {
        assert!(decode(&message(1, &[&cid, &dup])).is_ok(), "{dup:02x?}");
        let m = message(1, &[&cid, &dup, &dup]);
        assert_eq!(decode(&m), Err(Discard::DuplicateOption), "{dup:02x?}");
    }
    // Two Status Codes in one IA_PD.
    let m = message(7, &[&ia_pd(&[&opt(13, &[0, 0]), &opt(13, &[0, 6])])]);
    assert_eq!(decode(&m), Err(Discard::DuplicateOption));
    // Several IA_PDs are not duplicates.
    let m = message(1, &[&cid, &ia_pd(&[]), &ia_pd(&[])]);
    assert_eq!(decode(&m).unwrap().msg.ia_pd.len(), 2);
}

#[test]
fn bad_duids() {
    for body in [&[][..], &[0, 1], &[0, 3, 0, 1], &[0, 4, 1, 2, 3]] {
        assert_eq!(
            decode(&message(1, &[&opt(1, body)])),
            Err(Discard::BadDuid),
            "{body:?}"
        );
        assert_eq!(
            decode(&message(3, &[&client_id(), &opt(2, body)])),
            Err(Discard::BadDuid)
        );
    }
    assert_eq!(
        decode(&message(1, &[&opt(1, &[0; 131])])),
        Err(Discard::BadDuid)
    );
}

#[test]
fn unknown_message_type() {
    let bytes = message(42, &[&client_id()]);
    let env = decode(&bytes).unwrap();
    assert_eq!(env.msg.msg_type, MsgType::Other(42));
    assert_eq!(env.msg.client_id, Some(syn_client()));
    assert_eq!(
        check_from_client(&env.msg, &syn_server()),
        Err(Discard::UnexpectedType)
    );
    // MsgType::Other(n) encodes as n.
    assert_eq!(encode(&env), bytes);
    let zero = decode(&message(0, &[])).unwrap();
    assert_eq!(zero.msg.msg_type, MsgType::Other(0));
}

/// A deterministic xorshift stream for junk.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn sixty_four_kib_of_junk() {
    for first in 0..=255u8 {
        let mut j = junk(0x9e37_79b9_7f4a_7c15 ^ u64::from(first), 65_536);
        j[0] = first;
        assert!(decode(&j).is_err(), "junk starting with {first}");
    }
    assert_eq!(decode(&[0xff; 65_536]), Err(Discard::OptionOverrun));
    // 64 KiB of well-framed unknown options is a valid (if odd) message.
    let mut big = message(1, &[&client_id()]);
    while big.len() + 1004 <= 65_535 {
        big.extend_from_slice(&opt(0x7777, &[0xab; 1000]));
    }
    let env = decode(&big).unwrap();
    assert_eq!(env.msg.other.len(), 65);
    assert_eq!(encode(&env), big);
}

#[test]
fn relayed_malformed_message_is_discarded_too() {
    let bad = message(1, &[&opt(13, &[0])]);
    assert_eq!(decode(&nest(bad, 2)), Err(Discard::BadOptionLength));
    let env: Envelope = decode(&nest(solicit(), 2)).unwrap();
    assert_eq!(env.msg.client_id, Some(syn_client()));
}
