//! The sans-IO server: decoded messages and the time in, effects out.
//!
//! The engine never reads a clock, socket or file. The driver feeds it
//! datagrams ([`Server::handle_datagram`]) and timeouts, and executes the
//! returned [`Effect`]s in order, with one rule: every `Persist` of a loop
//! turn is flushed to disk before any `Transmit` of that turn leaves.

mod env;
mod handlers;
mod limits;
mod links;
mod table;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::effect::{HookAction, HookCall, Transmit};
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{self, Discard};

use crate::config::{Config, PoolConfig, Reservation};
use crate::lease::{Lease, LeaseState};
pub use limits::{Limiter, Limits, LinkKey};
pub use links::LinkId;
pub use table::{Choice, Table};

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Write this record (durable before the turn's Transmits).
    Persist(Lease),
    /// Delete this record (a prefix no pool holds any more).
    Forget(Prefix),
    /// Send a message.
    Transmit(Transmit),
    /// Install (replace) the return route `prefix via gateway dev iface`.
    RouteAdd(ReturnRoute),
    /// Withdraw it (missing is fine).
    RouteDel(ReturnRoute),
    /// Run the hook script.
    Hook(HookCall),
}

/// A return route toward a requesting router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnRoute {
    /// The delegated prefix.
    pub prefix: Prefix,
    /// Next hop.
    pub gateway: Ipv6Addr,
    /// Interface name (resolved to an index at run time).
    pub iface: Arc<str>,
}

/// Where a datagram came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rx {
    /// Source address and port.
    pub src: SocketAddrV6,
    /// Destination address (multicast or ours).
    pub dst: Ipv6Addr,
    /// Ingress interface index.
    pub ifindex: u32,
    /// Ingress interface name.
    pub iface: Arc<str>,
}

/// Why the engine dropped something, beyond the wire's [`Discard`] reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Drop {
    /// Failed wire decoding or the RFC 9915 §16 checks.
    Wire(Discard),
    /// Confirm carries no addresses we manage (RFC 9915 §18.3.3: no Reply).
    Confirm,
    /// No pool serves the client's link.
    NoPoolForLink,
}

/// Static settings of the engine (from the validated config).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Our DUID.
    pub duid: Duid,
    /// Preference option value in Advertise.
    pub preference: Option<u8>,
    /// Rapid Commit allowed.
    pub rapid_commit: bool,
    /// DNS servers for option 23.
    pub dns_servers: Vec<Ipv6Addr>,
    /// Emit route effects.
    pub routes: bool,
    /// Emit hook effects.
    pub hooks: bool,
    /// Per-link caps.
    pub limits: Limits,
}

impl Settings {
    /// From a validated config and the server DUID.
    pub fn from_config(cfg: &Config, duid: Duid) -> Self {
        Settings {
            duid,
            preference: cfg.preference,
            rapid_commit: cfg.rapid_commit,
            dns_servers: cfg.dns_servers.clone(),
            routes: cfg.routes.install,
            hooks: cfg.hooks.script.is_some(),
            limits: cfg.limits,
        }
    }
}

/// The server state machine.
#[derive(Debug)]
pub struct Server {
    settings: Settings,
    table: Table,
    /// Per-link caps; each active record keeps its link's id.
    limiter: Limiter,
    drops: HashMap<Drop, u64>,
    replies: u64,
}

impl Server {
    /// A server over these pools and reservations, restoring `leases`
    /// (from the store, times already monotonic). Returns the effects of the
    /// restore: routes back for live leases, expiry of the dead ones, records
    /// to forget. The iterator's lower size bound sizes the table.
    pub fn new(
        settings: Settings,
        pools: Vec<PoolConfig>,
        reservations: Vec<Reservation>,
        now: Timestamp,
        leases: impl IntoIterator<Item = Lease>,
    ) -> (Self, Vec<Effect>) {
        let leases = leases.into_iter();
        let hint = leases.size_hint().0;
        Server::with_capacity(settings, pools, reservations, now, leases, hint)
    }

    /// [`Server::new`] with room for `capacity` records up front (a restore
    /// streamed from the store, whose size hint is its record count).
    pub fn with_capacity(
        settings: Settings,
        pools: Vec<PoolConfig>,
        reservations: Vec<Reservation>,
        now: Timestamp,
        leases: impl IntoIterator<Item = Lease>,
        capacity: usize,
    ) -> (Self, Vec<Effect>) {
        let mut s = Server {
            limiter: Limiter::new(settings.limits),
            settings,
            table: Table::with_capacity(pools, reservations, capacity),
            drops: HashMap::new(),
            replies: 0,
        };
        let mut fx = Vec::new();
        for l in leases {
            s.restore_one(l, now, &mut fx);
        }
        s.table.restored();
        (s, fx)
    }

    fn restore_one(&mut self, mut l: Lease, now: Timestamp, fx: &mut Vec<Effect>) {
        let was_active = l.state == LeaseState::Active;
        let expired = was_active && l.valid_until <= now;
        if expired {
            l.state = LeaseState::Expired;
        }
        let kept = self.table.restore(&l);
        if kept.is_none() {
            // RFC 9818 LPD-5: routes follow leases; a lease no pool
            // holds any more is withdrawn and forgotten.
            fx.push(Effect::Forget(l.prefix));
        }
        match kept {
            Some(id) if was_active && !expired => {
                let link = self.limiter.bound(&link_of_lease(&l));
                self.table.set_link_id(id, link);
                self.install(&l, None, now, fx);
            }
            _ if was_active => {
                let names = env::MessageNames::none();
                self.withdraw(&l, HookAction::Expire, &names, now, fx);
            }
            _ => {}
        }
        if expired && kept.is_some() {
            fx.push(Effect::Persist(l));
        }
    }

    /// Replace pools, reservations and settings (SIGHUP), keeping every
    /// lease that still fits: equivalent to a restart without losing state.
    pub fn reload(
        &mut self,
        settings: Settings,
        pools: Vec<PoolConfig>,
        reservations: Vec<Reservation>,
        now: Timestamp,
    ) -> Vec<Effect> {
        let old = std::mem::replace(&mut self.table, Table::new(Vec::new(), Vec::new()));
        let n = old.len();
        let drops = std::mem::take(&mut self.drops);
        let (fresh, fx) =
            Server::with_capacity(settings, pools, reservations, now, old.into_leases(), n);
        *self = fresh;
        self.drops = drops;
        fx
    }

    /// A datagram arrived: decode at the boundary, then handle.
    pub fn handle_datagram(&mut self, now: Timestamp, rx: &Rx, bytes: &[u8]) -> Vec<Effect> {
        match wire::decode(bytes) {
            Ok(env) => self.handle_message(now, rx, env),
            Err(d) => {
                self.count(Drop::Wire(d));
                Vec::new()
            }
        }
    }

    /// A decoded message arrived.
    pub fn handle_message(&mut self, now: Timestamp, rx: &Rx, env: wire::Envelope) -> Vec<Effect> {
        match handlers::handle(self, now, rx, env) {
            Ok(fx) => {
                if fx.iter().any(|e| matches!(e, Effect::Transmit(_))) {
                    self.replies += 1;
                }
                fx
            }
            Err(d) => {
                tracing::debug!(reason = ?d, src = %rx.src, iface = %rx.iface, "message discarded");
                self.count(d);
                Vec::new()
            }
        }
    }

    /// Expire every binding whose valid lifetime has ended (spurious calls
    /// are no-ops).
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<Effect> {
        let mut fx = Vec::new();
        for p in self.table.due(now) {
            if let Some(l) = self.end_binding(&p, LeaseState::Expired) {
                tracing::info!(prefix = %p, duid = %l.client.duid, iaid = l.client.iaid, "lease expired");
                fx.push(Effect::Persist(l.clone()));
                self.withdraw(
                    &l,
                    HookAction::Expire,
                    &env::MessageNames::none(),
                    now,
                    &mut fx,
                );
            }
        }
        fx
    }

    /// When [`Server::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.table.next_expiry()
    }

    /// Release a prefix by operator command (`leases release`).
    pub fn admin_release(&mut self, now: Timestamp, p: &Prefix) -> Option<Vec<Effect>> {
        let l = self.end_binding(p, LeaseState::Released)?;
        let mut fx = vec![Effect::Persist(l.clone())];
        self.withdraw(
            &l,
            HookAction::Delete,
            &env::MessageNames::none(),
            now,
            &mut fx,
        );
        Some(fx)
    }

    /// Every lease record (active, released, expired), built on demand
    /// from the table's compact records, in no particular order.
    pub fn leases(&self) -> impl Iterator<Item = Lease> + '_ {
        self.table.leases()
    }

    /// One record (built on demand).
    pub fn lease(&self, p: &Prefix) -> Option<Lease> {
        self.table.lease(p)
    }

    /// Number of active bindings.
    pub fn active_count(&self) -> usize {
        self.table.active_count()
    }

    /// Drop counters by reason.
    pub fn drops(&self) -> &HashMap<Drop, u64> {
        &self.drops
    }

    /// Total drops.
    pub fn drop_total(&self) -> u64 {
        self.drops.values().sum()
    }

    /// Messages answered.
    pub fn replies(&self) -> u64 {
        self.replies
    }

    /// Our DUID.
    pub fn duid(&self) -> &Duid {
        &self.settings.duid
    }

    /// New bindings refused by the per-link caps.
    pub fn refused(&self) -> u64 {
        self.limiter.refused()
    }

    /// End an active binding: back to the pool, out of its link's count.
    fn end_binding(&mut self, p: &Prefix, state: LeaseState) -> Option<Lease> {
        let link = self.table.link_of(p);
        let l = self.table.deactivate(p, state)?;
        if let Some(link) = link {
            self.limiter.unbound(link);
        }
        Some(l)
    }

    /// Record that `p` (just committed) is now bound on `link`.
    fn note_link(&mut self, p: Prefix, link: &LinkKey) {
        match self.table.link_of(&p) {
            Some(old) if self.limiter.link(old) == Some(link) => {}
            Some(old) => {
                self.limiter.unbound(old);
                let id = self.limiter.bound(link);
                self.table.set_link(&p, id);
            }
            None => {
                let id = self.limiter.bound(link);
                self.table.set_link(&p, id);
            }
        }
    }

    fn count(&mut self, d: Drop) {
        *self.drops.entry(d).or_insert(0) += 1;
    }

    /// Route + hook for a new or extended binding.
    fn install(
        &self,
        l: &Lease,
        hook: Option<(HookAction, &env::MessageNames)>,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        if self.settings.routes {
            fx.push(Effect::RouteAdd(route_of(l)));
        }
        if let (true, Some((action, names))) = (self.settings.hooks, hook) {
            fx.push(Effect::Hook(env::hook_call(l, action, names, now)));
        }
    }

    /// Route withdrawal + hook for a released or expired binding
    /// (`names`: the client's Release behind it, or none).
    fn withdraw(
        &self,
        l: &Lease,
        action: HookAction,
        names: &env::MessageNames,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        if self.settings.routes {
            fx.push(Effect::RouteDel(route_of(l)));
        }
        if self.settings.hooks {
            fx.push(Effect::Hook(env::hook_call(l, action, names, now)));
        }
    }
}

/// The link a restored lease is on: a link-local next hop means a directly
/// attached router; anything else is a relay.
fn link_of_lease(l: &Lease) -> LinkKey {
    if l.next_hop.is_unicast_link_local() {
        LinkKey::Iface(l.iface.clone())
    } else {
        LinkKey::Relay(l.next_hop)
    }
}

fn route_of(l: &Lease) -> ReturnRoute {
    ReturnRoute {
        prefix: l.prefix,
        gateway: l.next_hop,
        iface: l.iface.clone(),
    }
}
