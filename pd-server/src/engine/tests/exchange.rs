//! Solicit / Advertise / Request / Reply, hints, exhaustion, several IAs.

use super::*;
use pd_core::effect::HookAction;
use pd_core::wire::{status, Discard};

use crate::engine::Drop;

const T0: Timestamp = Timestamp::ZERO;

#[test]
fn solicit_gets_advertise_without_binding() {
    let mut s = server(CONFIG);
    let fx = s.handle_message(
        T0,
        &rx(1),
        env(msg(MsgType::Solicit, 1, vec![ia(7, &["::/64"])])),
    );
    assert_eq!(fx.len(), 1, "an offer is not persisted: {fx:?}");
    let adv = sent(&fx);
    assert_eq!(adv.msg_type, MsgType::Advertise);
    assert_eq!(adv.xid, [1, 0x12, 0x34]);
    assert_eq!(adv.server_id, Some(server_duid()));
    assert_eq!(adv.client_id, Some(client(1)));
    assert_eq!(adv.preference, Some(7));
    let ia = &adv.ia_pd[0];
    assert_eq!((ia.iaid, ia.t1, ia.t2), (7, 1800, 2880));
    assert_eq!(ia.prefixes[0].prefix, p("2001:db8:2222::/64"));
    assert_eq!(
        (ia.prefixes[0].preferred, ia.prefixes[0].valid),
        (3600, 7200)
    );
    assert_eq!(s.active_count(), 0);
}

#[test]
fn request_binds_persists_before_reply_routes_and_hooks() {
    let mut s = server(CONFIG);
    let fx = s.handle_message(
        T0,
        &rx(1),
        env(msg(
            MsgType::Request,
            1,
            vec![ia(7, &["2001:db8:2222::/64"])],
        )),
    );
    let rep = sent(&fx);
    assert_eq!(rep.msg_type, MsgType::Reply);
    assert_eq!(granted(&rep, 0), p("2001:db8:2222::/64"));
    let persist = pos(
        &fx,
        |e| matches!(e, Effect::Persist(l) if l.prefix == p("2001:db8:2222::/64")),
    );
    let tx = pos(&fx, |e| matches!(e, Effect::Transmit(_)));
    assert!(persist < tx, "lease must be persisted before the Reply");
    let route = pos(
        &fx,
        |e| matches!(e, Effect::RouteAdd(r) if r.gateway == ll(1) && &*r.iface == "eth1"),
    );
    let hook = fx
        .iter()
        .find_map(|e| match e {
            Effect::Hook(h) => Some(h),
            _ => None,
        })
        .unwrap();
    assert!(route > 0);
    assert_eq!(hook.action, HookAction::Add);
    let get = |k: &str| {
        hook.env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("PREFIX1"), Some("2001:db8:2222::"));
    assert_eq!(get("PREFIX1LEN"), Some("64"));
    assert_eq!(get("REMOTE_ADDR"), Some("fe80::ff:fe00:1"));
    assert_eq!(get("IFACE"), Some("eth1"));
    assert_eq!(get("PREFIX1PREF"), Some("3600"));
    assert_eq!(get("PREFIX1VALID"), Some("7200"));
    assert_eq!(get("PD_PREFIX"), Some("2001:db8:2222::/64"));
    assert_eq!(get("CLNT_MESSAGE"), Some("REQUEST"));
    assert_eq!(get("SRV_OPTION1"), Some(client(1).to_string().as_str()));
    assert_eq!(s.active_count(), 1);
}

#[test]
fn same_client_gets_same_prefix_on_resolicit() {
    let mut s = server(CONFIG);
    let a = bind(&mut s, T0, 1, 7);
    let b = bind(&mut s, T0, 2, 7);
    assert_ne!(a, b);
    // Re-solicit without hints: same prefix back, as an extension (update).
    assert_eq!(bind(&mut s, Timestamp::from_secs(10), 1, 7), a);
    assert_eq!(s.active_count(), 2);
    // Another IAID of the same DUID is another binding.
    let c = bind(&mut s, T0, 1, 8);
    assert!(c != a && c != b);
}

#[test]
fn hints_are_honoured_when_free() {
    let mut s = server(CONFIG);
    let want = "2001:db8:2222:abcd::/64";
    let adv = sent(&s.handle_message(
        T0,
        &rx(1),
        env(msg(MsgType::Solicit, 1, vec![ia(1, &[want])])),
    ));
    assert_eq!(granted(&adv, 0), p(want));
    let rep = sent(&s.handle_message(
        T0,
        &rx(1),
        env(msg(MsgType::Request, 1, vec![ia(1, &[want])])),
    ));
    assert_eq!(granted(&rep, 0), p(want));
    // Taken: the next client asking for it gets another one.
    let rep = sent(&s.handle_message(
        T0,
        &rx(2),
        env(msg(MsgType::Request, 2, vec![ia(1, &[want])])),
    ));
    assert_ne!(granted(&rep, 0), p(want));
    // Outside every pool: ignored.
    let rep = sent(&s.handle_message(
        T0,
        &rx(3),
        env(msg(
            MsgType::Request,
            3,
            vec![ia(1, &["2001:db8:9999::/64"])],
        )),
    ));
    assert!(p("2001:db8:2222::/48").contains(&granted(&rep, 0)));
}

#[test]
fn length_hint_picks_pool() {
    let text =
        format!("{CONFIG}\n[[pool]]\nprefix = \"2001:db8:3300::/40\"\ndelegated-length = 56\n");
    let mut s = server(&text);
    let rep = sent(&s.handle_message(
        T0,
        &rx(1),
        env(msg(MsgType::Request, 1, vec![ia(1, &["::/56"])])),
    ));
    assert_eq!(granted(&rep, 0), p("2001:db8:3300::/56"));
    // No pool of /60: the first pool's default.
    let rep = sent(&s.handle_message(
        T0,
        &rx(2),
        env(msg(MsgType::Request, 2, vec![ia(1, &["::/60"])])),
    ));
    assert_eq!(granted(&rep, 0).len(), 64);
}

#[test]
fn exhaustion_gives_noprefixavail_and_others_keep_working() {
    let text = CONFIG.replace("2001:db8:2222::/48", "2001:db8:2222::/63");
    let mut s = server(&text);
    let a = bind(&mut s, T0, 1, 1);
    let b = bind(&mut s, T0, 2, 1);
    assert_ne!(a, b);
    for t in [MsgType::Solicit, MsgType::Request] {
        let m = sent(&s.handle_message(T0, &rx(3), env(msg(t, 3, vec![ia(1, &[])]))));
        let st = m.ia_pd[0].status.clone().unwrap();
        assert_eq!(st.code, status::NO_PREFIX_AVAIL, "{t:?}");
        assert!(m.ia_pd[0].prefixes.is_empty());
    }
    // Existing clients still renew.
    let m = sent(&s.handle_message(
        Timestamp::from_secs(5),
        &rx(1),
        env(msg(MsgType::Renew, 1, vec![ia(1, &[&a.to_string()])])),
    ));
    assert_eq!(granted(&m, 0), a);
}

#[test]
fn several_ia_pds_are_answered_independently() {
    let mut s = server(CONFIG);
    let m = sent(&s.handle_message(
        T0,
        &rx(1),
        env(msg(
            MsgType::Request,
            1,
            vec![ia(1, &[]), ia(2, &[]), ia(3, &[])],
        )),
    ));
    let got: Vec<Prefix> = (0..3).map(|i| granted(&m, i)).collect();
    assert_eq!(
        m.ia_pd.iter().map(|i| i.iaid).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(got[0] != got[1] && got[1] != got[2] && got[0] != got[2]);
    assert_eq!(s.active_count(), 3);
}

#[test]
fn ia_na_and_ia_ta_get_noaddrsavail() {
    let mut s = server(CONFIG);
    let mut m = msg(MsgType::Solicit, 1, vec![ia(1, &[])]);
    m.ia_addr = vec![
        ia_na(9),
        IaAddr {
            temporary: true,
            iaid: 10,
            t1: 0,
            t2: 0,
            status: None,
        },
    ];
    let adv = sent(&s.handle_message(T0, &rx(1), env(m)));
    assert_eq!(adv.ia_addr.len(), 2);
    assert!(adv
        .ia_addr
        .iter()
        .all(|a| a.status.as_ref().unwrap().code == status::NO_ADDRS_AVAIL));
    assert!(adv.ia_addr[1].temporary && adv.ia_addr[1].iaid == 10);
    assert_eq!(adv.ia_pd.len(), 1);
}

#[test]
fn rapid_commit_only_when_allowed() {
    let mut m = msg(MsgType::Solicit, 1, vec![ia(1, &[])]);
    m.rapid_commit = true;
    let mut s = server(CONFIG);
    let adv = sent(&s.handle_message(T0, &rx(1), env(m.clone())));
    assert_eq!(adv.msg_type, MsgType::Advertise);
    assert!(!adv.rapid_commit);
    let mut s = server(&CONFIG.replace("preference = 7", "rapid-commit = true"));
    let fx = s.handle_message(T0, &rx(1), env(m));
    let rep = sent(&fx);
    assert_eq!(rep.msg_type, MsgType::Reply);
    assert!(rep.rapid_commit);
    assert!(
        pos(&fx, |e| matches!(e, Effect::Persist(_)))
            < pos(&fx, |e| matches!(e, Effect::Transmit(_)))
    );
    assert_eq!(s.active_count(), 1);
}

#[test]
fn reservation_is_kept_for_its_owner() {
    let text = format!(
        "{CONFIG}\n[[reservation]]\nduid = \"{}\"\nprefix = \"2001:db8:2222::/64\"\n",
        client(9)
    );
    let mut s = server(&text);
    // Others never get it, even asking for it.
    let rep = sent(&s.handle_message(
        T0,
        &rx(1),
        env(msg(
            MsgType::Request,
            1,
            vec![ia(1, &["2001:db8:2222::/64"])],
        )),
    ));
    assert_eq!(granted(&rep, 0), p("2001:db8:2222:1::/64"));
    assert_eq!(bind(&mut s, T0, 9, 42), p("2001:db8:2222::/64"));
}

#[test]
fn information_request_and_dns() {
    let mut s = server(CONFIG);
    let mut m = Message::new(MsgType::InformationRequest, [1, 2, 3]);
    m.oro = vec![23];
    let rep = sent(&s.handle_message(T0, &rx(1), env(m)));
    assert_eq!(rep.msg_type, MsgType::Reply);
    assert_eq!(rep.server_id, Some(server_duid()));
    assert_eq!(
        rep.dns_servers,
        vec!["2001:db8::53".parse::<Ipv6Addr>().unwrap()]
    );
}

#[test]
fn rfc_discard_rules_are_counted() {
    let mut s = server(CONFIG);
    let mut m = msg(MsgType::Solicit, 1, vec![ia(1, &[])]);
    m.server_id = Some(server_duid());
    assert!(s.handle_message(T0, &rx(1), env(m)).is_empty());
    let mut m = msg(MsgType::Request, 1, vec![ia(1, &[])]);
    m.server_id = Some(client(77));
    assert!(s.handle_message(T0, &rx(1), env(m)).is_empty());
    let mut m = msg(MsgType::Renew, 1, vec![ia(1, &[])]);
    m.client_id = None;
    assert!(s.handle_message(T0, &rx(1), env(m)).is_empty());
    assert!(s
        .handle_message(T0, &rx(1), env(msg(MsgType::Advertise, 1, vec![])))
        .is_empty());
    assert!(s
        .handle_message(T0, &rx(1), env(msg(MsgType::Confirm, 1, vec![])))
        .is_empty());
    assert!(s.handle_datagram(T0, &rx(1), &[1, 2]).is_empty());
    assert_eq!(s.drop_total(), 6);
    assert_eq!(
        s.drops().get(&Drop::Wire(Discard::UnexpectedServerId)),
        Some(&1)
    );
    assert_eq!(s.drops().get(&Drop::Wire(Discard::NotForUs)), Some(&1));
    assert_eq!(s.drops().get(&Drop::Confirm), Some(&1));
    assert_eq!(s.active_count(), 0);
    // And it still serves a well-formed client.
    assert_eq!(bind(&mut s, T0, 2, 1), p("2001:db8:2222::/64"));
}
