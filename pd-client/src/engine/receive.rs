//! Advertise and Reply processing (RFC 9915 §18.2.9, §18.2.10).

use std::net::Ipv6Addr;

use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;
use pd_core::wire::{status, Discard, Message};

use super::lease::Lease;
use super::validate::{check_from_server, our_ia, top_status, IaOutcome};
use super::{retrans, Client, Effect, LostReason, Offer, Phase};

/// Preference value that makes the client act at once (RFC 9915 §18.2.1).
const MAX_PREFERENCE: u8 = 255;

impl Client {
    /// RFC 9915 §18.2.9 / §18.2.10: a SOL_MAX_RT option in an Advertise or
    /// Reply replaces SOL_MAX_RT, if within 60..=86400 (§21.24); it is
    /// processed even when the rest of the message is ignored.
    fn take_sol_max_rt(&mut self, msg: &Message) {
        let Some(v) = msg.sol_max_rt else { return };
        if !retrans::SOL_MAX_RT_RANGE.contains(&v) {
            tracing::debug!(value = v, "ignoring out-of-range sol-max-rt");
            return;
        }
        self.sol_max_rt_ms = u64::from(v) * 1000;
        if let Phase::Soliciting { ex, .. } = &mut self.phase {
            ex.params.mrt_ms = self.sol_max_rt_ms;
        }
    }

    pub(super) fn on_advertise(&mut self, now: Timestamp, msg: &Message) -> Vec<Effect> {
        let Phase::Soliciting { ex, .. } = &self.phase else {
            return self.discard(Discard::UnexpectedType);
        };
        if let Err(d) = check_from_server(msg, &self.cfg.duid, ex.xid()) {
            return self.discard(d);
        }
        self.take_sol_max_rt(msg);
        let offer = match our_ia(msg, self.cfg.iaid) {
            IaOutcome::Prefixes(ia) if top_status(msg) == status::SUCCESS => {
                msg.server_id.clone().map(|server_id| Offer {
                    server_id,
                    preference: msg.preference.unwrap_or(0),
                    prefixes: ia
                        .prefixes
                        .iter()
                        .filter(|p| p.valid != 0)
                        .map(|p| p.prefix)
                        .collect(),
                })
            }
            IaOutcome::Missing(Some(d)) => {
                self.discard(d);
                None
            }
            _ => None,
        };
        let mut out = Vec::new();
        let Phase::Soliciting {
            best,
            collecting,
            no_prefix_seen,
            no_prefix_reported,
            ..
        } = &mut self.phase
        else {
            return out;
        };
        let Some(offer) = offer else {
            // RFC 9915 §18.2.9: an Advertise without delegated prefixes is
            // ignored. If it said NoPrefixAvail, tell the driver (once per
            // exchange, after the collection period) and keep soliciting.
            let no_prefix = top_status(msg) == status::NO_PREFIX_AVAIL
                || our_ia(msg, self.cfg.iaid) == IaOutcome::Status(status::NO_PREFIX_AVAIL);
            if no_prefix {
                *no_prefix_seen = true;
                if !*collecting && !*no_prefix_reported {
                    *no_prefix_reported = true;
                    out.push(Effect::NoPrefixAvail);
                }
            }
            return out;
        };
        if offer.preference == MAX_PREFERENCE || !*collecting {
            // RFC 9915 §18.2.1: Preference 255 → Request at once; after the
            // first RT, the first acceptable Advertise is acted on at once.
            self.begin_request(now, offer.server_id, &offer.prefixes, &mut out);
        } else if best
            .as_ref()
            .is_none_or(|b| offer.preference > b.preference)
        {
            // Highest preference wins; among equals, the first one.
            *best = Some(offer);
        }
        out
    }

    pub(super) fn on_reply(
        &mut self,
        now: Timestamp,
        from: Ipv6Addr,
        msg: &Message,
    ) -> Vec<Effect> {
        let Some(xid) = self.current_xid() else {
            return self.discard(Discard::UnexpectedType);
        };
        if let Err(d) = check_from_server(msg, &self.cfg.duid, xid) {
            return self.discard(d);
        }
        self.take_sol_max_rt(msg);
        let mut out = Vec::new();
        match &self.phase {
            Phase::Releasing { .. } => {
                // RFC 9915 §18.2.10.1: the Release is done on any Reply.
                self.phase = Phase::Idle;
                out.push(Effect::ReleaseDone);
            }
            Phase::Soliciting { .. } => {
                // RFC 9915 §18.2.1: a Reply to Solicit counts only if we
                // asked for Rapid Commit and it carries Rapid Commit.
                if !(self.cfg.rapid_commit && msg.rapid_commit) {
                    return self.discard(Discard::UnexpectedType);
                }
                self.on_binding_reply(now, from, msg, &mut out);
            }
            Phase::Requesting { .. } => self.on_binding_reply(now, from, msg, &mut out),
            Phase::Renewing { .. } | Phase::Rebinding { .. } => {
                self.on_extend_reply(now, from, msg, &mut out)
            }
            Phase::Idle | Phase::Bound => return self.discard(Discard::UnexpectedType),
        }
        out
    }

    /// Reply to Request (or Rapid Commit Reply to Solicit).
    fn on_binding_reply(
        &mut self,
        now: Timestamp,
        from: Ipv6Addr,
        msg: &Message,
        out: &mut Vec<Effect>,
    ) {
        let top = top_status(msg);
        if top == status::NO_PREFIX_AVAIL {
            return self.no_prefix(now, out);
        }
        if top != status::SUCCESS {
            // RFC 9915 §18.2.10: UnspecFail / UseMulticast (we already use
            // multicast): keep retransmitting, rate-limited by RT.
            tracing::debug!(status = top, "reply with error status, retrying");
            return;
        }
        match our_ia(msg, self.cfg.iaid) {
            IaOutcome::Prefixes(ia) => self.bind(now, from, msg, &ia, out),
            // RFC 9915 §18.2.10.1: NoPrefixAvail in reply to Request: try
            // again with server discovery.
            IaOutcome::Status(status::NO_PREFIX_AVAIL) | IaOutcome::Empty(_) => {
                self.no_prefix(now, out)
            }
            IaOutcome::Missing(d) => {
                // No usable IA_PD (absent, or dropped under §21.21): the
                // Reply is treated as if never received.
                self.discard(d.unwrap_or(Discard::BadPrefix));
            }
            IaOutcome::Status(code) => {
                tracing::debug!(status = code, "ia_pd error status, retrying");
            }
        }
    }

    fn no_prefix(&mut self, now: Timestamp, out: &mut Vec<Effect>) {
        out.push(Effect::NoPrefixAvail);
        if matches!(self.phase, Phase::Requesting { .. }) {
            self.begin_solicit(now, false, out);
        }
        // A Rapid Commit Reply with NoPrefixAvail: keep soliciting.
        if let Phase::Soliciting {
            no_prefix_seen,
            no_prefix_reported,
            ..
        } = &mut self.phase
        {
            *no_prefix_seen = true;
            *no_prefix_reported = true;
        }
    }

    /// Reply to Renew or Rebind (RFC 9915 §18.2.10.1).
    fn on_extend_reply(
        &mut self,
        now: Timestamp,
        from: Ipv6Addr,
        msg: &Message,
        out: &mut Vec<Effect>,
    ) {
        let top = top_status(msg);
        if top != status::SUCCESS {
            tracing::debug!(status = top, "reply with error status, retrying");
            return;
        }
        match our_ia(msg, self.cfg.iaid) {
            IaOutcome::Status(status::NO_BINDING) => {
                // RFC 9915 §18.2.10.1: NoBinding → Request to the server that
                // answered, for the IA; the prefixes stay in use meanwhile.
                let (Some(server), Some(l)) = (msg.server_id.clone(), self.lease.as_ref()) else {
                    return;
                };
                let prefixes: Vec<Prefix> = l.prefix_list();
                self.begin_request(now, server, &prefixes, out);
            }
            IaOutcome::Prefixes(ia) => self.bind(now, from, msg, &ia, out),
            IaOutcome::Empty(ia) if !ia.prefixes.is_empty() => self.bind(now, from, msg, &ia, out),
            IaOutcome::Missing(Some(d)) => {
                self.discard(d);
            }
            other => {
                // RFC 9915 §18.2.10.1: an IA missing from the Reply (or with
                // another error): keep using the prefixes and retransmit at
                // the normal time, as if the Reply had not arrived.
                tracing::debug!(?other, "reply without usable ia_pd, retrying");
            }
        }
    }

    /// Record the IA_PD of a Reply and report the change.
    fn bind(
        &mut self,
        now: Timestamp,
        from: Ipv6Addr,
        msg: &Message,
        ia: &pd_core::wire::IaPd,
        out: &mut Vec<Effect>,
    ) {
        let Some(server_id) = msg.server_id.clone() else {
            return;
        };
        let prev = self.lease.take();
        let new = Lease::merge(prev.as_ref(), now, server_id, from, ia, &msg.dns_servers);
        if new.prefixes.is_empty() {
            // The server set every valid lifetime to 0.
            let prefixes = prev.map(|p| p.prefix_list()).unwrap_or_default();
            if !prefixes.is_empty() {
                out.push(Effect::Lost {
                    prefixes: prefixes.clone(),
                    reason: LostReason::Expired,
                });
                out.push(Effect::Save(None));
                self.hints = prefixes;
            }
            self.begin_solicit(now, false, out);
            return;
        }
        tracing::debug!(iaid = new.iaid, prefixes = ?new.prefix_list(), t1 = new.t1, t2 = new.t2, "reply accepted");
        self.lease = Some(new.clone());
        self.hints.clear();
        self.phase = Phase::Bound;
        out.push(Effect::Save(Some(new.clone())));
        out.push(match prev {
            Some(p) if p.same_prefixes(&new) => Effect::Extended(new),
            old => Effect::Bound { old, new },
        });
    }
}
