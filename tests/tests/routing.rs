//! `sys::routing` against a real kernel, inside namespaces made here.

use std::net::Ipv6Addr;

use pd_core::effect::RouteKind;
use pd_core::sys::routing::{set_forwarding, set_proxy_ndp, RouteSpec, Router, RTPROT_PD};
use pd_tests::{veth, Netns};

const MAC0: &str = "02:00:00:00:00:01";
const MAC1: &str = "02:00:00:00:00:02";

/// A namespace with the veth pair r0 ↔ r1 inside it.
fn setup(tag: &str) -> (Netns, u32) {
    let ns = Netns::new(tag);
    veth(&ns, "r0", MAC0, &ns, "r1", MAC1);
    let idx = ns.ifindex("r0");
    (ns, idx)
}

fn a(s: &str) -> Ipv6Addr {
    s.parse().expect("test address")
}

fn proto() -> String {
    RTPROT_PD.to_string()
}

#[test]
fn route_replace_update_and_delete() {
    let (ns, idx) = setup("rt");
    let n = ns.clone();
    ns.run(move || async move {
        let r = Router::new().expect("router");
        let spec = RouteSpec {
            dst: "2001:db8:2222:1::/64".parse().expect("prefix"),
            kind: RouteKind::Via {
                gateway: a("fe80::ff:fe00:2"),
                ifindex: idx,
            },
            metric: 1024,
            protocol: RTPROT_PD,
        };
        r.route_replace(&spec).await.expect("first replace");
        r.route_replace(&spec).await.expect("second replace");
        let shown = n.ip(&["-6", "route", "show", "proto", &proto()]);
        assert_eq!(
            shown.trim(),
            "2001:db8:2222:1::/64 via fe80::ff:fe00:2 dev r0 metric 1024 pref medium",
            "{shown}"
        );
        // A route of another protocol is not ours.
        n.ip(&[
            "-6",
            "route",
            "add",
            "2001:db8:9::/64",
            "via",
            "fe80::ff:fe00:2",
            "dev",
            "r0",
            "proto",
            "static",
        ]);
        assert_eq!(
            r.routes_by_protocol(RTPROT_PD).await.expect("dump"),
            vec![spec]
        );

        // Replace with another gateway updates the one route.
        let spec2 = RouteSpec {
            kind: RouteKind::Via {
                gateway: a("fe80::ff:fe00:3"),
                ifindex: idx,
            },
            ..spec
        };
        r.route_replace(&spec2).await.expect("replace gateway");
        let shown = n.ip(&["-6", "route", "show", "proto", &proto()]);
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(shown.contains("via fe80::ff:fe00:3 dev r0"), "{shown}");
        assert_eq!(
            r.routes_by_protocol(RTPROT_PD).await.expect("dump"),
            vec![spec2]
        );

        // Deleting the old next hop leaves the replacement alone.
        r.route_delete(&spec).await.expect("delete stale spec");
        assert_eq!(
            r.routes_by_protocol(RTPROT_PD).await.expect("dump"),
            vec![spec2]
        );
        r.route_delete(&spec2).await.expect("delete");
        assert_eq!(n.ip(&["-6", "route", "show", "proto", &proto()]).trim(), "");
        assert!(r
            .routes_by_protocol(RTPROT_PD)
            .await
            .expect("dump")
            .is_empty());
        r.route_delete(&spec2).await.expect("delete again is fine");
        // The static route was never touched.
        assert!(n
            .ip(&["-6", "route", "show", "proto", "static"])
            .contains("2001:db8:9::/64"));
    });
}

#[test]
fn unreachable_route_for_a_delegation() {
    let (ns, _) = setup("unr");
    let n = ns.clone();
    ns.run(move || async move {
        let r = Router::new().expect("router");
        let spec = RouteSpec {
            dst: "2001:db8:2222::/56".parse().expect("prefix"),
            kind: RouteKind::Unreachable,
            metric: 2048,
            protocol: RTPROT_PD,
        };
        r.route_replace(&spec).await.expect("replace");
        r.route_replace(&spec).await.expect("replace again");
        let shown = n.ip(&["-6", "route", "show", "proto", &proto()]);
        assert!(
            shown.starts_with("unreachable 2001:db8:2222::/56 dev lo metric 2048"),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert_eq!(
            r.routes_by_protocol(RTPROT_PD).await.expect("dump"),
            vec![spec]
        );
        r.route_delete(&spec).await.expect("delete");
        r.route_delete(&spec).await.expect("delete again");
        assert_eq!(n.ip(&["-6", "route", "show", "proto", &proto()]).trim(), "");
    });
}

#[test]
fn route_errors_name_the_route() {
    let (ns, _) = setup("rterr");
    ns.run(|| async {
        let r = Router::new().expect("router");
        let spec = RouteSpec {
            dst: "2001:db8:2222:1::/64".parse().expect("prefix"),
            kind: RouteKind::Via {
                gateway: a("fe80::1"),
                ifindex: 9999,
            },
            metric: 1024,
            protocol: RTPROT_PD,
        };
        let e = r.route_replace(&spec).await.expect_err("no such device");
        assert_eq!(e.errno(), Some(19), "{e}");
        assert!(
            e.to_string()
                .starts_with("route replace 2001:db8:2222:1::/64 via fe80::1 dev 9999 metric 1024 proto 93: No such device"),
            "{e}"
        );
    });
}

#[test]
fn addresses_add_and_delete_idempotently() {
    let (ns, idx) = setup("addr");
    let idx1 = ns.ifindex("r1");
    // DAD on for r1, to see what nodad changes.
    ns.sysctl("net.ipv6.conf.r1.accept_dad", "1");
    let n = ns.clone();
    ns.run(move || async move {
        let r = Router::new().expect("router");
        let addr = a("2001:db8:1::1");
        r.address_add(idx, addr, 64, true).await.expect("add");
        r.address_add(idx, addr, 64, true).await.expect("add again");
        let shown = n.addrs("r0");
        let mine: Vec<_> = shown.iter().filter(|x| x.addr == addr).collect();
        assert_eq!(mine.len(), 1, "{shown:?}");
        assert!(
            mine.iter()
                .all(|x| x.prefix_len == 64 && x.nodad && !x.tentative),
            "{shown:?}"
        );
        let listed = r.addresses(idx).await.expect("addresses");
        assert!(
            listed
                .iter()
                .any(|x| x.addr == addr && x.prefix_len == 64 && !x.tentative),
            "{listed:?}"
        );
        assert!(
            listed.iter().any(|x| x.addr == a("fe80::ff:fe00:1")),
            "{listed:?}"
        );

        // With DAD on the link, nodad decides whether it starts tentative.
        let (with_dad, without) = (a("2001:db8:2::1"), a("2001:db8:2::2"));
        r.address_add(idx1, with_dad, 64, false)
            .await
            .expect("add with dad");
        r.address_add(idx1, without, 64, true)
            .await
            .expect("add nodad");
        let on_r1 = r.addresses(idx1).await.expect("addresses r1");
        assert!(
            on_r1.iter().any(|x| x.addr == with_dad && x.tentative),
            "{on_r1:?}"
        );
        assert!(
            on_r1.iter().any(|x| x.addr == without && !x.tentative),
            "{on_r1:?}"
        );

        r.address_delete(idx, addr, 64).await.expect("delete");
        r.address_delete(idx, addr, 64).await.expect("delete again");
        assert!(!n.addrs("r0").iter().any(|x| x.addr == addr));
        assert!(!r
            .addresses(idx)
            .await
            .expect("addresses")
            .iter()
            .any(|x| x.addr == addr));
    });
}

#[test]
fn permanent_neighbours() {
    let (ns, idx) = setup("neigh");
    let n = ns.clone();
    ns.run(move || async move {
        let r = Router::new().expect("router");
        let addr = a("2001:db8::99");
        r.neighbour_replace(idx, addr, [2, 0, 0, 0, 0, 0x99])
            .await
            .expect("replace");
        r.neighbour_replace(idx, addr, [2, 0, 0, 0, 0, 0x99])
            .await
            .expect("replace again");
        let shown = n.ip(&["-6", "neigh", "show", "dev", "r0"]);
        assert!(
            shown.contains("2001:db8::99 lladdr 02:00:00:00:00:99 PERMANENT"),
            "{shown}"
        );
        r.neighbour_replace(idx, addr, [2, 0, 0, 0, 0, 0x98])
            .await
            .expect("new mac");
        let shown = n.ip(&["-6", "neigh", "show", "dev", "r0"]);
        assert!(
            shown.contains("2001:db8::99 lladdr 02:00:00:00:00:98 PERMANENT"),
            "{shown}"
        );
        assert!(!shown.contains(":99 PERMANENT"), "{shown}");
        r.neighbour_delete(idx, addr).await.expect("delete");
        r.neighbour_delete(idx, addr).await.expect("delete again");
        let shown = n.ip(&["-6", "neigh", "show", "dev", "r0"]);
        assert!(!shown.contains("2001:db8::99"), "{shown}");
    });
}

#[test]
fn proxy_entries_and_sysctls() {
    let (ns, idx) = setup("proxy");
    assert_eq!(ns.sysctl_get("net.ipv6.conf.r0.proxy_ndp"), "0");
    let n = ns.clone();
    ns.run(move || async move {
        let r = Router::new().expect("router");
        set_proxy_ndp("r0", true).expect("proxy_ndp on");
        assert_eq!(n.sysctl_get("net.ipv6.conf.r0.proxy_ndp"), "1");
        set_forwarding("r0", true).expect("forwarding on");
        assert_eq!(n.sysctl_get("net.ipv6.conf.r0.forwarding"), "1");
        assert!(set_proxy_ndp("../r0", true).is_err());
        assert!(
            set_proxy_ndp("nosuch0", true)
                .expect_err("no such link")
                .errno()
                == Some(2)
        );

        let addr = a("2001:db8::77");
        r.proxy_add(idx, addr).await.expect("proxy add");
        r.proxy_add(idx, addr).await.expect("proxy add again");
        let shown = n.ip(&["-6", "neigh", "show", "proxy"]);
        assert!(shown.contains("2001:db8::77 dev r0 proxy"), "{shown}");
        assert_eq!(r.proxies(idx).await.expect("proxies"), vec![addr]);
        r.proxy_delete(idx, addr).await.expect("proxy delete");
        r.proxy_delete(idx, addr).await.expect("proxy delete again");
        assert!(!n
            .ip(&["-6", "neigh", "show", "proxy"])
            .contains("2001:db8::77"));
        assert!(r.proxies(idx).await.expect("proxies").is_empty());

        set_proxy_ndp("r0", false).expect("proxy_ndp off");
        assert_eq!(n.sysctl_get("net.ipv6.conf.r0.proxy_ndp"), "0");
    });
}

#[test]
fn link_lookups() {
    let (ns, idx) = setup("link");
    let idx1 = ns.ifindex("r1");
    ns.run(move || async move {
        let r = Router::new().expect("router");
        assert_eq!(r.link_index("r0").await.expect("index"), Some(idx));
        assert_eq!(r.link_index("r1").await.expect("index"), Some(idx1));
        assert_eq!(r.link_index("nosuch0").await.expect("index"), None);
        assert_eq!(r.link_name(idx).await.expect("name").as_deref(), Some("r0"));
        assert_eq!(
            r.link_mac(idx).await.expect("mac"),
            Some([2, 0, 0, 0, 0, 1])
        );
        assert_eq!(
            r.link_mac(idx1).await.expect("mac"),
            Some([2, 0, 0, 0, 0, 2])
        );
        assert_eq!(r.link_mac(99_999).await.expect("mac"), None);
        assert_eq!(r.link_name(99_999).await.expect("name"), None);
        assert!(r.link_index("bad/name").await.is_err());
    });
}
