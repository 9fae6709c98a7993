//! A Solicit/Request flood with random DUIDs (perfdhcp: every client a new
//! DUID) against pd-server with its default per-link caps: the pool is not
//! taken, the server's memory stays bounded, and a router that already has
//! a binding on the same link keeps renewing it. Figures are printed
//! (`cargo test -p pd-tests --test flood -- --nocapture`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use pd_core::duid::Duid;
use pd_tests::loadgen;
use pd_tests::{ClientLink, Netns, PdServer, ServerConfig};

/// `pd-server stats` through the control socket.
fn stats(server: &PdServer) -> serde_json::Value {
    let out = server.cli(&[
        "stats",
        "--config",
        &server.config_path().display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats JSON")
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[test]
fn flood_of_new_clients_is_capped_and_renewals_go_on() {
    let sns = Netns::new("flood");
    let link = ClientLink::new(&sns, 0);
    let mut cfg = ServerConfig::new(&link.server_if);
    cfg.pool = "2001:db8::/40".into();
    cfg.install_routes = false;
    // The defaults, spelled out: 1000 new bindings/s, 65536 bindings per link.
    cfg.extra =
        "\n[limits]\nnew-bindings-per-second = 1000\nmax-bindings-per-link = 65536\n".into();
    let mut server = PdServer::start(&sns, &cfg);
    let pid = server.proc().pid().as_raw();
    let ifindex = link.ns.ifindex(&link.client_if);

    // Ten legitimate routers bind first.
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let gen = link
        .ns
        .start(move || async move { loadgen::run(ifindex, 1, 2, s2).await });
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let mut legit = gen.join().acked;
    legit.truncate(10);
    assert_eq!(legit.len(), 10, "ten routers bound before the flood");
    let rss_before = rss_kib(pid);

    // The flood: perfdhcp, every exchange from a new DUID, 4000/s for 6 s.
    let secs: u64 = 6;
    let flood = link.ns.spawn(
        "bash",
        &[
            "-c",
            &format!(
                "ulimit -v 2000000; exec timeout 30 perfdhcp -6 -l {} -e prefix-only -R 1000000 -r 4000 -p {secs} -W 1000000 >/dev/null 2>&1",
                link.client_if
            ),
        ],
    );
    // While it runs, the legitimate routers renew.
    std::thread::sleep(Duration::from_secs(2));
    let duid: Duid = std::fs::read_to_string(server.state_dir().join("duid"))
        .expect("server duid")
        .trim()
        .parse()
        .expect("duid");
    let l2 = legit.clone();
    let renewed = link
        .ns
        .run(move || async move { loadgen::renew_all(ifindex, &duid, &l2).await });
    let same = renewed
        .iter()
        .zip(&legit)
        .filter(|(r, a)| **r == Some(a.prefix))
        .count();
    // The control socket is served while the loop is under load (the loop
    // reads without waiting on the socket then: it must still look at the
    // rest).
    let during = stats(&server);
    let active_during = during["active"].as_u64().expect("active");
    assert!(
        active_during > 10,
        "stats during the flood: {during} (no binding of the flood counted)"
    );
    drop(flood);
    std::thread::sleep(Duration::from_secs(secs));
    let rss_after = rss_kib(pid);

    let stats = stats(&server);
    let active = stats["active"].as_u64().expect("active");
    let refused = stats["refused"].as_u64().expect("refused");
    println!(
        "flood: {secs} s at 4000 new clients/s offered; active bindings {active}, refused {refused}, \
         renewals during the flood {same}/10, RSS {rss_before} KiB before, {rss_after} KiB after"
    );
    assert_eq!(
        same, 10,
        "renewals of existing bindings keep working during the flood"
    );
    // 1000/s for the flood's duration plus one second of burst, plus the ten.
    let ceiling = 10 + 1000 * (secs + 4);
    assert!(
        active <= ceiling,
        "{active} bindings: the per-link rate cap did not hold (ceiling {ceiling})"
    );
    assert!(refused > 0, "nothing was refused: the flood was not capped");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "memory grew by more than 64 MiB under the flood"
    );
    drop(server);
}

#[test]
fn sigterm_under_load_stops_the_server_and_keeps_every_lease() {
    let sns = Netns::new("floodterm");
    let link = ClientLink::new(&sns, 0);
    let mut cfg = ServerConfig::new(&link.server_if);
    cfg.pool = "2001:db8::/40".into();
    cfg.install_routes = false;
    cfg.extra = "\n[limits]\nnew-bindings-per-second = 0\nmax-bindings-per-link = 0\n".into();
    let mut server = PdServer::start(&sns, &cfg);
    let load = link.ns.spawn(
        "bash",
        &[
            "-c",
            &format!(
                "ulimit -v 2000000; exec timeout 30 perfdhcp -6 -l {} -e prefix-only -R 1000000 -r 5000 -p 10 -W 1000000 >/dev/null 2>&1",
                link.client_if
            ),
        ],
    );
    std::thread::sleep(Duration::from_secs(2));
    let during = stats(&server)["active"].as_u64().expect("active");
    assert!(during > 1000, "{during} bindings after 2 s at 5000/s");
    // SIGTERM while Solicits and Requests keep coming.
    let status = server.stop(Signal::SIGTERM, 15);
    drop(load);
    assert!(status.success(), "pd-server exited with {status}");
    // Stopped: `leases list` reads the database, which holds at least every
    // binding counted while it ran.
    let n = server.active_leases().len() as u64;
    println!("SIGTERM under load: {during} bindings at 2 s, {n} in the database after the stop");
    assert!(
        n >= during,
        "{n} leases in the database, {during} were active"
    );
}
