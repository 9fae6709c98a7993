//! Effect pieces shared by both daemons' engines.
//!
//! Each daemon has its own `Effect` enum (the server persists leases, the
//! client saves its state and sends RAs); the parts both need live here so
//! the drivers execute them with the same code.

use std::net::{Ipv6Addr, SocketAddrV6};

use crate::wire::Envelope;

/// Send a DHCPv6 message to `to` out of interface `ifindex` (0: let the
/// kernel pick). The driver encodes it: engines and their tests stay typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address and port (scope id unused: see `ifindex`).
    pub to: SocketAddrV6,
    /// Egress interface index.
    pub ifindex: u32,
    /// The message, with its relay encapsulation if any.
    pub envelope: Envelope,
}

/// A hook invocation: `script ACTION` with exactly this environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookCall {
    /// add | update | delete | expire
    pub action: HookAction,
    /// Calls with the same key run one after the other, in order.
    pub key: String,
    /// Environment variables (validated values only, never shell text).
    pub env: Vec<(String, String)>,
}

/// What happened to a lease, as told to a hook script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookAction {
    /// A new lease was granted.
    Add,
    /// An existing lease was extended or changed.
    Update,
    /// A lease was released.
    Delete,
    /// A lease ran out.
    Expire,
}

impl HookAction {
    /// The word passed as `$1`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookAction::Add => "add",
            HookAction::Update => "update",
            HookAction::Delete => "delete",
            HookAction::Expire => "expire",
        }
    }
}

/// How an installed route forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// Via a gateway on an interface.
    Via {
        /// Next hop (often the peer's link-local address).
        gateway: Ipv6Addr,
        /// Interface the gateway is on.
        ifindex: u32,
    },
    /// Unreachable (RFC 7084 WPD-5 for the unassigned rest of a delegation).
    Unreachable,
}
