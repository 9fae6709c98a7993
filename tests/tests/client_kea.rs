//! pd-client against ISC Kea (`kea-dhcp6`, memfile CSV) over veth pairs:
//! the one-shot commands and their JSON, the daemon putting the prefix on
//! downstream links with Router Advertisements, renewal, release on
//! SIGTERM, and the exit codes of `request`.

use std::net::Ipv6Addr;
use std::time::Duration;

use nix::sys::signal::Signal;
use pd_core::prefix::Prefix;
use pd_tests::daemon::{wait_until, wait_until_log, ClientConfig, Kea, KeaConfig, PdClient};
use pd_tests::{link_local_of, veth, ClientLink, Netns};

/// FNV-1a-32 of the interface name: pd-client's documented default IAID.
fn fnv1a(name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// DUID-LL (type 3, hardware type 1) of a MAC, colon-hex.
fn duid_ll(mac: &str) -> String {
    format!("00:03:00:01:{mac}")
}

fn prefix(p: &str) -> Prefix {
    p.parse()
        .unwrap_or_else(|e| panic!("{p:?} is not a prefix: {e}"))
}

/// Is `inner` inside `outer`?
fn within(inner: &Prefix, outer: &str) -> bool {
    prefix(outer).contains(inner)
}

/// The `n`th /64 of a delegated prefix, and the router address `::1` in it.
fn subnet(p: &Prefix, n: u128) -> (String, Ipv6Addr) {
    let base = u128::from(p.addr()) + (n << 64);
    (
        format!("{}/64", Ipv6Addr::from(base)),
        Ipv6Addr::from(base + 1),
    )
}

/// Kea in its namespace on `s0`, one pd-client namespace on `c0`.
fn lab(cfg: impl FnOnce(&mut KeaConfig)) -> (Netns, ClientLink, Kea) {
    let kns = Netns::new("kea");
    let link = ClientLink::new(&kns, 0);
    let mut k = KeaConfig::new(&link.server_if);
    cfg(&mut k);
    let kea = Kea::start(&kns, &k);
    (kns, link, kea)
}

#[test]
fn request_json_status_and_release_against_kea() {
    let (_kns, link, kea) = lab(|_| {});
    let c = PdClient::new(&link.ns, &ClientConfig::new(&link.client_if));

    let r = c.request(&["--json", "--timeout", "10"]);
    r.assert_code(0);
    let lines: Vec<&str> = r.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one JSON line: {:?}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(lines.first().copied().unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout));
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "iaid",
            "interface",
            "prefixes",
            "server_address",
            "server_duid",
            "t1",
            "t2"
        ]
    );
    let iaid = fnv1a(&link.client_if);
    assert_eq!(v["interface"], link.client_if.as_str());
    assert_eq!(v["iaid"].as_u64(), Some(u64::from(iaid)));
    assert_eq!(v["server_duid"], duid_ll("02:00:00:00:00:01").as_str());
    assert_eq!(
        v["server_address"],
        link_local_of("02:00:00:00:00:01").to_string().as_str()
    );
    // Counted from the Reply: exactly what Kea granted.
    assert_eq!(
        (v["t1"].as_u64(), v["t2"].as_u64()),
        (Some(4), Some(8)),
        "{v}"
    );
    let ps = v["prefixes"].as_array().expect("prefixes array");
    assert_eq!(ps.len(), 1, "{v}");
    let p0 = &ps[0];
    let mut pkeys: Vec<&str> = p0
        .as_object()
        .expect("prefix object")
        .keys()
        .map(String::as_str)
        .collect();
    pkeys.sort_unstable();
    assert_eq!(pkeys, ["preferred", "prefix", "valid"]);
    assert_eq!(
        (p0["preferred"].as_u64(), p0["valid"].as_u64()),
        (Some(12), Some(20))
    );
    let got = p0["prefix"].as_str().expect("prefix string").to_string();
    let gp = prefix(&got);
    assert_eq!(gp.len(), 56, "{got}");
    assert!(within(&gp, "2001:db8::/48"), "{got} outside Kea's pool");

    // Kea committed it: a type-2 line for this prefix, our DUID and IAID.
    let kl = kea.lines_of(&got);
    assert_eq!(kl.len(), 1, "Kea CSV:\n{}", kea.csv_text());
    let l = &kl[0];
    assert_eq!(
        (l.lease_type, l.valid_lifetime, l.pref_lifetime, l.iaid),
        (2, 20, 12, iaid),
        "{l:?}"
    );
    assert_eq!(l.duid, duid_ll("02:00:00:00:00:02"));

    // status --json: the same lease, counting down.
    let st = c.status_json();
    let recs = st.as_array().expect("array");
    assert_eq!(recs.len(), 1, "{st}");
    let s0 = &recs[0];
    assert_eq!(s0["interface"], link.client_if.as_str());
    assert_eq!(s0["iaid"], v["iaid"]);
    assert_eq!(s0["server_duid"], v["server_duid"]);
    assert_eq!(s0["prefixes"][0]["prefix"], got.as_str());
    let valid = s0["prefixes"][0]["valid"].as_u64().expect("valid");
    assert!((15..=20).contains(&valid), "valid left {valid}: {st}");
    assert_eq!(s0["expires"].as_u64(), Some(valid));

    // release: Kea appends a line with lifetimes 0 for the prefix.
    let rel = c.release();
    rel.assert_code(0);
    assert_eq!(rel.stdout.trim(), format!("released {got}"));
    wait_until_log(
        5,
        "Kea's release line",
        || format!("{}\n{}", kea.csv_text(), kea.log()),
        || kea.lines_of(&got).len() == 2,
    );
    let last = kea.lines_of(&got).pop().expect("a line");
    assert_eq!(
        (
            last.valid_lifetime,
            last.pref_lifetime,
            last.iaid,
            last.lease_type
        ),
        (0, 0, iaid, 2),
        "release line {last:?}"
    );
    assert!(
        kea.log().contains("DHCP6_RELEASE_PD"),
        "Kea did not log the release:\n{}",
        kea.log()
    );
    assert_eq!(c.status_json(), serde_json::json!([]), "lease forgotten");
}

/// The fields of `rdisc6 -1 IFACE` (the first RA answering its RS).
#[derive(Debug, Default)]
struct Ra {
    managed: Option<bool>,
    other: Option<bool>,
    /// (prefix, on-link, autonomous).
    prefixes: Vec<(String, bool, bool)>,
    from: String,
}

fn rdisc6(ns: &Netns, iface: &str) -> Ra {
    let out = ns.exec("rdisc6", &["-1", "-n", "-r", "5", iface]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "rdisc6 {iface} got no RA ({}): {text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ra = Ra::default();
    for line in text.lines() {
        if let Some(f) = line.trim().strip_prefix("from ") {
            ra.from = f.trim().to_string();
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let yes = v.starts_with("Yes");
        match k {
            "Stateful address conf." => ra.managed = Some(yes),
            "Stateful other conf." => ra.other = Some(yes),
            "Prefix" => ra.prefixes.push((v.to_string(), false, false)),
            "On-link" => {
                if let Some(p) = ra.prefixes.last_mut() {
                    p.1 = yes;
                }
            }
            "Autonomous address conf." => {
                if let Some(p) = ra.prefixes.last_mut() {
                    p.2 = yes;
                }
            }
            _ => {}
        }
    }
    assert!(ra.managed.is_some(), "unparsed rdisc6 output:\n{text}");
    ra
}

/// Global addresses on `iface` inside `net` (a /64 text).
fn global_in(ns: &Netns, iface: &str, net: &str) -> Vec<Ipv6Addr> {
    let net = prefix(net);
    ns.addrs(iface)
        .into_iter()
        .filter(|a| !a.tentative && net.contains_addr(a.addr))
        .map(|a| a.addr)
        .collect()
}

#[test]
fn daemon_against_kea_downstreams_ras_renew_and_release() {
    let (_kns, link, kea) = lab(|_| {});
    let rt = &link.ns;
    let host = Netns::new("host");
    veth(
        rt,
        "lan0",
        "02:00:00:00:02:01",
        &host,
        "eth0",
        "02:00:00:00:02:02",
    );
    veth(
        rt,
        "lan1",
        "02:00:00:00:03:01",
        &host,
        "eth1",
        "02:00:00:00:03:02",
    );
    // The host keeps its RA defaults: accept RAs, autoconfigure.
    assert_eq!(host.sysctl_get("net.ipv6.conf.eth0.accept_ra"), "1");
    assert_eq!(host.sysctl_get("net.ipv6.conf.eth0.autoconf"), "1");
    rt.wait_addr("lan0", link_local_of("02:00:00:00:02:01"));
    rt.wait_addr("lan1", link_local_of("02:00:00:00:03:01"));

    let cfg = ClientConfig::new(&link.client_if)
        .downstream("lan0", "slaac")
        .downstream("lan1", "dhcpv6-stateful");
    let mut c = PdClient::new(rt, &cfg);
    c.run();
    c.wait_log(15, "bound", 1);
    let saved = c.saved_prefixes();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let got = saved[0].clone();
    let p = prefix(&got);
    assert!(p.len() == 56 && within(&p, "2001:db8::/48"), "{got}");
    assert_eq!(kea.lines_of(&got).len(), 1, "{}", kea.csv_text());

    // The router's side: ::1 of the first /64 on lan0 (subnet-id 0), of
    // the second on lan1, and the unreachable route for the /56.
    let (net0, addr0) = subnet(&p, 0);
    let (net1, addr1) = subnet(&p, 1);
    let has = |iface: &str, a: Ipv6Addr| {
        rt.addrs(iface)
            .iter()
            .any(|x| x.addr == a && x.prefix_len == 64)
    };
    c.proc()
        .wait_until(5, "router addresses on lan0 and lan1", || {
            has("lan0", addr0) && has("lan1", addr1)
        });
    let unreachable = || rt.ip(&["-6", "route", "show", "type", "unreachable", "proto", "93"]);
    c.proc().wait_until(5, "unreachable route proto 93", || {
        unreachable().contains(&format!("unreachable {got} "))
    });

    // RAs: slaac on lan0 (A=1, M=0, O=0), stateful on lan1 (M=1, A=0).
    let ra0 = rdisc6(&host, "eth0");
    assert_eq!(
        (ra0.managed, ra0.other),
        (Some(false), Some(false)),
        "{ra0:?}"
    );
    assert_eq!(ra0.prefixes, vec![(net0.clone(), true, true)], "{ra0:?}");
    assert_eq!(ra0.from, link_local_of("02:00:00:00:02:01").to_string());
    let ra1 = rdisc6(&host, "eth1");
    assert_eq!(
        (ra1.managed, ra1.other),
        (Some(true), Some(true)),
        "{ra1:?}"
    );
    assert_eq!(ra1.prefixes.len(), 1, "{ra1:?}");
    assert_eq!(ra1.prefixes[0].0, net1);
    assert!(!ra1.prefixes[0].2, "A=0 with dhcpv6-stateful: {ra1:?}");

    // The host autoconfigures on eth0 only.
    wait_until_log(
        10,
        &format!("a SLAAC address in {net0} on the host"),
        || c.log(),
        || !global_in(&host, "eth0", &net0).is_empty(),
    );
    let slaac = global_in(&host, "eth0", &net0);
    assert!(
        slaac
            .iter()
            .any(|a| u128::from(*a) & 0xffff_ffff_ffff_ffff == 0x0000_00ff_fe00_0202),
        "EUI-64 address from 02:00:00:00:02:02 expected: {slaac:?}"
    );
    assert!(
        global_in(&host, "eth1", &net1).is_empty(),
        "A=0: no SLAAC on eth1: {:?}",
        host.addrs("eth1")
    );

    // Renewal at T1 (4 s): Kea appends a line for the same prefix with a
    // later expiry; the client logs the extension and keeps the prefix.
    let first_expire = kea.lines_of(&got)[0].expire;
    c.wait_log(15, "extended", 1);
    wait_until_log(
        5,
        "Kea's extension line",
        || kea.csv_text(),
        || kea.lines_of(&got).len() >= 2,
    );
    let ext = kea.lines_of(&got)[1].clone();
    assert!(
        ext.valid_lifetime == 20 && ext.expire > first_expire,
        "extension {ext:?} after expire {first_expire}"
    );
    assert!(
        c.log().contains("kind=Renew"),
        "no Renew sent:\n{}",
        c.log()
    );
    assert_eq!(c.saved_prefixes(), vec![got.clone()]);
    assert!(has("lan0", addr0), "address kept across the renewal");

    // SIGTERM: Release (Kea's line with lifetime 0), everything withdrawn.
    let n_before = kea.lines_of(&got).len();
    let st = c.stop(Signal::SIGTERM, 15);
    assert_eq!(st.code(), Some(0), "exit status {st}\n{}", c.log());
    assert!(c.log().contains("release done"), "{}", c.log());
    let lines = kea.lines_of(&got);
    assert!(
        lines.len() > n_before,
        "no release line:\n{}",
        kea.csv_text()
    );
    let last = lines.last().expect("a line");
    assert_eq!(
        (last.valid_lifetime, last.pref_lifetime),
        (0, 0),
        "{last:?}"
    );
    assert!(!has("lan0", addr0) && !has("lan1", addr1), "addresses left");
    assert!(
        !unreachable().contains(&got),
        "unreachable route left: {}",
        unreachable()
    );
}

#[test]
fn request_exit_2_when_the_pool_is_taken_and_3_without_server() {
    // One /56 in the pool; a bridge in Kea's namespace joins two routers.
    let kns = Netns::new("kea");
    let a = ClientLink::new(&kns, 0);
    let b = ClientLink::new(&kns, 1);
    kns.ip(&[
        "link",
        "add",
        "br0",
        "address",
        "02:00:00:00:ff:01",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ]);
    kns.sysctl("net.ipv6.conf.br0.accept_dad", "0");
    for port in [&a.server_if, &b.server_if] {
        kns.ip(&["link", "set", port, "master", "br0"]);
    }
    kns.ip(&["link", "set", "br0", "up"]);
    kns.wait_addr("br0", link_local_of("02:00:00:00:ff:01"));
    let kea = Kea::start(
        &kns,
        &KeaConfig {
            pool_prefix: "2001:db8:1::".into(),
            pool_len: 56,
            delegated_len: 56,
            ..KeaConfig::new("br0")
        },
    );

    let first = PdClient::new(&a.ns, &ClientConfig::new(&a.client_if));
    let r = first.request(&["--json"]);
    r.assert_code(0);
    assert!(
        r.stdout.contains("\"prefix\":\"2001:db8:1::/56\""),
        "{}",
        r.stdout
    );

    let second = PdClient::new(&b.ns, &ClientConfig::new(&b.client_if));
    let r = second.request(&["--timeout", "10"]);
    r.assert_code(2);
    assert!(
        r.stdout.trim().is_empty(),
        "nothing on stdout: {}",
        r.stdout
    );
    assert!(r.stderr.contains("NoPrefixAvail"), "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
    assert_eq!(second.status_json(), serde_json::json!([]));
    assert_eq!(
        kea.leases().iter().filter(|l| l.lease_type == 2).count(),
        1,
        "one lease only:\n{}",
        kea.csv_text()
    );

    // No server at all: exit 3 once --timeout has passed, not much later.
    let lonely = Netns::new("lonely");
    let l = ClientLink::new(&lonely, 2);
    let c = PdClient::new(&l.ns, &ClientConfig::new(&l.client_if));
    let r = c.request(&["--timeout", "3"]);
    r.assert_code(3);
    assert!(
        r.elapsed >= Duration::from_secs(3) && r.elapsed < Duration::from_secs(6),
        "exit after {:?}",
        r.elapsed
    );
    assert!(
        r.stderr.contains("no server answered within 3 s"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.matches("kind=Solicit").count() >= 2,
        "Solicit retransmitted:\n{}",
        r.stderr
    );
    wait_until(1, "nothing saved", || {
        c.status_json() == serde_json::json!([])
    });
}

#[test]
fn daemon_restarted_after_sigkill_rebinds_and_keeps_the_prefix() {
    let (_kns, link, kea) = lab(|_| {});
    let rt = &link.ns;
    let host = Netns::new("host");
    veth(
        rt,
        "lan0",
        "02:00:00:00:02:01",
        &host,
        "eth0",
        "02:00:00:00:02:02",
    );
    let mut c = PdClient::new(
        rt,
        &ClientConfig::new(&link.client_if).downstream("lan0", "slaac"),
    );
    c.run();
    c.wait_log(15, "reply accepted", 1);
    let got = c.saved_prefixes().remove(0);
    let (_, addr0) = subnet(&prefix(&got), 0);
    rt.wait_addr("lan0", addr0);

    // Killed: no Release, the address and the saved lease stay.
    assert_eq!(c.stop(Signal::SIGKILL, 5).code(), None);
    assert_eq!(kea.lines_of(&got).len(), 1, "{}", kea.csv_text());
    let mark = c.log().len();
    c.run();
    // RFC 9915 §18.2.12: a Rebind for the saved prefix, not a Solicit;
    // Kea extends the same lease.
    c.wait_log_since(10, mark, "extended");
    let since = c.log().get(mark..).unwrap_or_default().to_string();
    assert!(since.contains("restored=true"), "{since}");
    assert!(since.contains("kind=Rebind"), "{since}");
    assert!(!since.contains("kind=Solicit"), "{since}");
    assert!(!since.contains("prefixes lost"), "{since}");
    assert_eq!(c.saved_prefixes(), vec![got.clone()]);
    let lines = kea.lines_of(&got);
    assert!(
        lines.len() >= 2 && lines.iter().all(|l| l.valid_lifetime == 20),
        "Kea extended the same lease:\n{}",
        kea.csv_text()
    );
    assert!(
        rt.addrs("lan0").iter().any(|a| a.addr == addr0),
        "address kept"
    );
    let st = c.stop(Signal::SIGTERM, 15);
    assert_eq!(st.code(), Some(0), "{st}");
}
