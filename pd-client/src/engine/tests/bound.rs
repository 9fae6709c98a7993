//! Bound: Renew at T1, Rebind at T2, expiry, NoBinding, lifetimes, Release.

use pd_core::time::{Timestamp, INFINITY};
use pd_core::wire::{status, MsgType};

use super::super::{Effect, LostReason, State};
use super::*;

const P1: &str = "2001:db8:1::/56";
const P2: &str = "2001:db8:2::/56";

#[test]
fn full_path_solicit_request_renew_rebind_expire() {
    let mut h = H::new(cfg(), 21);
    let effects = h.bind(ia(100, 160, vec![iap(P1, 200, 300)]));
    let bound_at = h.now;
    assert!(matches!(&effects[0], Effect::Save(Some(l)) if l.prefix_list()[0].to_string() == P1));
    let Effect::Bound { old: None, new } = &effects[1] else {
        panic!("{effects:?}")
    };
    assert_eq!((new.t1, new.t2), (100, 160));
    assert_eq!(new.server_id, server_duid(1));
    assert_eq!(h.c.state(), State::Bound);

    // T1: Renew to the server that delegated, via ff02::1:2.
    assert_eq!(h.c.poll_timeout(), Some(bound_at.add_secs(100)));
    let (t, renew) = h.next_tx();
    assert_eq!(t, bound_at.add_secs(100));
    assert_eq!(renew.msg_type, MsgType::Renew);
    assert_eq!(renew.server_id, Some(server_duid(1)));
    assert_eq!(renew.ia_pd[0].prefixes[0].prefix.to_string(), P1);
    assert_eq!(renew.elapsed, Some(0));
    h.wait_ms(20);
    let effects = h.recv(
        1,
        answer(
            MsgType::Reply,
            &renew,
            1,
            Some(ia(100, 160, vec![iap(P1, 200, 300)])),
        ),
    );
    assert!(
        matches!(&effects[..], [Effect::Save(Some(_)), Effect::Extended(_)]),
        "{effects:?}"
    );
    let renewed_at = h.now;
    assert_eq!(h.c.lease().unwrap().renew_at(), renewed_at.add_secs(100));

    // Next T1: no answer. Renew is retransmitted (REN_TIMEOUT 10 s) until T2.
    let mut renews = Vec::new();
    let rebind = loop {
        let (t, m) = h.next_tx();
        if m.msg_type != MsgType::Renew {
            break (t, m);
        }
        renews.push((t, m));
    };
    assert_eq!(renews[0].0, renewed_at.add_secs(100));
    assert!(renews.len() >= 3, "{}", renews.len());
    let gap = renews[1].0.as_millis() - renews[0].0.as_millis();
    assert!((9_000..=11_000).contains(&gap), "{gap}");
    assert!(renews.iter().all(|(_, m)| m.xid == renews[0].1.xid));
    assert!(renews.windows(2).all(|w| w[0].1.elapsed < w[1].1.elapsed));
    // T2: Rebind, to any server (no Server Identifier).
    assert_eq!(rebind.0, renewed_at.add_secs(160));
    assert_eq!(rebind.1.msg_type, MsgType::Rebind);
    assert_eq!(rebind.1.server_id, None);
    assert_eq!(rebind.1.ia_pd[0].prefixes[0].prefix.to_string(), P1);
    assert_eq!(h.c.state(), State::Rebinding);

    // No answer until the valid lifetime ends: Lost, Save(None), Solicit with the old prefix as hint.
    let expiry = renewed_at.add_secs(300);
    let mut rebinds = 1;
    loop {
        let effects = h.step();
        if h.now == expiry {
            assert_eq!(
                effects[0],
                Effect::Lost {
                    prefixes: vec![P1.parse().unwrap()],
                    reason: LostReason::Expired
                }
            );
            assert_eq!(effects[1], Effect::Save(None));
            let sol = transmits(&effects).pop().expect("solicit at once");
            assert_eq!(sol.msg_type, MsgType::Solicit);
            assert_eq!(sol.ia_pd[0].prefixes[0].prefix.to_string(), P1);
            break;
        }
        assert!(h.now < expiry);
        let tx = transmits(&effects);
        rebinds += tx.len();
        assert!(tx.iter().all(|m| m.msg_type == MsgType::Rebind));
    }
    assert!(rebinds >= 3, "{rebinds}");
    assert!(h.c.lease().is_none());
    assert_eq!(h.c.state(), State::Soliciting);
}

#[test]
fn nobinding_on_renew_leads_to_request() {
    let mut h = H::new(cfg(), 22);
    h.bind(ia(100, 160, vec![iap(P1, 200, 300)]));
    let (_, renew) = h.next_tx();
    let mut nb = ia(0, 0, vec![]);
    nb.status = status(status::NO_BINDING);
    let effects = h.recv(2, answer(MsgType::Reply, &renew, 2, Some(nb)));
    let tx = transmits(&effects);
    assert_eq!(tx.len(), 1, "{effects:?}");
    assert_eq!(tx[0].msg_type, MsgType::Request);
    assert_eq!(
        tx[0].server_id,
        Some(server_duid(2)),
        "to the server that answered"
    );
    assert_eq!(tx[0].ia_pd[0].prefixes[0].prefix.to_string(), P1);
    assert_eq!(h.c.state(), State::Requesting);
    assert!(h.c.lease().is_some(), "prefixes stay in use meanwhile");
    let effects = h.recv(
        2,
        answer(
            MsgType::Reply,
            &tx[0],
            2,
            Some(ia(100, 160, vec![iap(P1, 200, 300)])),
        ),
    );
    assert!(matches!(&effects[1], Effect::Extended(l) if l.server_id == server_duid(2)));
}

#[test]
fn valid_lifetime_zero_removes_prefixes() {
    let mut h = H::new(cfg(), 23);
    h.bind(ia(100, 160, vec![iap(P1, 200, 300), iap(P2, 200, 300)]));
    let (_, renew) = h.next_tx();
    assert_eq!(renew.ia_pd[0].prefixes.len(), 2);
    let effects = h.recv(
        1,
        answer(
            MsgType::Reply,
            &renew,
            1,
            Some(ia(100, 160, vec![iap(P1, 0, 0), iap(P2, 200, 300)])),
        ),
    );
    match &effects[1] {
        Effect::Bound { old: Some(o), new } => {
            assert_eq!(o.prefixes.len(), 2);
            assert_eq!(new.prefix_list(), vec![P2.parse().unwrap()]);
        }
        e => panic!("{e:?}"),
    }
    let (_, renew) = h.next_tx();
    let effects = h.recv(
        1,
        answer(
            MsgType::Reply,
            &renew,
            1,
            Some(ia(100, 160, vec![iap(P2, 0, 0)])),
        ),
    );
    assert_eq!(
        effects[0],
        Effect::Lost {
            prefixes: vec![P2.parse().unwrap()],
            reason: LostReason::Expired
        }
    );
    assert_eq!(effects[1], Effect::Save(None));
    assert_eq!(transmits(&effects)[0].msg_type, MsgType::Solicit);
}

#[test]
fn prefixes_expire_one_by_one() {
    let mut h = H::new(cfg(), 24);
    h.bind(ia(1000, 1000, vec![iap(P1, 100, 300), iap(P2, 100, 600)]));
    let t0 = h.now;
    let effects = h.step();
    assert_eq!(h.now, t0.add_secs(300));
    assert_eq!(
        effects[0],
        Effect::Lost {
            prefixes: vec![P1.parse().unwrap()],
            reason: LostReason::Expired
        }
    );
    assert!(matches!(&effects[1], Effect::Save(Some(l)) if l.prefixes.len() == 1));
    assert_eq!(h.c.state(), State::Bound);
}

#[test]
fn zero_t1_t2_are_chosen_by_the_client() {
    let mut h = H::new(cfg(), 25);
    h.bind(ia(0, 0, vec![iap(P1, 1000, 2000)]));
    let l = h.c.lease().unwrap();
    // RFC 9915 §21.21 / §14.2: 0.5 and 0.8 of the shortest preferred lifetime.
    assert_eq!((l.t1, l.t2), (500, 800));
    assert_eq!(h.c.poll_timeout(), Some(h.now.add_secs(500)));
}

#[test]
fn infinite_lifetimes_never_expire() {
    let mut h = H::new(cfg(), 26);
    h.bind(ia(INFINITY, INFINITY, vec![iap(P1, INFINITY, INFINITY)]));
    assert_eq!(h.c.state(), State::Bound);
    assert_eq!(h.c.poll_timeout(), None);
    assert!(h
        .c
        .handle_timeout(Timestamp::from_millis(u64::MAX - 1))
        .is_empty());
    assert_eq!(h.c.lease().unwrap().expires_at(), Timestamp::NEVER);
}

#[test]
fn release_retransmits_at_most_four_times() {
    let mut h = H::new(cfg(), 27);
    h.bind(ia(100, 160, vec![iap(P1, 200, 300)]));
    h.wait_ms(1000);
    let effects = h.c.release(h.now);
    // RFC 9915 §18.2.7: the prefixes stop being used at once.
    assert_eq!(
        effects[0],
        Effect::Lost {
            prefixes: vec![P1.parse().unwrap()],
            reason: LostReason::Released
        }
    );
    assert_eq!(effects[1], Effect::Save(None));
    let first = transmits(&effects).pop().unwrap();
    assert_eq!(first.msg_type, MsgType::Release);
    assert_eq!(first.server_id, Some(server_duid(1)));
    assert_eq!(first.ia_pd[0].prefixes[0].prefix.to_string(), P1);
    let mut sent = 1;
    let mut done = false;
    for _ in 0..10 {
        let effects = h.step();
        let tx = transmits(&effects);
        assert!(tx
            .iter()
            .all(|m| m.msg_type == MsgType::Release && m.xid == first.xid));
        sent += tx.len();
        if effects.contains(&Effect::ReleaseDone) {
            done = true;
            break;
        }
    }
    assert!(done);
    assert_eq!(sent, 4, "REL_MAX_RC");
    assert_eq!(h.c.state(), State::Idle);
    assert_eq!(h.c.poll_timeout(), None);
}

#[test]
fn release_done_on_reply() {
    let mut h = H::new(cfg(), 28);
    h.bind(ia(100, 160, vec![iap(P1, 200, 300)]));
    let rel = transmits(&h.c.release(h.now)).pop().unwrap();
    let mut rep = answer(MsgType::Reply, &rel, 1, None);
    rep.status = status(status::SUCCESS);
    assert_eq!(h.recv(1, rep), vec![Effect::ReleaseDone]);
    assert_eq!(h.c.state(), State::Idle);
    // Releasing with nothing held finishes at once.
    assert_eq!(h.c.release(h.now), vec![Effect::ReleaseDone]);
}
