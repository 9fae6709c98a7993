//! Restart with a saved lease (RFC 9915 §18.2.12).

use pd_core::time::Timestamp;
use pd_core::wire::MsgType;

use super::super::{Effect, Lease, LeasedPrefix, LostReason, State};
use super::*;

fn saved(valid: u32) -> Lease {
    Lease {
        iaid: IAID,
        server_id: server_duid(1),
        server_addr: *server_addr(1).ip(),
        t1: 100,
        t2: 160,
        updated: Timestamp::ZERO,
        prefixes: vec![LeasedPrefix {
            prefix: "2001:db8:5::/56".parse().unwrap(),
            preferred: valid / 2,
            valid,
            updated: Timestamp::ZERO,
        }],
        dns_servers: Vec::new(),
    }
}

#[test]
fn valid_saved_lease_is_confirmed_with_rebind() {
    let mut h = H::new(cfg(), 31);
    h.now = Timestamp::from_secs(50);
    let effects = h.c.start(h.now, Some(saved(300)));
    assert_eq!(
        effects[0],
        Effect::Bound {
            old: None,
            new: saved(300)
        }
    );
    let reb = transmits(&effects).pop().expect("rebind at once");
    assert_eq!(reb.msg_type, MsgType::Rebind);
    assert_eq!(reb.server_id, None);
    assert_eq!(
        reb.ia_pd[0].prefixes[0].prefix.to_string(),
        "2001:db8:5::/56"
    );
    assert_eq!(h.c.state(), State::Rebinding);
    let effects = h.recv(
        2,
        answer(
            MsgType::Reply,
            &reb,
            2,
            Some(ia(100, 160, vec![iap("2001:db8:5::/56", 200, 300)])),
        ),
    );
    assert!(matches!(&effects[1], Effect::Extended(l) if l.server_id == server_duid(2)));
    assert_eq!(h.c.state(), State::Bound);
}

#[test]
fn rebind_reply_with_new_prefix_reports_old_and_new() {
    let mut h = H::new(cfg(), 32);
    let reb = transmits(&h.c.start(h.now, Some(saved(300))))
        .pop()
        .unwrap();
    let effects = h.recv(
        1,
        answer(
            MsgType::Reply,
            &reb,
            1,
            Some(ia(
                100,
                160,
                vec![
                    iap("2001:db8:5::/56", 0, 0),
                    iap("2001:db8:6::/56", 200, 300),
                ],
            )),
        ),
    );
    match &effects[1] {
        Effect::Bound { old: Some(o), new } => {
            assert_eq!(o, &saved(300));
            assert_eq!(new.prefix_list()[0].to_string(), "2001:db8:6::/56");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn unanswered_rebind_after_restart_ends_at_expiry() {
    let mut h = H::new(cfg(), 33);
    h.c.start(h.now, Some(saved(100)));
    loop {
        let effects = h.step();
        if h.now == Timestamp::from_secs(100) {
            assert!(matches!(
                effects[0],
                Effect::Lost {
                    reason: LostReason::Expired,
                    ..
                }
            ));
            let sol = transmits(&effects).pop().unwrap();
            assert_eq!(sol.msg_type, MsgType::Solicit);
            assert_eq!(
                sol.ia_pd[0].prefixes[0].prefix.to_string(),
                "2001:db8:5::/56"
            );
            break;
        }
        assert!(transmits(&effects)
            .iter()
            .all(|m| m.msg_type == MsgType::Rebind));
    }
}

#[test]
fn expired_saved_lease_solicits_with_the_old_prefix() {
    let mut c = cfg();
    c.immediate = true;
    let mut h = H::new(c, 34);
    h.now = Timestamp::from_secs(400);
    let effects = h.c.start(h.now, Some(saved(300)));
    assert_eq!(
        effects[0],
        Effect::Lost {
            prefixes: vec!["2001:db8:5::/56".parse().unwrap()],
            reason: LostReason::Expired
        }
    );
    assert_eq!(effects[1], Effect::Save(None));
    let sol = transmits(&effects).pop().expect("immediate solicit");
    assert_eq!(sol.msg_type, MsgType::Solicit);
    assert_eq!(
        sol.ia_pd[0].prefixes[0].prefix.to_string(),
        "2001:db8:5::/56"
    );
    assert!(h.c.lease().is_none());
}
