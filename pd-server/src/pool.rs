//! Prefix allocator for one pool: a `prefix` split into `delegated_len`
//! prefixes ("slots"), never materialised.
//!
//! Slots below `cursor` have been handed out at least once; the free ones
//! among them sit in `freed`. Fresh slots (at or above the cursor) are used
//! first, so a released or expired prefix stays available to its last owner
//! for as long as possible (stable assignment). Allocation is amortised O(1)
//! from the cursor and O(log n) from the freed set; taking or freeing a
//! given slot is O(log n). A pool of a /32 split into /64s (2^32 slots)
//! costs memory only for the slots in use.

mod slots;

use std::collections::BTreeSet;

use pd_core::prefix::Prefix;
pub use slots::SlotSet;

/// Largest number of slot bits a pool may have (a /8 split into /64s, say).
pub const MAX_SLOT_BITS: u8 = 56;

/// One pool's allocator state.
#[derive(Debug, Clone)]
pub struct Pool {
    prefix: Prefix,
    delegated_len: u8,
    capacity: u64,
    cursor: u64,
    taken: SlotSet,
    freed: BTreeSet<u64>,
    reserved: SlotSet,
    remembered: SlotSet,
}

impl Pool {
    /// A pool of `prefix` split into `/delegated_len`s. `None` when the
    /// length is not longer-or-equal than the pool's, over 128, or the pool
    /// would hold more than 2^MAX_SLOT_BITS slots (config validation says why).
    pub fn new(prefix: Prefix, delegated_len: u8) -> Option<Self> {
        if delegated_len < prefix.len()
            || delegated_len > 128
            || delegated_len - prefix.len() > MAX_SLOT_BITS
        {
            return None;
        }
        let capacity = u64::try_from(prefix.subprefix_count(delegated_len)?).ok()?;
        Some(Pool {
            prefix,
            delegated_len,
            capacity,
            cursor: 0,
            taken: SlotSet::default(),
            freed: BTreeSet::new(),
            reserved: SlotSet::default(),
            remembered: SlotSet::default(),
        })
    }

    /// The pool's aggregate prefix.
    pub fn prefix(&self) -> Prefix {
        self.prefix
    }

    /// Length of the prefixes it delegates.
    pub fn delegated_len(&self) -> u8 {
        self.delegated_len
    }

    /// How many prefixes it can delegate.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// How many are taken now.
    pub fn in_use(&self) -> u64 {
        self.taken.len()
    }

    /// The slot of `p`, if `p` is one of this pool's delegated prefixes.
    pub fn slot_of(&self, p: &Prefix) -> Option<u64> {
        if p.len() != self.delegated_len {
            return None;
        }
        u64::try_from(self.prefix.index_of(p)?).ok()
    }

    /// The prefix of a slot.
    pub fn prefix_of(&self, slot: u64) -> Option<Prefix> {
        if slot >= self.capacity {
            return None;
        }
        self.prefix
            .nth_subprefix(self.delegated_len, u128::from(slot))
    }

    /// Is `slot` free and not reserved?
    pub fn is_free(&self, slot: u64) -> bool {
        slot < self.capacity && !self.taken.contains(slot) && !self.reserved.contains(slot)
    }

    /// Mark a slot reserved: never handed out by [`Pool::allocate`]; only
    /// [`Pool::take`] (for its owner) uses it.
    pub fn reserve(&mut self, slot: u64) {
        if slot < self.capacity {
            self.reserved.insert(slot);
            self.freed.remove(&slot);
        }
    }

    /// Is this slot reserved?
    pub fn is_reserved(&self, slot: u64) -> bool {
        self.reserved.contains(slot)
    }

    /// Take a specific slot (hint, reservation, restore). False if taken.
    pub fn take(&mut self, slot: u64) -> bool {
        if slot >= self.capacity || !self.taken.insert(slot) {
            return false;
        }
        if slot < self.cursor {
            self.freed.remove(&slot);
        }
        self.remembered.remove(slot);
        if slot == self.cursor {
            // What `settle` would do for this slot, done now: a restore (in
            // slot order) leaves the cursor past its leases instead of one
            // walk over all of them on the first allocation (0.6 s for a
            // million leases, bench/BENCHMARKS.md).
            self.cursor += 1;
        }
        true
    }

    /// Note a free slot that had an owner before a restart: it is handed
    /// out only after the fresh slots, like one freed at run time.
    pub fn remember(&mut self, slot: u64) {
        if slot >= self.cursor && slot < self.capacity && !self.taken.contains(slot) {
            self.remembered.insert(slot);
        }
    }

    /// [`settle`](Self::settle), for the end of a restore.
    pub fn settle_cursor(&mut self) {
        self.settle();
    }

    /// Move the cursor past taken, reserved and remembered slots (each slot
    /// is passed once over the pool's life: amortised O(1)).
    fn settle(&mut self) {
        while self.cursor < self.capacity {
            let s = self.cursor;
            if self.remembered.remove(s) {
                if !self.taken.contains(s) && !self.reserved.contains(s) {
                    self.freed.insert(s);
                }
            } else if !self.taken.contains(s) && !self.reserved.contains(s) {
                return;
            }
            self.cursor += 1;
        }
    }

    /// Allocate any free, unreserved slot: fresh ones first, then freed ones
    /// in slot order. `None` when the pool is exhausted.
    pub fn allocate(&mut self) -> Option<u64> {
        let s = self.peek()?;
        self.take(s);
        Some(s)
    }

    /// What [`Pool::allocate`] would return, without taking it.
    pub fn peek(&mut self) -> Option<u64> {
        self.settle();
        if self.cursor < self.capacity {
            return Some(self.cursor);
        }
        self.freed.first().copied()
    }

    /// Free a slot. Freeing a free slot is a no-op.
    pub fn free(&mut self, slot: u64) {
        if !self.taken.remove(slot) || self.reserved.contains(slot) {
            return;
        }
        if slot < self.cursor {
            self.freed.insert(slot);
        } else {
            // Handed out ahead of the cursor (a hint): it keeps its place
            // behind the fresh slots too.
            self.remembered.insert(slot);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn pool(s: &str, len: u8) -> Pool {
        Pool::new(s.parse().unwrap(), len).unwrap()
    }

    #[test]
    fn sizes_and_limits() {
        assert_eq!(pool("2001:db8:2222::/48", 64).capacity(), 65_536);
        assert_eq!(pool("2001:db8::/32", 64).capacity(), 1 << 32);
        assert_eq!(pool("2001:db8::/64", 64).capacity(), 1);
        assert!(Pool::new("2001:db8::/48".parse().unwrap(), 40).is_none());
        assert!(Pool::new("2001:db8::/48".parse().unwrap(), 129).is_none());
        assert!(Pool::new("::/0".parse().unwrap(), 64).is_none());
    }

    #[test]
    fn fresh_first_then_freed() {
        let mut p = pool("2001:db8::/62", 64);
        assert_eq!((p.allocate(), p.allocate()), (Some(0), Some(1)));
        p.free(0);
        // Slot 0 stays with its last owner while fresh slots remain.
        assert_eq!(p.allocate(), Some(2));
        assert_eq!(p.allocate(), Some(3));
        assert_eq!(p.allocate(), Some(0));
        assert_eq!(p.allocate(), None);
        assert_eq!(p.in_use(), 4);
    }

    #[test]
    fn hints_and_reservations_are_skipped() {
        let mut p = pool("2001:db8::/62", 64);
        p.reserve(0);
        assert!(p.take(1));
        assert!(!p.take(1));
        assert_eq!(p.peek(), Some(2));
        assert_eq!(p.allocate(), Some(2));
        assert_eq!(p.allocate(), Some(3));
        assert_eq!(p.allocate(), None);
        assert!(p.is_reserved(0) && !p.is_free(0));
        assert!(p.take(0)); // the owner takes its reservation
        p.free(0);
        assert_eq!(p.allocate(), None); // still reserved
        p.free(1);
        assert_eq!(p.allocate(), Some(1));
    }

    #[test]
    fn freed_hinted_slot_waits_behind_fresh_ones() {
        let mut p = pool("2001:db8::/62", 64);
        assert!(p.take(0));
        assert!(p.take(2));
        p.free(0);
        p.free(2);
        assert_eq!(p.allocate(), Some(1));
        assert_eq!(p.allocate(), Some(3));
        assert_eq!(p.allocate(), Some(0));
        assert_eq!(p.allocate(), Some(2));
    }

    #[test]
    fn remembered_slots_come_after_fresh_ones() {
        let mut p = pool("2001:db8::/62", 64);
        p.remember(0);
        p.remember(2);
        assert_eq!(p.allocate(), Some(1));
        assert_eq!(p.allocate(), Some(3));
        assert_eq!(p.allocate(), Some(0));
        assert!(p.take(2));
        assert_eq!(p.allocate(), None);
    }

    #[test]
    fn big_pool_costs_nothing_up_front() {
        let mut p = pool("2001:db8::/32", 64);
        let s = p.allocate().unwrap();
        assert_eq!(p.prefix_of(s).unwrap().to_string(), "2001:db8::/64");
        let last = p.prefix_of((1 << 32) - 1).unwrap();
        assert_eq!(last.to_string(), "2001:db8:ffff:ffff::/64");
        assert_eq!(p.slot_of(&last), Some((1 << 32) - 1));
        assert!(p.take((1 << 32) - 1));
        assert_eq!(p.prefix_of(1 << 32), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Alloc,
        Take(u64),
        Free(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Alloc),
            (0u64..20).prop_map(Op::Take),
            (0u64..20).prop_map(Op::Free)
        ]
    }

    proptest! {
        /// Never a double grant: against a model set of taken slots.
        #[test]
        fn never_double_grants(ops in proptest::collection::vec(op(), 0..200), reserved in proptest::collection::vec(0u64..16, 0..3)) {
            let mut p = pool("2001:db8::/60", 64); // 16 slots
            for r in &reserved { p.reserve(*r); }
            let mut model: HashSet<u64> = HashSet::new();
            for o in ops {
                match o {
                    Op::Alloc => match p.allocate() {
                        Some(s) => {
                            prop_assert!(s < 16);
                            prop_assert!(!reserved.contains(&s));
                            prop_assert!(model.insert(s), "slot {} granted twice", s);
                        }
                        None => {
                            let free = (0..16).filter(|s| !model.contains(s) && !reserved.contains(s)).count();
                            prop_assert_eq!(free, 0, "allocate failed with free slots");
                        }
                    },
                    Op::Take(s) => prop_assert_eq!(p.take(s), s < 16 && model.insert(s)),
                    Op::Free(s) => { p.free(s); model.remove(&s); }
                }
                prop_assert_eq!(p.in_use(), model.len() as u64);
            }
        }
    }
}
