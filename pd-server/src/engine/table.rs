//! The binding table: pools, one record per prefix, the active binding of
//! each client, the last prefix of each former client, and the expiry index.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv6Addr;
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

use crate::config::{PoolConfig, Reservation};
use crate::lease::{ClientKey, Lease, LeaseState};
use crate::pool::Pool;

/// Pools plus bindings. Invariant: a prefix is `taken` in its pool iff its
/// record is Active; `active[k] == p` iff `leases[p]` is Active for `k`.
#[derive(Debug)]
pub struct Table {
    /// Pool configs, in order.
    pub cfgs: Vec<PoolConfig>,
    pools: Vec<Pool>,
    reservations: Vec<Reservation>,
    leases: HashMap<Prefix, Lease>,
    active: HashMap<ClientKey, Prefix>,
    last: HashMap<ClientKey, Prefix>,
    expiry: BTreeSet<(Timestamp, Prefix)>,
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
    /// Empty table over these pools and reservations (config is validated).
    pub fn new(cfgs: Vec<PoolConfig>, reservations: Vec<Reservation>) -> Self {
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
            leases: HashMap::new(),
            active: HashMap::new(),
            last: HashMap::new(),
            expiry: BTreeSet::new(),
        }
    }

    /// The pool index holding `p` as one of its delegated prefixes.
    pub fn pool_of(&self, p: &Prefix) -> Option<usize> {
        self.pools.iter().position(|pool| pool.slot_of(p).is_some())
    }

    /// All records.
    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.leases.values()
    }

    /// The record of a prefix.
    pub fn lease(&self, p: &Prefix) -> Option<&Lease> {
        self.leases.get(p)
    }

    /// The client's active prefix.
    pub fn active_of(&self, k: &ClientKey) -> Option<Prefix> {
        self.active.get(k).copied()
    }

    /// Number of active bindings.
    pub fn active_count(&self) -> usize {
        self.active.len()
    }

    /// Earliest valid-lifetime end among active bindings.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.expiry.first().map(|(t, _)| *t)
    }

    /// Active prefixes whose valid lifetime ended at or before `now`.
    pub fn due(&self, now: Timestamp) -> Vec<Prefix> {
        self.expiry
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, p)| *p)
            .collect()
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
            of(&k.duid, None).filter(|p| match self.leases.get(p) {
                Some(l) if l.state == LeaseState::Active => l.client == *k,
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
        if let Some(l) = self.leases.get(p) {
            if l.state == LeaseState::Active {
                return (l.client == *k).then_some(pi);
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
        wanted.extend(self.active.get(k));
        wanted.extend(self.reservation(k));
        wanted.extend(hints.iter().filter(|h| !h.addr().is_unspecified()));
        wanted.extend(self.last.get(k));
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
    /// engine, so the store, the route and the link count follow).
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
        let extension = self.active.get(k) == Some(&p);
        if !extension {
            if let Some(prev) = self.leases.get(&p) {
                if prev.client != *k && self.last.get(&prev.client) == Some(&p) {
                    self.last.remove(&prev.client);
                }
            }
            if let Some(pool) = self.pools.get_mut(choice.pool) {
                if let Some(slot) = pool.slot_of(&p) {
                    pool.take(slot);
                }
            }
        }
        if let Some(old) = self.leases.get(&p) {
            self.expiry.remove(&(old.valid_until, p));
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
        self.expiry.insert((valid_until, p));
        self.active.insert(k.clone(), p);
        self.last.remove(k);
        self.leases.insert(p, lease.clone());
        (lease, !extension)
    }

    /// End an active binding (release or expiry): the prefix goes back to
    /// its pool and is remembered as `k`'s last prefix. Returns the record.
    pub fn deactivate(&mut self, p: &Prefix, state: LeaseState) -> Option<Lease> {
        let lease = self.leases.get_mut(p)?;
        if lease.state != LeaseState::Active {
            return None;
        }
        lease.state = state;
        let lease = lease.clone();
        self.expiry.remove(&(lease.valid_until, *p));
        if self.active.get(&lease.client) == Some(p) {
            self.active.remove(&lease.client);
        }
        self.last.insert(lease.client.clone(), *p);
        if let Some((_, pool)) = find_pool(&mut self.pools, p) {
            if let Some(slot) = pool.slot_of(p) {
                pool.free(slot);
            }
        }
        Some(lease)
    }

    /// Load a record at start-up. Active ones take their slot (the caller
    /// has already turned expired ones into Expired); returns false when the
    /// prefix is in no pool or already bound (the record is then dropped).
    pub fn restore(&mut self, lease: Lease) -> bool {
        let Some(pi) = self.pool_of(&lease.prefix) else {
            return false;
        };
        if self.leases.contains_key(&lease.prefix) {
            return false;
        }
        let p = lease.prefix;
        let Some(pool) = self.pools.get_mut(pi) else {
            return false;
        };
        let Some(slot) = pool.slot_of(&p) else {
            return false;
        };
        match lease.state {
            LeaseState::Active => {
                if self.active.contains_key(&lease.client) || !pool.take(slot) {
                    return false;
                }
                self.active.insert(lease.client.clone(), p);
                self.expiry.insert((lease.valid_until, p));
            }
            LeaseState::Released | LeaseState::Expired => {
                pool.remember(slot);
                self.last.insert(lease.client.clone(), p);
            }
        }
        self.leases.insert(p, lease);
        true
    }
}

fn find_pool<'a>(pools: &'a mut [Pool], p: &Prefix) -> Option<(usize, &'a mut Pool)> {
    pools
        .iter_mut()
        .enumerate()
        .find(|(_, pool)| pool.slot_of(p).is_some())
}
