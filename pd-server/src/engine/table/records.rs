//! Binding records, compact: one [`Rec`] per prefix in a [`ChunkVec`], addressed by
//! a dense `u32` id (records are never removed at run time). The DUID is held
//! once, inside the record when short; the interface name is an index into
//! a small list of names.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

use super::chunks::ChunkVec;
use crate::lease::{ClientKey, Lease, LeaseState};

/// A record id: its index in [`Records`].
pub type Id = u32;

/// The link id of a record that has none (not active, or not noted yet).
pub const NO_LINK: u32 = u32::MAX;

/// DUIDs up to this many octets live inside the record (DUID-LL of a MAC
/// is 10, DUID-LLT 14, DUID-UUID 18); longer ones (and any the wire parser
/// would not accept back) go to a side map, so rebuilding never fails.
pub const INLINE_DUID: usize = 18;

/// `DuidBuf::len` of a DUID kept in the side map.
const LONG: u8 = u8::MAX;
/// `Rec::iface` of a name kept in the side map (65,535 names interned).
const IFACE_LONG: u16 = u16::MAX;

/// A DUID stored once per record: `len` octets inline, or `LONG`.
#[derive(Clone, Copy, Debug)]
struct DuidBuf {
    len: u8,
    bytes: [u8; INLINE_DUID],
}

impl DuidBuf {
    /// Inline when it fits and round-trips; `None` for the side map.
    fn new(d: &Duid) -> Option<Self> {
        let b = d.as_bytes();
        let mut bytes = [0u8; INLINE_DUID];
        let len = u8::try_from(b.len()).ok().filter(|l| *l != LONG)?;
        let dst = bytes.get_mut(..b.len())?;
        Duid::from_bytes(b).ok()?;
        dst.copy_from_slice(b);
        Some(DuidBuf { len, bytes })
    }

    const LONG: DuidBuf = DuidBuf {
        len: LONG,
        bytes: [0; INLINE_DUID],
    };

    fn inline(&self) -> Option<&[u8]> {
        if self.len == LONG {
            return None;
        }
        self.bytes.get(..usize::from(self.len))
    }
}

/// What does not fit a record: a long DUID, an interface name past the
/// interned ones.
#[derive(Clone, Debug, Default)]
struct Extra {
    duid: Option<Duid>,
    iface: Option<Arc<str>>,
}

/// A record's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    Active,
    Released,
    Expired,
}

impl From<LeaseState> for State {
    fn from(s: LeaseState) -> Self {
        match s {
            LeaseState::Active => State::Active,
            LeaseState::Released => State::Released,
            LeaseState::Expired => State::Expired,
        }
    }
}

/// One prefix and its binding (80 bytes).
#[derive(Clone, Debug)]
pub struct Rec {
    /// End of the preferred lifetime.
    pub preferred_until: Timestamp,
    /// End of the valid lifetime.
    pub valid_until: Timestamp,
    /// The delegated prefix.
    pub prefix: Prefix,
    duid: DuidBuf,
    next_hop: [u8; 16],
    state: State,
    iface: u16,
    iaid: u32,
    /// The engine's link id of an active binding ([`NO_LINK`] if none).
    pub link: u32,
}

impl Rec {
    /// The lease state.
    pub fn state(&self) -> LeaseState {
        match self.state {
            State::Active => LeaseState::Active,
            State::Released => LeaseState::Released,
            State::Expired => LeaseState::Expired,
        }
    }

    /// Is it an active binding?
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    /// The IAID.
    pub fn iaid(&self) -> u32 {
        self.iaid
    }

    /// Set the state.
    pub fn set_state(&mut self, s: LeaseState) {
        self.state = s.into();
    }
}

/// Interface names, interned (the few the daemon serves).
#[derive(Debug, Default)]
struct Names {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u16>,
}

impl Names {
    /// The name's index; `IFACE_LONG` once 65,535 names are interned.
    fn intern(&mut self, name: &Arc<str>) -> u16 {
        // Almost every record is on the interface of the previous one.
        if let Some(last) = self.names.len().checked_sub(1) {
            if self.names.get(last).is_some_and(|n| **n == **name) {
                return u16::try_from(last).unwrap_or(IFACE_LONG);
            }
        }
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let Ok(i) = u16::try_from(self.names.len()) else {
            return IFACE_LONG;
        };
        if i == IFACE_LONG {
            return IFACE_LONG;
        }
        self.names.push(name.clone());
        self.index.insert(name.clone(), i);
        i
    }

    fn get(&self, i: u16) -> Option<&Arc<str>> {
        self.names.get(usize::from(i))
    }
}

/// The records. One per prefix and never removed at run time (a former
/// client gets its prefix back), so ids are never freed: the store and the
/// table are both bounded by the pools' size.
#[derive(Debug, Default)]
pub struct Records {
    recs: ChunkVec<Rec>,
    names: Names,
    /// Long DUIDs and overflow interface names, by record id (rare).
    extra: HashMap<Id, Extra>,
}

impl Records {
    /// Sized for `n` records (the chunk list; chunks come as they fill).
    pub fn with_capacity(n: usize) -> Self {
        Records {
            recs: ChunkVec::with_capacity(n),
            ..Records::default()
        }
    }

    /// The live record `id`.
    pub fn get(&self, id: Id) -> Option<&Rec> {
        self.recs.get(usize::try_from(id).ok()?)
    }

    /// The live record `id`, to change.
    pub fn get_mut(&mut self, id: Id) -> Option<&mut Rec> {
        self.recs.get_mut(usize::try_from(id).ok()?)
    }

    /// The client DUID octets of record `id` (empty for an unknown id).
    pub fn duid_bytes(&self, id: Id) -> &[u8] {
        let Some(r) = self.get(id) else {
            return &[];
        };
        match r.duid.inline() {
            Some(b) => b,
            None => self
                .extra
                .get(&id)
                .and_then(|e| e.duid.as_ref())
                .map_or(&[], |d| d.as_bytes()),
        }
    }

    /// Is record `id`'s client `k`?
    pub fn is_client(&self, id: Id, k: &ClientKey) -> bool {
        self.get(id).is_some_and(|r| r.iaid == k.iaid) && self.duid_bytes(id) == k.duid.as_bytes()
    }

    /// Do records `a` and `b` have the same client?
    pub fn same_client(&self, a: Id, b: Id) -> bool {
        match (self.get(a), self.get(b)) {
            (Some(x), Some(y)) => x.iaid == y.iaid && self.duid_bytes(a) == self.duid_bytes(b),
            _ => false,
        }
    }

    /// Fill `r`'s DUID and interface from `lease`, using the side map for
    /// what does not fit.
    fn fill(&mut self, id: Id, lease: &Lease, client: bool) {
        let iface = self.names.intern(&lease.iface);
        let duid = client.then(|| DuidBuf::new(&lease.client.duid));
        let Some(r) = self.get_mut(id) else {
            return;
        };
        r.iface = iface;
        if let Some(d) = duid {
            r.duid = d.unwrap_or(DuidBuf::LONG);
            r.iaid = lease.client.iaid;
        }
        let long_duid = r.duid.inline().is_none();
        // The side map is almost always empty: skip hashing the id then
        // (SipHash fell from 5.4 to 2.5 % of a 1M restore's perf samples).
        let mut e = if self.extra.is_empty() {
            Extra::default()
        } else {
            self.extra.remove(&id).unwrap_or_default()
        };
        if client {
            e.duid = long_duid.then(|| lease.client.duid.clone());
        }
        e.iface = (iface == IFACE_LONG).then(|| lease.iface.clone());
        if e.duid.is_some() || e.iface.is_some() {
            self.extra.insert(id, e);
        }
    }

    /// Store a record for `lease`; `None` when 2^32 ids are in use.
    pub fn insert(&mut self, lease: &Lease) -> Option<Id> {
        let rec = Rec {
            preferred_until: lease.preferred_until,
            valid_until: lease.valid_until,
            prefix: lease.prefix,
            duid: DuidBuf::LONG,
            next_hop: lease.next_hop.octets(),
            state: lease.state.into(),
            iface: 0,
            iaid: lease.client.iaid,
            link: NO_LINK,
        };
        let id = Id::try_from(self.recs.len())
            .ok()
            .filter(|i| *i != Id::MAX)?;
        self.recs.push(rec);
        self.fill(id, lease, true);
        Some(id)
    }

    /// Rebind record `id` to `lease` (same prefix, maybe another client):
    /// the DUID is copied only when the client changes. Keeps `link`.
    pub fn update(&mut self, id: Id, lease: &Lease) {
        let client = !self.is_client(id, &lease.client);
        let Some(r) = self.get_mut(id) else {
            return;
        };
        r.preferred_until = lease.preferred_until;
        r.valid_until = lease.valid_until;
        r.next_hop = lease.next_hop.octets();
        r.state = lease.state.into();
        self.fill(id, lease, client);
    }

    /// The lease of record `id`, built on demand.
    pub fn lease(&self, id: Id) -> Option<Lease> {
        let r = self.get(id)?;
        let extra = self.extra.get(&id);
        let duid = match r.duid.inline() {
            Some(b) => Duid::from_bytes(b).ok()?,
            None => extra?.duid.clone()?,
        };
        let iface = match r.iface {
            IFACE_LONG => extra?.iface.clone()?,
            i => self.names.get(i)?.clone(),
        };
        Some(Lease {
            prefix: r.prefix,
            client: ClientKey { duid, iaid: r.iaid },
            state: r.state(),
            preferred_until: r.preferred_until,
            valid_until: r.valid_until,
            next_hop: Ipv6Addr::from(r.next_hop),
            iface,
        })
    }

    /// Ids of all records, in id order.
    pub fn ids(&self) -> impl Iterator<Item = Id> + '_ {
        (0..self.recs.len()).filter_map(|i| Id::try_from(i).ok())
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// Are there none?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records whose DUID or interface name is in the side map.
    #[cfg(test)]
    pub fn extra_len(&self) -> usize {
        self.extra.len()
    }
}
