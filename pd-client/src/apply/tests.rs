#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::plan::tests::{ds, lease};
use super::*;

fn actions_of(hooks: &[HookCall]) -> Vec<&'static str> {
    hooks.iter().map(|h| h.action.as_str()).collect()
}

#[test]
fn bound_then_prefix_change_then_release() {
    let mut a = Applier::new("wan0", vec![ds("lan0", 1, 1)], true);
    let t0 = Timestamp::ZERO;
    let l1 = lease(&["2001:db8:1::/56"]);
    let out = a.on_effect(
        t0,
        &Effect::Bound {
            old: None,
            new: l1.clone(),
        },
    );
    assert_eq!(actions_of(&out.hooks), vec!["add"]);
    assert_eq!(out.ops.len(), 2);
    assert!(matches!(&out.ops[0], Op::AddUnreachable(p) if p.to_string() == "2001:db8:1::/56"));
    assert!(
        matches!(&out.ops[1], Op::AddAddress(s) if s.addr.to_string() == "2001:db8:1:1::1" && s.iface == "lan0")
    );
    assert!(out.ra_changed);
    let ra = a.router_advert("lan0", None, false, t0).unwrap();
    assert_eq!(ra.prefixes.len(), 1);
    assert_eq!(ra.prefixes[0].prefix.to_string(), "2001:db8:1:1::/64");
    assert_eq!((ra.prefixes[0].preferred, ra.prefixes[0].valid), (200, 300));
    assert!(a.router_advert("lan9", None, false, t0).is_none());

    // Renewed, same prefix: update hook, everything re-asserted.
    let out = a.on_effect(t0, &Effect::Extended(l1.clone()));
    assert_eq!(actions_of(&out.hooks), vec!["update"]);
    assert_eq!(out.ops.len(), 2);
    assert!(out
        .ops
        .iter()
        .all(|o| matches!(o, Op::AddUnreachable(_) | Op::AddAddress(_))));

    // The server hands out another prefix: delete for the old, add for the new.
    let t1 = Timestamp::from_secs(100);
    let l2 = lease(&["2001:db8:2::/56"]);
    let out = a.on_effect(
        t1,
        &Effect::Bound {
            old: Some(l1.clone()),
            new: l2.clone(),
        },
    );
    assert_eq!(actions_of(&out.hooks), vec!["delete", "add"]);
    let get = |h: &HookCall, k: &str| h.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get(&out.hooks[0], "PD_PREFIX").as_deref(),
        Some("2001:db8:1::/56")
    );
    assert_eq!(
        get(&out.hooks[1], "PD_PREFIX").as_deref(),
        Some("2001:db8:2::/56")
    );
    assert_eq!(out.ops.len(), 4);
    assert!(matches!(&out.ops[0], Op::DelAddress(_)));
    // RA: new /64, and the old one with preferred 0 until its valid end (300 s).
    let ra = a.router_advert("lan0", None, false, t1).unwrap();
    let pios: Vec<(String, u32, u32)> = ra
        .prefixes
        .iter()
        .map(|p| (p.prefix.to_string(), p.preferred, p.valid))
        .collect();
    assert_eq!(
        pios,
        vec![
            ("2001:db8:2:1::/64".into(), 100, 200),
            ("2001:db8:1:1::/64".into(), 0, 200)
        ]
    );
    assert_eq!(ra.router_lifetime, ra::ROUTER_LIFETIME);
    // After the old valid lifetime, it is no longer advertised.
    a.router_advert("lan0", None, false, Timestamp::from_secs(300))
        .unwrap();
    let ra = a
        .router_advert("lan0", None, false, Timestamp::from_secs(301))
        .unwrap();
    assert_eq!(ra.prefixes.len(), 1);

    // Release: delete hook, host state withdrawn, the /64 advertised once with lifetime 0.
    let t2 = Timestamp::from_secs(150);
    let out = a.on_effect(
        t2,
        &Effect::Lost {
            prefixes: l2.prefix_list(),
            reason: LostReason::Released,
        },
    );
    assert_eq!(actions_of(&out.hooks), vec!["delete"]);
    assert_eq!(out.ops.len(), 2);
    assert!(out
        .ops
        .iter()
        .all(|o| matches!(o, Op::DelAddress(_) | Op::DelUnreachable(_))));
    assert!(a.lease().is_none());
    let ra = a.router_advert("lan0", None, false, t2).unwrap();
    assert_eq!(ra.router_lifetime, 0);
    assert_eq!((ra.prefixes[0].preferred, ra.prefixes[0].valid), (0, 0));
    let ra = a.router_advert("lan0", None, true, t2).unwrap();
    assert!(ra.prefixes.is_empty());
}

#[test]
fn partial_expiry_and_no_hooks() {
    let mut a = Applier::new("wan0", vec![ds("lan0", 0, 1)], false);
    let l = lease(&["2001:db8:1::/56", "2001:db8:2::/56"]);
    let out = a.on_effect(Timestamp::ZERO, &Effect::Bound { old: None, new: l });
    assert!(out.hooks.is_empty());
    assert_eq!(out.ops.len(), 3);
    let out = a.on_effect(
        Timestamp::from_secs(300),
        &Effect::Lost {
            prefixes: vec!["2001:db8:2::/56".parse().unwrap()],
            reason: LostReason::Expired,
        },
    );
    assert_eq!(
        out.ops[0],
        Op::DelUnreachable("2001:db8:2::/56".parse().unwrap())
    );
    // Then the rest re-asserted.
    assert_eq!(out.ops.len(), 3, "{:?}", out.ops);
    assert!(out.ops[1..]
        .iter()
        .all(|o| matches!(o, Op::AddUnreachable(_) | Op::AddAddress(_))));
    assert_eq!(a.lease().unwrap().prefixes.len(), 1);
    // Other effects do nothing.
    assert_eq!(
        a.on_effect(Timestamp::ZERO, &Effect::NoPrefixAvail),
        Actions::default()
    );
}

#[test]
fn assumed_state_is_withdrawn_when_lost_at_start() {
    // Restart with an expired saved lease: the engine reports it Lost, and
    // the addresses and route left from before are withdrawn.
    let mut a = Applier::new("wan0", vec![ds("lan0", 0, 1)], true);
    let l = lease(&["2001:db8:1::/56"]);
    a.assume(Some(l.clone()));
    let out = a.on_effect(
        Timestamp::from_secs(1000),
        &Effect::Lost {
            prefixes: l.prefix_list(),
            reason: LostReason::Expired,
        },
    );
    assert_eq!(actions_of(&out.hooks), vec!["expire"]);
    assert_eq!(out.ops.len(), 2);
    assert!(out
        .ops
        .iter()
        .all(|o| matches!(o, Op::DelAddress(_) | Op::DelUnreachable(_))));
    // A valid one: Bound re-asserts everything (state is gone after a reboot).
    let mut a = Applier::new("wan0", vec![ds("lan0", 0, 1)], true);
    a.assume(Some(l.clone()));
    let out = a.on_effect(Timestamp::ZERO, &Effect::Bound { old: None, new: l });
    assert_eq!(actions_of(&out.hooks), vec!["add"]);
    assert_eq!(out.ops.len(), 2);
    assert!(out
        .ops
        .iter()
        .all(|o| matches!(o, Op::AddUnreachable(_) | Op::AddAddress(_))));
}

#[test]
fn reload_moves_a_downstream() {
    let mut a = Applier::new("wan0", vec![ds("lan0", 0, 1)], true);
    a.on_effect(
        Timestamp::ZERO,
        &Effect::Bound {
            old: None,
            new: lease(&["2001:db8:1::/56"]),
        },
    );
    let out = a.set_downstream(vec![ds("lan0", 2, 1)], Timestamp::from_secs(10));
    assert!(out.hooks.is_empty());
    assert_eq!(out.ops.len(), 3);
    assert!(matches!(&out.ops[0], Op::DelAddress(s) if s.addr.to_string() == "2001:db8:1::1"));
    assert!(matches!(&out.ops[1], Op::AddUnreachable(_)));
    assert!(matches!(&out.ops[2], Op::AddAddress(s) if s.addr.to_string() == "2001:db8:1:2::1"));
    assert_eq!(a.deprecated().len(), 1);
}
