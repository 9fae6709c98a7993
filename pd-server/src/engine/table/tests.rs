//! The table on its own: record ids, DUID storage, restore, expiry order,
//! and its invariants under random operations.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::Ipv6Addr;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::config::PoolConfig;

fn pool_cfg(prefix: &str, len: u8) -> PoolConfig {
    PoolConfig {
        prefix: prefix.parse().unwrap(),
        delegated_len: len,
        preferred: 3600,
        valid: 7200,
        t1: 1800,
        t2: 2880,
        interface: None,
        link: None,
        next_hop: None,
    }
}

fn table() -> Table {
    Table::with_capacity(vec![pool_cfg("2001:db8::/60", 64)], Vec::new(), 4)
}

fn key(n: u8) -> ClientKey {
    ClientKey {
        duid: Duid::ll(1, &[2, 0, 0, 0, 0, n]),
        iaid: 1,
    }
}

fn p(i: u8) -> Prefix {
    format!("2001:db8:0:{i:x}::/64").parse().unwrap()
}

fn lease(i: u8, k: ClientKey, state: LeaseState, valid: u64) -> Lease {
    Lease {
        prefix: p(i),
        client: k,
        state,
        preferred_until: Timestamp::from_secs(valid / 2),
        valid_until: Timestamp::from_secs(valid),
        next_hop: Ipv6Addr::LOCALHOST,
        iface: Arc::from("eth1"),
    }
}

fn iface() -> Arc<str> {
    Arc::from("eth1")
}

/// The invariants of [`Table`], checked against the records.
fn check(t: &Table) {
    let mut active = 0;
    for id in t.recs.ids() {
        let l = t.recs.lease(id).expect("every record rebuilds");
        assert_eq!(t.by_prefix.get(&t.recs, &l.prefix), Some(id));
        let pool = &t.pools[t.pool_of(&l.prefix).unwrap()];
        let slot = pool.slot_of(&l.prefix).unwrap();
        let in_expiry = t.expiry.contains(id);
        if l.state == LeaseState::Active {
            active += 1;
            assert_eq!(t.clients.get(&t.recs, &l.client), Some(id));
            assert!(!pool.is_free(slot), "active {} not taken", l.prefix);
            assert!(in_expiry);
        } else {
            assert!(!in_expiry);
        }
        if let Some(last) = t.clients.get(&t.recs, &l.client) {
            assert!(t.recs.is_client(last, &l.client));
        }
    }
    assert_eq!(t.active_count(), active);
    assert_eq!(t.expiry.len(), active);
    assert!(t.expiry.is_consistent(&t.recs));
    let in_use: u64 = t.pools.iter().map(|p| p.in_use()).sum();
    assert_eq!(in_use, active as u64);
}

#[test]
fn record_is_compact() {
    assert_eq!(Table::RECORD_BYTES, 80);
}

#[test]
fn duids_inline_and_long() {
    let mut t = table();
    let short = key(1);
    let uuid = ClientKey {
        duid: Duid::uuid([7; 16]),
        iaid: 2,
    };
    let long = ClientKey {
        duid: Duid::en(9, &[5; 40]),
        iaid: 3,
    };
    assert_eq!(uuid.duid.as_bytes().len(), super::records::INLINE_DUID);
    for (i, k) in [&short, &uuid, &long].into_iter().enumerate() {
        let l = lease(i as u8, k.clone(), LeaseState::Active, 100);
        assert!(t.restore(&l).is_some());
        assert_eq!(t.lease(&l.prefix), Some(l));
        assert_eq!(t.active_of(k), Some(p(i as u8)));
    }
    assert_eq!(
        t.recs.extra_len(),
        1,
        "only the 42-octet DUID is out of line"
    );
    // The long DUID's owner changes: its side entry goes.
    t.deactivate(&p(2), LeaseState::Released).unwrap();
    let c = Choice {
        prefix: p(2),
        pool: 0,
    };
    let (l, new) = t.commit(
        &short,
        c,
        Timestamp::ZERO,
        Timestamp::from_secs(5),
        Ipv6Addr::LOCALHOST,
        &iface(),
    );
    assert!(new);
    assert_eq!(l.client, short);
    assert_eq!(t.recs.extra_len(), 0);
    assert_eq!(t.lease(&p(2)).unwrap().client, short);
    // short's old binding at p(0) is still there (the engine ends it first):
    // three active records, short's index entry on the new one.
    assert_eq!(t.active_count(), 3);
    assert_eq!(t.active_of(&short), Some(p(2)));
    assert!(t.expiry.is_consistent(&t.recs));
    // Ending the stray one leaves short's active binding in the index.
    t.deactivate(&p(0), LeaseState::Released).unwrap();
    assert_eq!(t.active_of(&short), Some(p(2)));
    check(&t);
}

#[test]
fn restore_drops_duplicates_and_strays() {
    let mut t = table();
    assert!(t
        .restore(&lease(0, key(1), LeaseState::Active, 10))
        .is_some());
    // Same prefix again (any client): dropped.
    assert!(t
        .restore(&lease(0, key(2), LeaseState::Released, 10))
        .is_none());
    // Second active binding of the same client: dropped, its slot stays free.
    assert!(t
        .restore(&lease(1, key(1), LeaseState::Active, 10))
        .is_none());
    let slot = t.pools[0].slot_of(&p(1)).unwrap();
    assert!(t.pools[0].is_free(slot));
    // Outside every pool.
    let mut stray = lease(0, key(3), LeaseState::Active, 10);
    stray.prefix = "2001:db8:1::/64".parse().unwrap();
    assert!(t.restore(&stray).is_none());
    // A former client keeps its last prefix.
    assert!(t
        .restore(&lease(2, key(4), LeaseState::Expired, 10))
        .is_some());
    t.restored();
    assert_eq!(t.choose(&key(4), &[], &[0]).unwrap().prefix, p(2));
    assert_eq!(t.len(), 2);
    check(&t);
}

#[test]
fn expiry_in_deadline_order() {
    let mut t = table();
    for (i, v) in [(0u8, 50u64), (1, 20), (2, 50), (3, 10), (4, 30)] {
        t.restore(&lease(i, key(i), LeaseState::Active, v)).unwrap();
    }
    assert_eq!(t.next_expiry(), Some(Timestamp::from_secs(10)));
    assert_eq!(t.due(Timestamp::from_secs(5)), Vec::<Prefix>::new());
    assert_eq!(t.due(Timestamp::from_secs(30)), vec![p(3), p(1), p(4)]);
    // An extension moves its deadline.
    let c = Choice {
        prefix: p(3),
        pool: 0,
    };
    let (_, new) = t.commit(
        &key(3),
        c,
        Timestamp::ZERO,
        Timestamp::from_secs(60),
        Ipv6Addr::LOCALHOST,
        &iface(),
    );
    assert!(!new);
    assert_eq!(
        t.due(Timestamp::from_secs(50)),
        vec![p(1), p(4), p(0), p(2)]
    );
    t.deactivate(&p(1), LeaseState::Expired).unwrap();
    assert!(t.deactivate(&p(1), LeaseState::Expired).is_none());
    assert_eq!(t.next_expiry(), Some(Timestamp::from_secs(30)));
    check(&t);
}

#[test]
fn links_follow_the_binding() {
    let mut t = table();
    let id = t
        .restore(&lease(0, key(1), LeaseState::Active, 10))
        .unwrap();
    assert_eq!(t.link_of(&p(0)), None);
    t.set_link_id(id, 7);
    assert_eq!(t.link_of(&p(0)), Some(7));
    let c = Choice {
        prefix: p(0),
        pool: 0,
    };
    t.commit(
        &key(1),
        c,
        Timestamp::ZERO,
        Timestamp::from_secs(20),
        Ipv6Addr::LOCALHOST,
        &iface(),
    );
    assert_eq!(t.link_of(&p(0)), Some(7), "an extension keeps its link");
    t.deactivate(&p(0), LeaseState::Released).unwrap();
    assert_eq!(t.link_of(&p(0)), None);
}

#[derive(Debug, Clone)]
enum Op {
    Bind(u8, u64),
    Release(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 1u64..100).prop_map(|(c, v)| Op::Bind(c, v)),
        (0u8..16).prop_map(Op::Release),
    ]
}

proptest! {
    /// What the engine does (end a client's other binding, then commit),
    /// in any order, keeps every index consistent with the records.
    #[test]
    fn invariants_hold(ops in proptest::collection::vec(op(), 0..80)) {
        let mut t = table();
        for o in ops {
            match o {
                Op::Bind(c, v) => {
                    let k = key(c);
                    let Some(choice) = t.choose(&k, &[], &[0]) else { continue };
                    if let Some(old) = t.active_of(&k).filter(|o| *o != choice.prefix) {
                        t.deactivate(&old, LeaseState::Released);
                    }
                    t.commit(&k, choice, Timestamp::ZERO, Timestamp::from_secs(v), Ipv6Addr::LOCALHOST, &iface());
                    prop_assert_eq!(t.active_of(&k), Some(choice.prefix));
                }
                Op::Release(i) => { t.deactivate(&p(i), LeaseState::Released); }
            }
            check(&t);
        }
    }
}

#[test]
fn restore_order_does_not_decide_the_last_prefix_or_the_cursor() {
    // Two former prefixes of one client, in either order: the one it held
    // last (later valid lifetime) is its last prefix.
    for order in [[3u8, 5], [5, 3]] {
        let mut t = table();
        for i in order {
            let valid = if i == 5 { 20 } else { 10 };
            assert!(t
                .restore(&lease(i, key(9), LeaseState::Released, valid))
                .is_some());
        }
        t.restored();
        assert_eq!(
            t.choose(&key(9), &[], &[0]).unwrap().prefix,
            p(5),
            "order {order:?}"
        );
    }
    // Active leases restored upper half first: the first fresh prefix is
    // still the one after them (the cursor is settled at the end).
    let mut t = table();
    for i in [8u8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7] {
        assert!(t
            .restore(&lease(i, key(i + 20), LeaseState::Active, 10))
            .is_some());
    }
    t.restored();
    assert_eq!(t.choose(&key(99), &[], &[0]).unwrap().prefix, p(12));
    check(&t);
}

#[test]
fn indexes_find_every_record_after_growing() {
    // Sized for 4, filled with 16: every table rehashes on the way.
    let mut t = table();
    for i in 0..16u8 {
        assert!(t
            .restore(&lease(i, key(i), LeaseState::Active, 10))
            .is_some());
    }
    for i in 0..16u8 {
        assert!(t.lease(&p(i)).is_some(), "prefix {i} found");
        assert_eq!(t.active_of(&key(i)), Some(p(i)), "client {i} found");
    }
    check(&t);
}

#[test]
fn one_client_index_for_active_and_last() {
    // A client with an active binding and a former prefix in the store, in
    // either order: the active one is its binding; once released, that one
    // (not the older) is the prefix it gets back.
    for order in [[2u8, 6], [6, 2]] {
        let mut t = table();
        for i in order {
            let (state, valid) = if i == 6 {
                (LeaseState::Active, 50)
            } else {
                (LeaseState::Released, 10)
            };
            assert!(t.restore(&lease(i, key(1), state, valid)).is_some());
        }
        t.restored();
        assert_eq!(t.active_of(&key(1)), Some(p(6)), "order {order:?}");
        assert_eq!(t.active_count(), 1);
        check(&t);
        t.deactivate(&p(6), LeaseState::Released).unwrap();
        assert_eq!(t.active_of(&key(1)), None);
        assert_eq!(t.active_count(), 0);
        assert_eq!(t.choose(&key(1), &[], &[0]).unwrap().prefix, p(6));
        check(&t);
    }
}
