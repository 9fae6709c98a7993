//! pd-server under perfdhcp (kea-admin) load, prefix delegation only:
//! every Solicit and Request answered, and the lease database holds one
//! active lease per distinct client.

use std::collections::{BTreeMap, BTreeSet};

use pd_tests::{ClientLink, Netns, PdServer, ServerConfig};

/// perfdhcp's report: section ("SOLICIT-ADVERTISE", …) → key → value.
type Report = BTreeMap<String, BTreeMap<String, String>>;

/// Parse perfdhcp's text report (`***Statistics for: X***` sections of
/// `key: value` lines; lines before the first section go under "").
fn parse_report(text: &str) -> Report {
    let mut out = Report::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line
            .strip_prefix("***Statistics for: ")
            .and_then(|l| l.strip_suffix("***"))
        {
            section = name.to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once(": ") {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

fn count(report: &Report, section: &str, key: &str, text: &str) -> u64 {
    report
        .get(section)
        .and_then(|s| s.get(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` number under {section:?} in:\n{text}"))
}

/// Run perfdhcp in the client namespace; returns (report, raw text).
fn perfdhcp(link: &ClientLink, clients: u32, rate: u32, secs: u32) -> (Report, String) {
    // ulimit + timeout: perfdhcp keeps every packet in memory and, without
    // a rate and period, never stops.
    let cmd = format!(
        "ulimit -v 2000000; exec timeout 60 perfdhcp -6 -l {} -e prefix-only \
         -R {clients} -r {rate} -p {secs} -W 1000000",
        link.client_if
    );
    let out = link.ns.exec("bash", &["-c", &cmd]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "perfdhcp failed ({}; 3 = exchanges left unfinished):\n{text}",
        out.status
    );
    (parse_report(&text), text)
}

/// Check the report: both exchanges complete, nothing dropped or odd.
/// Returns the number of completed 4-way exchanges.
fn check_report(report: &Report, text: &str, rate: u32, secs: u32) -> u64 {
    assert_eq!(count(report, "", "Malformed packets", text), 0, "{text}");
    let received = |section: &str| -> u64 {
        let sent = count(report, section, "sent packets", text);
        let received = count(report, section, "received packets", text);
        assert_eq!(sent, received, "{section}: every message answered\n{text}");
        for key in [
            "drops",
            "orphans",
            "rejected leases",
            "non unique addresses",
        ] {
            assert_eq!(
                count(report, section, key, text),
                0,
                "{section} {key}\n{text}"
            );
        }
        received
    };
    let (adv, rep) = (received("SOLICIT-ADVERTISE"), received("REQUEST-REPLY"));
    assert_eq!(
        adv, rep,
        "every Advertise led to a Request and a Reply\n{text}"
    );
    // perfdhcp paces itself to about rate × period.
    let expected = u64::from(rate * secs);
    assert!(
        rep >= expected / 2 && rep <= expected + u64::from(rate),
        "{rep} exchanges for rate {rate} × {secs} s\n{text}"
    );
    rep
}

fn lab() -> (Netns, ClientLink, PdServer) {
    let srv = Netns::new("srv");
    let link = ClientLink::new(&srv, 0);
    let server = PdServer::start(&srv, &ServerConfig::new("s0"));
    (srv, link, server)
}

/// Active leases: all with distinct prefixes and distinct DUIDs.
fn active_clients(server: &PdServer) -> usize {
    let active = server.active_leases();
    let prefixes: BTreeSet<String> = active.iter().map(|l| l["prefix"].to_string()).collect();
    let duids: BTreeSet<String> = active.iter().map(|l| l["duid"].to_string()).collect();
    assert_eq!(prefixes.len(), active.len(), "distinct prefixes");
    assert_eq!(duids.len(), active.len(), "one active lease per client");
    for l in &active {
        assert_eq!(l["iface"], "s0", "{l}");
    }
    active.len()
}

fn check_stats(server: &PdServer, answered: u64) {
    let stats = server.stats();
    assert_eq!(stats["replies"].as_u64(), Some(answered), "stats: {stats}");
    assert_eq!(
        stats["drops"].as_array().map(Vec::len),
        Some(0),
        "no drops: {stats}"
    );
    // Every Request's lease went through an fdatasync, some shared.
    let syncs = &stats["syncs"];
    let n = |k: &str| {
        syncs[k]
            .as_u64()
            .unwrap_or_else(|| panic!("syncs.{k}: {stats}"))
    };
    assert!(
        n("count") >= 1 && n("count") <= answered / 2,
        "syncs: {stats}"
    );
    assert!(
        n("p50_us") <= n("p99_us") && n("p99_us") <= n("p999_us") && n("p999_us") <= n("max_us"),
        "sync quantiles in order: {stats}"
    );
}

#[test]
fn every_exchange_completes_and_each_new_client_gets_a_lease() {
    let (_srv, link, server) = lab();
    // More clients than exchanges: perfdhcp walks its client range in
    // order, so every exchange is a new DUID.
    let (report, text) = perfdhcp(&link, 100_000, 100, 3);
    let done = check_report(&report, &text, 100, 3);
    let active = active_clients(&server);
    assert_eq!(
        u64::try_from(active).expect("usize fits"),
        done,
        "one active lease per completed exchange\n{text}"
    );
    check_stats(&server, 2 * done);
    eprintln!("perfdhcp: {done} exchanges, {active} active leases");
}

#[test]
fn returning_clients_keep_their_prefix_under_load() {
    let (_srv, link, server) = lab();
    // 200 clients, about 500 exchanges: each client comes back two or
    // three times and must get the same prefix, never a second one.
    let (report, text) = perfdhcp(&link, 200, 100, 5);
    let done = check_report(&report, &text, 100, 5);
    assert!(done > 200, "clients return: {done} exchanges\n{text}");
    let active = active_clients(&server);
    assert_eq!(
        active, 200,
        "one lease per client, not per exchange\n{text}"
    );
    assert_eq!(
        server.leases_json().as_array().map(Vec::len),
        Some(200),
        "no other records"
    );
    check_stats(&server, 2 * done);
    eprintln!("perfdhcp: {done} exchanges from 200 clients, {active} active leases");
}

#[test]
fn report_parser() {
    let text = "Running: perfdhcp\n***Malformed Packets***\nMalformed packets: 0\n\
                ***Statistics for: SOLICIT-ADVERTISE***\nsent packets: 498\n\
                received packets: 497\ndrops: 1\n\
                ***Statistics for: REQUEST-REPLY***\nsent packets: 497\n";
    let r = parse_report(text);
    assert_eq!(count(&r, "", "Malformed packets", text), 0);
    assert_eq!(
        count(&r, "SOLICIT-ADVERTISE", "received packets", text),
        497
    );
    assert_eq!(count(&r, "SOLICIT-ADVERTISE", "drops", text), 1);
    assert_eq!(count(&r, "REQUEST-REPLY", "sent packets", text), 497);
}
