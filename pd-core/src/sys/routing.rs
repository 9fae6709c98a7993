//! Host routing over rtnetlink: routes, addresses, neighbours, proxy NDP.
//!
//! Every operation is idempotent: adds are replaces, and deleting what is
//! not there is a success. A [`Router`] talks to the network namespace of
//! the thread that created it.

use std::io;
use std::net::Ipv6Addr;

use futures::StreamExt;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use rtnetlink::Handle;

mod msg;
mod sysctl;

pub use msg::{IfAddress, RouteSpec};
pub use sysctl::{set_forwarding, set_proxy_ndp};

/// The route protocol number pd marks its routes with (`ip -6 route show
/// proto 93`).
///
/// 93 (0x5d) is in neither the kernel's `RTPROT_*` list
/// (include/uapi/linux/rtnetlink.h: 0–4, 8–18, 42 babel, 99 openr, 186–192
/// bgp/isis/ospf/rip/eigrp) nor iproute2's /etc/iproute2/rt_protos, nor the
/// numbers FRR's zebra uses (186–198). RTPROT_DHCP (16) is deliberately not
/// used: other DHCP clients (systemd-networkd, NetworkManager) own it, and
/// pd reconciles (deletes) every route of its protocol at start-up.
pub const RTPROT_PD: u8 = 0x5d;

/// The errno values that mean "not there" on a delete: ESRCH (route),
/// ENOENT (neighbour, proxy), EADDRNOTAVAIL (IPv6 address).
const MISSING: [i32; 3] = [3, 2, 99];
/// ENODEV: no such link.
const ENODEV: i32 = 19;

/// A failed routing operation, naming the operation and the object.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// The netlink socket could not be opened.
    #[error("netlink socket: {0}")]
    Socket(#[source] io::Error),
    /// The kernel refused the operation.
    #[error("{op} {object}: {source}")]
    Kernel {
        /// e.g. "route replace".
        op: &'static str,
        /// e.g. "2001:db8::/64 via fe80::1 dev 3 metric 1024 proto 93".
        object: String,
        /// The kernel's errno.
        #[source]
        source: io::Error,
    },
    /// The netlink conversation itself failed (connection gone, odd reply).
    #[error("{op} {object}: netlink: {detail}")]
    Netlink {
        /// The operation.
        op: &'static str,
        /// The object.
        object: String,
        /// What went wrong.
        detail: String,
    },
    /// A sysctl under /proc/sys could not be written.
    #[error("write {path}: {source}")]
    Sysctl {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Not a possible Linux interface name.
    #[error("invalid interface name {0:?}")]
    InterfaceName(String),
}

impl RoutingError {
    /// The kernel's errno, when the kernel refused the operation.
    pub fn errno(&self) -> Option<i32> {
        match self {
            RoutingError::Kernel { source, .. } | RoutingError::Sysctl { source, .. } => {
                source.raw_os_error()
            }
            RoutingError::Socket(e) => e.raw_os_error(),
            _ => None,
        }
    }
}

/// A failure before the operation's context is attached.
enum NlFail {
    Errno(io::Error),
    Other(String),
}

impl NlFail {
    fn errno(&self) -> Option<i32> {
        match self {
            NlFail::Errno(e) => e.raw_os_error(),
            NlFail::Other(_) => None,
        }
    }

    fn is_missing(&self) -> bool {
        self.errno().is_some_and(|e| MISSING.contains(&e))
    }

    fn context(self, op: &'static str, object: impl ToString) -> RoutingError {
        match self {
            NlFail::Errno(source) => RoutingError::Kernel {
                op,
                object: object.to_string(),
                source,
            },
            NlFail::Other(detail) => RoutingError::Netlink {
                op,
                object: object.to_string(),
                detail,
            },
        }
    }
}

/// `Ok` for success or a missing object, the error otherwise.
fn missing_ok(
    r: Result<(), NlFail>,
    op: &'static str,
    object: impl ToString,
) -> Result<(), RoutingError> {
    match r {
        Err(e) if e.is_missing() => Ok(()),
        r => r.map_err(|e| e.context(op, object)),
    }
}

/// Routes, addresses, neighbours and links of one network namespace.
#[derive(Debug)]
pub struct Router {
    handle: Handle,
    conn: tokio::task::JoinHandle<()>,
}

impl Drop for Router {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl Router {
    /// Open a netlink socket in the calling thread's network namespace and
    /// spawn its connection task (must be called within a tokio runtime).
    pub fn new() -> Result<Self, RoutingError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(RoutingError::Socket)?;
        let conn = tokio::spawn(conn);
        Ok(Router { handle, conn })
    }

    /// Send a request and wait for its acknowledgement.
    async fn ack(&self, msg: RouteNetlinkMessage, flags: u16) -> Result<(), NlFail> {
        self.exchange(msg, NLM_F_REQUEST | NLM_F_ACK | flags)
            .await
            .map(drop)
    }

    /// Send a request and collect the messages of its answer.
    async fn exchange(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NlFail> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = flags;
        let mut handle = self.handle.clone();
        let mut answer = handle
            .request(req)
            .map_err(|e| NlFail::Other(e.to_string()))?;
        let mut out = Vec::new();
        while let Some(m) = answer.next().await {
            match m.payload {
                NetlinkPayload::InnerMessage(inner) => out.push(inner),
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    return Err(NlFail::Errno(e.to_io()))
                }
                NetlinkPayload::Overrun(_) => {
                    return Err(NlFail::Other("netlink buffer overrun".to_string()))
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Add or replace a route (`ip -6 route replace`).
    pub async fn route_replace(&self, spec: &RouteSpec) -> Result<(), RoutingError> {
        let m = RouteNetlinkMessage::NewRoute(msg::route_message(spec));
        self.ack(m, NLM_F_CREATE | NLM_F_REPLACE)
            .await
            .map_err(|e| e.context("route replace", spec))
    }

    /// Delete exactly this route; a missing route is fine.
    pub async fn route_delete(&self, spec: &RouteSpec) -> Result<(), RoutingError> {
        let m = RouteNetlinkMessage::DelRoute(msg::route_message(spec));
        missing_ok(self.ack(m, 0).await, "route delete", spec)
    }

    /// The IPv6 main-table routes of protocol `proto` that pd can represent.
    pub async fn routes_by_protocol(&self, proto: u8) -> Result<Vec<RouteSpec>, RoutingError> {
        let m = RouteNetlinkMessage::GetRoute(msg::route_dump_message());
        let answer = self
            .exchange(m, NLM_F_REQUEST | NLM_F_DUMP)
            .await
            .map_err(|e| e.context("route dump", format!("proto {proto}")))?;
        Ok(answer
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => msg::route_from_message(r),
                _ => None,
            })
            .filter(|r| r.protocol == proto)
            .collect())
    }

    /// Add an address, or update it if present (`ip -6 addr replace`);
    /// `nodad` sets IFA_F_NODAD (usable at once, no duplicate detection).
    pub async fn address_add(
        &self,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
        nodad: bool,
    ) -> Result<(), RoutingError> {
        let m =
            RouteNetlinkMessage::NewAddress(msg::address_message(ifindex, addr, prefix_len, nodad));
        self.ack(m, NLM_F_CREATE | NLM_F_REPLACE)
            .await
            .map_err(|e| e.context("address add", format!("{addr}/{prefix_len} dev {ifindex}")))
    }

    /// Remove an address; a missing address is fine.
    pub async fn address_delete(
        &self,
        ifindex: u32,
        addr: Ipv6Addr,
        prefix_len: u8,
    ) -> Result<(), RoutingError> {
        let m =
            RouteNetlinkMessage::DelAddress(msg::address_message(ifindex, addr, prefix_len, false));
        missing_ok(
            self.ack(m, 0).await,
            "address delete",
            format!("{addr}/{prefix_len} dev {ifindex}"),
        )
    }

    /// The IPv6 addresses of interface `ifindex`.
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<IfAddress>, RoutingError> {
        let m = RouteNetlinkMessage::GetAddress(msg::address_dump_message());
        let answer = self
            .exchange(m, NLM_F_REQUEST | NLM_F_DUMP)
            .await
            .map_err(|e| e.context("address dump", format!("dev {ifindex}")))?;
        Ok(answer
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => msg::address_from_message(a, ifindex),
                _ => None,
            })
            .collect())
    }

    /// Add or replace a permanent neighbour entry
    /// (`ip -6 neigh replace ADDR lladdr MAC dev IF nud permanent`).
    pub async fn neighbour_replace(
        &self,
        ifindex: u32,
        addr: Ipv6Addr,
        lladdr: [u8; 6],
    ) -> Result<(), RoutingError> {
        let m =
            RouteNetlinkMessage::NewNeighbour(msg::neighbour_message(ifindex, addr, Some(lladdr)));
        self.ack(m, NLM_F_CREATE | NLM_F_REPLACE)
            .await
            .map_err(|e| {
                e.context(
                    "neighbour replace",
                    format!("{addr} lladdr {} dev {ifindex}", fmt_mac(lladdr)),
                )
            })
    }

    /// Remove a neighbour entry; a missing entry is fine.
    pub async fn neighbour_delete(&self, ifindex: u32, addr: Ipv6Addr) -> Result<(), RoutingError> {
        let m = RouteNetlinkMessage::DelNeighbour(msg::neighbour_message(ifindex, addr, None));
        missing_ok(
            self.ack(m, 0).await,
            "neighbour delete",
            format!("{addr} dev {ifindex}"),
        )
    }

    /// Answer neighbour solicitations for `addr` on `ifindex`
    /// (`ip -6 neigh add proxy ADDR dev IF`; needs proxy_ndp on the link).
    pub async fn proxy_add(&self, ifindex: u32, addr: Ipv6Addr) -> Result<(), RoutingError> {
        let m = RouteNetlinkMessage::NewNeighbour(msg::proxy_message(ifindex, addr));
        self.ack(m, NLM_F_CREATE | NLM_F_REPLACE)
            .await
            .map_err(|e| e.context("proxy add", format!("{addr} dev {ifindex}")))
    }

    /// Remove a proxy entry; a missing entry is fine.
    pub async fn proxy_delete(&self, ifindex: u32, addr: Ipv6Addr) -> Result<(), RoutingError> {
        let m = RouteNetlinkMessage::DelNeighbour(msg::proxy_message(ifindex, addr));
        missing_ok(
            self.ack(m, 0).await,
            "proxy delete",
            format!("{addr} dev {ifindex}"),
        )
    }

    /// The proxy entries on `ifindex`.
    pub async fn proxies(&self, ifindex: u32) -> Result<Vec<Ipv6Addr>, RoutingError> {
        let m = RouteNetlinkMessage::GetNeighbour(msg::proxy_dump_message());
        let answer = self
            .exchange(m, NLM_F_REQUEST | NLM_F_DUMP)
            .await
            .map_err(|e| e.context("proxy dump", format!("dev {ifindex}")))?;
        Ok(answer
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => msg::proxy_from_message(n, ifindex),
                _ => None,
            })
            .collect())
    }

    /// Look up one link; `None` when there is no such link.
    async fn link(
        &self,
        req: netlink_packet_route::link::LinkMessage,
        object: impl ToString,
    ) -> Result<Option<netlink_packet_route::link::LinkMessage>, RoutingError> {
        match self
            .exchange(RouteNetlinkMessage::GetLink(req), NLM_F_REQUEST)
            .await
        {
            Ok(answer) => Ok(answer.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })),
            Err(e) if e.errno() == Some(ENODEV) => Ok(None),
            Err(e) => Err(e.context("link get", object)),
        }
    }

    /// The index of the link called `name`, if there is one.
    pub async fn link_index(&self, name: &str) -> Result<Option<u32>, RoutingError> {
        sysctl::check_ifname(name)?;
        Ok(self
            .link(msg::link_by_name(name), name)
            .await?
            .map(|l| l.header.index))
    }

    /// The name of link `index`, if there is one.
    pub async fn link_name(&self, index: u32) -> Result<Option<String>, RoutingError> {
        Ok(self
            .link(msg::link_by_index(index), format!("dev {index}"))
            .await?
            .and_then(|l| msg::link_name_of(&l)))
    }

    /// The 48-bit hardware address of link `index`, if it exists and has one.
    pub async fn link_mac(&self, index: u32) -> Result<Option<[u8; 6]>, RoutingError> {
        Ok(self
            .link(msg::link_by_index(index), format!("dev {index}"))
            .await?
            .and_then(|l| msg::link_mac_of(&l)))
    }
}

/// `02:00:00:00:00:01`.
pub fn fmt_mac(mac: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_operation_and_object() {
        let e = NlFail::Errno(io::Error::from_raw_os_error(17)).context(
            "route replace",
            "2001:db8::/64 via fe80::1 dev 3 metric 1024 proto 93",
        );
        let text = e.to_string();
        assert!(
            text.starts_with(
                "route replace 2001:db8::/64 via fe80::1 dev 3 metric 1024 proto 93: File exists"
            ),
            "{text}"
        );
        assert_eq!(e.errno(), Some(17));
    }

    #[test]
    fn missing_objects_are_ok_on_delete_only() {
        for errno in MISSING {
            let r = missing_ok(
                Err(NlFail::Errno(io::Error::from_raw_os_error(errno))),
                "x",
                "y",
            );
            assert!(r.is_ok(), "errno {errno}");
        }
        let r = missing_ok(
            Err(NlFail::Errno(io::Error::from_raw_os_error(1))),
            "route delete",
            "z",
        );
        assert_eq!(r.unwrap_err().errno(), Some(1));
        let r = missing_ok(Err(NlFail::Other("gone".into())), "route delete", "z");
        assert_eq!(r.unwrap_err().to_string(), "route delete z: netlink: gone");
    }

    #[test]
    fn mac_formatting() {
        assert_eq!(fmt_mac([2, 0, 0, 0xab, 0, 1]), "02:00:00:ab:00:01");
    }

    #[test]
    fn rtprot_pd_is_not_a_known_protocol() {
        // Kernel RTPROT_* values and iproute2's rt_protos entries.
        let known = [
            0u8, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 42, 99, 186, 187, 188, 189,
            192,
        ];
        assert!(!known.contains(&RTPROT_PD));
    }
}
