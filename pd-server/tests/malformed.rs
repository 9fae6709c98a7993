//! The malformed-input suite at the engine boundary (`handle_datagram`):
//! every bad datagram is built by hand, byte by byte, and must be discarded
//! and counted under its reason in `drops()` / `drop_total()` (or answered
//! where RFC 9915 says so), while a well-formed Solicit → Request from
//! another client, interleaved with the garbage, still gets its prefix.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{self, Discard, Envelope, IaPd, IaPrefix, Message, MsgType};
use pd_server::config;
use pd_server::engine::{Drop as Dropped, Effect, Rx, Server, Settings};
use pd_server::lease::{ClientKey, LeaseState};

const CONFIG: &str = r#"
[server]
interfaces = ["eth1"]
state-dir = "/nonexistent"

[[pool]]
prefix = "2001:db8:2222::/48"
delegated-length = 64
preferred-lifetime = 3600
valid-lifetime = 7200
"#;

/// Our DUID-LL 02:00:00:00:00:aa.
fn server_duid() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 0xaa])
}

/// The well-behaved client: DUID-LL 02:00:00:00:00:0c.
fn good_client() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 0x0c])
}

fn server() -> Server {
    let cfg = config::parse(CONFIG).expect("config");
    let settings = Settings::from_config(&cfg, server_duid());
    Server::new(
        settings,
        cfg.pools,
        cfg.reservations,
        Timestamp::ZERO,
        Vec::new(),
    )
    .0
}

/// A direct client on eth1 at fe80::ff:fe00:n.
fn direct(n: u16) -> Rx {
    Rx {
        src: SocketAddrV6::new(
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, n),
            546,
            0,
            0,
        ),
        dst: "ff02::1:2".parse().unwrap(),
        ifindex: 3,
        iface: Arc::from("eth1"),
    }
}

/// A relay agent at 2001:db8:ffff::7 sending to port 547.
fn relay_agent() -> Rx {
    Rx {
        src: SocketAddrV6::new("2001:db8:ffff::7".parse().unwrap(), 547, 0, 0),
        dst: "2001:db8:ffff::1".parse().unwrap(),
        ifindex: 3,
        iface: Arc::from("eth1"),
    }
}

/// Hex with spaces, in pieces (comments go next to each piece).
fn h(parts: &[&str]) -> Vec<u8> {
    hex::decode(parts.concat().replace(' ', "")).unwrap()
}

// Pieces of a client message (RFC 9915 §21.1: code 2 octets, length 2, body).
/// Solicit (1), transaction id 0xbad001.
const SOLICIT: &str = "01 bad001";
/// Client Identifier (1), length 10: DUID-LL (3), Ethernet (1), 02:00:00:00:00:0b.
const CLIENT_ID: &str = "0001 000a 0003 0001 02000000000b";
/// Elapsed Time (8), length 2, 0.
const ELAPSED: &str = "0008 0002 0000";
/// IA_PD (25), length 12: IAID 1, T1 0, T2 0, no options.
const IA_PD: &str = "0019 000c 00000001 00000000 00000000";

/// One Relay-Forw header (RFC 9915 §9.1) with hop count `hop`, link-address
/// ::, peer-address fe80::ff:fe00:b, then a Relay Message option holding
/// `inner`.
fn relay_forw(hop: u8, inner: &[u8]) -> Vec<u8> {
    let mut v = h(&[
        "0c",                               // Relay-Forw (12)
        &format!("{hop:02x}"),              // hop-count
        "00000000000000000000000000000000", // link-address ::
        "fe80000000000000000000fffe00000b", // peer-address fe80::ff:fe00:b
        "0009",                             // Relay Message option (9)
    ]);
    v.extend_from_slice(&u16::try_from(inner.len()).unwrap().to_be_bytes());
    v.extend_from_slice(inner);
    v
}

/// What must happen to one datagram.
enum Expect {
    /// Discarded and counted under this reason.
    Drop(Dropped),
    /// Answered with exactly one Transmit (the check sees the reply).
    Answer(fn(&Envelope)),
}

struct Case {
    name: &'static str,
    rx: Rx,
    bytes: Vec<u8>,
    expect: Expect,
}

fn wire_drop(d: Discard) -> Expect {
    Expect::Drop(Dropped::Wire(d))
}

fn case(name: &'static str, bytes: Vec<u8>, expect: Expect) -> Case {
    Case {
        name,
        rx: direct(0x0b),
        bytes,
        expect,
    }
}

/// A valid 64 KiB Solicit: the usual options, then two unknown options
/// (code 0xfff0) of 0x5a octets sharing the rest: 65,535 octets in all.
fn big_valid_solicit() -> Vec<u8> {
    let mut v = h(&[SOLICIT, CLIENT_ID, ELAPSED, IA_PD]);
    let room = 65_535 - v.len() - 2 * 4;
    for body in [room / 2, room - room / 2] {
        v.extend_from_slice(&[0xff, 0xf0]);
        v.extend_from_slice(&u16::try_from(body).unwrap().to_be_bytes());
        v.resize(v.len() + body, 0x5a);
    }
    v
}

fn cases() -> Vec<Case> {
    let nest = |depth: usize| {
        let mut m = h(&[SOLICIT, CLIENT_ID, ELAPSED, IA_PD]);
        for i in (0..depth).rev() {
            m = relay_forw(u8::try_from(i).unwrap(), &m);
        }
        m
    };
    let mut big_overrun = h(&[
        SOLICIT,
        CLIENT_ID,
        ELAPSED,
        "fff0 ffff", // unknown option claiming 65,535 octets ...
    ]);
    big_overrun.resize(65_536, 0); // ... with 65,536 - 28 = 65,508 left
    vec![
        // --- framing -----------------------------------------------------
        case("empty datagram", vec![], wire_drop(Discard::TooShort)),
        case(
            "3-octet header",
            h(&["01 bad0"]),
            wire_drop(Discard::TooShort),
        ),
        case(
            "truncated option header",
            // IA_PD option code and the first octet of its length only.
            h(&[SOLICIT, CLIENT_ID, ELAPSED, "0019 00"]),
            wire_drop(Discard::OptionOverrun),
        ),
        case(
            "option length past the end",
            // Elapsed Time claiming 16 octets, 2 present.
            h(&[SOLICIT, CLIENT_ID, IA_PD, "0008 0010 0000"]),
            wire_drop(Discard::OptionOverrun),
        ),
        case(
            "IAPREFIX running past its IA_PD",
            // IA_PD length 16: 12 fixed octets, then an IAPREFIX header
            // claiming 25 octets that the IA_PD does not hold.
            h(&[
                SOLICIT,
                CLIENT_ID,
                "0019 0010 00000001 00000000 00000000 001a 0019",
            ]),
            wire_drop(Discard::OptionOverrun),
        ),
        case(
            "IA_PD shorter than its 12 fixed octets",
            h(&[SOLICIT, CLIENT_ID, "0019 0008 00000001 00000000"]),
            wire_drop(Discard::BadOptionLength),
        ),
        case(
            "1-octet Status Code",
            // Status Code (13), length 1: half a status code, no message.
            h(&[SOLICIT, CLIENT_ID, IA_PD, "000d 0001 00"]),
            wire_drop(Discard::BadOptionLength),
        ),
        case(
            "1-octet Status Code inside IA_PD",
            h(&[
                SOLICIT,
                CLIENT_ID,
                "0019 0011 00000001 00000000 00000000 000d 0001 00",
            ]),
            wire_drop(Discard::BadOptionLength),
        ),
        case(
            "Elapsed Time of 3 octets",
            h(&[SOLICIT, CLIENT_ID, IA_PD, "0008 0003 000000"]),
            wire_drop(Discard::BadOptionLength),
        ),
        // --- IA_PD / IAPREFIX values --------------------------------------
        case(
            "IAPREFIX length 129",
            // IA_PD length 41 = 12 + IAPREFIX (4 + 25): preferred 0, valid 0,
            // prefix-length 0x81 = 129, 2001:db8::.
            h(&[
                SOLICIT,
                CLIENT_ID,
                "0019 0029 00000001 00000000 00000000",
                "001a 0019 00000000 00000000 81 20010db8000000000000000000000000",
            ]),
            wire_drop(Discard::BadPrefix),
        ),
        case(
            "IA_PD with T1 > T2 (RFC 9915 §21.21: the server ignores client T1/T2)",
            // IAID 1, T1 7200, T2 3600.
            h(&[SOLICIT, CLIENT_ID, "0019 000c 00000001 00001c20 00000e10"]),
            Expect::Answer(|e| {
                let ia = &e.msg.ia_pd[0];
                assert_eq!(e.msg.msg_type, MsgType::Advertise);
                assert!(ia.t1 <= ia.t2, "our T1/T2 are sane: {ia:?}");
                assert_eq!(ia.prefixes.len(), 1);
            }),
        ),
        case(
            "IAPREFIX with preferred > valid (a hint: lifetimes are ours)",
            // IAPREFIX preferred 7200 > valid 3600, length 64, 2001:db8:2222:9::.
            h(&[
                SOLICIT,
                CLIENT_ID,
                "0019 0029 00000001 00000000 00000000",
                "001a 0019 00001c20 00000e10 40 20010db8222200090000000000000000",
            ]),
            Expect::Answer(|e| {
                let p = &e.msg.ia_pd[0].prefixes[0];
                assert_eq!(p.prefix, "2001:db8:2222:9::/64".parse::<Prefix>().unwrap());
                assert_eq!((p.preferred, p.valid), (3600, 7200));
            }),
        ),
        // --- identifiers ----------------------------------------------------
        case(
            "duplicate Client Identifier",
            h(&[SOLICIT, CLIENT_ID, CLIENT_ID, ELAPSED, IA_PD]),
            wire_drop(Discard::DuplicateOption),
        ),
        case(
            "zero-length Client Identifier (DUID)",
            h(&[SOLICIT, "0001 0000", ELAPSED, IA_PD]),
            wire_drop(Discard::BadDuid),
        ),
        case(
            "2-octet DUID (a type and nothing else)",
            h(&[SOLICIT, "0001 0002 0003", ELAPSED, IA_PD]),
            wire_drop(Discard::BadDuid),
        ),
        case(
            "zero-length Server Identifier in a Request",
            h(&["03 bad002", CLIENT_ID, "0002 0000", ELAPSED, IA_PD]),
            wire_drop(Discard::BadDuid),
        ),
        case(
            "Solicit without a Client Identifier (RFC 9915 §16.2)",
            h(&[SOLICIT, ELAPSED, IA_PD]),
            wire_drop(Discard::MissingClientId),
        ),
        // --- message types ---------------------------------------------------
        case(
            "message type 0",
            h(&["00 bad003", CLIENT_ID, ELAPSED]),
            wire_drop(Discard::UnexpectedType),
        ),
        case(
            "message type 14 (LEASEQUERY, not implemented)",
            h(&["0e bad004", CLIENT_ID, ELAPSED]),
            wire_drop(Discard::UnexpectedType),
        ),
        case(
            "message type 255",
            h(&["ff bad005", CLIENT_ID, ELAPSED]),
            wire_drop(Discard::UnexpectedType),
        ),
        case(
            "Advertise sent to the server",
            h(&[
                "02 bad006",
                CLIENT_ID,
                "0002 000a 0003 0001 0200000000aa",
                IA_PD,
            ]),
            wire_drop(Discard::UnexpectedType),
        ),
        case(
            "Reconfigure sent to the server",
            h(&["0a bad007", CLIENT_ID, "0002 000a 0003 0001 0200000000aa"]),
            wire_drop(Discard::UnexpectedType),
        ),
        case(
            "Confirm (RFC 9915 §18.3.3: no addresses of ours, no Reply)",
            h(&["04 bad008", CLIENT_ID, ELAPSED]),
            Expect::Drop(Dropped::Confirm),
        ),
        // --- relays ------------------------------------------------------------
        Case {
            name: "Relay-Forw without a Relay Message option",
            rx: relay_agent(),
            // Header, then only an Interface-Id (18) 'eth1'.
            bytes: h(&[
                "0c 00",
                "20010db8000a00000000000000000001",
                "fe80000000000000000000fffe00000b",
                "0012 0004 65746831",
            ]),
            expect: wire_drop(Discard::NoRelayMessage),
        },
        Case {
            name: "Relay-Forw with a Relay Message past the end",
            rx: relay_agent(),
            bytes: {
                let mut v = relay_forw(0, &h(&[SOLICIT, CLIENT_ID, ELAPSED, IA_PD]));
                v.truncate(v.len() - 1);
                v
            },
            expect: wire_drop(Discard::OptionOverrun),
        },
        Case {
            name: "relay nesting 9 deep (RFC 9915 §7.6 HOP_COUNT_LIMIT 8)",
            rx: relay_agent(),
            bytes: nest(9),
            expect: wire_drop(Discard::TooManyHops),
        },
        Case {
            name: "relay nesting 12 deep",
            rx: relay_agent(),
            bytes: nest(12),
            expect: wire_drop(Discard::TooManyHops),
        },
        Case {
            name: "relay nesting 8 deep is answered",
            rx: relay_agent(),
            bytes: nest(8),
            expect: Expect::Answer(|e| {
                assert_eq!(e.relays.len(), 8);
                assert_eq!(e.msg.msg_type, MsgType::Advertise);
            }),
        },
        Case {
            name: "Relay-Repl sent to the server",
            rx: relay_agent(),
            // Relay-Repl (13) around a Reply (7).
            bytes: {
                let mut v = relay_forw(0, &h(&["07 bad009", CLIENT_ID]));
                v[0] = 13;
                v
            },
            expect: wire_drop(Discard::UnexpectedType),
        },
        Case {
            name: "Relay-Forw around a Relay-Repl",
            rx: relay_agent(),
            bytes: {
                let mut inner = relay_forw(0, &h(&["07 bad00a", CLIENT_ID]));
                inner[0] = 13;
                relay_forw(1, &inner)
            },
            expect: wire_drop(Discard::UnexpectedType),
        },
        // --- size ----------------------------------------------------------
        case(
            "64 KiB datagram with an option claiming 65,535 octets",
            big_overrun,
            wire_drop(Discard::OptionOverrun),
        ),
        case(
            "64 KiB of zeros (type 0, 16,383 empty options of code 0)",
            vec![0; 65_536],
            wire_drop(Discard::UnexpectedType),
        ),
        case(
            "valid 64 KiB Solicit is answered",
            big_valid_solicit(),
            Expect::Answer(|e| {
                assert_eq!(e.msg.msg_type, MsgType::Advertise);
                assert!(e.msg.other.is_empty(), "unknown options are not echoed");
                assert!(wire::encode(e).len() < 200);
            }),
        ),
    ]
}

/// The good client's message: type `t`, IA_PD IAID 1 with `hint`.
fn good(t: MsgType, hint: Option<Prefix>) -> Vec<u8> {
    let mut m = Message::new(t, [0x60, 0x0d, 0x01]);
    m.client_id = Some(good_client());
    if t == MsgType::Request {
        m.server_id = Some(server_duid());
    }
    m.elapsed = Some(0);
    let mut ia = IaPd::new(1, 0, 0);
    ia.prefixes.extend(hint.map(|p| IaPrefix::new(p, 0, 0)));
    m.ia_pd.push(ia);
    wire::encode(&Envelope::direct(m))
}

fn transmits(fx: &[Effect]) -> Vec<&Envelope> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Transmit(t) => Some(&t.envelope),
            _ => None,
        })
        .collect()
}

/// Feed one case; return the drop reason it was counted under, if any.
fn feed(s: &mut Server, now: Timestamp, c: &Case) -> Option<Dropped> {
    let before = s.drops().clone();
    let total = s.drop_total();
    let fx = s.handle_datagram(now, &c.rx, &c.bytes);
    let tx = transmits(&fx);
    match &c.expect {
        Expect::Drop(reason) => {
            assert!(fx.is_empty(), "{}: discarded, yet effects {fx:?}", c.name);
            assert_eq!(s.drop_total(), total + 1, "{}: not counted", c.name);
            let after = s.drops().get(reason).copied().unwrap_or(0);
            let was = before.get(reason).copied().unwrap_or(0);
            assert_eq!(
                after,
                was + 1,
                "{}: counted under another reason: {:?}",
                c.name,
                s.drops()
            );
            Some(*reason)
        }
        Expect::Answer(check) => {
            assert_eq!(tx.len(), 1, "{}: expected one reply, got {fx:?}", c.name);
            assert_eq!(s.drop_total(), total, "{}: answered and counted", c.name);
            check(tx[0]);
            // An offer binds nothing.
            assert_eq!(s.active_count(), 0, "{}", c.name);
            None
        }
    }
}

#[test]
fn malformed_datagrams_are_counted_and_a_good_client_still_gets_its_prefix() {
    let mut s = server();
    let mut now = Timestamp::ZERO;
    let mut expected: HashMap<Dropped, u64> = HashMap::new();
    let all = cases();
    assert!(all.len() >= 30);

    // First half of the garbage, then the good Solicit.
    let (first, second) = all.split_at(all.len() / 2);
    for c in first {
        if let Some(r) = feed(&mut s, now, c) {
            *expected.entry(r).or_insert(0) += 1;
        }
        now = now.add_secs(1);
    }
    let fx = s.handle_datagram(now, &direct(0x0c), &good(MsgType::Solicit, None));
    let adv = transmits(&fx);
    assert_eq!(adv.len(), 1, "good Solicit answered: {fx:?}");
    assert_eq!(adv[0].msg.msg_type, MsgType::Advertise);
    let offered = adv[0].msg.ia_pd[0].prefixes[0].prefix;

    // The rest of the garbage, then the good Request for the offer.
    for c in second {
        if let Some(r) = feed(&mut s, now, c) {
            *expected.entry(r).or_insert(0) += 1;
        }
        now = now.add_secs(1);
    }
    let fx = s.handle_datagram(now, &direct(0x0c), &good(MsgType::Request, Some(offered)));
    let rep = transmits(&fx);
    assert_eq!(rep.len(), 1, "good Request answered: {fx:?}");
    assert_eq!(rep[0].msg.msg_type, MsgType::Reply);
    assert_eq!(rep[0].msg.ia_pd[0].prefixes[0].prefix, offered);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Persist(l) if l.prefix == offered)));
    let lease = s.lease(&offered).expect("bound");
    assert_eq!(lease.state, LeaseState::Active);
    assert_eq!(
        lease.client,
        ClientKey {
            duid: good_client(),
            iaid: 1
        }
    );
    assert_eq!(s.active_count(), 1, "no garbage bound anything");

    // Every discard was counted, under the reason its case names.
    assert_eq!(s.drops(), &expected);
    assert_eq!(s.drop_total(), expected.values().sum::<u64>());
    assert!(s.drop_total() >= 25);
}

#[test]
fn each_malformed_case_alone_leaves_the_server_serving() {
    for c in cases() {
        let mut s = server();
        feed(&mut s, Timestamp::ZERO, &c);
        let fx = s.handle_datagram(
            Timestamp::ZERO,
            &direct(0x0c),
            &good(MsgType::Solicit, None),
        );
        assert_eq!(transmits(&fx).len(), 1, "{}: good Solicit after it", c.name);
    }
}

#[test]
fn the_hand_built_pieces_are_well_formed() {
    // Guards the suite itself: the shared pieces decode on their own, so each
    // case fails for the one defect it names.
    let ok = h(&[SOLICIT, CLIENT_ID, ELAPSED, IA_PD]);
    let env = wire::decode(&ok).expect("base Solicit decodes");
    assert_eq!(env.msg.client_id, Some(Duid::ll(1, &[2, 0, 0, 0, 0, 0x0b])));
    assert_eq!(env.msg.ia_pd, vec![IaPd::new(1, 0, 0)]);
    assert_eq!(wire::decode(&relay_forw(0, &ok)).unwrap().relays.len(), 1);
    assert_eq!(big_valid_solicit().len(), 65_535);
    assert!(wire::decode(&big_valid_solicit()).is_ok());
}
