//! Links and addresses inside test namespaces.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use crate::Netns;

/// An IPv6 address as `ip -j addr` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// The address.
    pub addr: Ipv6Addr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Still in duplicate address detection.
    pub tentative: bool,
    /// IFA_F_NODAD set.
    pub nodad: bool,
}

/// A veth pair `if_a` (in `a`, MAC `mac_a`) ↔ `if_b` (in `b`, MAC `mac_b`),
/// DAD off on both ends, both up. `a` and `b` may be the same namespace.
pub fn veth(a: &Netns, if_a: &str, mac_a: &str, b: &Netns, if_b: &str, mac_b: &str) {
    a.ip(&[
        "link",
        "add",
        if_a,
        "address",
        mac_a,
        "type",
        "veth",
        "peer",
        "name",
        if_b,
        "address",
        mac_b,
        "netns",
        b.name(),
    ]);
    for (ns, ifname) in [(a, if_a), (b, if_b)] {
        ns.sysctl(&format!("net.ipv6.conf.{ifname}.accept_dad"), "0");
    }
    for (ns, ifname) in [(a, if_a), (b, if_b)] {
        ns.ip(&["link", "set", ifname, "up"]);
    }
}

impl Netns {
    /// The index of `ifname` in this namespace.
    pub fn ifindex(&self, ifname: &str) -> u32 {
        let out = self.ip(&["-j", "link", "show", "dev", ifname]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j link JSON");
        v.get(0)
            .and_then(|l| l.get("ifindex"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or_else(|| panic!("no ifindex for {ifname} in {out}"))
    }

    /// `ip -6 addr add CIDR dev IFNAME nodad`.
    pub fn add_addr(&self, ifname: &str, cidr: &str) {
        self.ip(&["-6", "addr", "add", cidr, "dev", ifname, "nodad"]);
    }

    /// The IPv6 addresses on `ifname`.
    pub fn addrs(&self, ifname: &str) -> Vec<AddrInfo> {
        let out = self.ip(&["-6", "-j", "addr", "show", "dev", ifname]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j addr JSON");
        let empty = Vec::new();
        let infos = v
            .get(0)
            .and_then(|l| l.get("addr_info"))
            .and_then(serde_json::Value::as_array)
            .unwrap_or(&empty);
        infos
            .iter()
            .filter_map(|a| {
                let addr = a.get("local")?.as_str()?.parse().ok()?;
                let prefix_len = u8::try_from(a.get("prefixlen")?.as_u64()?).ok()?;
                let flag = |k: &str| a.get(k).and_then(serde_json::Value::as_bool) == Some(true);
                Some(AddrInfo {
                    addr,
                    prefix_len,
                    tentative: flag("tentative"),
                    nodad: flag("nodad"),
                })
            })
            .collect()
    }

    /// Wait (up to 5 s) until `addr` is on `ifname` and not tentative.
    pub fn wait_addr(&self, ifname: &str, addr: Ipv6Addr) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let addrs = self.addrs(ifname);
            if addrs.iter().any(|a| a.addr == addr && !a.tentative) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{addr} not usable on {ifname} in {} after 5 s: {addrs:?}",
                self.name()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
