//! Binding records, compact: one [`Rec`] per prefix in a `Vec`, addressed by
//! a dense `u32` id (ids of removed records are reused). The DUID is held
//! once, inside the record when short; the interface name is an index into
//! a small list of names.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

use crate::lease::{ClientKey, Lease, LeaseState};

/// A record id: its index in [`Records`].
pub type Id = u32;

/// The link id of a record that has none (not active, or not noted yet).
pub const NO_LINK: u32 = u32::MAX;

/// DUIDs up to this many octets live inside the record (DUID-LL of a MAC
/// is 10, DUID-LLT 14, DUID-UUID 18); longer ones get a heap block.
pub const INLINE_DUID: usize = 22;

/// A DUID stored once per record.
#[derive(Clone, Debug)]
enum DuidBuf {
    /// The wire bytes, `len` of them.
    Inline { len: u8, bytes: [u8; INLINE_DUID] },
    /// Long DUIDs (and any the wire parser would not accept back, so that
    /// rebuilding the [`Duid`] never fails).
    Heap(Box<Duid>),
}

impl DuidBuf {
    fn new(d: &Duid) -> Self {
        let b = d.as_bytes();
        let mut bytes = [0u8; INLINE_DUID];
        match (bytes.get_mut(..b.len()), u8::try_from(b.len())) {
            (Some(dst), Ok(len)) if Duid::from_bytes(b).is_ok() => {
                dst.copy_from_slice(b);
                DuidBuf::Inline { len, bytes }
            }
            _ => DuidBuf::Heap(Box::new(d.clone())),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            DuidBuf::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            DuidBuf::Heap(d) => d.as_bytes(),
        }
    }

    fn to_duid(&self) -> Option<Duid> {
        match self {
            DuidBuf::Inline { .. } => Duid::from_bytes(self.as_bytes()).ok(),
            DuidBuf::Heap(d) => Some((**d).clone()),
        }
    }
}

/// A record's state; `Vacant` marks a free id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    Vacant,
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

/// One prefix and its binding (88 bytes; a long DUID adds its heap block).
#[derive(Clone, Debug)]
pub struct Rec {
    /// End of the preferred lifetime.
    pub preferred_until: Timestamp,
    /// End of the valid lifetime.
    pub valid_until: Timestamp,
    duid: DuidBuf,
    /// The delegated prefix.
    pub prefix: Prefix,
    next_hop: [u8; 16],
    state: State,
    iaid: u32,
    iface: u32,
    /// The engine's link id of an active binding ([`NO_LINK`] if none).
    pub link: u32,
}

impl Rec {
    /// The lease state (`None` for a free id).
    pub fn state(&self) -> Option<LeaseState> {
        match self.state {
            State::Vacant => None,
            State::Active => Some(LeaseState::Active),
            State::Released => Some(LeaseState::Released),
            State::Expired => Some(LeaseState::Expired),
        }
    }

    /// Is it an active binding?
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    /// The client's DUID octets.
    pub fn duid_bytes(&self) -> &[u8] {
        self.duid.as_bytes()
    }

    /// The IAID.
    pub fn iaid(&self) -> u32 {
        self.iaid
    }

    /// Is this record's client `k`?
    pub fn is_client(&self, k: &ClientKey) -> bool {
        self.iaid == k.iaid && self.duid.as_bytes() == k.duid.as_bytes()
    }

    /// Do the two records have the same client?
    pub fn same_client(&self, other: &Rec) -> bool {
        self.iaid == other.iaid && self.duid.as_bytes() == other.duid.as_bytes()
    }

    /// Set the state of a live record.
    pub fn set_state(&mut self, s: LeaseState) {
        if self.state != State::Vacant {
            self.state = s.into();
        }
    }
}

/// Interface names, interned (the few the daemon serves).
#[derive(Debug, Default)]
struct Names {
    names: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
}

impl Names {
    fn intern(&mut self, name: &Arc<str>) -> u32 {
        // Almost every record is on the interface of the previous one.
        if let Some(last) = self.names.len().checked_sub(1) {
            if self.names.get(last).is_some_and(|n| **n == **name) {
                return u32::try_from(last).unwrap_or(0);
            }
        }
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.clone());
        self.index.insert(name.clone(), i);
        i
    }

    fn get(&self, i: u32) -> Option<&Arc<str>> {
        self.names.get(usize::try_from(i).ok()?)
    }
}

/// The records, with free ids kept for reuse.
#[derive(Debug, Default)]
pub struct Records {
    recs: Vec<Rec>,
    free: Vec<Id>,
    names: Names,
}

impl Records {
    /// Room for `n` records without growing.
    pub fn with_capacity(n: usize) -> Self {
        Records {
            recs: Vec::with_capacity(n),
            ..Records::default()
        }
    }

    /// The live record `id`.
    pub fn get(&self, id: Id) -> Option<&Rec> {
        self.recs
            .get(usize::try_from(id).ok()?)
            .filter(|r| r.state != State::Vacant)
    }

    /// The live record `id`, to change.
    pub fn get_mut(&mut self, id: Id) -> Option<&mut Rec> {
        self.recs
            .get_mut(usize::try_from(id).ok()?)
            .filter(|r| r.state != State::Vacant)
    }

    /// Store a record for `lease` (in a free id if any); `None` when 2^32
    /// ids are in use.
    pub fn insert(&mut self, lease: &Lease) -> Option<Id> {
        let rec = Rec {
            preferred_until: lease.preferred_until,
            valid_until: lease.valid_until,
            duid: DuidBuf::new(&lease.client.duid),
            prefix: lease.prefix,
            next_hop: lease.next_hop.octets(),
            state: lease.state.into(),
            iaid: lease.client.iaid,
            iface: self.names.intern(&lease.iface),
            link: NO_LINK,
        };
        if let Some(id) = self.free.pop() {
            if let Some(slot) = self.recs.get_mut(usize::try_from(id).ok()?) {
                *slot = rec;
                return Some(id);
            }
        }
        let id = Id::try_from(self.recs.len()).ok().filter(|i| *i != Id::MAX)?;
        self.recs.push(rec);
        Some(id)
    }

    /// Rebind record `id` to `lease` (same prefix, maybe another client):
    /// the DUID is copied only when the client changes. Keeps `link`.
    pub fn update(&mut self, id: Id, lease: &Lease) {
        let iface = self.names.intern(&lease.iface);
        let Some(r) = self.get_mut(id) else {
            return;
        };
        if !r.is_client(&lease.client) {
            r.duid = DuidBuf::new(&lease.client.duid);
            r.iaid = lease.client.iaid;
        }
        r.preferred_until = lease.preferred_until;
        r.valid_until = lease.valid_until;
        r.next_hop = lease.next_hop.octets();
        r.state = lease.state.into();
        r.iface = iface;
    }

    /// Free record `id` (its id is reused by the next insert).
    pub fn remove(&mut self, id: Id) -> bool {
        let Some(r) = self.get_mut(id) else {
            return false;
        };
        r.state = State::Vacant;
        r.duid = DuidBuf::Inline {
            len: 0,
            bytes: [0; INLINE_DUID],
        };
        self.free.push(id);
        true
    }

    /// The lease of record `id`, built on demand.
    pub fn lease(&self, id: Id) -> Option<Lease> {
        let r = self.get(id)?;
        Some(Lease {
            prefix: r.prefix,
            client: ClientKey {
                duid: r.duid.to_duid()?,
                iaid: r.iaid,
            },
            state: r.state()?,
            preferred_until: r.preferred_until,
            valid_until: r.valid_until,
            next_hop: Ipv6Addr::from(r.next_hop),
            iface: self.names.get(r.iface)?.clone(),
        })
    }

    /// Ids of all live records, in id order.
    pub fn ids(&self) -> impl Iterator<Item = Id> + '_ {
        self.recs
            .iter()
            .zip(0..)
            .filter(|(r, _)| r.state != State::Vacant)
            .map(|(_, id)| id)
    }

    /// Number of live records.
    pub fn len(&self) -> usize {
        self.recs.len() - self.free.len()
    }

    /// Are there none?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
