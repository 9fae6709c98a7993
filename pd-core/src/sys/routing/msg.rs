//! Pure netlink message builders and parsers for [`super::Router`]: no
//! socket here, so every message shape is unit-tested without root.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::AddressFamily;

use crate::effect::RouteKind;
use crate::prefix::Prefix;

/// A route in the IPv6 main table, as pd installs and finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// Destination prefix.
    pub dst: Prefix,
    /// Next hop, or unreachable.
    pub kind: RouteKind,
    /// Route metric (priority); 0 lets the kernel pick its default, 1024.
    pub metric: u32,
    /// Route protocol number (normally [`super::RTPROT_PD`]).
    pub protocol: u8,
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RouteKind::Via { gateway, ifindex } => {
                write!(f, "{} via {gateway} dev {ifindex}", self.dst)?;
            }
            RouteKind::Unreachable => write!(f, "unreachable {}", self.dst)?,
        }
        write!(f, " metric {} proto {}", self.metric, self.protocol)
    }
}

/// An IPv6 address configured on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IfAddress {
    /// The address.
    pub addr: Ipv6Addr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// Still doing duplicate address detection (not usable as a source yet).
    pub tentative: bool,
    /// Duplicate address detection failed.
    pub dad_failed: bool,
}

/// The IPv6 main routing table.
const RT_TABLE_MAIN: u32 = 254;

/// RTM_NEWROUTE / RTM_DELROUTE message for `spec` in the main table.
///
/// A delete carries the same attributes, so it removes exactly this route
/// (same destination, metric, protocol and, for `Via`, gateway and
/// interface): a route since replaced by another next hop is left alone.
pub(crate) fn route_message(spec: &RouteSpec) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = AddressFamily::Inet6;
    msg.header.destination_prefix_length = spec.dst.len();
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    msg.header.protocol = RouteProtocol::from(spec.protocol);
    msg.header.scope = RouteScope::Universe;
    msg.attributes
        .push(RouteAttribute::Destination(RouteAddress::Inet6(
            spec.dst.addr(),
        )));
    if spec.metric != 0 {
        msg.attributes.push(RouteAttribute::Priority(spec.metric));
    }
    match spec.kind {
        RouteKind::Via { gateway, ifindex } => {
            msg.header.kind = RouteType::Unicast;
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet6(gateway)));
            msg.attributes.push(RouteAttribute::Oif(ifindex));
        }
        RouteKind::Unreachable => msg.header.kind = RouteType::Unreachable,
    }
    msg
}

/// A `RouteSpec` from a dumped route, if it is an IPv6 main-table route
/// pd can represent (single next hop or unreachable).
pub(crate) fn route_from_message(msg: &RouteMessage) -> Option<RouteSpec> {
    if msg.header.address_family != AddressFamily::Inet6 {
        return None;
    }
    let mut table = u32::from(msg.header.table);
    let mut dst = Ipv6Addr::UNSPECIFIED;
    let mut gateway = None;
    let mut oif = None;
    let mut metric = 0;
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => dst = *a,
            RouteAttribute::Gateway(RouteAddress::Inet6(a)) => gateway = Some(*a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Priority(p) => metric = *p,
            _ => {}
        }
    }
    if table != RT_TABLE_MAIN {
        return None;
    }
    let dst = Prefix::new(dst, msg.header.destination_prefix_length).ok()?;
    let kind = match msg.header.kind {
        RouteType::Unreachable => RouteKind::Unreachable,
        RouteType::Unicast => RouteKind::Via {
            gateway: gateway?,
            ifindex: oif?,
        },
        _ => return None,
    };
    Some(RouteSpec {
        dst,
        kind,
        metric,
        protocol: u8::from(msg.header.protocol),
    })
}

/// A route dump request for IPv6.
pub(crate) fn route_dump_message() -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = AddressFamily::Inet6;
    msg
}

/// RTM_NEWADDR / RTM_DELADDR for `addr/prefix_len` on `ifindex`.
pub(crate) fn address_message(
    ifindex: u32,
    addr: Ipv6Addr,
    prefix_len: u8,
    nodad: bool,
) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet6;
    msg.header.prefix_len = prefix_len;
    msg.header.index = ifindex;
    msg.header.scope = if addr.is_unicast_link_local() {
        AddressScope::Link
    } else {
        AddressScope::Universe
    };
    msg.attributes
        .push(AddressAttribute::Address(IpAddr::V6(addr)));
    msg.attributes
        .push(AddressAttribute::Local(IpAddr::V6(addr)));
    if nodad {
        msg.header.flags = AddressHeaderFlags::Nodad;
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    msg
}

/// An address dump request for IPv6.
pub(crate) fn address_dump_message() -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet6;
    msg
}

/// An `IfAddress` from a dumped address on `ifindex`.
pub(crate) fn address_from_message(msg: &AddressMessage, ifindex: u32) -> Option<IfAddress> {
    if msg.header.family != AddressFamily::Inet6 || msg.header.index != ifindex {
        return None;
    }
    let mut addr = None;
    let mut local = None;
    let mut flags = AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits()));
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Address(IpAddr::V6(a)) => addr = Some(*a),
            AddressAttribute::Local(IpAddr::V6(a)) => local = Some(*a),
            AddressAttribute::Flags(f) => flags = *f,
            _ => {}
        }
    }
    Some(IfAddress {
        // IFA_LOCAL is the local address on point-to-point links.
        addr: local.or(addr)?,
        prefix_len: msg.header.prefix_len,
        tentative: flags.contains(AddressFlags::Tentative),
        dad_failed: flags.contains(AddressFlags::Dadfailed),
    })
}

/// RTM_NEWNEIGH / RTM_DELNEIGH for a permanent entry `addr` → `lladdr`.
pub(crate) fn neighbour_message(
    ifindex: u32,
    addr: Ipv6Addr,
    lladdr: Option<[u8; 6]>,
) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Inet6;
    msg.header.ifindex = ifindex;
    msg.header.state = NeighbourState::Permanent;
    msg.header.kind = RouteType::Unspec;
    msg.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet6(
            addr,
        )));
    if let Some(mac) = lladdr {
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    }
    msg
}

/// RTM_NEWNEIGH / RTM_DELNEIGH for a proxy entry (`ip -6 neigh add proxy`).
pub(crate) fn proxy_message(ifindex: u32, addr: Ipv6Addr) -> NeighbourMessage {
    let mut msg = neighbour_message(ifindex, addr, None);
    msg.header.flags = NeighbourFlags::Proxy;
    msg
}

/// A proxy-entry dump request (the kernel dumps the proxy table when the
/// request's flags are exactly NTF_PROXY).
pub(crate) fn proxy_dump_message() -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Inet6;
    msg.header.flags = NeighbourFlags::Proxy;
    msg
}

/// The address of a dumped proxy entry on `ifindex`.
pub(crate) fn proxy_from_message(msg: &NeighbourMessage, ifindex: u32) -> Option<Ipv6Addr> {
    if msg.header.family != AddressFamily::Inet6
        || msg.header.ifindex != ifindex
        || !msg.header.flags.contains(NeighbourFlags::Proxy)
    {
        return None;
    }
    msg.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => Some(*a),
        _ => None,
    })
}

/// RTM_GETLINK for one link by name.
pub(crate) fn link_by_name(name: &str) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    msg
}

/// RTM_GETLINK for one link by index.
pub(crate) fn link_by_index(index: u32) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg
}

/// The name of a link message.
pub(crate) fn link_name_of(msg: &LinkMessage) -> Option<String> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

/// The 48-bit hardware address of a link message, if it has one.
pub(crate) fn link_mac_of(msg: &LinkMessage) -> Option<[u8; 6]> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(bytes) => <[u8; 6]>::try_from(bytes.as_slice()).ok(),
        _ => None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn spec(kind: RouteKind) -> RouteSpec {
        RouteSpec {
            dst: "2001:db8:2222:1::/64".parse().unwrap(),
            kind,
            metric: 1024,
            protocol: 0x5d,
        }
    }

    fn via() -> RouteKind {
        RouteKind::Via {
            gateway: "fe80::ff:fe00:2".parse().unwrap(),
            ifindex: 7,
        }
    }

    #[test]
    fn route_message_round_trips() {
        for kind in [via(), RouteKind::Unreachable] {
            let s = spec(kind);
            let msg = route_message(&s);
            assert_eq!(msg.header.protocol, RouteProtocol::Other(0x5d));
            assert_eq!(route_from_message(&msg), Some(s));
        }
    }

    #[test]
    fn route_message_shapes() {
        let msg = route_message(&spec(via()));
        assert_eq!(msg.header.kind, RouteType::Unicast);
        assert_eq!(msg.header.destination_prefix_length, 64);
        assert!(msg.attributes.contains(&RouteAttribute::Oif(7)));
        let msg = route_message(&spec(RouteKind::Unreachable));
        assert_eq!(msg.header.kind, RouteType::Unreachable);
        assert!(!msg
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Gateway(_) | RouteAttribute::Oif(_))));
    }

    #[test]
    fn other_tables_and_kinds_are_skipped() {
        let mut msg = route_message(&spec(via()));
        msg.attributes.push(RouteAttribute::Table(100));
        assert_eq!(route_from_message(&msg), None);
        let mut msg = route_message(&spec(via()));
        msg.header.kind = RouteType::BlackHole;
        assert_eq!(route_from_message(&msg), None);
        // A unicast route without a gateway (on-link) is not one of ours.
        let mut msg = route_message(&spec(via()));
        msg.attributes
            .retain(|a| !matches!(a, RouteAttribute::Gateway(_)));
        assert_eq!(route_from_message(&msg), None);
        // Host bits set in a dumped destination: refused, not panicking.
        let mut msg = route_message(&spec(RouteKind::Unreachable));
        msg.header.destination_prefix_length = 8;
        assert_eq!(route_from_message(&msg), None);
    }

    #[test]
    fn route_display_names_the_route() {
        assert_eq!(
            spec(via()).to_string(),
            "2001:db8:2222:1::/64 via fe80::ff:fe00:2 dev 7 metric 1024 proto 93"
        );
        assert_eq!(
            spec(RouteKind::Unreachable).to_string(),
            "unreachable 2001:db8:2222:1::/64 metric 1024 proto 93"
        );
    }

    #[test]
    fn address_message_sets_nodad_and_parses_back() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let msg = address_message(3, a, 64, true);
        assert!(msg
            .attributes
            .contains(&AddressAttribute::Flags(AddressFlags::Nodad)));
        assert_eq!(
            address_from_message(&msg, 3),
            Some(IfAddress {
                addr: a,
                prefix_len: 64,
                tentative: false,
                dad_failed: false
            })
        );
        assert_eq!(address_from_message(&msg, 4), None);
        let msg = address_message(3, a, 64, false);
        assert!(!msg
            .attributes
            .iter()
            .any(|x| matches!(x, AddressAttribute::Flags(_))));
        let ll = address_message(3, "fe80::1".parse().unwrap(), 64, false);
        assert_eq!(ll.header.scope, AddressScope::Link);
    }

    #[test]
    fn tentative_flag_is_read() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut msg = address_message(3, a, 64, false);
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Tentative));
        assert!(address_from_message(&msg, 3).unwrap().tentative);
    }

    #[test]
    fn neighbour_and_proxy_messages() {
        let a: Ipv6Addr = "2001:db8::5".parse().unwrap();
        let n = neighbour_message(2, a, Some([2, 0, 0, 0, 0, 9]));
        assert_eq!(n.header.state, NeighbourState::Permanent);
        assert!(n
            .attributes
            .contains(&NeighbourAttribute::LinkLayerAddress(vec![
                2, 0, 0, 0, 0, 9
            ])));
        assert_eq!(proxy_from_message(&n, 2), None);
        let p = proxy_message(2, a);
        assert_eq!(proxy_from_message(&p, 2), Some(a));
        assert_eq!(proxy_from_message(&p, 3), None);
    }

    #[test]
    fn link_mac_needs_six_bytes() {
        let mut msg = link_by_index(1);
        msg.attributes.push(LinkAttribute::Address(vec![1, 2, 3]));
        assert_eq!(link_mac_of(&msg), None);
        let mut msg = link_by_name("eth0");
        msg.attributes
            .push(LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]));
        assert_eq!(link_mac_of(&msg), Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(link_name_of(&msg).as_deref(), Some("eth0"));
    }
}
