//! The expiry index: the active records in a binary min-heap ordered by
//! `(valid_until, id)`, with each record's place in the heap so that a
//! renewal or a release takes it out in O(log n).
//!
//! The heap holds record ids only; deadlines are read from the records,
//! which the table changes only while the record is out of the heap. That
//! is 8 bytes per record (the id in the heap, the place by id) where a
//! `BTreeSet<(deadline, id)>` took ~20 (its nodes are half full after
//! inserts in no order): ~12 MB less for a million leases.

use pd_core::time::Timestamp;

use super::chunks::ChunkVec;
use super::records::{Id, Records};

/// `place` of a record not in the heap.
const OUT: u32 = u32::MAX;

/// Active records by deadline.
#[derive(Debug, Default)]
pub struct Expiry {
    /// Record ids, a min-heap by [`key`].
    heap: ChunkVec<Id>,
    /// By record id: its index in `heap`, or [`OUT`].
    place: ChunkVec<u32>,
}

/// The order of the heap: deadline, then id (distinct for distinct ids).
fn key(recs: &Records, id: Id) -> (Timestamp, Id) {
    let t = recs
        .get(id)
        .map_or(Timestamp::from_millis(u64::MAX), |r| r.valid_until);
    (t, id)
}

fn ix(i: u32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

impl Expiry {
    /// Room for `n` records in the chunk lists.
    pub fn with_capacity(n: usize) -> Self {
        Expiry {
            heap: ChunkVec::with_capacity(n),
            place: ChunkVec::with_capacity(n),
        }
    }

    /// Records in the index.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Is record `id` in the index?
    pub fn contains(&self, id: Id) -> bool {
        self.place_of(id).is_some()
    }

    fn place_of(&self, id: Id) -> Option<usize> {
        self.place
            .get(ix(id))
            .filter(|p| **p != OUT)
            .map(|p| ix(*p))
    }

    fn at(&self, i: usize) -> Id {
        self.heap.get(i).copied().unwrap_or(Id::MAX)
    }

    /// Put `id` at heap index `i` and note its place.
    fn put(&mut self, i: usize, id: Id) {
        if let Some(h) = self.heap.get_mut(i) {
            *h = id;
        }
        self.set_place(id, u32::try_from(i).unwrap_or(OUT));
    }

    fn set_place(&mut self, id: Id, p: u32) {
        while self.place.len() <= ix(id) {
            self.place.push(OUT);
        }
        if let Some(slot) = self.place.get_mut(ix(id)) {
            *slot = p;
        }
    }

    /// Index record `id` under its current `valid_until` (no-op if it is
    /// already in).
    pub fn insert(&mut self, recs: &Records, id: Id) {
        if self.contains(id) || u32::try_from(self.heap.len()).is_err() {
            return;
        }
        let i = self.heap.len();
        self.heap.push(id);
        // sift_up notes the place where `id` ends up.
        self.sift_up(recs, i);
    }

    /// Take record `id` out (no-op if it is not in). Call before its
    /// `valid_until` changes.
    pub fn remove(&mut self, recs: &Records, id: Id) {
        let Some(i) = self.place_of(id) else {
            return;
        };
        self.set_place(id, OUT);
        let Some(last) = self.heap.pop() else {
            return;
        };
        if i < self.heap.len() {
            self.put(i, last);
            self.sift_down(recs, i);
            self.sift_up(recs, i);
        }
    }

    /// The earliest deadline.
    pub fn first(&self, recs: &Records) -> Option<Timestamp> {
        self.heap.get(0).map(|&id| key(recs, id).0)
    }

    /// Records whose deadline is at or before `now`, in `(deadline, id)`
    /// order: the heap's entries up to `now` form a subtree at its root.
    pub fn due(&self, recs: &Records, now: Timestamp) -> Vec<Id> {
        let mut out = Vec::new();
        let mut todo = vec![0usize];
        while let Some(i) = todo.pop() {
            let Some(&id) = self.heap.get(i) else {
                continue;
            };
            if key(recs, id).0 > now {
                continue;
            }
            out.push(id);
            todo.extend([2 * i + 1, 2 * i + 2]);
        }
        out.sort_unstable_by_key(|&id| key(recs, id));
        out
    }

    /// Is every entry's deadline at or after its parent's, and every
    /// place right? (For the table's invariant checks.)
    #[cfg(test)]
    pub fn is_consistent(&self, recs: &Records) -> bool {
        (0..self.heap.len()).all(|i| {
            let id = self.at(i);
            self.place_of(id) == Some(i)
                && (i == 0 || key(recs, self.at((i - 1) / 2)) < key(recs, id))
        })
    }

    fn sift_up(&mut self, recs: &Records, mut i: usize) {
        let id = self.at(i);
        let k = key(recs, id);
        while i > 0 {
            let parent = (i - 1) / 2;
            let pid = self.at(parent);
            if key(recs, pid) <= k {
                break;
            }
            self.put(i, pid);
            i = parent;
        }
        self.put(i, id);
    }

    fn sift_down(&mut self, recs: &Records, mut i: usize) {
        let n = self.heap.len();
        let id = self.at(i);
        let k = key(recs, id);
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let mut c = l;
            let mut ck = key(recs, self.at(l));
            if r < n {
                let rk = key(recs, self.at(r));
                if rk < ck {
                    c = r;
                    ck = rk;
                }
            }
            if k <= ck {
                break;
            }
            self.put(i, self.at(c));
            i = c;
        }
        self.put(i, id);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;
    use std::net::Ipv6Addr;

    use super::*;
    use crate::lease::{ClientKey, Lease, LeaseState};
    use pd_core::duid::Duid;
    use pd_core::prefix::Prefix;
    use proptest::prelude::*;

    fn lease(i: u32, valid: u64) -> Lease {
        let hi = u16::try_from(i >> 16).unwrap();
        let lo = u16::try_from(i & 0xffff).unwrap();
        Lease {
            prefix: Prefix::new(Ipv6Addr::new(0x2001, 0xdb8, hi, lo, 0, 0, 0, 0), 64).unwrap(),
            client: ClientKey {
                duid: Duid::ll(1, &[2, 0, 0, 0, 0, 1]),
                iaid: i,
            },
            state: LeaseState::Active,
            preferred_until: Timestamp::ZERO,
            valid_until: Timestamp::from_secs(valid),
            next_hop: Ipv6Addr::LOCALHOST,
            iface: "eth1".into(),
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Record `id` (mod the records) takes deadline `t` and goes in.
        Set(u32, u64),
        /// Record `id` goes out.
        Remove(u32),
        /// The due list at `t`.
        Due(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u32..64, 0u64..40).prop_map(|(i, t)| Op::Set(i, t)),
            (0u32..64).prop_map(Op::Remove),
            (0u64..40).prop_map(Op::Due),
        ]
    }

    proptest! {
        /// Behaves as the B-tree of `(deadline, id)` it replaced, with many
        /// equal deadlines, across inserts, renewals and removals.
        #[test]
        fn behaves_as_a_btree(n in 1u32..64, ops in proptest::collection::vec(op(), 0..200)) {
            let mut recs = Records::default();
            for i in 0..n {
                recs.insert(&lease(i, 1));
            }
            let mut e = Expiry::default();
            let mut model: BTreeSet<(Timestamp, Id)> = BTreeSet::new();
            for o in ops {
                match o {
                    Op::Set(i, t) => {
                        let id = i % n;
                        let old = recs.get(id).unwrap().valid_until;
                        model.remove(&(old, id));
                        e.remove(&recs, id);
                        recs.update(id, &lease(id, t));
                        model.insert((Timestamp::from_secs(t), id));
                        e.insert(&recs, id);
                    }
                    Op::Remove(i) => {
                        let id = i % n;
                        let old = recs.get(id).unwrap().valid_until;
                        model.remove(&(old, id));
                        e.remove(&recs, id);
                    }
                    Op::Due(t) => {
                        let now = Timestamp::from_secs(t);
                        let want: Vec<Id> = model.iter().take_while(|(d, _)| *d <= now).map(|(_, id)| *id).collect();
                        prop_assert_eq!(e.due(&recs, now), want);
                    }
                }
                prop_assert!(e.is_consistent(&recs));
                prop_assert_eq!(e.len(), model.len());
                prop_assert_eq!(e.first(&recs), model.first().map(|(t, _)| *t));
                for id in 0..n {
                    let old = recs.get(id).unwrap().valid_until;
                    prop_assert_eq!(e.contains(id), model.contains(&(old, id)));
                }
            }
        }
    }
}
