//! When the world fails: the lease database cannot be written (read-only,
//! disk full), the return route cannot be installed, a hook hangs or fails,
//! the interface goes away and comes back. Each gives a clear log line; the
//! daemon never sends a Reply for a lease that is not on disk.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pd_tests::loadgen;
use pd_tests::{wait_until, ClientLink, Netns, PdServer, ServerConfig, TempDir};

/// Run the load generator (`window` clients at a time) for `ms`; returns
/// how many bindings Replies acknowledged.
fn serve_count(link: &ClientLink, ms: u64) -> usize {
    let ifindex = link.ns.ifindex(&link.client_if);
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let gen = link
        .ns
        .start(move || async move { loadgen::run(ifindex, 7, 4, s2).await });
    std::thread::sleep(Duration::from_millis(ms));
    stop.store(true, Ordering::SeqCst);
    gen.join().acked.len()
}

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().expect("sh");
    assert!(st.success(), "`{cmd}` failed");
}

/// A small tmpfs, unmounted on drop.
struct Tmpfs(TempDir);

impl Tmpfs {
    fn new(size: &str) -> Tmpfs {
        let d = TempDir::new("tmpfs");
        sh(&format!(
            "mount -t tmpfs -o size={size} pdt-tmpfs {}",
            d.path().display()
        ));
        Tmpfs(d)
    }
    fn remount(&self, mode: &str) {
        sh(&format!(
            "mount -o remount,{mode} {}",
            self.0.path().display()
        ));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

fn server_on(dir: &std::path::Path, sns: &Netns, link: &ClientLink, extra: &str) -> PdServer {
    let mut cfg = ServerConfig::new(&link.server_if);
    cfg.pool = "2001:db8::/40".into();
    cfg.extra = format!("\n[limits]\nnew-bindings-per-second = 0\n{extra}");
    let state = dir.join("state");
    let mut s = PdServer::with_toml(sns, |_| cfg.toml(&state));
    s.run();
    s
}

#[test]
fn unwritable_state_dir_is_a_clear_error_at_start() {
    let sns = Netns::new("ro");
    let link = ClientLink::new(&sns, 0);
    let fs = Tmpfs::new("16m");
    fs.remount("ro");
    let mut cfg = ServerConfig::new(&link.server_if);
    cfg.install_routes = false;
    let state = fs.0.join("state");
    let mut server = PdServer::with_toml(&sns, |_| cfg.toml(&state));
    let status = server
        .spawn()
        .wait_exit(Duration::from_secs(10))
        .expect("pd-server must stop when its state-dir cannot be written");
    assert!(!status.success());
    let log = server.log();
    assert!(
        log.contains("state-dir") && log.contains("Read-only file system"),
        "unclear error:\n{log}"
    );
}

/// Run the load generator with `window` clients for `ms`; returns the
/// bindings acknowledged.
fn acked_during(link: &ClientLink, window: usize, ms: u64) -> Vec<loadgen::Acked> {
    let ifindex = link.ns.ifindex(&link.client_if);
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let gen = link
        .ns
        .start(move || async move { loadgen::run(ifindex, 9, window, s2).await });
    std::thread::sleep(Duration::from_millis(ms));
    stop.store(true, Ordering::SeqCst);
    gen.join().acked
}

#[test]
fn disk_full_never_acknowledges_what_is_not_on_disk() {
    let sns = Netns::new("full");
    let link = ClientLink::new(&sns, 0);
    let fs = Tmpfs::new("24m");
    let mut server = server_on(fs.0.path(), &sns, &link, "");
    assert!(serve_count(&link, 800) > 0);
    // The journal's files are zero-filled ahead, so a full disk fails the
    // store only when a new file is needed: rotate at 64 KiB (~700
    // records) instead of 8 MiB, so that happens within the test.
    server.stop(nix::sys::signal::Signal::SIGTERM, 5);
    server.set_env("PD_SERVER_JOURNAL_ROTATE_BYTES", "65536");
    server.run();
    // Fill the file system, then load the server.
    let _ = Command::new("dd")
        .args([
            "if=/dev/zero",
            &format!("of={}", fs.0.join("filler").display()),
            "bs=1M",
            "count=100",
        ])
        .output();
    let acked = acked_during(&link, 64, 3000);
    let log = server.log();
    let failed = log.matches("lease database write failed").count();
    println!(
        "disk full: {} bindings acknowledged, {failed} failed batch writes",
        acked.len()
    );
    assert!(
        failed > 0,
        "the store never failed to write on a full disk:\n{log}"
    );
    // sled cannot recover in-process: the daemon stopped with an error
    // (the service manager restarts it).
    wait_until(5, "pd-server stops after the store failed", || {
        !server.is_running()
    });
    let status = server.take_exited().expect("exited");
    assert!(!status.success(), "must exit non-zero for a restart");
    std::fs::remove_file(fs.0.join("filler")).expect("free space");
    // Whatever was acknowledged must be on disk.
    server.run();
    let leases = server.leases_json();
    let listed: std::collections::HashSet<String> = leases
        .as_array()
        .expect("array")
        .iter()
        .filter(|l| l["state"] == "active")
        .map(|l| l["prefix"].as_str().unwrap_or_default().to_string())
        .collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|a| !listed.contains(&a.prefix.to_string()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not on disk: {lost:?}");
    assert!(
        serve_count(&link, 1500) > 0,
        "serves again once there is space"
    );
}

#[test]
fn failing_route_install_and_hooks_are_logged_and_serving_goes_on() {
    let sns = Netns::new("rtfail");
    let link = ClientLink::new(&sns, 0);
    let dir = TempDir::new("hooks");
    let hang = dir.write_script("hang.sh", "#!/bin/sh\nexec sleep 100\n");
    // A next hop that is not on the link: the kernel refuses the route.
    let mut cfg = ServerConfig::new(&link.server_if);
    cfg.hook = Some(hang);
    cfg.extra = "\n[limits]\nnew-bindings-per-second = 0\n".into();
    let toml = cfg.toml(&dir.join("state")).replace(
        "valid-lifetime = 7200\n",
        "valid-lifetime = 7200\nnext-hop = \"2001:db8:9999::1\"\n",
    );
    let toml = toml.replace("[hooks]\n", "[hooks]\ntimeout = 1\n");
    let mut server = PdServer::with_toml(&sns, |_| toml);
    server.run();
    assert!(serve_count(&link, 1000) > 0);
    wait_until(10, "route failure and hook timeout logged", || {
        let log = server.log();
        log.contains("return route change failed") && log.contains("timed out")
    });
    assert!(
        serve_count(&link, 1000) > 0,
        "still serving with hung hooks"
    );
}

#[test]
fn interface_going_away_and_coming_back() {
    let sns = Netns::new("ifgone");
    let link = ClientLink::new(&sns, 0);
    let dir = TempDir::new("ifgone");
    let mut server = server_on(dir.path(), &sns, &link, "");
    assert!(serve_count(&link, 800) > 0);
    sns.ip(&["link", "del", &link.server_if]);
    wait_until(5, "interface loss noticed", || server.is_running());
    // Recreate the pair with the same names.
    pd_tests::veth(
        &sns,
        &link.server_if,
        "02:00:00:00:00:01",
        &link.ns,
        &link.client_if,
        "02:00:00:00:00:02",
    );
    sns.wait_addr(
        &link.server_if,
        pd_tests::link_local_of("02:00:00:00:00:01"),
    );
    link.ns.wait_addr(
        &link.client_if,
        pd_tests::link_local_of("02:00:00:00:00:02"),
    );
    // The server re-joins ff02::1:2 within its 5 s retry tick.
    let mut served = 0;
    for _ in 0..8 {
        served = serve_count(&link, 1000);
        if served > 0 {
            break;
        }
    }
    assert!(
        served > 0,
        "not serving after the interface came back:\n{}",
        server.log()
    );
    assert!(
        server.log().contains("joined ff02::1:2"),
        "{}",
        server.log()
    );
}
