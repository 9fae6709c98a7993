//! Golden bytes: decode gives the expected typed values, encode gives the
//! bytes back. See tests/golden/README.md for where each file comes from.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod wire_common;

use std::net::Ipv6Addr;

use pd_core::prefix::Prefix;
use pd_core::wire::{
    check_from_client, check_from_server, decode, encode, sanitize_ia_pd, status, Discard,
    Envelope, IaPrefix, Message, MsgType, RawOption, Status,
};
use wire_common::*;

fn msg(name: &str) -> Message {
    let env = decode(&golden(name)).unwrap_or_else(|d| panic!("{name}: {d:?}"));
    assert!(env.relays.is_empty(), "{name} is not relayed");
    env.msg
}

fn pfx(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// All our goldens are in ascending option-code order (so are dhclient's and
/// Kea's messages), which is the order our encoder writes: exact round trip.
#[test]
fn every_golden_round_trips_byte_for_byte() {
    for name in SYNTHETIC.iter().chain(CAPTURED.iter()) {
        let bytes = golden(name);
        let env = decode(&bytes).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        assert_eq!(hex::encode(encode(&env)), hex::encode(&bytes), "{name}");
    }
}

/// A decoder we did not write (dhcproto, fed only these validated goldens)
/// agrees with ours on the fields the engines use.
#[test]
fn dhcproto_agrees_on_non_relay_goldens() {
    use dhcproto::v6::{self, DhcpOption, OptionCode};
    use dhcproto::{Decodable, Decoder};
    for name in SYNTHETIC.iter().chain(CAPTURED.iter()) {
        if name.starts_with("relay") {
            continue; // dhcproto 0.15 mis-decodes the Relay Message option
        }
        let bytes = golden(name);
        let ours = msg(name);
        let theirs = v6::Message::decode(&mut Decoder::new(&bytes)).unwrap();
        assert_eq!(u8::from(theirs.msg_type()), ours.msg_type.code(), "{name}");
        assert_eq!(theirs.xid(), ours.xid, "{name}");
        let bytes_of = |code| match theirs.opts().get(code) {
            Some(DhcpOption::ClientId(d) | DhcpOption::ServerId(d)) => Some(d.clone()),
            _ => None,
        };
        let cid = ours.client_id.as_ref().map(|d| d.as_bytes().to_vec());
        let sid = ours.server_id.as_ref().map(|d| d.as_bytes().to_vec());
        assert_eq!(bytes_of(OptionCode::ClientId), cid, "{name}");
        assert_eq!(bytes_of(OptionCode::ServerId), sid, "{name}");
        let pds: Vec<_> = theirs
            .opts()
            .iter()
            .filter_map(|o| match o {
                DhcpOption::IAPD(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(pds.len(), ours.ia_pd.len(), "{name}");
        for (t, o) in pds.iter().zip(&ours.ia_pd) {
            assert_eq!((t.id, t.t1, t.t2), (o.iaid, o.t1, o.t2), "{name}");
            let prefixes: Vec<_> = t
                .opts
                .iter()
                .filter_map(|x| match x {
                    DhcpOption::IAPrefix(p) => Some((
                        p.prefix_ip,
                        p.prefix_len,
                        p.preferred_lifetime,
                        p.valid_lifetime,
                    )),
                    _ => None,
                })
                .collect();
            let mine: Vec<_> = o
                .prefixes
                .iter()
                .map(|p| (p.prefix.addr(), p.prefix.len(), p.preferred, p.valid))
                .collect();
            assert_eq!(prefixes, mine, "{name}");
        }
    }
}

#[test]
fn solicit_with_prefix_length_hint() {
    let m = msg("solicit-hint");
    assert_eq!(m.msg_type, MsgType::Solicit);
    assert_eq!(m.xid, [0x0a, 0x0b, 0x0c]);
    assert_eq!(m.client_id, Some(syn_client()));
    assert_eq!(m.server_id, None);
    assert_eq!(m.oro, vec![23, 82]);
    assert_eq!(m.elapsed, Some(0));
    assert!(m.rapid_commit);
    assert!(m.reconfigure_accept);
    assert_eq!(m.ia_pd.len(), 1);
    let ia = &m.ia_pd[0];
    assert_eq!((ia.iaid, ia.t1, ia.t2), (1, 0, 0));
    assert_eq!(ia.prefixes, vec![IaPrefix::new(pfx("::/56"), 0, 0)]);
    assert!(m.other.is_empty() && m.ia_addr.is_empty());
    assert_eq!(check_from_client(&m, &syn_server()), Ok(()));
}

#[test]
fn advertise() {
    let m = msg("advertise");
    assert_eq!(m.msg_type, MsgType::Advertise);
    assert_eq!(m.xid, [0x0a, 0x0b, 0x0c]);
    assert_eq!(m.client_id, Some(syn_client()));
    assert_eq!(m.server_id, Some(syn_server()));
    assert_eq!(m.preference, Some(255));
    assert_eq!(
        m.dns_servers,
        vec![v6("2001:db8:ffff::53"), v6("2001:db8:ffff::54")]
    );
    assert_eq!(m.sol_max_rt, Some(3600));
    let ia = &m.ia_pd[0];
    assert_eq!((ia.iaid, ia.t1, ia.t2), (1, 3600, 5400));
    assert_eq!(
        ia.prefixes,
        vec![IaPrefix::new(pfx("2001:db8:12:3400::/56"), 7200, 10800)]
    );
    assert_eq!(
        check_from_server(&m, &syn_client(), [0x0a, 0x0b, 0x0c]),
        Ok(())
    );
    assert_eq!(
        check_from_server(&m, &syn_client(), [0x0a, 0x0b, 0x0d]),
        Err(Discard::WrongXid)
    );
    assert_eq!(sanitize_ia_pd(ia).as_ref(), Some(ia));
}

#[test]
fn request() {
    let m = msg("request");
    assert_eq!(m.msg_type, MsgType::Request);
    assert_eq!(m.xid, [0x10, 0x20, 0x30]);
    assert_eq!(m.server_id, Some(syn_server()));
    assert_eq!(m.oro, vec![23]);
    assert_eq!(m.elapsed, Some(100));
    assert_eq!(
        m.ia_pd[0].prefixes,
        vec![IaPrefix::new(pfx("2001:db8:12:3400::/56"), 0, 0)]
    );
    assert_eq!(check_from_client(&m, &syn_server()), Ok(()));
    assert_eq!(check_from_client(&m, &kea_duid()), Err(Discard::NotForUs));
}

#[test]
fn reply_with_pd_exclude_kept_raw() {
    let m = msg("reply");
    assert_eq!(m.msg_type, MsgType::Reply);
    assert_eq!(m.xid, [0x10, 0x20, 0x30]);
    assert_eq!(m.dns_servers, vec![v6("2001:db8:ffff::53")]);
    let p = &m.ia_pd[0].prefixes[0];
    assert_eq!(p.prefix, pfx("2001:db8:12:3400::/56"));
    assert_eq!((p.preferred, p.valid), (7200, 10800));
    assert_eq!(
        p.options,
        vec![RawOption {
            code: 67,
            data: vec![64, 0]
        }]
    );
    assert_eq!(p.status, None);
    assert_eq!(
        check_from_server(&m, &syn_client(), [0x10, 0x20, 0x30]),
        Ok(())
    );
}

#[test]
fn reply_with_no_prefix_avail_in_ia_pd() {
    let m = msg("reply-noprefixavail");
    assert_eq!(m.msg_type, MsgType::Reply);
    assert_eq!(m.status, None);
    let ia = &m.ia_pd[0];
    assert!(ia.prefixes.is_empty());
    assert_eq!(
        ia.status,
        Some(Status::new(status::NO_PREFIX_AVAIL, "no prefix available"))
    );
    assert_eq!(
        check_from_server(&m, &syn_client(), [0x40, 0x50, 0x60]),
        Ok(())
    );
}

#[test]
fn renew_and_rebind() {
    let renew = msg("renew");
    assert_eq!(renew.msg_type, MsgType::Renew);
    assert_eq!(renew.server_id, Some(syn_server()));
    assert_eq!(check_from_client(&renew, &syn_server()), Ok(()));
    let rebind = msg("rebind");
    assert_eq!(rebind.msg_type, MsgType::Rebind);
    assert_eq!(rebind.server_id, None);
    assert_eq!(rebind.elapsed, Some(250));
    assert_eq!(check_from_client(&rebind, &syn_server()), Ok(()));
    for m in [&renew, &rebind] {
        assert_eq!((m.ia_pd[0].t1, m.ia_pd[0].t2), (3600, 5400));
        assert_eq!(
            m.ia_pd[0].prefixes,
            vec![IaPrefix::new(pfx("2001:db8:12:3400::/56"), 7200, 10800)]
        );
    }
}

#[test]
fn release() {
    let m = msg("release");
    assert_eq!(m.msg_type, MsgType::Release);
    assert_eq!(m.xid, [0xc0, 0xd0, 0xe0]);
    assert_eq!(
        m.ia_pd[0].prefixes,
        vec![IaPrefix::new(pfx("2001:db8:12:3400::/56"), 0, 0)]
    );
    assert_eq!(check_from_client(&m, &syn_server()), Ok(()));
}

#[test]
fn information_request() {
    let m = msg("information-request");
    assert_eq!(m.msg_type, MsgType::InformationRequest);
    assert_eq!(m.oro, vec![23, 83]);
    assert!(m.ia_pd.is_empty() && m.server_id.is_none());
    assert_eq!(check_from_client(&m, &syn_server()), Ok(()));
}

#[test]
fn relay_forw_nested_two_deep() {
    let env = decode(&golden("relay-forw-2")).unwrap();
    assert_eq!(env.relays.len(), 2);
    let (outer, inner) = (&env.relays[0], &env.relays[1]);
    assert_eq!(outer.hop_count, 1);
    assert_eq!(outer.link_addr, v6("2001:db8:b::1"));
    assert_eq!(outer.peer_addr, v6("2001:db8:a::1"));
    assert_eq!(outer.interface_id.as_deref(), Some(&b"eth1"[..]));
    assert!(outer.other.is_empty());
    assert_eq!(inner.hop_count, 0);
    assert_eq!(inner.link_addr, v6("2001:db8:a::1"));
    assert_eq!(inner.peer_addr, v6("fe80::ff:fe00:a"));
    assert_eq!(inner.interface_id.as_deref(), Some(&b"ge-0/0/1"[..]));
    assert_eq!(
        inner.other,
        vec![RawOption {
            code: 37,
            data: b"\0\0\0\x09circuit-7".to_vec()
        }]
    );
    // The message inside is exactly the stand-alone Solicit golden.
    assert_eq!(env.msg, msg("solicit-hint"));
}

/// What a server does with a relayed Solicit: answer with the same relay
/// chain; encode turns the hops into Relay-Repl because the inner message is
/// an Advertise. That reproduces the Relay-Repl golden byte for byte.
#[test]
fn relay_repl_built_from_the_relay_forw_chain() {
    let forw = decode(&golden("relay-forw-2")).unwrap();
    let mut relays = forw.relays.clone();
    relays[1].other.clear(); // our golden relay reply does not echo Remote-Id
    let reply = Envelope {
        relays,
        msg: msg("advertise"),
    };
    assert_eq!(
        hex::encode(encode(&reply)),
        hex::encode(golden("relay-repl-2"))
    );
    assert_eq!(decode(&golden("relay-repl-2")), Ok(reply));
}

// ---- captured from real peers (tests/capture/capture.sh) ----

#[test]
fn captured_dhclient_solicit() {
    let m = msg("dhclient-solicit");
    assert_eq!(m.msg_type, MsgType::Solicit);
    assert_eq!(m.client_id, Some(dhclient_duid()));
    assert_eq!(m.server_id, None);
    assert_eq!(m.elapsed, Some(0));
    // dhcp6.name-servers, domain-search, fqdn, sntp-servers
    assert_eq!(m.oro, vec![23, 24, 39, 31]);
    assert_eq!(m.ia_pd.len(), 1);
    let ia = &m.ia_pd[0];
    // dhclient proposes T1/T2 3600/5400 and a ::/56 hint (--prefix-len-hint 56).
    assert_eq!((ia.t1, ia.t2), (3600, 5400));
    assert_eq!(ia.prefixes, vec![IaPrefix::new(pfx("::/56"), 0, 0)]);
    assert_eq!(check_from_client(&m, &kea_duid()), Ok(()));
}

#[test]
fn captured_kea_advertise_answers_the_solicit() {
    let sol = msg("dhclient-solicit");
    let adv = msg("kea-advertise");
    assert_eq!(adv.msg_type, MsgType::Advertise);
    assert_eq!(adv.xid, sol.xid);
    assert_eq!(adv.client_id, sol.client_id);
    assert_eq!(adv.server_id, Some(kea_duid()));
    let ia = &adv.ia_pd[0];
    assert_eq!(ia.iaid, sol.ia_pd[0].iaid);
    assert_eq!((ia.t1, ia.t2), (1000, 2000));
    assert_eq!(ia.prefixes.len(), 1);
    let p = &ia.prefixes[0];
    assert_eq!((p.preferred, p.valid), (3000, 4000));
    assert_eq!(p.prefix.len(), 56);
    assert!(pfx("2001:db8::/48").contains(&p.prefix));
    assert_eq!(check_from_server(&adv, &dhclient_duid(), sol.xid), Ok(()));
    assert_eq!(sanitize_ia_pd(ia).as_ref(), Some(ia));
}

#[test]
fn captured_dhclient_request_and_kea_reply() {
    let adv = msg("kea-advertise");
    let req = msg("dhclient-request");
    assert_eq!(req.msg_type, MsgType::Request);
    assert_eq!(req.client_id, Some(dhclient_duid()));
    assert_eq!(req.server_id, adv.server_id);
    let offered = adv.ia_pd[0].prefixes[0].prefix;
    let asked = &req.ia_pd[0].prefixes[0];
    assert_eq!(asked.prefix, offered);
    assert_eq!((asked.preferred, asked.valid), (7200, 7500));
    assert_eq!(check_from_client(&req, &kea_duid()), Ok(()));
    assert_eq!(
        check_from_client(&req, &syn_server()),
        Err(Discard::NotForUs)
    );

    let rep = msg("kea-reply");
    assert_eq!(rep.msg_type, MsgType::Reply);
    assert_eq!(rep.xid, req.xid);
    assert_eq!(rep.ia_pd[0].prefixes[0].prefix, offered);
    assert_eq!(check_from_server(&rep, &dhclient_duid(), req.xid), Ok(()));
    assert_eq!(
        check_from_server(&rep, &syn_client(), req.xid),
        Err(Discard::NotForUs)
    );
}

#[test]
fn captured_release_and_its_reply() {
    let granted = msg("kea-reply").ia_pd[0].prefixes[0].prefix;
    let rel = msg("dhclient-release");
    assert_eq!(rel.msg_type, MsgType::Release);
    assert_eq!(rel.ia_pd[0].prefixes, vec![IaPrefix::new(granted, 0, 0)]);
    assert_eq!(check_from_client(&rel, &kea_duid()), Ok(()));

    let rep = msg("kea-reply-release");
    assert_eq!(rep.xid, rel.xid);
    assert_eq!(
        rep.status,
        Some(Status::new(
            status::SUCCESS,
            "Summary status for all processed IA_NAs"
        ))
    );
    let ia = &rep.ia_pd[0];
    assert!(ia.prefixes.is_empty());
    assert_eq!(
        ia.status,
        Some(Status::new(
            status::SUCCESS,
            "Lease released. Thank you, please come again."
        ))
    );
    assert_eq!(check_from_server(&rep, &dhclient_duid(), rel.xid), Ok(()));
}

/// A peer may send options in any order; we encode in code order, so the
/// bytes differ but the decoded value is the same.
#[test]
fn out_of_order_options_are_resorted_on_encode() {
    let sorted = golden("request");
    // Move the IA_PD (the last option, 45 octets) in front of the Client ID.
    let (head, opts) = sorted.split_at(4);
    let (rest, ia_pd) = opts.split_at(opts.len() - 45);
    assert_eq!(&ia_pd[..2], &[0, 25]);
    let shuffled = [head, ia_pd, rest].concat();
    let env = decode(&shuffled).unwrap();
    assert_eq!(env, decode(&sorted).unwrap());
    let again = encode(&env);
    assert_ne!(again, shuffled);
    assert_eq!(again, sorted);
    assert_eq!(decode(&again), Ok(env));
}
