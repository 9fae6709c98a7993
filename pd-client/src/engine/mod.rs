//! The requesting router's DHCPv6 prefix-delegation state machine
//! (RFC 9915 §18.2), without I/O.
//!
//! The driver passes `now` and a seed in, and executes the [`Effect`]s that
//! come out, in order. Randomness comes from a seeded [`rng::Rng`], drawn in
//! a fixed order: one transaction id when an exchange begins, then (first
//! Solicit only, unless `immediate`) the initial delay, then one RAND per
//! transmission.

mod build;
mod lease;
mod receive;
pub mod retrans;
pub mod rng;
mod validate;

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddrV6};

use pd_core::duid::Duid;
use pd_core::effect::Transmit;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{self, Discard, Envelope, Message};

pub use build::{OPTION_DNS_SERVERS, OPTION_SOL_MAX_RT};
pub use lease::{effective_t1_t2, Lease, LeasedPrefix};
pub use validate::{check_from_server, our_ia, sanitize_ia_pd, IaOutcome};

use retrans::{Exchange, Tick};
use rng::Rng;

/// What the engine needs to know about the upstream side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Upstream interface index (0: accept from any, send with ifindex 0).
    pub ifindex: u32,
    /// Our DUID (Client Identifier).
    pub duid: Duid,
    /// IA_PD identifier.
    pub iaid: u32,
    /// Prefix-length hint: sent as IAPREFIX `::/len`.
    pub prefix_length: Option<u8>,
    /// Full prefix hint (takes precedence over `prefix_length`).
    pub hint: Option<Prefix>,
    /// Send Rapid Commit in Solicit (RFC 9915 §18.2.1).
    pub rapid_commit: bool,
    /// Skip the random 0..1 s delay before the first Solicit (one-shot mode).
    pub immediate: bool,
}

/// Why prefixes stopped being usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostReason {
    /// The valid lifetime ended (or the server set it to 0).
    Expired,
    /// We released them.
    Released,
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Encode and send this message.
    Transmit(Transmit),
    /// A first binding, or the set of prefixes changed (withdraw `old`'s).
    Bound {
        /// The lease before, if any.
        old: Option<Lease>,
        /// The lease now.
        new: Lease,
    },
    /// Renewed or rebound with the same prefixes (lifetimes refreshed).
    Extended(Lease),
    /// These prefixes must no longer be used.
    Lost {
        /// The prefixes.
        prefixes: Vec<Prefix>,
        /// Why.
        reason: LostReason,
    },
    /// Persist this lease (None: remove the saved lease).
    Save(Option<Lease>),
    /// Servers answered with NoPrefixAvail; the engine keeps trying.
    NoPrefixAvail,
    /// The Release exchange finished (Reply, or REL_MAX_RC reached).
    ReleaseDone,
}

/// The engine's state, as seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started, or released.
    Idle,
    /// Looking for servers.
    Soliciting,
    /// Requesting prefixes from the chosen server.
    Requesting,
    /// Holding prefixes, waiting for T1.
    Bound,
    /// Extending with the server that delegated (T1..T2).
    Renewing,
    /// Extending with any server (T2..expiry, or after a restart).
    Rebinding,
    /// Giving the prefixes back.
    Releasing,
}

/// An Advertise worth requesting from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Offer {
    server_id: Duid,
    preference: u8,
    prefixes: Vec<Prefix>,
}

#[derive(Clone, Debug)]
enum Phase {
    Idle,
    Soliciting {
        ex: Exchange,
        /// Best Advertise so far during the first RT.
        best: Option<Offer>,
        /// Still within the first RT (RFC 9915 §18.2.1: collect Advertises).
        collecting: bool,
        /// An Advertise/Reply said NoPrefixAvail.
        no_prefix_seen: bool,
        /// NoPrefixAvail already reported for this exchange.
        no_prefix_reported: bool,
    },
    Requesting {
        ex: Exchange,
    },
    Bound,
    Renewing {
        ex: Exchange,
    },
    Rebinding {
        ex: Exchange,
    },
    Releasing {
        ex: Exchange,
    },
}

/// The DHCPv6-PD client engine for one IA_PD on one upstream interface.
#[derive(Clone, Debug)]
pub struct Client {
    cfg: EngineConfig,
    rng: Rng,
    phase: Phase,
    lease: Option<Lease>,
    /// Prefixes to hint in the next Solicit (a lost lease's), overriding config.
    hints: Vec<Prefix>,
    /// SOL_MAX_RT in force (RFC 9915 §18.2.9 lets a server change it), ms.
    sol_max_rt_ms: u64,
    discards: HashMap<Discard, u64>,
    last_discard: Option<Discard>,
}

fn some_if_finite(t: Timestamp) -> Option<Timestamp> {
    (t != Timestamp::NEVER).then_some(t)
}

impl Client {
    /// A new engine; nothing happens until [`Client::start`].
    pub fn new(cfg: EngineConfig, seed: u64) -> Self {
        Client {
            cfg,
            rng: Rng::new(seed),
            phase: Phase::Idle,
            lease: None,
            hints: Vec::new(),
            sol_max_rt_ms: retrans::SOLICIT.mrt_ms,
            discards: HashMap::new(),
            last_discard: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The current state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Idle => State::Idle,
            Phase::Soliciting { .. } => State::Soliciting,
            Phase::Requesting { .. } => State::Requesting,
            Phase::Bound => State::Bound,
            Phase::Renewing { .. } => State::Renewing,
            Phase::Rebinding { .. } => State::Rebinding,
            Phase::Releasing { .. } => State::Releasing,
        }
    }

    /// The lease held, if any.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// SOL_MAX_RT in force, in seconds.
    pub fn sol_max_rt(&self) -> u64 {
        self.sol_max_rt_ms / 1000
    }

    /// How many messages were discarded for `reason`.
    pub fn discard_count(&self, reason: Discard) -> u64 {
        self.discards.get(&reason).copied().unwrap_or(0)
    }

    /// The reason of the last discarded message.
    pub fn last_discard(&self) -> Option<Discard> {
        self.last_discard
    }

    /// Begin: Solicit, or confirm a saved lease that is still valid.
    pub fn start(&mut self, now: Timestamp, saved: Option<Lease>) -> Vec<Effect> {
        let mut out = Vec::new();
        self.lease = None;
        self.hints.clear();
        match saved {
            Some(mut l) => {
                let expired = l.expire(now);
                if l.prefixes.is_empty() || l.iaid != self.cfg.iaid {
                    // Expired while we were down (or for another IA): clean
                    // up, then Solicit with the old prefixes as hints.
                    let mut all = expired;
                    all.extend(l.prefix_list());
                    out.push(Effect::Lost {
                        prefixes: all.clone(),
                        reason: LostReason::Expired,
                    });
                    out.push(Effect::Save(None));
                    self.hints = all;
                    self.begin_solicit(now, !self.cfg.immediate, &mut out);
                } else {
                    if !expired.is_empty() {
                        out.push(Effect::Save(Some(l.clone())));
                    }
                    // RFC 9915 §18.2.12: after a restart a client holding
                    // delegated prefixes confirms them with Rebind, and keeps
                    // using them until the Reply or their expiry.
                    out.push(Effect::Bound {
                        old: None,
                        new: l.clone(),
                    });
                    self.lease = Some(l);
                    self.begin_rebind(now, &mut out);
                }
            }
            None => self.begin_solicit(now, !self.cfg.immediate, &mut out),
        }
        out
    }

    /// Hold `lease` without any exchange: for releasing a saved lease in a
    /// one-shot command (`pd-client release`). The caller then calls
    /// [`Client::release`].
    pub fn adopt(&mut self, lease: Lease) {
        self.lease = Some(lease);
        self.phase = Phase::Bound;
    }

    /// Give the prefixes back (RFC 9915 §18.2.7). They stop being used now.
    pub fn release(&mut self, now: Timestamp) -> Vec<Effect> {
        let mut out = Vec::new();
        match self.lease.take() {
            Some(l) => {
                out.push(Effect::Lost {
                    prefixes: l.prefix_list(),
                    reason: LostReason::Released,
                });
                out.push(Effect::Save(None));
                let xid = self.rng.xid();
                let msg =
                    build::release(xid, &self.cfg.duid, &l.server_id, l.iaid, &l.prefix_list());
                let ex = Exchange::new(msg, retrans::RELEASE, now, None);
                self.phase = Phase::Releasing { ex };
                self.run_exchange(now, &mut out);
            }
            None => {
                self.phase = Phase::Idle;
                out.push(Effect::ReleaseDone);
            }
        }
        out
    }

    /// When [`Client::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let mut t: Option<Timestamp> = None;
        let mut consider = |x: Timestamp| {
            if x != Timestamp::NEVER {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        if let Some(l) = &self.lease {
            if let Some(e) = l.first_expiry() {
                consider(e);
            }
        }
        match (&self.phase, &self.lease) {
            (Phase::Bound, Some(l)) => {
                consider(l.renew_at());
                consider(l.rebind_at());
            }
            (Phase::Renewing { ex }, Some(l)) => {
                consider(ex.next);
                consider(l.rebind_at());
            }
            (Phase::Soliciting { ex, .. }, _)
            | (Phase::Requesting { ex }, _)
            | (Phase::Renewing { ex }, _)
            | (Phase::Rebinding { ex }, _)
            | (Phase::Releasing { ex }, _) => consider(ex.next),
            (Phase::Bound | Phase::Idle, _) => {}
        }
        t
    }

    /// Run the timers due at `now`. A call with nothing due does nothing.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<Effect> {
        let mut out = Vec::new();
        self.expire_prefixes(now, &mut out);
        let lease_times = self.lease.as_ref().map(|l| (l.renew_at(), l.rebind_at()));
        match &mut self.phase {
            Phase::Idle => {}
            Phase::Bound => match lease_times {
                // RFC 9915 §18.2.5: Rebind at T2; §18.2.4: Renew at T1.
                Some((_, t2)) if now >= t2 => self.begin_rebind(now, &mut out),
                Some((t1, _)) if now >= t1 => self.begin_renew(now, &mut out),
                _ => {}
            },
            Phase::Renewing { .. } => match lease_times {
                // RFC 9915 §18.2.4: Renew's MRD ends at T2; then Rebind.
                Some((_, t2)) if now >= t2 => self.begin_rebind(now, &mut out),
                _ => {
                    if self.run_exchange(now, &mut out) {
                        self.begin_rebind(now, &mut out);
                    }
                }
            },
            Phase::Rebinding { .. } => {
                if self.run_exchange(now, &mut out) {
                    // MRD = end of the valid lifetimes: everything is gone.
                    self.lose_all(now, &mut out);
                }
            }
            Phase::Soliciting {
                ex,
                best,
                collecting,
                no_prefix_seen,
                no_prefix_reported,
            } => {
                if *collecting && ex.sent > 0 && now >= ex.next {
                    // RFC 9915 §18.2.1: the first RT is over; act on the best
                    // Advertise collected, if any.
                    *collecting = false;
                    if let Some(offer) = best.take() {
                        self.begin_request(now, offer.server_id, &offer.prefixes, &mut out);
                        return out;
                    }
                    if *no_prefix_seen && !*no_prefix_reported {
                        *no_prefix_reported = true;
                        out.push(Effect::NoPrefixAvail);
                    }
                }
                // Solicit has neither MRC nor MRD: it never fails.
                self.run_exchange(now, &mut out);
            }
            Phase::Requesting { .. } => {
                if self.run_exchange(now, &mut out) {
                    // RFC 9915 §18.2.2 / §15: REQ_MAX_RC reached; start over.
                    self.begin_solicit(now, false, &mut out);
                }
            }
            Phase::Releasing { .. } => {
                if self.run_exchange(now, &mut out) {
                    // RFC 9915 §18.2.7: after REL_MAX_RC, give up.
                    self.phase = Phase::Idle;
                    out.push(Effect::ReleaseDone);
                }
            }
        }
        out
    }

    /// Handle a decoded message from `from` received on `ifindex`.
    pub fn handle_message(
        &mut self,
        now: Timestamp,
        from: SocketAddrV6,
        ifindex: u32,
        msg: Message,
    ) -> Vec<Effect> {
        if self.cfg.ifindex != 0 && ifindex != 0 && ifindex != self.cfg.ifindex {
            return self.discard(Discard::NotForUs);
        }
        match msg.msg_type {
            wire::MsgType::Advertise => self.on_advertise(now, &msg),
            wire::MsgType::Reply => self.on_reply(now, *from.ip(), &msg),
            _ => self.discard(Discard::UnexpectedType),
        }
    }

    fn discard(&mut self, reason: Discard) -> Vec<Effect> {
        *self.discards.entry(reason).or_insert(0) += 1;
        self.last_discard = Some(reason);
        tracing::debug!(?reason, iaid = self.cfg.iaid, "discarded message");
        Vec::new()
    }

    fn transmit(&self, msg: Message) -> Effect {
        Effect::Transmit(Transmit {
            to: SocketAddrV6::new(
                wire::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
                wire::SERVER_PORT,
                0,
                0,
            ),
            ifindex: self.cfg.ifindex,
            envelope: Envelope {
                relays: Vec::new(),
                msg,
            },
        })
    }

    /// Tick the exchange in progress; true when it failed (MRC/MRD).
    fn run_exchange(&mut self, now: Timestamp, out: &mut Vec<Effect>) -> bool {
        let tick = match &mut self.phase {
            Phase::Soliciting { ex, .. }
            | Phase::Requesting { ex }
            | Phase::Renewing { ex }
            | Phase::Rebinding { ex }
            | Phase::Releasing { ex } => ex.tick(now, &mut self.rng),
            Phase::Idle | Phase::Bound => Tick::Wait,
        };
        match tick {
            Tick::Wait => false,
            Tick::Send(msg) => {
                out.push(self.transmit(*msg));
                false
            }
            Tick::Failed => true,
        }
    }

    /// The xid of the exchange in progress.
    fn current_xid(&self) -> Option<[u8; 3]> {
        match &self.phase {
            Phase::Soliciting { ex, .. }
            | Phase::Requesting { ex }
            | Phase::Renewing { ex }
            | Phase::Rebinding { ex }
            | Phase::Releasing { ex } => Some(ex.xid()),
            Phase::Idle | Phase::Bound => None,
        }
    }

    fn solicit_hints(&self) -> Vec<Prefix> {
        if !self.hints.is_empty() {
            self.hints.clone()
        } else if let Some(h) = self.cfg.hint {
            vec![h]
        } else if let Some(len) = self.cfg.prefix_length {
            vec![Prefix::truncate(Ipv6Addr::UNSPECIFIED, len)]
        } else {
            Vec::new()
        }
    }

    fn begin_solicit(&mut self, now: Timestamp, delay: bool, out: &mut Vec<Effect>) {
        let xid = self.rng.xid();
        // RFC 9915 §18.2.1: delay the first Solicit by 0..SOL_MAX_DELAY.
        let delay_ms = if delay {
            self.rng.up_to(retrans::SOL_MAX_DELAY_MS)
        } else {
            0
        };
        let msg = build::solicit(
            xid,
            &self.cfg.duid,
            self.cfg.iaid,
            &self.solicit_hints(),
            self.cfg.rapid_commit,
        );
        let mut params = retrans::SOLICIT;
        params.mrt_ms = self.sol_max_rt_ms;
        let first = now.add(std::time::Duration::from_millis(delay_ms));
        self.phase = Phase::Soliciting {
            ex: Exchange::new(msg, params, first, None),
            best: None,
            collecting: true,
            no_prefix_seen: false,
            no_prefix_reported: false,
        };
        self.run_exchange(now, out);
    }

    fn begin_request(
        &mut self,
        now: Timestamp,
        server: Duid,
        prefixes: &[Prefix],
        out: &mut Vec<Effect>,
    ) {
        let xid = self.rng.xid();
        let msg = build::request(xid, &self.cfg.duid, &server, self.cfg.iaid, prefixes);
        self.phase = Phase::Requesting {
            ex: Exchange::new(msg, retrans::REQUEST, now, None),
        };
        self.run_exchange(now, out);
    }

    fn begin_renew(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let Some(l) = &self.lease else { return };
        let xid = self.rng.xid();
        let msg = build::renew(xid, &self.cfg.duid, &l.server_id, l.iaid, &l.prefix_list());
        // RFC 9915 §18.2.4: MRD is the time until T2.
        let ex = Exchange::new(msg, retrans::RENEW, now, some_if_finite(l.rebind_at()));
        self.phase = Phase::Renewing { ex };
        self.run_exchange(now, out);
    }

    fn begin_rebind(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let Some(l) = &self.lease else { return };
        let xid = self.rng.xid();
        let msg = build::rebind(xid, &self.cfg.duid, l.iaid, &l.prefix_list());
        // RFC 9915 §18.2.5: MRD is the time until all valid lifetimes end.
        let ex = Exchange::new(msg, retrans::REBIND, now, some_if_finite(l.expires_at()));
        self.phase = Phase::Rebinding { ex };
        self.run_exchange(now, out);
    }

    /// Drop prefixes whose valid lifetime ended; Solicit again if none is left.
    fn expire_prefixes(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        let Some(l) = self.lease.as_mut() else { return };
        let gone = l.expire(now);
        if gone.is_empty() {
            return;
        }
        out.push(Effect::Lost {
            prefixes: gone.clone(),
            reason: LostReason::Expired,
        });
        if l.prefixes.is_empty() {
            self.lease = None;
            out.push(Effect::Save(None));
            self.hints = gone;
            if matches!(
                self.phase,
                Phase::Bound | Phase::Renewing { .. } | Phase::Rebinding { .. }
            ) {
                self.begin_solicit(now, false, out);
            }
        } else {
            out.push(Effect::Save(Some(l.clone())));
        }
    }

    /// Every prefix is gone: report, forget, and Solicit with them as hints.
    fn lose_all(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        if let Some(l) = self.lease.take() {
            let prefixes = l.prefix_list();
            out.push(Effect::Lost {
                prefixes: prefixes.clone(),
                reason: LostReason::Expired,
            });
            out.push(Effect::Save(None));
            self.hints = prefixes;
        }
        self.begin_solicit(now, false, out);
    }
}

#[cfg(test)]
mod tests;
