//! A hash table of record ids that grows without stopping the world.
//!
//! A `HashTable` that runs out of room rehashes every entry before the
//! insert returns. Our entries are ids, so each rehash reads its record back
//! (a cache miss and, for clients, a SipHash of the DUID): at 10,000
//! exchanges/s the two indexes held the loop for ~5 ms at 28,672 leases and
//! ~10–15 ms at 57,344, and every exchange in flight waited (BENCHMARKS.md
//! §000000); the stall grows with the table, so a server passing 917,504
//! leases would stall ~16 times as long. Here growth is spread out, as
//! Redis grows its dictionaries: a full table becomes `old`, a new one of
//! twice the room becomes `cur`, and each later insert or remove moves
//! [`STEP`] entries across. Lookups try both. New entries go to `cur`
//! only, which has room for all of `old` and more than `len / STEP` new
//! ones, so the move ends before `cur` fills.

use hashbrown::HashTable;

use super::records::Id;

/// Entries moved from `old` to `cur` per insert or remove.
pub const STEP: usize = 8;

/// Least room of a new table.
const MIN_ROOM: usize = 16;

/// Record ids under a caller-supplied hash (the caller keeps the keys).
#[derive(Debug, Default)]
pub struct GrowTable {
    cur: HashTable<Id>,
    /// The table being emptied into `cur` (empty when no move is under way).
    old: HashTable<Id>,
    /// Ids still in `old`, as they were when the move began (an id removed
    /// since is skipped).
    moving: Vec<Id>,
}

impl GrowTable {
    /// Room for `n` entries before the first move.
    pub fn with_capacity(n: usize) -> Self {
        GrowTable {
            cur: HashTable::with_capacity(n),
            ..GrowTable::default()
        }
    }

    /// Entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.cur.len() + self.old.len()
    }

    /// Whether a move is under way.
    #[cfg(test)]
    pub fn moving(&self) -> bool {
        !self.old.is_empty()
    }

    /// The entry with hash `h` that `eq` accepts.
    pub fn find(&self, h: u64, mut eq: impl FnMut(&Id) -> bool) -> Option<Id> {
        self.cur
            .find(h, &mut eq)
            .or_else(|| self.old.find(h, eq))
            .copied()
    }

    /// The entry with hash `h` that `eq` accepts, to overwrite with an id
    /// of the same hash. One still in `old` is moved to `cur` first, so
    /// every entry of `old` stays one that `moving` lists.
    pub fn find_mut(
        &mut self,
        h: u64,
        mut eq: impl FnMut(&Id) -> bool,
        hash_of: impl Fn(Id) -> u64,
    ) -> Option<&mut Id> {
        if !self.old.is_empty() && self.cur.find(h, &mut eq).is_none() {
            let (id, _) = self.old.find_entry(h, &mut eq).ok()?.remove();
            self.cur.insert_unique(h, id, |&i| hash_of(i));
        }
        self.cur.find_mut(h, eq)
    }

    /// Remove and return the entry with hash `h` that `eq` accepts.
    /// `hash_of` gives any entry's hash, as it was inserted.
    pub fn remove(
        &mut self,
        h: u64,
        mut eq: impl FnMut(&Id) -> bool,
        hash_of: impl Fn(Id) -> u64,
    ) -> Option<Id> {
        let out = match self.cur.find_entry(h, &mut eq) {
            Ok(e) => Some(e.remove().0),
            Err(_) => self.old.find_entry(h, eq).ok().map(|e| e.remove().0),
        };
        self.step(&hash_of);
        out
    }

    /// Add `id` under hash `h` (no entry may match it yet). `hash_of` gives
    /// any entry's hash, as it was inserted.
    pub fn insert_unique(&mut self, h: u64, id: Id, hash_of: impl Fn(Id) -> u64) {
        self.step(&hash_of);
        if self.cur.len() >= self.cur.capacity() {
            self.begin(&hash_of);
        }
        // Room was made above: the rehash closure runs only if a move
        // could not finish in time, which the STEP arithmetic rules out.
        self.cur.insert_unique(h, id, |&i| hash_of(i));
    }

    /// `cur` is full: it becomes `old`, to be moved into a table of twice
    /// the room. Copying the ids out reads no record.
    fn begin(&mut self, hash_of: &impl Fn(Id) -> u64) {
        // A move still under way is finished first (cannot happen while
        // STEP ≥ 1: `cur` has room for all of `old` plus `old.len()` more).
        // Each step empties `moving` further or drains `old`.
        while !self.old.is_empty() {
            self.step(hash_of);
        }
        let room = self.cur.capacity().saturating_mul(2).max(MIN_ROOM);
        self.old = std::mem::replace(&mut self.cur, HashTable::with_capacity(room));
        self.moving = self.old.iter().copied().collect();
    }

    /// Move up to [`STEP`] entries from `old` to `cur`; free `old` once empty.
    fn step(&mut self, hash_of: &impl Fn(Id) -> u64) {
        if self.old.is_empty() {
            if self.old.capacity() > 0 || self.moving.capacity() > 0 {
                self.old = HashTable::new();
                self.moving = Vec::new();
            }
            return;
        }
        for _ in 0..STEP {
            let Some(id) = self.moving.pop() else { break };
            let h = hash_of(id);
            if let Ok(e) = self.old.find_entry(h, |&i| i == id) {
                e.remove();
                self.cur.insert_unique(h, id, |&i| hash_of(i));
            }
        }
        if self.moving.is_empty() && !self.old.is_empty() {
            // Only an entry whose key changed while it was indexed (a
            // caller's bug) can be left over: it goes under the hash its
            // record gives now, rather than keeping `old` alive for it.
            for id in std::mem::take(&mut self.old).drain() {
                self.cur.insert_unique(hash_of(id), id, |&i| hash_of(i));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;
    use std::collections::HashMap;

    /// Keys live in a side table, as record keys do; the hash is a
    /// deliberately poor one (collisions exercise `eq`).
    fn h(key: u64) -> u64 {
        key.wrapping_mul(0x9E37_79B9_7F4A_7C15) & 0xffff_0000_ffff_ffff
    }

    #[test]
    fn growth_moves_at_most_step_entries_per_call() {
        let keys: Vec<u64> = (0..200_000u64).map(|i| i * 7 + 3).collect();
        let calls = Cell::new(0usize);
        let hash_of = |id: Id| {
            calls.set(calls.get() + 1);
            h(keys[id as usize])
        };
        let mut t = GrowTable::with_capacity(0);
        let mut moves = 0;
        for (i, &k) in keys.iter().enumerate() {
            calls.set(0);
            t.insert_unique(h(k), Id::try_from(i).unwrap(), hash_of);
            assert!(
                calls.get() <= STEP,
                "insert {i} hashed {} entries",
                calls.get()
            );
            moves += usize::from(t.moving());
        }
        assert!(moves > 0, "no move happened");
        assert!(!t.moving(), "the last move never finished");
        assert_eq!(t.len(), keys.len());
        for (i, &k) in keys.iter().enumerate() {
            let id = Id::try_from(i).unwrap();
            assert_eq!(t.find(h(k), |&x| x == id), Some(id));
        }
    }

    #[test]
    fn an_entry_overwritten_during_a_move_does_not_keep_old_alive() {
        // Key of id i: i, except the id that takes over key 0.
        let mut key_of: Vec<u64> = Vec::new();
        let mut t = GrowTable::with_capacity(0);
        let add = |t: &mut GrowTable, key_of: &mut Vec<u64>, k: u64| {
            key_of.push(k);
            let id = Id::try_from(key_of.len() - 1).unwrap();
            let ks = key_of.clone();
            t.insert_unique(h(k), id, |i| h(ks[i as usize]));
        };
        let mut k = 0;
        loop {
            add(&mut t, &mut key_of, k);
            k += 1;
            if t.moving() && key_of.len() >= 100 {
                break;
            }
        }
        // Right after the move began: id 0 is still in `old`. A new id
        // takes key 0's slot.
        key_of.push(0);
        let new = Id::try_from(key_of.len() - 1).unwrap();
        let ks = key_of.clone();
        *t.find_mut(h(0), |&i| i == 0, |i| h(ks[i as usize]))
            .unwrap() = new;
        let old_len = t.len();
        for _ in 0..old_len / STEP + 2 {
            add(&mut t, &mut key_of, k);
            k += 1;
        }
        assert!(!t.moving(), "old still holds an entry");
        assert_eq!(
            t.find(h(0), |&i| key_of[i as usize] == 0 && i != 0),
            Some(new)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
        Overwrite(u16),
        /// A new record for the key takes the old one's slot (the client
        /// map's `set`); the old record keeps the key, unindexed.
        Rebind(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u16>().prop_map(|k| Op::Insert(k % 2048)),
            1 => any::<u16>().prop_map(|k| Op::Remove(k % 2048)),
            1 => any::<u16>().prop_map(|k| Op::Overwrite(k % 2048)),
            1 => any::<u16>().prop_map(|k| Op::Rebind(k % 2048)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Against a HashMap model: every key maps to its id through any
        /// number of moves, with ids reused after removal.
        #[test]
        fn agrees_with_a_map(ops in proptest::collection::vec(op(), 1..3000)) {
            // id -> key (the "records"), key -> id (the model).
            let mut key_of: Vec<Option<u64>> = Vec::new();
            let mut free: Vec<Id> = Vec::new();
            let mut model: HashMap<u64, Id> = HashMap::new();
            let mut t = GrowTable::with_capacity(0);
            for op in ops {
                match op {
                    Op::Insert(k) => {
                        let k = u64::from(k);
                        if model.contains_key(&k) { continue; }
                        let id = free.pop().unwrap_or_else(|| {
                            key_of.push(None);
                            Id::try_from(key_of.len() - 1).unwrap()
                        });
                        key_of[id as usize] = Some(k);
                        let ks = key_of.clone();
                        t.insert_unique(h(k), id, |i| ks[i as usize].map_or(0, h));
                        model.insert(k, id);
                    }
                    Op::Remove(k) => {
                        let k = u64::from(k);
                        let ks = key_of.clone();
                        let got = t.remove(h(k), |&i| ks[i as usize] == Some(k), |i| ks[i as usize].map_or(0, h));
                        prop_assert_eq!(got, model.remove(&k));
                        if let Some(id) = got {
                            key_of[id as usize] = None;
                            free.push(id);
                        }
                    }
                    Op::Overwrite(k) => {
                        // find_mut reaches entries in either table.
                        let k = u64::from(k);
                        let ks = key_of.clone();
                        let got = t.find_mut(h(k), |&i| ks[i as usize] == Some(k), |i| ks[i as usize].map_or(0, h)).map(|s| *s);
                        prop_assert_eq!(got, model.get(&k).copied());
                    }
                    Op::Rebind(k) => {
                        let k = u64::from(k);
                        let Some(&was) = model.get(&k) else { continue };
                        key_of.push(Some(k));
                        let id = Id::try_from(key_of.len() - 1).unwrap();
                        let ks = key_of.clone();
                        let slot = t.find_mut(h(k), |&i| i == was, |i| ks[i as usize].map_or(0, h));
                        prop_assert!(slot.is_some());
                        if let Some(slot) = slot {
                            *slot = id;
                        }
                        model.insert(k, id);
                    }
                }
                prop_assert_eq!(t.len(), model.len());
            }
            for (k, id) in &model {
                prop_assert_eq!(t.find(h(*k), |&i| key_of[i as usize] == Some(*k)), Some(*id));
            }
        }
    }
}
