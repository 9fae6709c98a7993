//! The operator's view of a lease: JSON for `leases list --json` and the
//! control socket, one line of text for humans.

use serde::{Deserialize, Serialize};

use crate::lease::Lease;
use crate::store::Clock;

/// A lease as shown to operators (wall-clock times).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseView {
    /// Delegated prefix, `addr/len`.
    pub prefix: String,
    /// Client DUID, colon-hex.
    pub duid: String,
    /// IAID.
    pub iaid: u32,
    /// active | released | expired.
    pub state: String,
    /// Interface toward the client.
    pub iface: String,
    /// Return route next hop.
    pub next_hop: String,
    /// End of the preferred lifetime, Unix seconds (null: infinite).
    pub preferred_until: Option<u64>,
    /// End of the valid lifetime, Unix seconds (null: infinite).
    pub valid_until: Option<u64>,
    /// Seconds of valid lifetime left (0 when not active; null: infinite).
    pub valid_remaining: Option<u64>,
}

impl LeaseView {
    /// The view of `l` at `clock`.
    pub fn of(l: &Lease, clock: Clock) -> Self {
        let wall = |t| Some(clock.to_wall(t)).filter(|w| *w != u64::MAX);
        let valid_until = wall(l.valid_until);
        let active = l.state == crate::lease::LeaseState::Active;
        LeaseView {
            prefix: l.prefix.to_string(),
            duid: l.client.duid.to_string(),
            iaid: l.client.iaid,
            state: l.state.as_str().to_string(),
            iface: l.iface.to_string(),
            next_hop: l.next_hop.to_string(),
            preferred_until: wall(l.preferred_until),
            valid_until,
            valid_remaining: match valid_until {
                None if active => None,
                Some(v) if active => Some(v.saturating_sub(clock.wall)),
                _ => Some(0),
            },
        }
    }

    /// One line for humans.
    pub fn line(&self) -> String {
        let left = match self.valid_remaining {
            None => "forever".to_string(),
            Some(s) => format!("{s}s left"),
        };
        format!(
            "{:<28} {:<8} duid {} iaid {} via {} dev {} ({})",
            self.prefix, self.state, self.duid, self.iaid, self.next_hop, self.iface, left
        )
    }
}
