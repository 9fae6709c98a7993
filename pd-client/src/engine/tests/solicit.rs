//! Server discovery: Solicit timing, Advertise choice, Request, rejections.

use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{status, Discard, MsgType};

use super::super::rng::Rng;
use super::super::{Effect, State};
use super::*;

/// RT in ms from the RFC 9915 §15 formula, RAND in parts per million.
fn formula(prev: Option<u64>, irt: u64, mrt: u64, ppm: i64) -> u64 {
    let j = |b: u64| (b as i64 + b as i64 * ppm / 1_000_000) as u64;
    let rt = match prev {
        None => j(irt),
        Some(p) => (2 * p as i64 + p as i64 * ppm / 1_000_000) as u64,
    };
    if mrt != 0 && rt > mrt {
        j(mrt)
    } else {
        rt
    }
}

#[test]
fn solicit_retransmission_times_are_exact_and_within_rfc_bounds() {
    let seed = 0x5eed;
    let mut h = H::new(cfg(), seed);
    // Mirror the engine's draws: xid, initial delay, then one RAND per send.
    let mut rng = Rng::new(seed);
    let xid = rng.xid();
    let delay = rng.up_to(1000);
    let mut times = Vec::new();
    let mut msgs = Vec::new();
    if let Some(m) = transmits(&h.c.start(h.now, None)).pop() {
        times.push(0);
        msgs.push(m);
    }
    while times.len() < 16 {
        let (t, m) = h.next_tx();
        assert_eq!(m.msg_type, MsgType::Solicit);
        assert_eq!(m.xid, xid, "retransmissions keep the xid");
        times.push(t.as_millis());
        msgs.push(m);
    }
    // RFC 9915 §18.2.1: first Solicit after a random delay of 0..=1 s.
    assert_eq!(times[0], delay);
    assert!(times[0] <= 1000);
    let mut prev = None;
    for i in 1..times.len() {
        let ppm = rng.rand_ppm(i == 1);
        let rt = formula(prev, 1000, 3_600_000, ppm);
        let gap = times[i] - times[i - 1];
        assert_eq!(gap, rt, "RT #{i}");
        match prev {
            // First RT strictly greater than IRT, at most IRT + 0.1 IRT.
            None => assert!(gap > 1000 && gap <= 1100, "{gap}"),
            Some(p) if p * 19 / 10 <= 3_600_000 && gap <= 3_240_000 => {
                assert!(gap >= p * 19 / 10 && gap <= p * 21 / 10 + 1, "{p} -> {gap}")
            }
            // Capped: MRT ± 10 %.
            Some(_) => assert!((3_240_000..=3_960_000).contains(&gap), "{gap}"),
        }
        prev = Some(rt);
    }
    // The cap was reached within 16 transmissions.
    assert!(prev.unwrap() >= 3_240_000);
    // RFC 9915 §21.9: Elapsed Time on every transmission, hundredths of a
    // second since the first, capped at 0xffff.
    for (t, m) in times.iter().zip(&msgs) {
        let want = ((t - times[0]) / 10).min(0xffff) as u16;
        assert_eq!(m.elapsed, Some(want));
    }
    assert_eq!(msgs[0].elapsed, Some(0));
    assert!(msgs
        .windows(2)
        .all(|w| w[0].elapsed < w[1].elapsed || w[1].elapsed == Some(0xffff)));
    assert_eq!(msgs.last().unwrap().elapsed, Some(0xffff));
}

#[test]
fn solicit_contents() {
    let mut c = cfg();
    c.rapid_commit = true;
    c.immediate = true;
    let mut h = H::new(c, 1);
    let sol = transmits(&h.c.start(h.now, None))
        .pop()
        .expect("immediate solicit");
    assert_eq!(sol.client_id, Some(client_duid()));
    assert_eq!(sol.server_id, None);
    assert!(sol.rapid_commit);
    assert!(sol.oro.contains(&82) && sol.oro.contains(&23));
    assert_eq!(sol.elapsed, Some(0));
    assert_eq!(sol.ia_pd.len(), 1);
    assert_eq!(sol.ia_pd[0].iaid, IAID);
    assert_eq!(
        sol.ia_pd[0].prefixes[0].prefix,
        Prefix::truncate("::".parse().unwrap(), 56)
    );
    // A full prefix hint wins over the length.
    let mut c = cfg();
    c.hint = Some("2001:db8:42::/48".parse().unwrap());
    c.immediate = true;
    let sol = transmits(&H::new(c, 1).c.start(Timestamp::ZERO, None))
        .pop()
        .unwrap();
    assert_eq!(
        sol.ia_pd[0].prefixes[0].prefix.to_string(),
        "2001:db8:42::/48"
    );
    assert!(!sol.rapid_commit);
}

#[test]
fn highest_preference_wins_after_first_rt_ties_go_to_first() {
    let mut h = H::new(cfg(), 2);
    h.c.start(h.now, None);
    let (_, sol) = h.next_tx();
    let offer = |p: &str| Some(ia(0, 0, vec![iap(p, 100, 200)]));
    for (n, pref, p) in [
        (1, 10, "2001:db8:1::/56"),
        (2, 20, "2001:db8:2::/56"),
        (3, 20, "2001:db8:3::/56"),
    ] {
        let mut adv = answer(MsgType::Advertise, &sol, n, offer(p));
        adv.preference = Some(pref);
        assert!(h.recv(n, adv).is_empty(), "collecting during the first RT");
        h.wait_ms(10);
    }
    assert_eq!(h.c.state(), State::Soliciting);
    let (t, req) = h.next_tx();
    assert_eq!(req.msg_type, MsgType::Request);
    assert!(
        t.as_millis() > 1000,
        "request only once the first RT is over"
    );
    assert_eq!(req.server_id, Some(server_duid(2)));
    assert_eq!(
        req.ia_pd[0].prefixes[0].prefix.to_string(),
        "2001:db8:2::/56"
    );
    assert_eq!(req.elapsed, Some(0), "a new exchange restarts Elapsed Time");
    assert_ne!(req.xid, sol.xid);
}

#[test]
fn preference_255_requests_at_once() {
    let mut h = H::new(cfg(), 3);
    h.c.start(h.now, None);
    let (t0, sol) = h.next_tx();
    let mut adv = answer(
        MsgType::Advertise,
        &sol,
        1,
        Some(ia(0, 0, vec![iap("2001:db8:1::/56", 100, 200)])),
    );
    adv.preference = Some(255);
    h.wait_ms(100);
    let tx = transmits(&h.recv(1, adv));
    assert_eq!(tx.len(), 1);
    assert_eq!(tx[0].msg_type, MsgType::Request);
    assert_eq!(h.now, t0.add(std::time::Duration::from_millis(100)));
    assert_eq!(h.c.state(), State::Requesting);
}

#[test]
fn advertise_after_first_rt_is_taken_at_once() {
    let mut h = H::new(cfg(), 4);
    h.c.start(h.now, None);
    h.next_tx();
    let (_, sol2) = h.next_tx(); // first RT over: retransmission
    let mut adv = answer(
        MsgType::Advertise,
        &sol2,
        1,
        Some(ia(0, 0, vec![iap("2001:db8:1::/56", 100, 200)])),
    );
    adv.preference = Some(0);
    let tx = transmits(&h.recv(1, adv));
    assert_eq!(tx[0].msg_type, MsgType::Request);
}

#[test]
fn request_max_rc_returns_to_solicit() {
    let mut h = H::new(cfg(), 5);
    h.c.start(h.now, None);
    let (_, sol) = h.next_tx();
    let mut adv = answer(
        MsgType::Advertise,
        &sol,
        1,
        Some(ia(0, 0, vec![iap("2001:db8:1::/56", 100, 200)])),
    );
    adv.preference = Some(255);
    let first = transmits(&h.recv(1, adv)).pop().unwrap();
    let mut times = vec![h.now.as_millis()];
    let mut xids = vec![first.xid];
    let after = loop {
        let (t, m) = h.next_tx();
        if m.msg_type != MsgType::Request {
            break m;
        }
        times.push(t.as_millis());
        xids.push(m.xid);
    };
    // RFC 9915 §7.6: REQ_MAX_RC = 10 transmissions, then the exchange fails.
    assert_eq!(times.len(), 10);
    assert!(xids.iter().all(|x| *x == first.xid));
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!((900..=1100).contains(&gaps[0]), "{gaps:?}");
    for w in gaps.windows(2) {
        let ok = (w[1] >= w[0] * 19 / 10 && w[1] <= w[0] * 21 / 10 + 1)
            || (27_000..=33_000).contains(&w[1]);
        assert!(ok, "{gaps:?}");
    }
    assert!(gaps.iter().all(|g| *g <= 33_000), "REQ_MAX_RT caps RT");
    assert_eq!(after.msg_type, MsgType::Solicit);
    assert_eq!(h.c.state(), State::Soliciting);
}

#[test]
fn no_prefix_avail_advertise_is_ignored_and_reported() {
    let mut h = H::new(cfg(), 6);
    h.c.start(h.now, None);
    let (_, sol) = h.next_tx();
    let mut none = ia(0, 0, vec![]);
    none.status = status(status::NO_PREFIX_AVAIL);
    assert!(h
        .recv(1, answer(MsgType::Advertise, &sol, 1, Some(none.clone())))
        .is_empty());
    // At the end of the first RT: NoPrefixAvail, and the Solicit goes on.
    let effects = h.step();
    assert!(effects.contains(&Effect::NoPrefixAvail));
    let tx = transmits(&effects);
    assert_eq!(tx[0].msg_type, MsgType::Solicit);
    assert_eq!(h.c.state(), State::Soliciting);
    // Reported once per exchange.
    assert!(h
        .recv(1, answer(MsgType::Advertise, &sol, 1, Some(none)))
        .is_empty());
    let (_, m) = h.next_tx();
    assert_eq!(m.msg_type, MsgType::Solicit);
}

#[test]
fn no_prefix_avail_in_reply_to_request_goes_back_to_solicit() {
    let mut h = H::new(cfg(), 7);
    h.c.start(h.now, None);
    let (_, sol) = h.next_tx();
    let mut adv = answer(
        MsgType::Advertise,
        &sol,
        1,
        Some(ia(0, 0, vec![iap("2001:db8:1::/56", 100, 200)])),
    );
    adv.preference = Some(255);
    let req = transmits(&h.recv(1, adv)).pop().unwrap();
    let mut none = ia(0, 0, vec![]);
    none.status = status(status::NO_PREFIX_AVAIL);
    let effects = h.recv(1, answer(MsgType::Reply, &req, 1, Some(none)));
    assert_eq!(effects[0], Effect::NoPrefixAvail);
    assert_eq!(transmits(&effects)[0].msg_type, MsgType::Solicit);
    assert!(h.c.lease().is_none());
}

#[test]
fn bad_replies_are_discarded() {
    let mut h = H::new(cfg(), 8);
    h.c.start(h.now, None);
    let (_, sol) = h.next_tx();
    let good_ia = ia(100, 160, vec![iap("2001:db8:1::/56", 200, 300)]);
    let mut adv = answer(MsgType::Advertise, &sol, 1, Some(good_ia.clone()));
    adv.preference = Some(255);
    let req = transmits(&h.recv(1, adv)).pop().unwrap();

    let mut wrong_xid = answer(MsgType::Reply, &req, 1, Some(good_ia.clone()));
    wrong_xid.xid = [req.xid[0] ^ 1, req.xid[1], req.xid[2]];
    assert!(h.recv(1, wrong_xid).is_empty());
    assert_eq!(h.c.last_discard(), Some(Discard::WrongXid));

    let mut foreign = answer(MsgType::Reply, &req, 1, Some(good_ia.clone()));
    foreign.client_id = Some(server_duid(9));
    assert!(h.recv(1, foreign).is_empty());
    assert_eq!(h.c.last_discard(), Some(Discard::NotForUs));

    let mut no_sid = answer(MsgType::Reply, &req, 1, Some(good_ia.clone()));
    no_sid.server_id = None;
    assert!(h.recv(1, no_sid).is_empty());
    assert_eq!(h.c.last_discard(), Some(Discard::MissingServerId));

    // RFC 9915 §21.21: T1 > T2 → the IA_PD is discarded (as if absent).
    let bad_t = answer(
        MsgType::Reply,
        &req,
        1,
        Some(ia(200, 100, good_ia.prefixes.clone())),
    );
    assert!(h.recv(1, bad_t).is_empty());
    assert_eq!(h.c.discard_count(Discard::BadLifetimes), 1);

    // Preferred > valid: that IAPREFIX is dropped, leaving nothing usable:
    // the Reply is ignored as well.
    let pref_gt_valid = answer(
        MsgType::Reply,
        &req,
        1,
        Some(ia(100, 160, vec![iap("2001:db8:1::/56", 400, 300)])),
    );
    let effects = h.recv(1, pref_gt_valid);
    assert!(effects.iter().all(|e| !matches!(e, Effect::Bound { .. })));

    // Wrong interface.
    let other_if = h.c.handle_message(
        h.now,
        server_addr(1),
        IFINDEX + 1,
        answer(MsgType::Reply, &req, 1, Some(good_ia.clone())),
    );
    assert!(other_if.is_empty());

    assert_eq!(h.c.state(), State::Requesting);
    assert!(h.c.lease().is_none());
    // The Request is still being retransmitted, and a good Reply binds.
    let (_, again) = h.next_tx();
    assert_eq!((again.msg_type, again.xid), (MsgType::Request, req.xid));
    let effects = h.recv(1, answer(MsgType::Reply, &again, 1, Some(good_ia)));
    assert!(matches!(&effects[1], Effect::Bound { old: None, .. }));
}

#[test]
fn sol_max_rt_from_server_is_honoured_when_in_range() {
    let mut h = H::new(cfg(), 9);
    h.c.start(h.now, None);
    let (_, sol) = h.next_tx();
    // Out of range values are ignored (RFC 9915 §21.24: 60..=86400).
    for bad in [59, 86_401] {
        let mut adv = answer(MsgType::Advertise, &sol, 1, None);
        adv.sol_max_rt = Some(bad);
        h.recv(1, adv);
        assert_eq!(h.c.sol_max_rt(), 3600);
    }
    // An Advertise without prefixes still sets SOL_MAX_RT (§18.2.9).
    let mut adv = answer(MsgType::Advertise, &sol, 1, None);
    adv.sol_max_rt = Some(60);
    assert!(h.recv(1, adv).is_empty());
    assert_eq!(h.c.sol_max_rt(), 60);
    let mut last = h.now.as_millis();
    let mut gaps = Vec::new();
    for _ in 0..10 {
        let (t, m) = h.next_tx();
        assert_eq!(m.msg_type, MsgType::Solicit);
        gaps.push(t.as_millis() - last);
        last = t.as_millis();
    }
    assert!(gaps.iter().all(|g| *g <= 66_000), "{gaps:?}");
    assert!(gaps[6..].iter().all(|g| *g >= 54_000), "{gaps:?}");
}

#[test]
fn rapid_commit_reply_binds_directly() {
    let mut c = cfg();
    c.rapid_commit = true;
    let mut h = H::new(c, 10);
    h.c.start(h.now, None);
    let (_, sol) = h.next_tx();
    let lease_ia = ia(100, 160, vec![iap("2001:db8:7::/56", 200, 300)]);
    // Without the Rapid Commit option the Reply is not acceptable.
    assert!(h
        .recv(1, answer(MsgType::Reply, &sol, 1, Some(lease_ia.clone())))
        .is_empty());
    assert_eq!(h.c.last_discard(), Some(Discard::UnexpectedType));
    let mut rep = answer(MsgType::Reply, &sol, 1, Some(lease_ia));
    rep.rapid_commit = true;
    let effects = h.recv(1, rep);
    assert!(matches!(&effects[0], Effect::Save(Some(_))));
    match &effects[1] {
        Effect::Bound { old: None, new } => {
            assert_eq!(new.prefix_list()[0].to_string(), "2001:db8:7::/56");
            assert_eq!(new.server_addr, *server_addr(1).ip());
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(h.c.state(), State::Bound);
}

#[test]
fn spurious_timeouts_do_nothing() {
    let mut h = H::new(cfg(), 11);
    assert!(h.c.handle_timeout(Timestamp::from_secs(5)).is_empty());
    assert_eq!(h.c.poll_timeout(), None);
    h.c.start(h.now, None);
    let (_, _) = h.next_tx();
    let before = h.c.poll_timeout();
    assert!(h.c.handle_timeout(h.now).is_empty());
    assert_eq!(h.c.poll_timeout(), before);
}
