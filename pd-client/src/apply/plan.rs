//! What the host should look like for a lease (pure): a /64 and a router
//! address per downstream interface, and an unreachable route for each
//! delegated prefix (RFC 7084 WPD-5: packets to unassigned parts of the
//! delegation must not loop back upstream).

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use pd_core::prefix::Prefix;

use crate::config::Downstream;
use crate::engine::{Lease, LeasedPrefix};

/// Length of the subnets handed to downstream links.
pub const SUBNET_LEN: u8 = 64;

/// An address on an interface.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrSpec {
    /// Interface name.
    pub iface: String,
    /// The address.
    pub addr: Ipv6Addr,
    /// Prefix length (64).
    pub len: u8,
}

/// One downstream link's share of the delegation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    /// Interface name.
    pub iface: String,
    /// The /64.
    pub prefix: Prefix,
    /// The delegated prefix it comes from (its lifetimes apply).
    pub parent: LeasedPrefix,
}

impl std::fmt::Display for AddrSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} dev {}", self.addr, self.len, self.iface)
    }
}

/// The desired host state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// Unreachable routes (one per delegated prefix).
    pub unreachable: BTreeSet<Prefix>,
    /// Router addresses on downstream interfaces.
    pub addresses: BTreeSet<AddrSpec>,
    /// The /64 of each downstream interface that got one.
    pub subnets: Vec<Subnet>,
}

/// A host change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Remove an address.
    DelAddress(AddrSpec),
    /// Remove the unreachable route for a prefix.
    DelUnreachable(Prefix),
    /// Install (replace) the unreachable route for a prefix.
    AddUnreachable(Prefix),
    /// Add (replace) an address.
    AddAddress(AddrSpec),
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::DelAddress(a) => write!(f, "address del {a}"),
            Op::AddAddress(a) => write!(f, "address replace {a}"),
            Op::DelUnreachable(p) => write!(f, "route del unreachable {p}"),
            Op::AddUnreachable(p) => write!(f, "route replace unreachable {p}"),
        }
    }
}

/// Prefixes as `a/len,b/len` for logs.
pub fn show(prefixes: &[Prefix]) -> String {
    prefixes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The desired state for `lease`, and warnings for downstreams left out.
///
/// Subnets come from the lease's first prefix: downstream `subnet-id` n
/// gets its n-th /64, the router address being that /64 plus `address`.
pub fn desired(lease: Option<&Lease>, downstream: &[Downstream]) -> (Desired, Vec<String>) {
    let mut out = Desired::default();
    let mut warnings = Vec::new();
    let Some(lease) = lease else {
        return (out, warnings);
    };
    for p in &lease.prefixes {
        out.unreachable.insert(p.prefix);
    }
    let Some(first) = lease.prefixes.first() else {
        return (out, warnings);
    };
    for d in downstream {
        if first.prefix.len() > SUBNET_LEN {
            warnings.push(format!(
                "delegated prefix {} is longer than /{SUBNET_LEN}: no subnet for {}",
                first.prefix, d.interface
            ));
            continue;
        }
        match first
            .prefix
            .nth_subprefix(SUBNET_LEN, u128::from(d.subnet_id))
        {
            Some(sub) => {
                out.addresses.insert(AddrSpec {
                    iface: d.interface.clone(),
                    addr: sub.with_iid(d.iid),
                    len: SUBNET_LEN,
                });
                out.subnets.push(Subnet {
                    iface: d.interface.clone(),
                    prefix: sub,
                    parent: first.clone(),
                });
            }
            None => warnings.push(format!(
                "subnet-id {} of {} is out of range for {} ({} /{SUBNET_LEN}s)",
                d.subnet_id,
                d.interface,
                first.prefix,
                first.prefix.subprefix_count(SUBNET_LEN).unwrap_or(0)
            )),
        }
    }
    (out, warnings)
}

/// The operations turning `old` into `new`: removals first, then additions.
pub fn diff(old: &Desired, new: &Desired) -> Vec<Op> {
    let mut ops = Vec::new();
    ops.extend(
        old.addresses
            .difference(&new.addresses)
            .cloned()
            .map(Op::DelAddress),
    );
    ops.extend(
        old.unreachable
            .difference(&new.unreachable)
            .copied()
            .map(Op::DelUnreachable),
    );
    ops.extend(
        new.unreachable
            .difference(&old.unreachable)
            .copied()
            .map(Op::AddUnreachable),
    );
    ops.extend(
        new.addresses
            .difference(&old.addresses)
            .cloned()
            .map(Op::AddAddress),
    );
    ops
}

/// Every addition of `d` (idempotent: re-asserts the state after a refresh).
pub fn ensure(d: &Desired) -> Vec<Op> {
    diff(&Desired::default(), d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use pd_core::duid::Duid;
    use pd_core::ra::{ra_plan, Mode};
    use pd_core::time::Timestamp;

    pub(crate) fn ds(name: &str, subnet_id: u64, iid: u64) -> Downstream {
        Downstream {
            interface: name.into(),
            subnet_id,
            iid,
            ra_mode: Some(Mode::Slaac),
            address_mode: None,
            ra_plan: ra_plan(Some(Mode::Slaac), None).unwrap(),
            dns: vec![],
            mtu: None,
        }
    }

    pub(crate) fn lease(prefixes: &[&str]) -> Lease {
        Lease {
            iaid: 1,
            server_id: Duid::ll(1, &[2, 0, 0, 0, 0, 0xee]),
            server_addr: "fe80::1".parse().unwrap(),
            t1: 100,
            t2: 160,
            updated: Timestamp::ZERO,
            prefixes: prefixes
                .iter()
                .map(|p| LeasedPrefix {
                    prefix: p.parse().unwrap(),
                    preferred: 200,
                    valid: 300,
                    updated: Timestamp::ZERO,
                })
                .collect(),
            dns_servers: vec![],
        }
    }

    #[test]
    fn subnets_addresses_and_unreachable() {
        let l = lease(&["2001:db8:ab00::/56", "2001:db8:cd00::/56"]);
        let downs = [ds("lan0", 0, 1), ds("lan1", 3, 0xabcd), ds("lan2", 256, 1)];
        let (d, warnings) = desired(Some(&l), &downs);
        assert_eq!(
            d.unreachable
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["2001:db8:ab00::/56", "2001:db8:cd00::/56"]
        );
        let addrs: Vec<String> = d
            .addresses
            .iter()
            .map(|a| format!("{} {}/{}", a.iface, a.addr, a.len))
            .collect();
        assert_eq!(
            addrs,
            vec!["lan0 2001:db8:ab00::1/64", "lan1 2001:db8:ab00:3::abcd/64"]
        );
        assert_eq!(d.subnets[1].prefix.to_string(), "2001:db8:ab00:3::/64");
        // subnet-id 256 does not fit in a /56.
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("subnet-id 256") && warnings[0].contains("256 /64s"),
            "{}",
            warnings[0]
        );
        // A /64 delegation: only subnet 0 fits; a /80 gives none.
        let (d, w) = desired(Some(&lease(&["2001:db8::/64"])), &downs[..2]);
        assert_eq!(d.addresses.len(), 1);
        assert_eq!(w.len(), 1);
        let (d, w) = desired(Some(&lease(&["2001:db8::/80"])), &downs[..1]);
        assert!(d.addresses.is_empty() && d.unreachable.len() == 1);
        assert!(w[0].contains("longer than /64"));
        assert_eq!(desired(None, &downs).0, Desired::default());
    }

    #[test]
    fn diff_withdraws_old_and_installs_new() {
        let downs = [ds("lan0", 1, 1)];
        let (a, _) = desired(Some(&lease(&["2001:db8:1::/56"])), &downs);
        let (b, _) = desired(Some(&lease(&["2001:db8:2::/56"])), &downs);
        let ops = diff(&a, &b);
        let addr = |s: &str| AddrSpec {
            iface: "lan0".into(),
            addr: s.parse().unwrap(),
            len: 64,
        };
        assert_eq!(
            ops,
            vec![
                Op::DelAddress(addr("2001:db8:1:1::1")),
                Op::DelUnreachable("2001:db8:1::/56".parse().unwrap()),
                Op::AddUnreachable("2001:db8:2::/56".parse().unwrap()),
                Op::AddAddress(addr("2001:db8:2:1::1")),
            ]
        );
        assert!(diff(&a, &a).is_empty());
        assert_eq!(
            ops[0].to_string(),
            "address del 2001:db8:1:1::1/64 dev lan0"
        );
        assert_eq!(
            ops[2].to_string(),
            "route replace unreachable 2001:db8:2::/56"
        );
        assert_eq!(
            show(&[
                "2001:db8:2::/56".parse().unwrap(),
                "2001:db8:3::/56".parse().unwrap()
            ]),
            "2001:db8:2::/56,2001:db8:3::/56"
        );
        assert_eq!(ensure(&a).len(), 2);
        assert_eq!(diff(&a, &Desired::default()).len(), 2);
    }
}
