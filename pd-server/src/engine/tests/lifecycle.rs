//! Renew, Rebind, Release, expiry, restart.

use super::*;
use pd_core::effect::HookAction;
use pd_core::wire::status;

use crate::lease::LeaseState;

const T0: Timestamp = Timestamp::ZERO;

fn hooks(fx: &[Effect]) -> Vec<HookAction> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Hook(h) => Some(h.action),
            _ => None,
        })
        .collect()
}

#[test]
fn renew_extends_and_unknown_gets_nobinding() {
    let mut s = server(CONFIG);
    let a = bind(&mut s, T0, 1, 1);
    let t = Timestamp::from_secs(1800);
    let fx = s.handle_message(
        t,
        &rx(1),
        env(msg(MsgType::Renew, 1, vec![ia(1, &[&a.to_string()])])),
    );
    let rep = sent(&fx);
    assert_eq!(granted(&rep, 0), a);
    assert_eq!(rep.ia_pd[0].prefixes[0].valid, 7200);
    assert_eq!(hooks(&fx), vec![HookAction::Update]);
    assert_eq!(s.lease(&a).unwrap().valid_until, t.deadline(7200));
    assert_eq!(s.poll_timeout(), Some(t.deadline(7200)));
    // RFC 9915 §18.3.4: unknown IA → NoBinding, no prefixes.
    let rep = sent(&s.handle_message(
        t,
        &rx(2),
        env(msg(
            MsgType::Renew,
            2,
            vec![ia(5, &["2001:db8:2222:77::/64"])],
        )),
    ));
    assert_eq!(
        rep.ia_pd[0].status.as_ref().unwrap().code,
        status::NO_BINDING
    );
    assert!(rep.ia_pd[0].prefixes.is_empty());
    assert_eq!(s.active_count(), 1);
}

#[test]
fn renew_with_a_foreign_prefix_returns_it_with_zero_lifetimes() {
    let mut s = server(CONFIG);
    let a = bind(&mut s, T0, 1, 1);
    let rep = sent(&s.handle_message(
        T0,
        &rx(1),
        env(msg(
            MsgType::Renew,
            1,
            vec![ia(1, &[&a.to_string(), "2001:db8:2222:99::/64"])],
        )),
    ));
    assert_eq!(rep.ia_pd[0].prefixes.len(), 2);
    let stale = &rep.ia_pd[0].prefixes[1];
    assert_eq!(
        (stale.prefix, stale.preferred, stale.valid),
        (p("2001:db8:2222:99::/64"), 0, 0)
    );
}

#[test]
fn rebind_known_unknown_and_inappropriate() {
    let mut s = server(CONFIG);
    let a = bind(&mut s, T0, 1, 1);
    let rebind = |n: u8, hints: &[&str]| {
        let mut m = msg(MsgType::Rebind, n, vec![ia(1, hints)]);
        m.server_id = None;
        env(m)
    };
    let rep = sent(&s.handle_message(T0, &rx(1), rebind(1, &[&a.to_string()])));
    assert_eq!(
        (granted(&rep, 0), rep.ia_pd[0].prefixes[0].valid),
        (a, 7200)
    );
    // Unknown binding, free prefix in a pool of this link: re-created
    // (RFC 9915 §18.3.5), e.g. after the server lost its database.
    let fx = s.handle_message(T0, &rx(2), rebind(2, &["2001:db8:2222:55::/64"]));
    assert_eq!(granted(&sent(&fx), 0), p("2001:db8:2222:55::/64"));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Persist(l) if l.prefix == p("2001:db8:2222:55::/64"))));
    // Bound to someone else, or outside our pools: lifetimes 0.
    for hint in [a.to_string(), "2001:db8:9999::/64".to_string()] {
        let rep = sent(&s.handle_message(T0, &rx(3), rebind(3, &[&hint])));
        let x = &rep.ia_pd[0].prefixes[0];
        assert_eq!((x.prefix, x.preferred, x.valid), (p(&hint), 0, 0));
    }
    // Empty IA_PD with no binding: NoBinding.
    let rep = sent(&s.handle_message(T0, &rx(4), rebind(4, &[])));
    assert_eq!(
        rep.ia_pd[0].status.as_ref().unwrap().code,
        status::NO_BINDING
    );
    assert_eq!(s.lease(&a).unwrap().client.duid, client(1));
}

#[test]
fn release_frees_withdraws_and_answers_per_ia() {
    let mut s = server(CONFIG);
    let a = bind(&mut s, T0, 1, 1);
    let fx = s.handle_message(
        T0,
        &rx(1),
        env(msg(
            MsgType::Release,
            1,
            vec![ia(1, &[&a.to_string()]), ia(2, &[])],
        )),
    );
    let rep = sent(&fx);
    assert_eq!(rep.status.as_ref().unwrap().code, status::SUCCESS);
    // Only the unknown IA appears, with NoBinding (RFC 9915 §18.3.7).
    assert_eq!(rep.ia_pd.len(), 1);
    assert_eq!(
        (
            rep.ia_pd[0].iaid,
            rep.ia_pd[0].status.as_ref().unwrap().code
        ),
        (2, status::NO_BINDING)
    );
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::RouteDel(r) if r.prefix == a)));
    assert!(fx.iter().any(
        |e| matches!(e, Effect::Persist(l) if l.prefix == a && l.state == LeaseState::Released)
    ));
    assert_eq!(hooks(&fx), vec![HookAction::Delete]);
    // Dibbler compatibility: the Release behind the delete is named.
    let names: Vec<(&str, &str)> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Hook(h) => Some(h),
            _ => None,
        })
        .flat_map(|h| h.env.iter())
        .filter(|(k, _)| k == "CLNT_MESSAGE" || k == "SRV_MESSAGE")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("CLNT_MESSAGE", "RELEASE"), ("SRV_MESSAGE", "REPLY")]
    );
    assert!(
        pos(&fx, |e| matches!(e, Effect::Persist(_)))
            < pos(&fx, |e| matches!(e, Effect::Transmit(_)))
    );
    assert_eq!(s.active_count(), 0);
    // The same client gets it back later, even after others came.
    let b = bind(&mut s, T0, 2, 1);
    assert_ne!(a, b);
    assert_eq!(bind(&mut s, T0, 1, 1), a);
}

#[test]
fn expiry_withdraws_and_prefix_returns_to_its_owner() {
    let mut s = server(CONFIG);
    let a = bind(&mut s, T0, 1, 1);
    assert!(
        s.handle_timeout(Timestamp::from_secs(7199)).is_empty(),
        "spurious timeout is a no-op"
    );
    let end = s.poll_timeout().unwrap();
    assert_eq!(end, Timestamp::from_secs(7200));
    let fx = s.handle_timeout(end);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::RouteDel(r) if r.prefix == a && r.gateway == ll(1))));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Persist(l) if l.state == LeaseState::Expired)));
    assert_eq!(hooks(&fx), vec![HookAction::Expire]);
    assert_eq!(s.poll_timeout(), None);
    assert!(s.handle_timeout(end).is_empty());
    assert_eq!(bind(&mut s, end, 2, 1), p("2001:db8:2222:1::/64"));
    assert_eq!(bind(&mut s, end, 1, 1), a);
}

#[test]
fn restart_restores_live_expires_dead_and_forgets_strays() {
    let mut s = server(CONFIG);
    let a = bind(&mut s, T0, 1, 1);
    let b = bind(&mut s, T0, 2, 1);
    let c = bind(&mut s, T0, 3, 1);
    let _ = s.handle_message(T0, &rx(3), env(msg(MsgType::Release, 3, vec![ia(1, &[])])));
    // b was renewed for longer than a.
    let _ = s.handle_message(
        Timestamp::from_secs(3000),
        &rx(2),
        env(msg(MsgType::Renew, 2, vec![ia(1, &[&b.to_string()])])),
    );
    let mut saved: Vec<Lease> = s.leases().collect();
    let mut stray = saved[0].clone();
    stray.prefix = p("2001:db8:7777::/64");
    saved.push(stray);
    // Restart at 8000 s: a (valid until 7200) is dead, b (until 10200) lives.
    let now = Timestamp::from_secs(8000);
    let (mut s2, fx) = boot(CONFIG, now, saved);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::RouteAdd(r) if r.prefix == b)));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::RouteDel(r) if r.prefix == a)));
    assert!(fx.iter().any(
        |e| matches!(e, Effect::Persist(l) if l.prefix == a && l.state == LeaseState::Expired)
    ));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Forget(x) if *x == p("2001:db8:7777::/64"))));
    assert!(!fx
        .iter()
        .any(|e| matches!(e, Effect::RouteAdd(r) if r.prefix == c)));
    assert_eq!(s2.active_count(), 1);
    assert_eq!(s2.poll_timeout(), Some(Timestamp::from_secs(10200)));
    // Same prefixes for the same clients after the restart.
    let rep = sent(&s2.handle_message(
        now,
        &rx(2),
        env(msg(MsgType::Renew, 2, vec![ia(1, &[&b.to_string()])])),
    ));
    assert_eq!(granted(&rep, 0), b);
    let d = bind(&mut s2, now, 4, 1);
    assert!(
        d != a && d != c,
        "fresh prefixes go first, remembered ones stay with their owners"
    );
    assert_eq!(bind(&mut s2, now, 1, 1), a);
    assert_eq!(bind(&mut s2, now, 3, 1), c);
}

#[test]
fn admin_release_and_reload_keep_leases() {
    let mut s = server(CONFIG);
    let a = bind(&mut s, T0, 1, 1);
    let b = bind(&mut s, T0, 2, 1);
    let fx = s.admin_release(T0, &a).unwrap();
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::RouteDel(r) if r.prefix == a)));
    assert!(s.admin_release(T0, &a).is_none());
    let cfg = config::parse(&CONFIG.replace("preference = 7", "preference = 9")).unwrap();
    let fx = s.reload(
        Settings::from_config(&cfg, server_duid()),
        cfg.pools,
        cfg.reservations,
        T0,
    );
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::RouteAdd(r) if r.prefix == b)));
    assert_eq!(s.active_count(), 1);
    let adv = sent(&s.handle_message(T0, &rx(1), env(msg(MsgType::Solicit, 1, vec![ia(1, &[])]))));
    assert_eq!((adv.preference, granted(&adv, 0)), (Some(9), a));
}
