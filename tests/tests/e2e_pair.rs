//! pd-server ↔ pd-client, both daemons, in namespaces: renewal at T1,
//! rebinding across an outage, a server killed and restarted on its state
//! directory, and two routers behind one server keeping their prefixes.
//!
//! The one-router cases use scripts/topology.sh (the demo's topology);
//! the two-router case builds its own with the veth fixture.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use pd_tests::daemon::{pd_routes, wait_until_log, ClientConfig, PdClient};
use pd_tests::{link_local_of, ClientLink, Netns, PdServer, ServerConfig};

/// The demo topology (scripts/topology.sh) under a unique name:
/// upstream up0 ↔ router wan0, router lan0 ↔ host eth0. Torn down on drop.
struct Topo {
    name: String,
    up: Netns,
    rt: Netns,
    _host: Netns,
}

fn topology_sh() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/topology.sh")
}

impl Topo {
    fn new(tag: &str) -> Topo {
        pd_tests::require_root();
        let name = format!("pdt-{tag}-{}", std::process::id());
        let out = Command::new(topology_sh())
            .args(["up", &name])
            .output()
            .expect("run scripts/topology.sh");
        assert!(
            out.status.success(),
            "topology.sh up {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let t = Topo {
            up: Netns::adopt(&format!("{name}-upstream")),
            rt: Netns::adopt(&format!("{name}-router")),
            _host: Netns::adopt(&format!("{name}-host")),
            name,
        };
        t.up.wait_addr("up0", link_local_of("02:00:00:00:01:01"));
        t.rt.wait_addr("wan0", link_local_of("02:00:00:00:01:02"));
        t
    }

    /// pd-server on up0 with these lifetimes, running.
    fn server(&self, preferred: u32, valid: u32, t1: u32, t2: u32) -> PdServer {
        PdServer::start(
            &self.up,
            &ServerConfig::new("up0").lifetimes(preferred, valid, t1, t2),
        )
    }

    /// pd-client on wan0 with lan0 downstream (slaac), not started.
    fn client(&self) -> PdClient {
        PdClient::new(
            &self.rt,
            &ClientConfig::new("wan0").downstream("lan0", "slaac"),
        )
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        let _ = Command::new(topology_sh())
            .args(["down", &self.name])
            .status();
    }
}

/// The one active lease's prefix, once there is exactly one.
fn wait_one_active(srv: &PdServer, secs: u64) -> String {
    wait_until_log(
        secs,
        "one active lease on the server",
        || srv.log(),
        || srv.active_leases().len() == 1,
    );
    srv.active_leases()[0]["prefix"]
        .as_str()
        .expect("prefix")
        .to_string()
}

fn valid_until(srv: &PdServer, prefix: &str) -> u64 {
    srv.lease(prefix)
        .and_then(|l| l["valid_until"].as_u64())
        .unwrap_or_else(|| panic!("no valid_until for {prefix}: {}", srv.leases_json()))
}

/// Wait until the server's lease of `prefix` ends more than `step` seconds
/// after `after`.
///
/// pd-server converts deadlines with a wall clock truncated to the second
/// (store.rs `Clock`): one listing may differ from the next by a second,
/// and a restart may move a deadline by up to 2 s, with nothing happening
/// (see [`SLACK`]). The step must be larger than that.
fn wait_extended(
    srv: &PdServer,
    c: &PdClient,
    prefix: &str,
    after: u64,
    step: u64,
    secs: u64,
) -> u64 {
    wait_until_log(
        secs,
        &format!("lease {prefix} extended past {after} + {step}"),
        || format!("{}\n--- client ---\n{}", srv.log(), c.log()),
        || srv.lease_state(prefix) == "active" && valid_until(srv, prefix) > after + step,
    );
    valid_until(srv, prefix)
}

/// Unix seconds now.
fn unix_now() -> u64 {
    pd_tests::daemon::unix_now()
}

/// The return route line of `prefix`, if pd-server installed one.
fn route_of(ns: &Netns, prefix: &str) -> Option<String> {
    pd_routes(ns)
        .lines()
        .find(|l| l.starts_with(&format!("{prefix} ")))
        .map(str::to_string)
}

const ROUTER_LL: &str = "fe80::ff:fe00:102";

/// How far two listings of an unchanged lease's `valid_until` may differ
/// (and how much a restart may take off it): see [`wait_extended`].
const SLACK: u64 = 3;

#[test]
fn renews_at_t1_and_keeps_the_prefix_past_its_first_lifetime() {
    let t = Topo::new("renew");
    let srv = t.server(6, 12, 2, 4);
    let mut c = t.client();
    c.run();
    let p = wait_one_active(&srv, 15);
    let first = valid_until(&srv, &p);
    // Renewals every T1 (2 s) until well past the first valid lifetime.
    let mut n = 1;
    while unix_now() <= first + 2 {
        c.wait_log(4, "extended", n);
        n += 1;
        assert_eq!(c.saved_prefixes(), vec![p.clone()], "client prefix changed");
        assert_eq!(srv.lease_state(&p), "active");
    }
    let last = valid_until(&srv, &p);
    assert!(last >= first + 12 - SLACK, "server lease {first} → {last}");
    assert_eq!(srv.active_leases().len(), 1, "{}", srv.leases_json());
    let log = c.log();
    assert_eq!(log.matches(" bound ").count(), 1, "bound once:\n{log}");
    assert!(log.matches("kind=Renew").count() >= 6, "{log}");
    assert!(log.matches("extended").count() >= 6, "{log}");
    assert!(!log.contains("prefixes lost"), "{log}");
    assert!(!log.contains("kind=Rebind"), "no rebind needed:\n{log}");
    let route = route_of(&t.up, &p).expect("return route");
    assert!(
        route.contains(&format!("via {ROUTER_LL} dev up0")),
        "{route}"
    );
    let st = c.stop(Signal::SIGTERM, 15);
    assert_eq!(st.code(), Some(0), "{st}");
    wait_until_log(
        5,
        "released",
        || srv.log(),
        || srv.lease_state(&p) == "released",
    );
}

#[test]
fn rebinds_after_an_outage_past_t2_and_keeps_the_prefix() {
    let t = Topo::new("rebind");
    // Valid 40 s: the first Rebind (at T2) is lost in the outage, the
    // next one (about 10 s later, RFC 9915 REB_TIMEOUT) gets through.
    let srv = t.server(20, 40, 2, 4);
    let mut c = t.client();
    c.run();
    let p = wait_one_active(&srv, 15);
    c.wait_log(10, "extended", 1);

    // Outage: the server's link goes down for 7 s (> T2 - T1 after any
    // renewal), then comes back.
    let mark = c.log().len();
    t.up.ip(&["link", "set", "up0", "down"]);
    let before = valid_until(&srv, &p);
    std::thread::sleep(Duration::from_secs(7));
    let during = c.log().get(mark..).unwrap_or_default().to_string();
    t.up.ip(&["link", "set", "up0", "up"]);
    t.up.wait_addr("up0", link_local_of("02:00:00:00:01:01"));
    assert!(
        during.contains("kind=Renew"),
        "Renew during the outage:\n{during}"
    );
    assert!(during.contains("kind=Rebind"), "Rebind after T2:\n{during}");
    assert!(
        valid_until(&srv, &p).abs_diff(before) <= SLACK,
        "nothing reached the server"
    );

    // A later Rebind gets its Reply: the client logs the extension after
    // its Rebind, the server's lease ends later, the prefix stays, and the
    // return route (gone with the link) is back.
    c.wait_log_with(20, "extended after a Rebind", |log| {
        let since = log.get(mark..).unwrap_or_default();
        since
            .find("kind=Rebind")
            .and_then(|i| since.get(i..))
            .is_some_and(|t| t.contains("extended"))
    });
    let after = valid_until(&srv, &p);
    assert!(after > before + SLACK, "server lease {before} → {after}");
    assert!(!c.log().contains("prefixes lost"), "{}", c.log());
    assert_eq!(c.saved_prefixes(), vec![p.clone()]);
    assert_eq!(srv.active_leases().len(), 1);
    wait_until_log(
        5,
        "return route back",
        || srv.log(),
        || route_of(&t.up, &p).is_some_and(|r| r.contains(&format!("via {ROUTER_LL} dev up0"))),
    );
    assert!(
        t.rt.ip(&["-6", "addr", "show", "dev", "lan0"])
            .contains(&format!("{}1/64", p.trim_end_matches("/64"))),
        "router address kept"
    );
}

#[test]
fn server_killed_and_restarted_restores_route_and_lease() {
    let t = Topo::new("restart");
    let mut srv = t.server(30, 60, 8, 12);
    let mut c = t.client();
    c.run();
    let p = wait_one_active(&srv, 15);
    wait_until_log(
        5,
        "return route",
        || srv.log(),
        || route_of(&t.up, &p).is_some(),
    );
    let before = valid_until(&srv, &p);

    // SIGKILL: no shutdown at all. Then the route goes too (as after a
    // reboot), so only the restarted server can put it back.
    let st = srv.stop(Signal::SIGKILL, 5);
    assert_eq!(st.code(), None, "killed by a signal: {st}");
    t.up.ip(&["-6", "route", "del", &p, "proto", "93"]);
    assert_eq!(route_of(&t.up, &p), None);

    srv.run();
    // Back from the database before any client message was answered.
    wait_until_log(
        3,
        "return route after restart",
        || srv.log(),
        || route_of(&t.up, &p).is_some(),
    );
    let stats = srv.stats();
    assert_eq!(stats["replies"].as_u64(), Some(0), "no reply yet: {stats}");
    let route = route_of(&t.up, &p).expect("route");
    assert!(
        route.contains(&format!("via {ROUTER_LL} dev up0")),
        "{route}"
    );
    assert_eq!(srv.lease_state(&p), "active");
    assert!(
        valid_until(&srv, &p).abs_diff(before) <= SLACK,
        "lease restored as it was: {before} → {}",
        valid_until(&srv, &p)
    );

    // The client renews at T1 (8 s) with the restarted server (same DUID,
    // same lease): extended, same prefix.
    wait_extended(&srv, &c, &p, before, SLACK, 15);
    assert!(srv.stats()["replies"].as_u64() >= Some(1));
    assert_eq!(c.saved_prefixes(), vec![p.clone()]);
    let log = c.log();
    assert_eq!(log.matches(" bound ").count(), 1, "bound once:\n{log}");
    assert!(log.contains("extended"), "{log}");
    assert!(!log.contains("prefixes lost"), "{log}");
}

/// The prefix a running client saved once a Reply was accepted after
/// byte `mark` of its log.
fn bound_prefix(c: &mut PdClient, mark: usize) -> String {
    c.wait_log_since(15, mark, "reply accepted");
    wait_until_log(
        3,
        "one saved prefix",
        || c.log(),
        || c.saved_prefixes().len() == 1,
    );
    c.saved_prefixes().remove(0)
}

fn llt(iface: &str) -> ClientConfig {
    let mut c = ClientConfig::new(iface);
    c.client_extra = "duid-type = \"llt\"\n".into();
    c
}

fn duid_of(srv: &PdServer, prefix: &str) -> String {
    srv.lease(prefix)
        .and_then(|l| l["duid"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no lease for {prefix}: {}", srv.leases_json()))
}

#[test]
fn two_routers_get_distinct_prefixes_and_keep_them_across_restarts_and_release() {
    let up = Netns::new("up");
    let a = ClientLink::new(&up, 0);
    let b = ClientLink::new(&up, 1);
    let mut cfg = ServerConfig::new(&a.server_if);
    cfg.interfaces.push(b.server_if.clone());
    let srv = PdServer::start(&up, &cfg);
    let mut ca = PdClient::new(&a.ns, &llt(&a.client_if));
    let mut cb = PdClient::new(&b.ns, &llt(&b.client_if));

    ca.run();
    let pa = bound_prefix(&mut ca, 0);
    cb.run();
    let pb = bound_prefix(&mut cb, 0);
    assert_ne!(pa, pb, "distinct prefixes");
    let (da, db) = (duid_of(&srv, &pa), duid_of(&srv, &pb));
    assert_ne!(da, db);
    assert!(da.starts_with("00:01:00:01:"), "DUID-LLT: {da}");
    assert_eq!(srv.active_leases().len(), 2, "{}", srv.leases_json());
    for (p, link) in [(&pa, &a), (&pb, &b)] {
        let want = format!("via {} dev {}", link.client_ll, link.server_if);
        wait_until_log(
            5,
            &format!("route {p} {want}"),
            || srv.log(),
            || route_of(&up, p).is_some_and(|r| r.contains(&want)),
        );
    }

    // A vanishes without a Release and comes back with its state dir
    // (its DUID): the same prefix, still one lease per router.
    assert_eq!(ca.stop(Signal::SIGKILL, 5).code(), None);
    assert_eq!(srv.lease_state(&pa), "active");
    let mark = ca.log().len();
    ca.run();
    assert_eq!(bound_prefix(&mut ca, mark), pa, "same prefix after a crash");
    assert_eq!(duid_of(&srv, &pa), da, "same DUID from the state dir");
    assert_eq!(srv.active_leases().len(), 2, "{}", srv.leases_json());

    // Both release on SIGTERM …
    for c in [&mut ca, &mut cb] {
        let st = c.stop(Signal::SIGTERM, 15);
        assert_eq!(st.code(), Some(0), "{st}\n{}", c.log());
    }
    for p in [&pa, &pb] {
        wait_until_log(
            5,
            &format!("{p} released"),
            || srv.log(),
            || srv.lease_state(p) == "released" && route_of(&up, p).is_none(),
        );
    }
    // … and come back, the one with the higher prefix first (a first-fit
    // pool would hand it the lower, free one): each gets its old prefix.
    let parse = |p: &str| p.parse::<pd_core::prefix::Prefix>().expect("prefix");
    let mut order = [(&mut ca, &pa, "A"), (&mut cb, &pb, "B")];
    if parse(&pa) < parse(&pb) {
        order.reverse();
    }
    for (c, p, who) in order {
        let mark = c.log().len();
        c.run();
        assert_eq!(
            &bound_prefix(c, mark),
            p,
            "{who}'s prefix after its release"
        );
    }
    assert_eq!((duid_of(&srv, &pa), duid_of(&srv, &pb)), (da, db));
    assert_eq!(srv.active_leases().len(), 2, "{}", srv.leases_json());
}
