//! A delegated prefix bound to a client: what the engine holds and the
//! store persists (one record per prefix; the last owner of a free prefix is
//! kept so it gets the same prefix back).

use std::net::Ipv6Addr;
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

/// Where a lease is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaseState {
    /// Bound: the client may use the prefix.
    Active,
    /// The client released it; kept to give it back to the same client.
    Released,
    /// Its valid lifetime ran out; kept for the same reason.
    Expired,
}

impl LeaseState {
    /// Lowercase name for humans and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseState::Active => "active",
            LeaseState::Released => "released",
            LeaseState::Expired => "expired",
        }
    }
}

/// A client's identity association: (DUID, IAID).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey {
    /// Client DUID.
    pub duid: Duid,
    /// IAID of the IA_PD.
    pub iaid: u32,
}

/// One delegated prefix and its binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The delegated prefix (the key).
    pub prefix: Prefix,
    /// Who holds (or last held) it.
    pub client: ClientKey,
    /// Active, released or expired.
    pub state: LeaseState,
    /// End of the preferred lifetime.
    pub preferred_until: Timestamp,
    /// End of the valid lifetime.
    pub valid_until: Timestamp,
    /// The return route's next hop (the requesting router or its relay).
    pub next_hop: Ipv6Addr,
    /// The interface the client is reached through.
    pub iface: Arc<str>,
}

impl Lease {
    /// Is it bound and not past its valid lifetime at `now`?
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.state == LeaseState::Active && self.valid_until > now
    }
}
