//! pd-server against ISC dhclient over veth pairs between namespaces:
//! grant, return route, release, re-grant, two clients, restart, SIGTERM,
//! expiry.

use std::net::Ipv6Addr;
use std::time::Duration;

use nix::sys::signal::Signal;
use pd_tests::daemon::{pd_routes, wait_until};
use pd_tests::{ClientLink, Dhclient, Netns, PdServer, ServerConfig};

/// A server namespace, one client namespace linked by s0 ↔ c0.
fn lab() -> (Netns, ClientLink) {
    let srv = Netns::new("srv");
    let link = ClientLink::new(&srv, 0);
    (srv, link)
}

/// Panics unless `p` is a /64 inside 2001:db8:2222::/48.
fn assert_in_pool(p: &str) {
    let (addr, len) = p.split_once('/').expect("prefix has a length");
    let addr: Ipv6Addr = addr.parse().expect("prefix address");
    assert_eq!(len, "64", "{p} is not a /64");
    assert_eq!(
        addr.segments().get(..3),
        Some(&[0x2001, 0xdb8, 0x2222][..]),
        "{p} is outside 2001:db8:2222::/48"
    );
}

/// The route line for `prefix` among pd-server's routes, if any.
fn route_of(srv: &Netns, prefix: &str) -> Option<String> {
    pd_routes(srv)
        .lines()
        .find(|l| l.starts_with(&format!("{prefix} ")))
        .map(str::to_string)
}

/// Wait until the return route `prefix via ll dev iface` (proto 93) is there.
fn wait_route(srv: &Netns, server: &PdServer, prefix: &str, link: &ClientLink) {
    let want = format!("{prefix} via {} dev {} ", link.client_ll, link.server_if);
    wait_until_logged(server, 5, &format!("route `{want}`"), || {
        route_of(srv, prefix).is_some_and(|l| l.starts_with(&want))
    });
}

/// Wait until pd-server has no route for `prefix`.
fn wait_no_route(srv: &Netns, server: &PdServer, prefix: &str) {
    wait_until_logged(server, 5, &format!("route of {prefix} gone"), || {
        route_of(srv, prefix).is_none()
    });
}

fn wait_state(server: &PdServer, prefix: &str, state: &str, secs: u64) {
    wait_until_logged(server, secs, &format!("lease {prefix} {state}"), || {
        server.lease_state(prefix) == state
    });
}

fn wait_until_logged(server: &PdServer, secs: u64, what: &str, cond: impl FnMut() -> bool) {
    pd_tests::daemon::wait_until_log(secs, what, || server.log(), cond);
}

fn u64_of(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

#[test]
fn grant_route_release_and_same_prefix_again() {
    let (srv, link) = lab();
    let server = PdServer::start(&srv, &ServerConfig::new("s0"));
    let dh = Dhclient::new(&link.ns, &link.client_if);

    // (a) a /64 out of the pool, its return route, an active lease.
    let got = dh.request();
    assert_in_pool(&got.prefix);
    assert_eq!(got.max_life, Some(7200), "valid lifetime handed out");
    assert_eq!(
        got.preferred_life,
        Some(3600),
        "preferred lifetime handed out"
    );
    wait_route(&srv, &server, &got.prefix, &link);
    let lease = server.lease(&got.prefix).expect("lease record");
    assert_eq!(lease["state"], "active", "{lease}");
    assert_eq!(lease["iface"], "s0", "{lease}");
    assert_eq!(lease["next_hop"], link.client_ll.to_string(), "{lease}");
    let duid = dh.duid().expect("dhclient wrote its default-duid");
    assert_eq!(lease["duid"], duid, "the client's DUID: {lease}");
    assert_eq!(
        lease["iaid"].as_u64(),
        dh.iaid().map(u64::from),
        "the client's IAID: {lease}"
    );
    let left = u64_of(&lease, "valid_remaining");
    assert!((7000..=7200).contains(&left), "valid_remaining {left}");
    assert_eq!(server.active_leases().len(), 1);

    // (b) release: lease released, route withdrawn.
    dh.release();
    wait_state(&server, &got.prefix, "released", 5);
    wait_no_route(&srv, &server, &got.prefix);
    assert!(dh.running_pid().is_none(), "dhclient -r stops the client");
    assert!(server.active_leases().is_empty());

    // (c) the same client (same lease file, same DUID) gets the same prefix.
    let again = dh.request();
    assert_eq!(again.prefix, got.prefix, "same client, same prefix");
    assert_eq!(dh.duid().as_deref(), Some(duid.as_str()), "DUID kept");
    wait_state(&server, &got.prefix, "active", 5);
    wait_route(&srv, &server, &got.prefix, &link);
}

#[test]
fn two_clients_get_different_prefixes() {
    let srv = Netns::new("srv");
    let l0 = ClientLink::new(&srv, 0);
    let l1 = ClientLink::new(&srv, 1);
    let mut cfg = ServerConfig::new("s0");
    cfg.interfaces.push("s1".into());
    let server = PdServer::start(&srv, &cfg);
    let d0 = Dhclient::new(&l0.ns, &l0.client_if);
    let d1 = Dhclient::new(&l1.ns, &l1.client_if);
    let p0 = d0.request().prefix;
    let p1 = d1.request().prefix;
    assert_in_pool(&p0);
    assert_in_pool(&p1);
    assert_ne!(p0, p1, "two clients, two prefixes");
    let (u0, u1) = (d0.duid().expect("duid 0"), d1.duid().expect("duid 1"));
    assert_ne!(u0, u1, "the clients' DUIDs differ");
    wait_route(&srv, &server, &p0, &l0);
    wait_route(&srv, &server, &p1, &l1);
    let active = server.active_leases();
    assert_eq!(active.len(), 2, "{active:?}");
    for (p, duid, link) in [(&p0, &u0, &l0), (&p1, &u1, &l1)] {
        let l = server.lease(p).expect("lease");
        assert_eq!(l["duid"], duid.as_str(), "{l}");
        assert_eq!(l["iface"], link.server_if.as_str(), "{l}");
        assert_eq!(l["next_hop"], link.client_ll.to_string(), "{l}");
    }
}

#[test]
fn restart_after_sigkill_restores_routes_and_leases() {
    let (srv, link) = lab();
    let cfg = ServerConfig::new("s0").lifetimes(6, 12, 2, 4);
    let mut server = PdServer::start(&srv, &cfg);
    let dh = Dhclient::new(&link.ns, &link.client_if);
    let prefix = dh.start().prefix;
    wait_route(&srv, &server, &prefix, &link);
    let duid = dh.duid().expect("duid");

    let st = server.stop(Signal::SIGKILL, 5);
    assert!(!st.success(), "SIGKILL: {st}");
    // Routes do not depend on the process; take ours away (as a reboot
    // would) and plant a stale one that matches no lease.
    let ll = link.client_ll.to_string();
    srv.ip(&[
        "-6", "route", "del", &prefix, "via", &ll, "dev", "s0", "proto", "93",
    ]);
    let stale = "2001:db8:2222:ffff::/64";
    srv.ip(&[
        "-6", "route", "add", stale, "via", &ll, "dev", "s0", "proto", "93",
    ]);
    assert!(route_of(&srv, &prefix).is_none());

    server.run();
    // Reconciled before "listening": no waiting.
    let want = format!("{prefix} via {ll} dev s0 ");
    let routes = pd_routes(&srv);
    assert!(
        routes.lines().any(|l| l.starts_with(&want)),
        "route restored at start: {routes}\n{}",
        server.log()
    );
    assert!(
        route_of(&srv, stale).is_none(),
        "stale route removed at start: {routes}"
    );
    let lease = server.lease(&prefix).expect("lease restored");
    assert_eq!(lease["state"], "active", "{lease}");
    assert_eq!(lease["duid"], duid.as_str(), "{lease}");
    let until = u64_of(&lease, "valid_until");

    // The client renews (T1 = 2 s) with the restarted server and keeps its prefix.
    let started = dh.current().and_then(|p| p.starts).expect("lease start");
    wait_until_logged(&server, 15, "valid_until moves forward", || {
        server
            .lease(&prefix)
            .is_some_and(|l| l["state"] == "active" && u64_of(&l, "valid_until") > until)
    });
    wait_until(10, "dhclient records a renewal", || {
        dh.current()
            .and_then(|p| p.starts)
            .is_some_and(|s| s > started)
    });
    assert_eq!(dh.prefix().as_deref(), Some(prefix.as_str()), "prefix kept");
    assert!(dh.running_pid().is_some(), "dhclient still running");
    assert_eq!(server.active_leases().len(), 1);
    wait_route(&srv, &server, &prefix, &link);
}

#[test]
fn sigterm_exits_cleanly_and_keeps_routes() {
    let (srv, link) = lab();
    let mut server = PdServer::start(&srv, &ServerConfig::new("s0"));
    let dh = Dhclient::new(&link.ns, &link.client_if);
    let prefix = dh.request().prefix;
    wait_route(&srv, &server, &prefix, &link);

    let st = server.stop(Signal::SIGTERM, 10);
    assert!(st.success(), "SIGTERM exit status {st}\n{}", server.log());
    assert!(
        server.log().contains("stopping"),
        "logs the stop: {}",
        server.log()
    );
    assert!(
        !server.state_dir().join("control.sock").exists(),
        "control socket removed"
    );
    // Documented: routes follow leases, which survive a restart.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        route_of(&srv, &prefix).is_some(),
        "route kept after SIGTERM: {}",
        pd_routes(&srv)
    );
    // Offline (straight from the database): the lease is still active.
    assert_eq!(server.lease_state(&prefix), "active");
}

#[test]
fn unrenewed_lease_expires_and_loses_its_route() {
    let (srv, link) = lab();
    let cfg = ServerConfig::new("s0").lifetimes(3, 4, 3, 4);
    let server = PdServer::start(&srv, &cfg);
    let dh = Dhclient::new(&link.ns, &link.client_if);
    let prefix = dh.request().prefix;
    dh.kill(); // no Release
    assert!(dh.running_pid().is_none());
    wait_route(&srv, &server, &prefix, &link);
    let lease = server.lease(&prefix).expect("lease");
    let until = u64_of(&lease, "valid_until");

    wait_state(&server, &prefix, "expired", 12);
    let now = pd_tests::daemon::unix_now();
    assert!(now + 1 >= until, "expired at {now}, valid until {until}");
    wait_no_route(&srv, &server, &prefix);
    let l = server.lease(&prefix).expect("expired record kept");
    assert_eq!(l["valid_remaining"], 0, "{l}");
    assert!(server.active_leases().is_empty());
}
