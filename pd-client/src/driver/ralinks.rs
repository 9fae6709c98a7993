//! Router Advertisements on the downstream links: one RFC 4861 schedule per
//! advertising link, Router Solicitations answered, the RA content from the
//! apply layer.

use std::io;

use pd_core::ra::{check_rs_ip, decode_rs, encode_ra, RaSchedule, RaTimers, ICMPV6_ROUTER_SOLICIT};
use pd_core::sys::net::{IcmpRxInfo, IcmpSocket, ALL_NODES};
use pd_core::time::Timestamp;

use super::read_mac;
use crate::apply::Applier;
use crate::config::Downstream;

struct Link {
    name: String,
    ifindex: Option<u32>,
    mac: Option<[u8; 6]>,
    sched: RaSchedule,
}

/// Every advertising downstream link.
pub struct RaLinks {
    sock: Option<IcmpSocket>,
    links: Vec<Link>,
}

impl RaLinks {
    /// For the downstreams that advertise; opens the ICMPv6 socket if any.
    pub fn new(downstream: &[Downstream], seed: u64) -> Self {
        let links: Vec<Link> = downstream
            .iter()
            .filter(|d| d.ra_plan.send_ra)
            .enumerate()
            .map(|(i, d)| Link {
                name: d.interface.clone(),
                ifindex: None,
                mac: None,
                sched: RaSchedule::new(RaTimers::default(), seed.wrapping_add(i as u64)),
            })
            .collect();
        let sock = if links.is_empty() {
            None
        } else {
            match IcmpSocket::new() {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the ICMPv6 socket: no router advertisements");
                    None
                }
            }
        };
        RaLinks { sock, links }
    }

    /// Find links that appeared; start advertising on them.
    pub fn resolve(&mut self, now: Timestamp) {
        let Some(sock) = &self.sock else { return };
        for l in self.links.iter_mut().filter(|l| l.ifindex.is_none()) {
            let Ok(i) = pd_core::sys::net::ifindex(&l.name) else {
                continue;
            };
            if let Err(e) = sock.join_all_routers(i) {
                tracing::warn!(iface = %l.name, error = %e, "cannot join ff02::2");
                continue;
            }
            l.ifindex = Some(i);
            l.mac = read_mac(&l.name);
            l.sched.start(now);
            tracing::info!(iface = %l.name, ifindex = i, "advertising");
        }
    }

    /// The advertised content changed: send again at the initial pace.
    pub fn changed(&mut self, now: Timestamp) {
        for l in &mut self.links {
            l.sched.on_config_change(now);
        }
    }

    /// The earliest RA due.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.links
            .iter()
            .filter_map(|l| l.sched.poll_timeout())
            .min()
    }

    /// Send the RAs due at `now`.
    pub async fn on_timeout(&mut self, applier: &mut Applier, now: Timestamp) {
        let Some(sock) = &self.sock else { return };
        for l in &mut self.links {
            if !l.sched.handle_timeout(now) {
                continue;
            }
            if let Some(i) = l.ifindex {
                send(sock, applier, &l.name, i, l.mac, false, now).await;
            }
        }
    }

    /// The last RA (router lifetime 0, RFC 4861 §6.2.5) on every link
    /// not in `keep`.
    pub async fn final_ras(&mut self, applier: &mut Applier, now: Timestamp, keep: &[Downstream]) {
        let Some(sock) = &self.sock else { return };
        for l in &mut self.links {
            if keep
                .iter()
                .any(|d| d.interface == l.name && d.ra_plan.send_ra)
            {
                continue;
            }
            l.sched.stop();
            if let Some(i) = l.ifindex {
                send(sock, applier, &l.name, i, l.mac, true, now).await;
            }
        }
    }

    /// Wait for an ICMPv6 message (forever without a socket).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<IcmpRxInfo> {
        match &self.sock {
            Some(s) => s.recv(buf).await,
            None => std::future::pending().await,
        }
    }

    /// A received ICMPv6 message: schedule the answer to a valid RS.
    pub fn on_icmp(&mut self, info: &IcmpRxInfo, buf: &[u8], now: Timestamp) {
        let Some(bytes) = buf.get(..info.len) else {
            return;
        };
        if bytes.first() != Some(&ICMPV6_ROUTER_SOLICIT) {
            return;
        }
        let Some(link) = self
            .links
            .iter_mut()
            .find(|l| l.ifindex == Some(info.ifindex))
        else {
            return;
        };
        // RFC 4861 §6.1.1: validity checks before acting on an RS.
        match decode_rs(bytes).and_then(|rs| check_rs_ip(info.src, info.hop_limit, &rs)) {
            Ok(()) => {
                tracing::debug!(iface = %link.name, from = %info.src, "router solicitation");
                link.sched.on_solicit(now);
            }
            Err(e) => {
                tracing::debug!(iface = %link.name, error = %e, "invalid router solicitation")
            }
        }
    }
}

async fn send(
    sock: &IcmpSocket,
    applier: &mut Applier,
    name: &str,
    ifindex: u32,
    mac: Option<[u8; 6]>,
    last: bool,
    now: Timestamp,
) {
    let Some(ra) = applier.router_advert(name, mac, last, now) else {
        return;
    };
    let bytes = encode_ra(&ra);
    match sock.send(&bytes, ALL_NODES, ifindex, None).await {
        Ok(_) => tracing::debug!(
            iface = name,
            prefixes = ra.prefixes.len(),
            router_lifetime = ra.router_lifetime,
            "sent ra"
        ),
        Err(e) => tracing::warn!(iface = name, error = %e, "cannot send ra"),
    }
}
