//! What a requesting router does with its delegation (RFC 7084 WPD/L
//! requirements): the pure [`Applier`] turns engine effects into host
//! operations ([`plan::Op`]), hook calls and Router Advertisements; the
//! executor in `exec` (behind the driver) carries the operations out.

pub mod env;
pub mod plan;
pub mod ra;

use pd_core::effect::{HookAction, HookCall};
use pd_core::prefix::Prefix;
use pd_core::ra::RouterAdvert;
use pd_core::time::Timestamp;

use crate::config::Downstream;
use crate::engine::{Effect, Lease, LostReason};

pub use plan::{AddrSpec, Desired, Op, Subnet};
pub use ra::Deprecated;

/// What to do after an engine effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actions {
    /// Host operations, in order.
    pub ops: Vec<Op>,
    /// Hook calls, in order.
    pub hooks: Vec<HookCall>,
    /// Problems worth a warning (downstreams left without a subnet).
    pub warnings: Vec<String>,
    /// The RAs changed: send one on every advertising link soon.
    pub ra_changed: bool,
}

/// The apply layer's memory: the lease, the desired state, withdrawn /64s.
#[derive(Clone, Debug)]
pub struct Applier {
    upstream: String,
    downstream: Vec<Downstream>,
    lease: Option<Lease>,
    desired: Desired,
    deprecated: Vec<Deprecated>,
    with_hooks: bool,
}

impl Applier {
    /// For `upstream` and these downstream links; `with_hooks`: emit hook calls.
    pub fn new(upstream: &str, downstream: Vec<Downstream>, with_hooks: bool) -> Self {
        Applier {
            upstream: upstream.to_string(),
            downstream,
            lease: None,
            desired: Desired::default(),
            deprecated: Vec::new(),
            with_hooks,
        }
    }

    /// The desired host state.
    pub fn desired(&self) -> &Desired {
        &self.desired
    }

    /// The downstream links.
    pub fn downstream(&self) -> &[Downstream] {
        &self.downstream
    }

    /// The lease applied.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// Withdrawn /64s still advertised.
    pub fn deprecated(&self) -> &[Deprecated] {
        &self.deprecated
    }

    fn hook(
        &self,
        out: &mut Actions,
        action: HookAction,
        lease: &Lease,
        only: Option<&[Prefix]>,
        now: Timestamp,
    ) {
        if self.with_hooks {
            out.hooks
                .push(env::hook_call(action, &self.upstream, lease, only, now));
        }
    }

    /// Move to `lease`: diff the host state, deprecate withdrawn /64s
    /// (valid until `dep_until(old subnet)`).
    fn retarget(
        &mut self,
        lease: Option<Lease>,
        now: Timestamp,
        withdrawn_valid_now: bool,
        out: &mut Actions,
    ) {
        let (new, warnings) = plan::desired(lease.as_ref(), &self.downstream);
        out.warnings.extend(warnings);
        // Withdraw what is gone, then (re-)assert everything wanted: the
        // additions are idempotent replaces, so state lost with a reboot or
        // removed by hand comes back, and a failed earlier run is repaired.
        out.ops.extend(
            plan::diff(&self.desired, &new)
                .into_iter()
                .filter(|o| matches!(o, Op::DelAddress(_) | Op::DelUnreachable(_))),
        );
        out.ops.extend(plan::ensure(&new));
        for old in &self.desired.subnets {
            let kept = new
                .subnets
                .iter()
                .any(|s| s.iface == old.iface && s.prefix == old.prefix);
            if !kept {
                let valid_until = if withdrawn_valid_now {
                    now
                } else {
                    old.parent.valid_until()
                };
                self.deprecated
                    .retain(|d| !(d.iface == old.iface && d.prefix == old.prefix));
                self.deprecated.push(Deprecated {
                    iface: old.iface.clone(),
                    prefix: old.prefix,
                    valid_until,
                    sent: false,
                });
                out.ra_changed = true;
            }
        }
        // A /64 that came back is no longer deprecated.
        self.deprecated.retain(|d| {
            !new.subnets
                .iter()
                .any(|s| s.iface == d.iface && s.prefix == d.prefix)
        });
        if new.subnets != self.desired.subnets {
            out.ra_changed = true;
        }
        self.desired = new;
        self.lease = lease;
    }

    /// Take `lease` as the state the host is already in (the saved lease at
    /// start-up, even an expired one), without any action: the engine's
    /// first effects are then applied as changes from it.
    pub fn assume(&mut self, lease: Option<Lease>) {
        let (d, _) = plan::desired(lease.as_ref(), &self.downstream);
        self.desired = d;
        self.lease = lease;
    }

    /// React to one engine effect.
    pub fn on_effect(&mut self, now: Timestamp, effect: &Effect) -> Actions {
        let mut out = Actions::default();
        match effect {
            Effect::Bound { old, new } => {
                let gone: Vec<Prefix> = old
                    .iter()
                    .flat_map(|o| o.prefix_list())
                    .filter(|p| !new.prefix_list().contains(p))
                    .collect();
                if let (false, Some(o)) = (gone.is_empty(), old) {
                    self.hook(&mut out, HookAction::Delete, o, Some(&gone), now);
                }
                self.hook(&mut out, HookAction::Add, new, None, now);
                self.retarget(Some(new.clone()), now, false, &mut out);
            }
            Effect::Extended(l) => {
                self.hook(&mut out, HookAction::Update, l, None, now);
                self.retarget(Some(l.clone()), now, false, &mut out);
            }
            Effect::Lost { prefixes, reason } => {
                let action = match reason {
                    LostReason::Expired => HookAction::Expire,
                    LostReason::Released => HookAction::Delete,
                };
                if let Some(l) = self.lease.clone() {
                    self.hook(&mut out, action, &l, Some(prefixes), now);
                    let mut rest = l;
                    rest.prefixes.retain(|p| !prefixes.contains(&p.prefix));
                    let rest = (!rest.prefixes.is_empty()).then_some(rest);
                    // The prefix is gone: advertise its /64s with lifetime 0.
                    self.retarget(rest, now, true, &mut out);
                }
            }
            Effect::Transmit(_) | Effect::Save(_) | Effect::NoPrefixAvail | Effect::ReleaseDone => {
            }
        }
        out
    }

    /// Replace the downstream configuration (SIGHUP): recompute and diff.
    pub fn set_downstream(&mut self, downstream: Vec<Downstream>, now: Timestamp) -> Actions {
        let mut out = Actions::default();
        self.downstream = downstream;
        let lease = self.lease.clone();
        self.retarget(lease, now, false, &mut out);
        out.ra_changed = true;
        out
    }

    /// The RA for downstream `iface` at `now` (None: not an advertising
    /// link). Marks deprecated entries as sent and forgets expired ones.
    pub fn router_advert(
        &mut self,
        iface: &str,
        mac: Option<[u8; 6]>,
        last: bool,
        now: Timestamp,
    ) -> Option<RouterAdvert> {
        let d = self.downstream.iter().find(|d| d.interface == iface)?;
        if !d.ra_plan.send_ra {
            return None;
        }
        let dns = if d.dns.is_empty() {
            self.lease
                .as_ref()
                .map(|l| l.dns_servers.as_slice())
                .unwrap_or_default()
        } else {
            d.dns.as_slice()
        };
        let input = ra::RaInput {
            plan: d.ra_plan,
            subnet: self.desired.subnets.iter().find(|s| s.iface == iface),
            deprecated: self
                .deprecated
                .iter()
                .filter(|x| x.iface == iface)
                .collect(),
            dns,
            mtu: d.mtu,
            mac,
            last,
        };
        let advert = ra::build_ra(&input, now);
        for x in self.deprecated.iter_mut().filter(|x| x.iface == iface) {
            x.sent = true;
        }
        self.deprecated
            .retain(|x| !(x.sent && now >= x.valid_until));
        Some(advert)
    }
}

#[cfg(test)]
mod tests;
