//! Crash safety: under load, kill pd-server with SIGKILL at a random moment,
//! restart it, and check that every binding a Reply acknowledged survived
//! (same client, same prefix, still active, renewable) and that no prefix or
//! client is bound twice. Repeated with different kill moments.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use pd_core::duid::Duid;
use pd_tests::loadgen::{self, Acked};
use pd_tests::{ClientLink, Netns, PdServer, ServerConfig};

/// A pseudo-random delay in 200..1700 ms (seeded from the clock: each run
/// kills at another moment; the moment is printed).
fn kill_delay(round: u64) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    let x = (nanos ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    Duration::from_millis(200 + (x >> 33) % 1500)
}

#[test]
fn acknowledged_bindings_survive_sigkill_under_load() {
    let sns = Netns::new("crash");
    let link = ClientLink::new(&sns, 0);
    let mut cfg = ServerConfig::new(&link.server_if);
    cfg.pool = "2001:db8::/40".into();
    cfg.install_routes = false;
    cfg.extra = "\n[limits]\nnew-bindings-per-second = 0\nmax-bindings-per-link = 0\n".into();
    let mut server = PdServer::start(&sns, &cfg);
    // Rotate the journal at 64 KiB (~700 records) instead of 8 MiB, so the
    // kills also land while a file is handed over from the syncers to a
    // checkpoint (the writer rotates only once every append is durable).
    server.stop(Signal::SIGTERM, 5);
    server.set_env("PD_SERVER_JOURNAL_ROTATE_BYTES", "65536");
    server.run();
    let ifindex = link.ns.ifindex(&link.client_if);
    let mut all_acked: Vec<Acked> = Vec::new();
    for round in 0..4u64 {
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let gen = link
            .ns
            .start(move || async move { loadgen::run(ifindex, round as u16, 64, s2).await });
        let delay = kill_delay(round);
        std::thread::sleep(delay);
        server.stop(Signal::SIGKILL, 5);
        std::thread::sleep(Duration::from_millis(400));
        stop.store(true, Ordering::SeqCst);
        let report = gen.join();
        println!(
            "round {round}: killed after {delay:?}; solicits {}, requests {}, acknowledged {}, abandoned {}",
            report.solicits,
            report.requests,
            report.acked.len(),
            report.abandoned
        );
        assert!(
            !report.acked.is_empty(),
            "no binding acknowledged before the kill in round {round}"
        );
        all_acked.extend(report.acked);
        server.run();

        // Everything ever acknowledged is restored, active, same client.
        let leases = server.leases_json();
        let by_prefix: HashMap<String, &serde_json::Value> = leases
            .as_array()
            .expect("array")
            .iter()
            .map(|l| (l["prefix"].as_str().unwrap_or_default().to_string(), l))
            .collect();
        let mut lost = 0;
        for a in &all_acked {
            match by_prefix.get(&a.prefix.to_string()) {
                Some(l)
                    if l["state"] == "active"
                        && l["duid"] == a.duid.to_string().as_str()
                        && l["iaid"] == a.iaid => {}
                other => {
                    lost += 1;
                    eprintln!("lost: {a:?} → {other:?}");
                }
            }
        }
        // No client holds two active prefixes; no prefix appears twice.
        let mut clients: HashSet<(String, u64)> = HashSet::new();
        let mut double = 0;
        for l in leases
            .as_array()
            .expect("array")
            .iter()
            .filter(|l| l["state"] == "active")
        {
            let key = (
                l["duid"].as_str().unwrap_or_default().to_string(),
                l["iaid"].as_u64().unwrap_or(0),
            );
            if !clients.insert(key) {
                double += 1;
            }
        }
        let restored = all_acked.len() - lost;
        println!(
            "round {round}: acknowledged so far {}, restored {restored}, lost {lost}, double bindings {double}, records {}",
            all_acked.len(),
            by_prefix.len()
        );
        assert_eq!(lost, 0, "acknowledged bindings lost after SIGKILL");
        assert_eq!(double, 0, "a client bound twice");
        assert_eq!(
            by_prefix.len(),
            leases.as_array().map(|a| a.len()).unwrap_or(0),
            "a prefix listed twice"
        );
    }

    // Every acknowledged binding renews with its own prefix.
    let duid_text =
        std::fs::read_to_string(server.state_dir().join("duid")).expect("server duid file");
    let server_duid: Duid = duid_text.trim().parse().expect("server duid");
    let acked = all_acked.clone();
    let renewed = link
        .ns
        .run(move || async move { loadgen::renew_all(ifindex, &server_duid, &acked).await });
    let same = renewed
        .iter()
        .zip(&all_acked)
        .filter(|(r, a)| **r == Some(a.prefix))
        .count();
    println!(
        "renewed with the same prefix: {same} of {}",
        all_acked.len()
    );
    assert_eq!(
        same,
        all_acked.len(),
        "every acknowledged binding renews with its prefix"
    );
}
