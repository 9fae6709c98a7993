//! Unit tests: §16 checks, IA_PD sanitising, encoder corner cases.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::duid::Duid;
use crate::prefix::Prefix;

fn client() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 2])
}

fn server() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 1])
}

fn other_server() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 9])
}

fn m(t: MsgType, cid: bool, sid: Option<Duid>) -> Message {
    let mut m = Message::new(t, [1, 2, 3]);
    m.client_id = cid.then(client);
    m.server_id = sid;
    m
}

fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

#[test]
fn msg_type_codes_round_trip() {
    for c in 0..=255u8 {
        let t = MsgType::from_code(c);
        assert_eq!(t.code(), c);
        assert_eq!(matches!(t, MsgType::Other(_)), c == 0 || c > 11);
    }
    assert!(MsgType::Reply.is_from_server());
    assert!(!MsgType::Solicit.is_from_server());
    assert!(!MsgType::Other(15).is_from_server());
}

#[test]
fn solicit_confirm_rebind_rules() {
    for t in [MsgType::Solicit, MsgType::Confirm, MsgType::Rebind] {
        assert_eq!(check_from_client(&m(t, true, None), &server()), Ok(()));
        assert_eq!(
            check_from_client(&m(t, false, None), &server()),
            Err(Discard::MissingClientId)
        );
        // Even our own Server ID is forbidden here.
        assert_eq!(
            check_from_client(&m(t, true, Some(server())), &server()),
            Err(Discard::UnexpectedServerId)
        );
    }
}

#[test]
fn request_renew_decline_release_rules() {
    for t in [
        MsgType::Request,
        MsgType::Renew,
        MsgType::Decline,
        MsgType::Release,
    ] {
        assert_eq!(
            check_from_client(&m(t, true, Some(server())), &server()),
            Ok(())
        );
        assert_eq!(
            check_from_client(&m(t, false, Some(server())), &server()),
            Err(Discard::MissingClientId)
        );
        assert_eq!(
            check_from_client(&m(t, true, None), &server()),
            Err(Discard::MissingServerId)
        );
        assert_eq!(
            check_from_client(&m(t, true, Some(other_server())), &server()),
            Err(Discard::NotForUs)
        );
    }
}

#[test]
fn information_request_rules() {
    let t = MsgType::InformationRequest;
    // No Client ID and no Server ID are both fine (RFC 9915 §16.12).
    assert_eq!(check_from_client(&m(t, false, None), &server()), Ok(()));
    assert_eq!(
        check_from_client(&m(t, true, Some(server())), &server()),
        Ok(())
    );
    assert_eq!(
        check_from_client(&m(t, true, Some(other_server())), &server()),
        Err(Discard::NotForUs)
    );
    let mut with_pd = m(t, true, None);
    with_pd.ia_pd.push(IaPd::new(1, 0, 0));
    assert_eq!(
        check_from_client(&with_pd, &server()),
        Err(Discard::ForbiddenOption)
    );
    let mut with_na = m(t, true, None);
    with_na.ia_addr.push(IaAddr {
        temporary: true,
        iaid: 1,
        t1: 0,
        t2: 0,
        status: None,
    });
    assert_eq!(
        check_from_client(&with_na, &server()),
        Err(Discard::ForbiddenOption)
    );
}

#[test]
fn server_messages_from_a_client_are_unexpected() {
    for t in [
        MsgType::Advertise,
        MsgType::Reply,
        MsgType::Reconfigure,
        MsgType::Other(0),
        MsgType::Other(14),
    ] {
        assert_eq!(
            check_from_client(&m(t, true, Some(server())), &server()),
            Err(Discard::UnexpectedType)
        );
    }
}

#[test]
fn server_ignores_client_lifetime_hints() {
    // RFC 9915 §21.21: the server ignores T1/T2 from a client, so T1 > T2
    // (and an IAPREFIX with preferred > valid) does not discard the Request.
    let mut req = m(MsgType::Request, true, Some(server()));
    let mut ia = IaPd::new(1, 5000, 100);
    ia.prefixes
        .push(IaPrefix::new(pfx("2001:db8::/56"), 9000, 10));
    req.ia_pd.push(ia);
    assert_eq!(check_from_client(&req, &server()), Ok(()));
}

#[test]
fn client_checks_on_advertise_and_reply() {
    let xid = [1, 2, 3];
    for t in [MsgType::Advertise, MsgType::Reply] {
        assert_eq!(
            check_from_server(&m(t, true, Some(server())), &client(), xid),
            Ok(())
        );
        assert_eq!(
            check_from_server(&m(t, true, Some(server())), &client(), [1, 2, 4]),
            Err(Discard::WrongXid)
        );
        assert_eq!(
            check_from_server(&m(t, true, None), &client(), xid),
            Err(Discard::MissingServerId)
        );
        assert_eq!(
            check_from_server(&m(t, false, Some(server())), &client(), xid),
            Err(Discard::MissingClientId)
        );
        assert_eq!(
            check_from_server(&m(t, true, Some(server())), &other_server(), xid),
            Err(Discard::NotForUs)
        );
    }
    for t in [
        MsgType::Solicit,
        MsgType::Request,
        MsgType::Reconfigure,
        MsgType::Other(99),
    ] {
        assert_eq!(
            check_from_server(&m(t, true, Some(server())), &client(), xid),
            Err(Discard::UnexpectedType)
        );
    }
}

#[test]
fn sanitize_drops_bad_ia_and_bad_prefixes() {
    let good = IaPrefix::new(pfx("2001:db8::/56"), 100, 200);
    let equal = IaPrefix::new(pfx("2001:db8:0:100::/56"), 200, 200);
    let bad = IaPrefix::new(pfx("2001:db8:0:200::/56"), 300, 200);
    let withdrawn = IaPrefix::new(pfx("2001:db8:0:300::/56"), 0, 0);
    let mut ia = IaPd::new(7, 100, 200);
    ia.prefixes = vec![good.clone(), bad, equal.clone(), withdrawn.clone()];
    let kept = sanitize_ia_pd(&ia).unwrap();
    assert_eq!(kept.prefixes, vec![good, equal, withdrawn]);
    assert_eq!((kept.iaid, kept.t1, kept.t2), (7, 100, 200));
    // RFC 9915 §21.21: T1 > T2 > 0 discards the IA_PD.
    assert_eq!(sanitize_ia_pd(&IaPd::new(7, 201, 200)), None);
    // T2 = 0 (client's choice) or T1 = T2 are kept.
    assert!(sanitize_ia_pd(&IaPd::new(7, 300, 0)).is_some());
    assert!(sanitize_ia_pd(&IaPd::new(7, 200, 200)).is_some());
    // An IA_PD with only a status is kept.
    let mut st = IaPd::new(7, 0, 0);
    st.status = Some(Status::new(status::NO_PREFIX_AVAIL, ""));
    assert_eq!(sanitize_ia_pd(&st), Some(st));
}

#[test]
fn same_code_options_keep_their_order() {
    let mut msg = m(MsgType::Reply, true, Some(server()));
    for iaid in [9, 1, 5] {
        let mut ia = IaPd::new(iaid, 0, 0);
        ia.prefixes
            .push(IaPrefix::new(pfx("2001:db8:2::/48"), 1, 2));
        ia.prefixes
            .push(IaPrefix::new(pfx("2001:db8:1::/48"), 1, 2));
        msg.ia_pd.push(ia);
    }
    msg.other = vec![
        RawOption {
            code: 99,
            data: vec![2],
        },
        RawOption {
            code: 50,
            data: vec![],
        },
        RawOption {
            code: 99,
            data: vec![1],
        },
    ];
    let back = decode(&encode(&Envelope::direct(msg.clone()))).unwrap().msg;
    assert_eq!(back.ia_pd, msg.ia_pd);
    // Sorted by code, stable within a code.
    assert_eq!(
        back.other,
        vec![
            RawOption {
                code: 50,
                data: vec![]
            },
            RawOption {
                code: 99,
                data: vec![2]
            },
            RawOption {
                code: 99,
                data: vec![1]
            },
        ]
    );
}

#[test]
fn oversized_options_are_refused_not_panicked_on() {
    let base = m(MsgType::Reply, true, Some(server()));
    let mut long_status = base.clone();
    long_status.status = Some(Status::new(0, "x".repeat(65_534)));
    assert_eq!(
        try_encode(&Envelope::direct(long_status.clone())),
        Err(EncodeError::OptionTooLong(opt::STATUS_CODE))
    );
    assert!(encode(&Envelope::direct(long_status.clone())).is_empty());
    long_status.status = Some(Status::new(0, "x".repeat(65_533)));
    assert!(try_encode(&Envelope::direct(long_status)).is_ok());

    let mut many_prefixes = base.clone();
    let mut ia = IaPd::new(1, 0, 0);
    ia.prefixes = (0..2300u32)
        .map(|i| IaPrefix::new(Prefix::truncate((u128::from(i) << 64).into(), 64), 1, 2))
        .collect();
    many_prefixes.ia_pd.push(ia);
    assert_eq!(
        try_encode(&Envelope::direct(many_prefixes)),
        Err(EncodeError::OptionTooLong(opt::IA_PD))
    );

    let mut dns = base.clone();
    dns.dns_servers = vec![std::net::Ipv6Addr::LOCALHOST; 4096];
    assert_eq!(
        try_encode(&Envelope::direct(dns)),
        Err(EncodeError::OptionTooLong(opt::DNS_SERVERS))
    );
    let mut oro = base.clone();
    oro.oro = vec![23; 32_768];
    assert_eq!(
        try_encode(&Envelope::direct(oro)),
        Err(EncodeError::OptionTooLong(opt::ORO))
    );
    let mut raw = base.clone();
    raw.other.push(RawOption {
        code: 77,
        data: vec![0; 65_536],
    });
    assert_eq!(
        try_encode(&Envelope::direct(raw)),
        Err(EncodeError::OptionTooLong(77))
    );

    // Each option fits, but the whole message does not fit a Relay Message.
    let mut big = base;
    big.other = vec![
        RawOption {
            code: 77,
            data: vec![0; 40_000]
        };
        2
    ];
    let hop = RelayHop {
        hop_count: 0,
        link_addr: std::net::Ipv6Addr::UNSPECIFIED,
        peer_addr: std::net::Ipv6Addr::LOCALHOST,
        interface_id: None,
        other: Vec::new(),
    };
    assert!(try_encode(&Envelope::direct(big.clone())).is_ok());
    let relayed = Envelope {
        relays: vec![hop],
        msg: big,
    };
    assert_eq!(
        try_encode(&relayed),
        Err(EncodeError::OptionTooLong(opt::RELAY_MSG))
    );
}

#[test]
fn relay_types_are_not_message_types() {
    for c in [12, 13] {
        let msg = Message::new(MsgType::Other(c), [0; 3]);
        assert_eq!(
            try_encode(&Envelope::direct(msg)),
            Err(EncodeError::RelayType(c))
        );
    }
}

#[test]
fn ia_na_and_ia_ta_round_trip() {
    let mut msg = m(MsgType::Reply, true, Some(server()));
    msg.ia_addr = vec![
        IaAddr {
            temporary: false,
            iaid: 3,
            t1: 10,
            t2: 20,
            status: Some(Status::new(status::NO_ADDRS_AVAIL, "pd only")),
        },
        IaAddr {
            temporary: true,
            iaid: 4,
            t1: 0,
            t2: 0,
            status: Some(Status::new(status::NO_ADDRS_AVAIL, "")),
        },
    ];
    let bytes = encode(&Envelope::direct(msg.clone()));
    assert_eq!(decode(&bytes).unwrap().msg, msg);
}
