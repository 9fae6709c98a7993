//! Router Advertisements for downstream links (pure): flags from the mode
//! table, a PIO for the link's /64 with the lease's remaining lifetimes,
//! deprecated PIOs for withdrawn /64s, MTU and RDNSS.

use std::net::Ipv6Addr;

use pd_core::prefix::Prefix;
use pd_core::ra::{PrefixInfo, RaPlan, Rdnss, RouterAdvert, RouterPreference};
use pd_core::time::Timestamp;

use super::plan::Subnet;

/// Router lifetime while we hold a prefix: 3 × MaxRtrAdvInterval (600 s),
/// the RFC 4861 §6.2.1 default.
pub const ROUTER_LIFETIME: u16 = 1800;
/// RDNSS lifetime: 2 × MaxRtrAdvInterval, the upper bound of RFC 8106 §5.1.
pub const RDNSS_LIFETIME: u32 = 1200;
/// Hop limit suggested to hosts.
pub const CUR_HOP_LIMIT: u8 = 64;

/// A /64 no longer ours: advertised with preferred lifetime 0 until
/// `valid_until` (RFC 9096 §3.3 / RFC 4862 §5.5.3: hosts stop using it for
/// new connections at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deprecated {
    /// Interface name.
    pub iface: String,
    /// The /64.
    pub prefix: Prefix,
    /// End of its valid lifetime.
    pub valid_until: Timestamp,
    /// Advertised at least once (so a 0-lifetime entry went out).
    pub sent: bool,
}

/// What goes into one RA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaInput<'a> {
    /// Flags.
    pub plan: RaPlan,
    /// The link's current /64, if any.
    pub subnet: Option<&'a Subnet>,
    /// Withdrawn /64s of the link.
    pub deprecated: Vec<&'a Deprecated>,
    /// RDNSS servers.
    pub dns: &'a [Ipv6Addr],
    /// MTU option.
    pub mtu: Option<u32>,
    /// Source link-layer address.
    pub mac: Option<[u8; 6]>,
    /// Final RA (shutting down): router lifetime 0 (RFC 4861 §6.2.5).
    pub last: bool,
}

/// Build the RA at `now`.
pub fn build_ra(input: &RaInput<'_>, now: Timestamp) -> RouterAdvert {
    let mut prefixes = Vec::new();
    if let Some(s) = input.subnet {
        let (preferred, valid) = s.parent.remaining(now);
        prefixes.push(PrefixInfo {
            prefix: s.prefix,
            on_link: true,
            autonomous: input.plan.autonomous,
            valid,
            preferred,
        });
    }
    for d in &input.deprecated {
        if input.subnet.is_some_and(|s| s.prefix == d.prefix) {
            continue;
        }
        prefixes.push(PrefixInfo {
            prefix: d.prefix,
            on_link: true,
            autonomous: input.plan.autonomous,
            valid: now.remaining_secs(d.valid_until),
            preferred: 0,
        });
    }
    let have_prefix = input.subnet.is_some() && !input.last;
    let rdnss = if input.dns.is_empty() {
        Vec::new()
    } else {
        vec![Rdnss {
            lifetime: if have_prefix { RDNSS_LIFETIME } else { 0 },
            servers: input.dns.to_vec(),
        }]
    };
    RouterAdvert {
        cur_hop_limit: CUR_HOP_LIMIT,
        managed: input.plan.managed,
        other: input.plan.other,
        preference: RouterPreference::Medium,
        // RFC 7084 G-4: without a delegation we are no default router.
        router_lifetime: if have_prefix { ROUTER_LIFETIME } else { 0 },
        reachable_time: 0,
        retrans_timer: 0,
        source_lladdr: input.mac,
        mtu: input.mtu,
        prefixes,
        rdnss,
        routes: Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use pd_core::ra::{ra_plan, Mode};

    use crate::engine::LeasedPrefix;

    fn subnet() -> Subnet {
        Subnet {
            iface: "lan0".into(),
            prefix: "2001:db8:1:1::/64".parse().unwrap(),
            parent: LeasedPrefix {
                prefix: "2001:db8:1::/56".parse().unwrap(),
                preferred: 200,
                valid: 300,
                updated: Timestamp::ZERO,
            },
        }
    }

    #[test]
    fn pio_carries_remaining_lifetimes_and_flags() {
        let s = subnet();
        let dep = Deprecated {
            iface: "lan0".into(),
            prefix: "2001:db8:9:1::/64".parse().unwrap(),
            valid_until: Timestamp::from_secs(250),
            sent: false,
        };
        let dns = ["2001:db8::53".parse().unwrap()];
        let input = RaInput {
            plan: ra_plan(Some(Mode::Dhcpv6Stateless), None).unwrap(),
            subnet: Some(&s),
            deprecated: vec![&dep],
            dns: &dns,
            mtu: Some(1492),
            mac: Some([2, 0, 0, 0, 0, 1]),
            last: false,
        };
        let ra = build_ra(&input, Timestamp::from_secs(50));
        assert!(ra.other && !ra.managed);
        assert_eq!(ra.router_lifetime, ROUTER_LIFETIME);
        assert_eq!(ra.mtu, Some(1492));
        assert_eq!(ra.source_lladdr, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(ra.prefixes.len(), 2);
        let p = ra.prefixes[0];
        assert_eq!(
            (p.prefix, p.preferred, p.valid, p.autonomous, p.on_link),
            (s.prefix, 150, 250, true, true)
        );
        let d = ra.prefixes[1];
        assert_eq!((d.prefix, d.preferred, d.valid), (dep.prefix, 0, 200));
        assert_eq!(ra.rdnss[0].servers, dns.to_vec());
        assert_eq!(ra.rdnss[0].lifetime, RDNSS_LIFETIME);
        // The final RA: router lifetime 0, RDNSS lifetime 0.
        let last = build_ra(
            &RaInput {
                last: true,
                ..input.clone()
            },
            Timestamp::from_secs(50),
        );
        assert_eq!(last.router_lifetime, 0);
        assert_eq!(last.rdnss[0].lifetime, 0);
        // No subnet: not a default router.
        let none = build_ra(
            &RaInput {
                subnet: None,
                ..input
            },
            Timestamp::from_secs(300),
        );
        assert_eq!(none.router_lifetime, 0);
        assert_eq!(none.prefixes.len(), 1);
        assert_eq!(none.prefixes[0].valid, 0);
    }
}
