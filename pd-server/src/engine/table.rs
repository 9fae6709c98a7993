//! The binding table: pools, one record per prefix, the active binding of
//! each client or else its last prefix, and the expiry index.
//!
//! Records sit in fixed-size chunks ([`records`], [`chunks`]); the indexes hold record ids
//! ([`index`]), so a client's DUID is stored once, in its record, and grow
//! a step at a time ([`grow`]).

mod chunks;
mod expiry;
mod grow;
mod index;
mod records;
#[cfg(test)]
mod tests;

use std::net::Ipv6Addr;
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

use crate::config::{PoolConfig, Reservation};
use crate::lease::{ClientKey, Lease, LeaseState};
use crate::pool::Pool;
use expiry::Expiry;
use index::{ClientIndex, PrefixIndex};
pub use records::{Id, NO_LINK};
use records::{Rec, Records};

/// Pools plus bindings. Invariants: a prefix is `taken` in its pool iff its
/// record is Active; `clients[k] == id` if record `id` is Active for `k`,
/// and otherwise `clients[k]`, if any, is a record of `k` (the prefix it
/// held last); `expiry` holds exactly the Active records (so its length
/// is the active count).
#[derive(Debug)]
pub struct Table {
    /// Pool configs, in order.
    pub cfgs: Vec<PoolConfig>,
    pools: Vec<Pool>,
    reservations: Vec<Reservation>,
    recs: Records,
    by_prefix: PrefixIndex,
    /// One index for both: a client with an active binding has no use
    /// for its last prefix, and a second table sized for every record
    /// cost ~10 MB per million at a restore.
    clients: ClientIndex,
    /// The active records by `(valid_until, id)`.
    expiry: Expiry,
}

/// A prefix chosen for a client, not yet committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The prefix.
    pub prefix: Prefix,
    /// Index of its pool.
    pub pool: usize,
}

impl Table {
    /// Bytes per record in the table's record chunks (before the indexes).
    pub const RECORD_BYTES: usize = std::mem::size_of::<Rec>();
    /// DUIDs up to this many octets are stored inside the record.
    pub const INLINE_DUID: usize = records::INLINE_DUID;

    /// Empty table over these pools and reservations (config is validated).
    pub fn new(cfgs: Vec<PoolConfig>, reservations: Vec<Reservation>) -> Self {
        Table::with_capacity(cfgs, reservations, 0)
    }

    /// Empty table with room for `n` records (a restore's size) in every
    /// index, so none grows or rehashes during the restore.
    pub fn with_capacity(cfgs: Vec<PoolConfig>, reservations: Vec<Reservation>, n: usize) -> Self {
        let mut pools: Vec<Pool> = cfgs
            .iter()
            .filter_map(|c| Pool::new(c.prefix, c.delegated_len))
            .collect();
        for r in &reservations {
            if let Some((_, pool)) = find_pool(&mut pools, &r.prefix) {
                if let Some(slot) = pool.slot_of(&r.prefix) {
                    pool.reserve(slot);
                }
            }
        }
        Table {
            cfgs,
            pools,
            reservations,
            recs: Records::with_capacity(n),
            by_prefix: PrefixIndex::with_capacity(n),
            clients: ClientIndex::with_capacity(n),
            expiry: Expiry::with_capacity(n),
        }
    }

    /// The pool index holding `p` as one of its delegated prefixes.
    pub fn pool_of(&self, p: &Prefix) -> Option<usize> {
        self.pools.iter().position(|pool| pool.slot_of(p).is_some())
    }

    /// All records, built on demand (in no particular order).
    pub fn leases(&self) -> impl Iterator<Item = Lease> + '_ {
        self.recs.ids().filter_map(|id| self.recs.lease(id))
    }

    /// Every record, consuming the table (a reload hands them to the next).
    pub fn into_leases(self) -> impl Iterator<Item = Lease> {
        let recs = self.recs;
        let ids: Vec<Id> = recs.ids().collect();
        ids.into_iter().filter_map(move |id| recs.lease(id))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// Is it empty?
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The record of a prefix.
    pub fn lease(&self, p: &Prefix) -> Option<Lease> {
        self.recs.lease(self.by_prefix.get(&self.recs, p)?)
    }

    fn rec(&self, p: &Prefix) -> Option<(Id, &Rec)> {
        let id = self.by_prefix.get(&self.recs, p)?;
        Some((id, self.recs.get(id)?))
    }

    /// The client's active prefix.
    pub fn active_of(&self, k: &ClientKey) -> Option<Prefix> {
        self.client_rec(k)
            .filter(|r| r.is_active())
            .map(|r| r.prefix)
    }

    /// The record `clients` maps `k` to: its active binding, or else the
    /// prefix it held last.
    fn client_rec(&self, k: &ClientKey) -> Option<&Rec> {
        self.recs.get(self.clients.get(&self.recs, k)?)
    }

    /// Number of active bindings.
    pub fn active_count(&self) -> usize {
        self.expiry.len()
    }

    /// Earliest valid-lifetime end among active bindings.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.expiry.first(&self.recs)
    }

    /// Active prefixes whose valid lifetime ended at or before `now`, in
    /// deadline order.
    pub fn due(&self, now: Timestamp) -> Vec<Prefix> {
        self.expiry
            .due(&self.recs, now)
            .into_iter()
            .filter_map(|id| self.recs.get(id).map(|r| r.prefix))
            .collect()
    }

    /// The link id noted for `p`'s active binding ([`Table::set_link`]).
    pub fn link_of(&self, p: &Prefix) -> Option<u32> {
        self.rec(p)
            .filter(|(_, r)| r.is_active() && r.link != NO_LINK)
            .map(|(_, r)| r.link)
    }

    /// Note the link of `p`'s active binding (the engine's per-link count).
    pub fn set_link(&mut self, p: &Prefix, link: u32) {
        if let Some(id) = self.by_prefix.get(&self.recs, p) {
            self.set_link_id(id, link);
        }
    }

    /// [`Table::set_link`] by record id (as returned by [`Table::restore`]).
    pub fn set_link_id(&mut self, id: Id, link: u32) {
        if let Some(r) = self.recs.get_mut(id).filter(|r| r.is_active()) {
            r.link = link;
        }
    }

    /// The reservation for this client, if any (an IAID-specific one first).
    fn reservation(&self, k: &ClientKey) -> Option<Prefix> {
        let of = |d: &Duid, i: Option<u32>| {
            self.reservations
                .iter()
                .find(|r| &r.duid == d && r.iaid == i)
                .map(|r| r.prefix)
        };
        of(&k.duid, Some(k.iaid)).or_else(|| {
            // An any-IAID reservation serves one IA_PD of the client at a time.
            of(&k.duid, None).filter(|p| match self.rec(p) {
                Some((id, r)) if r.is_active() => self.recs.is_client(id, k),
                _ => true,
            })
        })
    }

    /// Is `p` free for `k`: inside a candidate pool, not bound to anyone
    /// else, not reserved for anyone else?
    pub fn claimable(&self, k: &ClientKey, p: &Prefix, candidates: &[usize]) -> Option<usize> {
        let pi = candidates
            .iter()
            .copied()
            .find(|&i| self.pools.get(i).and_then(|pool| pool.slot_of(p)).is_some())?;
        let pool = self.pools.get(pi)?;
        let slot = pool.slot_of(p)?;
        if let Some((id, r)) = self.rec(p) {
            if r.is_active() {
                return self.recs.is_client(id, k).then_some(pi);
            }
        }
        if pool.is_reserved(slot) && self.reservation(k) != Some(*p) {
            return None;
        }
        Some(pi)
    }

    /// Choose a prefix for `k` among `candidates` (pool indexes in order of
    /// preference), honouring in turn: its active binding, its reservation,
    /// a free prefix hint, its last prefix, then fresh allocation. Nothing is
    /// committed.
    pub fn choose(
        &mut self,
        k: &ClientKey,
        hints: &[Prefix],
        candidates: &[usize],
    ) -> Option<Choice> {
        let mut wanted: Vec<Prefix> = Vec::with_capacity(hints.len() + 3);
        wanted.extend(self.active_of(k));
        wanted.extend(self.reservation(k));
        wanted.extend(hints.iter().filter(|h| !h.addr().is_unspecified()));
        wanted.extend(
            self.client_rec(k)
                .filter(|r| !r.is_active())
                .map(|r| r.prefix),
        );
        for p in wanted {
            if let Some(pool) = self.claimable(k, &p, candidates) {
                return Some(Choice { prefix: p, pool });
            }
        }
        for &pi in candidates {
            let pool = self.pools.get_mut(pi)?;
            if let Some(slot) = pool.peek() {
                let prefix = pool.prefix_of(slot)?;
                return Some(Choice { prefix, pool: pi });
            }
        }
        None
    }

    /// Bind `choice` to `k` until the given deadlines; returns the record and
    /// whether it is new (not an extension of `k`'s active binding). The
    /// caller ends a different active binding of `k` first (through the
    /// engine, so the store, the route and the link count follow). An
    /// extension keeps its link id; a new binding has none until
    /// [`Table::set_link`].
    pub fn commit(
        &mut self,
        k: &ClientKey,
        choice: Choice,
        preferred_until: Timestamp,
        valid_until: Timestamp,
        next_hop: Ipv6Addr,
        iface: &Arc<str>,
    ) -> (Lease, bool) {
        let p = choice.prefix;
        let extension = self.active_of(k) == Some(p);
        let existing = self.by_prefix.get(&self.recs, &p);
        if !extension {
            if let Some(pool) = self.pools.get_mut(choice.pool) {
                if let Some(slot) = pool.slot_of(&p) {
                    pool.take(slot);
                }
            }
        }
        if let Some(id) = existing {
            if self.recs.get(id).is_some() {
                self.expiry.remove(&self.recs, id);
                if !self.recs.is_client(id, k) {
                    // The prefix changes hands: the former client forgets it
                    // (the index forgets the record under its key).
                    self.clients.remove_id(&self.recs, id);
                }
            }
        }
        let lease = Lease {
            prefix: p,
            client: k.clone(),
            state: LeaseState::Active,
            preferred_until,
            valid_until,
            next_hop,
            iface: iface.clone(),
        };
        let id = match existing {
            Some(id) => {
                self.recs.update(id, &lease);
                if !extension {
                    self.set_link_id(id, NO_LINK);
                }
                Some(id)
            }
            None => {
                let id = self.recs.insert(&lease);
                if let Some(id) = id {
                    self.by_prefix.insert(&self.recs, id);
                }
                id
            }
        };
        match id {
            Some(id) => {
                self.expiry.insert(&self.recs, id);
                // Replaces k's last prefix, if it had one.
                self.clients.set(&self.recs, id);
            }
            None => {
                self.clients.remove(&self.recs, k);
            }
        }
        (lease, !extension)
    }

    /// End an active binding (release or expiry): the prefix goes back to
    /// its pool and is remembered as `k`'s last prefix. Returns the record.
    pub fn deactivate(&mut self, p: &Prefix, state: LeaseState) -> Option<Lease> {
        let id = self.by_prefix.get(&self.recs, p)?;
        let r = self.recs.get(id)?;
        if !r.is_active() || state == LeaseState::Active {
            return None;
        }
        self.expiry.remove(&self.recs, id);
        if let Some(r) = self.recs.get_mut(id) {
            r.set_state(state);
            r.link = NO_LINK;
        }
        // Now its client's last prefix, unless the client has another
        // active binding (the engine ends one before it commits another;
        // should it not, the active one keeps the index).
        let other = self
            .clients
            .get_id(&self.recs, id)
            .and_then(|j| self.recs.get(j))
            .is_some_and(|r| r.is_active());
        if !other {
            self.clients.set(&self.recs, id);
        }
        if let Some((_, pool)) = find_pool(&mut self.pools, p) {
            if let Some(slot) = pool.slot_of(p) {
                pool.free(slot);
            }
        }
        self.recs.lease(id)
    }

    /// Load a record at start-up. Active ones take their slot (the caller
    /// has already turned expired ones into Expired); returns the record id,
    /// or `None` when the prefix is in no pool or already bound (the record
    /// is then dropped).
    pub fn restore(&mut self, lease: &Lease) -> Option<Id> {
        let p = lease.prefix;
        let pi = self.pool_of(&p)?;
        if self.by_prefix.get(&self.recs, &p).is_some() {
            return None;
        }
        let active = lease.state == LeaseState::Active;
        let bound = active
            && self
                .client_rec(&lease.client)
                .is_some_and(|r| r.is_active());
        let pool = self.pools.get_mut(pi)?;
        let slot = pool.slot_of(&p)?;
        if active {
            if bound || !pool.take(slot) {
                return None;
            }
        } else {
            pool.remember(slot);
        }
        let Some(id) = self.recs.insert(lease) else {
            if active {
                pool.free(slot);
            }
            return None;
        };
        self.by_prefix.insert(&self.recs, id);
        if active {
            // Replaces the client's last prefix, if one came first.
            self.clients.set(&self.recs, id);
            self.expiry.insert(&self.recs, id);
        } else {
            // Several former prefixes of one client: the one it held last
            // (latest valid lifetime; then the higher prefix), whatever the
            // order the records come in; an active binding wins over all.
            let newer = match self.client_rec(&lease.client) {
                Some(old) if old.is_active() => false,
                Some(old) => (lease.valid_until, lease.prefix) > (old.valid_until, old.prefix),
                None => true,
            };
            if newer {
                self.clients.set(&self.recs, id);
            }
        }
        Some(id)
    }

    /// After a restore: settle the pools' cursors.
    pub fn restored(&mut self) {
        // Records may come in any order (the restore reads two key ranges
        // at once): move each cursor past what the restore took, so the
        // first allocation does not walk it (a bitmap walk, once).
        for pool in &mut self.pools {
            pool.settle_cursor();
        }
    }
}

fn find_pool<'a>(pools: &'a mut [Pool], p: &Prefix) -> Option<(usize, &'a mut Pool)> {
    pools
        .iter_mut()
        .enumerate()
        .find(|(_, pool)| pool.slot_of(p).is_some())
}
