//! Hash indexes over [`Records`]: they hold record ids only; keys are read
//! back from the records, so each DUID is stored once.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use pd_core::prefix::Prefix;

use super::grow::GrowTable;
use super::records::{Id, Records};
use crate::lease::ClientKey;

/// Prefix → record id. Prefixes come from our own pools (a client can only
/// name one inside a pool, and only binds it under the per-link caps), so a
/// fast hasher is enough: foldhash, randomly seeded per process.
#[derive(Debug)]
pub struct PrefixIndex {
    map: GrowTable,
    hasher: foldhash::fast::RandomState,
}

impl PrefixIndex {
    /// Room for `n` prefixes without growing.
    pub fn with_capacity(n: usize) -> Self {
        PrefixIndex {
            map: GrowTable::with_capacity(n),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// The record of `p`.
    pub fn get(&self, recs: &Records, p: &Prefix) -> Option<Id> {
        let h = self.hasher.hash_one(p);
        self.map
            .find(h, |&id| recs.get(id).is_some_and(|r| r.prefix == *p))
    }

    /// Index record `id` (its prefix must not be indexed yet).
    pub fn insert(&mut self, recs: &Records, id: Id) {
        let Some(p) = recs.get(id).map(|r| r.prefix) else {
            return;
        };
        let hasher = &self.hasher;
        // Moves on growth must hash exactly as `get` does (the prefix
        // itself, not an Option of it), or grown tables lose their entries.
        self.map.insert_unique(hasher.hash_one(p), id, |i| {
            recs.get(i).map_or(0, |r| hasher.hash_one(r.prefix))
        });
    }
}

/// Client (DUID, IAID) → record id, for the active and the last-prefix
/// maps. Clients choose their DUIDs, so these keep a keyed, DoS-resistant
/// hash: std's `RandomState` (SipHash-1-3 with a random 128-bit key per
/// process), not foldhash/ahash, whose seeding makes no such promise. It
/// costs one DUID hash per lookup, about 20 ns.
#[derive(Debug)]
pub struct ClientIndex {
    map: GrowTable,
    hasher: RandomState,
}

fn client_hash(s: &RandomState, duid: &[u8], iaid: u32) -> u64 {
    let mut h = s.build_hasher();
    h.write(duid);
    h.write_u32(iaid);
    h.finish()
}

fn rec_hash(s: &RandomState, recs: &Records, id: Id) -> u64 {
    match recs.get(id) {
        Some(r) => client_hash(s, recs.duid_bytes(id), r.iaid()),
        None => 0,
    }
}

impl ClientIndex {
    /// Room for `n` clients without growing.
    pub fn with_capacity(n: usize) -> Self {
        ClientIndex {
            map: GrowTable::with_capacity(n),
            hasher: RandomState::new(),
        }
    }

    /// The record of client `k`.
    pub fn get(&self, recs: &Records, k: &ClientKey) -> Option<Id> {
        let h = client_hash(&self.hasher, k.duid.as_bytes(), k.iaid);
        self.map.find(h, |&id| recs.is_client(id, k))
    }

    /// The record that record `id`'s client maps to.
    pub fn get_id(&self, recs: &Records, id: Id) -> Option<Id> {
        let h = rec_hash(&self.hasher, recs, id);
        self.map.find(h, |&i| recs.same_client(i, id))
    }

    /// Map record `id`'s client to `id`, replacing what it mapped to.
    pub fn set(&mut self, recs: &Records, id: Id) {
        if recs.get(id).is_none() {
            return;
        }
        let hasher = &self.hasher;
        let h = rec_hash(hasher, recs, id);
        let same = |&i: &Id| recs.same_client(i, id);
        match self.map.find_mut(h, same, |i| rec_hash(hasher, recs, i)) {
            Some(slot) => *slot = id,
            None => {
                self.map.insert_unique(h, id, |i| rec_hash(hasher, recs, i));
            }
        }
    }

    /// Forget client `k`; returns the record it mapped to.
    pub fn remove(&mut self, recs: &Records, k: &ClientKey) -> Option<Id> {
        let h = client_hash(&self.hasher, k.duid.as_bytes(), k.iaid);
        let hasher = &self.hasher;
        self.map.remove(
            h,
            |&id| recs.is_client(id, k),
            |i| rec_hash(hasher, recs, i),
        )
    }

    /// Forget record `id`'s client if it maps to `id` (call before the
    /// record's client changes or the record goes).
    pub fn remove_id(&mut self, recs: &Records, id: Id) -> bool {
        let h = rec_hash(&self.hasher, recs, id);
        let hasher = &self.hasher;
        self.map
            .remove(h, |&i| i == id, |i| rec_hash(hasher, recs, i))
            .is_some()
    }
}
