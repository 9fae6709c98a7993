//! Process fixtures: the workspace's built binaries, scratch directories,
//! processes started inside a namespace with their output in a log file,
//! and helpers for pd-server ([`PdServer`]) and ISC dhclient ([`Dhclient`]).
//!
//! Every process is killed and reaped on drop; every directory removed.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::Netns;

mod client;
mod dhclient;
mod kea;
mod server;

pub use client::{ClientConfig, CmdResult, DownstreamConfig, PdClient, CLIENT_LOG_FILTER};
pub use kea::{parse_kea_csv, Kea, KeaConfig, KeaLease};

pub use dhclient::{
    parse_default_duid, parse_iaids, parse_iaprefixes, unix_now, Dhclient, IaPrefix,
};
pub use server::{PdServer, ServerConfig};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The workspace's built binary `name` (e.g. `pd-server`).
///
/// Looked up in `$CARGO_TARGET_DIR/debug`, then next to the test
/// executable (`target/debug/deps/TEST` → `target/debug/NAME`). Panics if it
/// is missing: the tests never build it themselves.
pub fn bin(name: &str) -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("debug").join(name));
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/debug/deps/pd_tests-HASH → target/debug/NAME
        if let Some(debug) = exe.parent().and_then(Path::parent) {
            candidates.push(debug.join(name));
        }
    }
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => p.clone(),
        None => panic!(
            "{name} not found (looked at {candidates:?}): run `cargo build --workspace --bins` first"
        ),
    }
}

/// A scratch directory `/tmp/pdt-TAG-PID-N`, removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create it (removing a leftover of the same name first).
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("pdt-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Write `text` to `name` inside it; returns the path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Write an executable script (mode 0755); returns the path.
    pub fn write_script(&self, name: &str, text: &str) -> PathBuf {
        let p = self.write(name, text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Read a file, or "" if it does not exist (yet).
pub fn read_or_empty(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Poll `cond` every 50 ms for up to `secs` seconds; panic with `what`
/// if it never holds.
pub fn wait_until(secs: u64, what: &str, cond: impl FnMut() -> bool) {
    wait_until_log(secs, what, String::new, cond);
}

/// [`wait_until`], adding `log()` to the panic message.
pub fn wait_until_log(
    secs: u64,
    what: &str,
    log: impl FnOnce() -> String,
    mut cond: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            let log = log();
            if log.is_empty() {
                panic!("timed out after {secs}s waiting for: {what}");
            }
            panic!("timed out after {secs}s waiting for: {what}\n--- log ---\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A process started inside a namespace (`ip netns exec`, which execs the
/// command, so the child's pid is the command's), stdout and stderr
/// appended to a log file. Killed (SIGKILL) and reaped on drop.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    what: String,
    log: PathBuf,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Start `program args` in `ns` with extra environment `env`, its output
    /// appended to `log`.
    pub fn spawn(
        ns: &Netns,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        log: &Path,
    ) -> Proc {
        let out = append_log(log);
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("dup log {}: {e}", log.display()));
        let what = format!("{} {}", program.display(), args.join(" "));
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what} in {}: {e}", ns.name()));
        Proc {
            child,
            what,
            log: log.to_path_buf(),
            status: None,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits i32"))
    }

    /// Send `sig` (panics if the process is already reaped).
    pub fn signal(&mut self, sig: Signal) {
        assert!(
            self.status.is_none(),
            "signal {sig} to {} which already exited ({:?})",
            self.what,
            self.status
        );
        kill(self.pid(), sig).unwrap_or_else(|e| panic!("kill -{sig} {}: {e}", self.what));
    }

    /// Has it exited? (Reaps it if so.)
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Wait up to `timeout` for it to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything it wrote so far (stdout and stderr interleaved).
    pub fn log(&self) -> String {
        read_or_empty(&self.log)
    }

    /// The command line, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// [`wait_until`] with this process's log in the panic message; also
    /// panics at once if the process exits meanwhile.
    pub fn wait_until(&mut self, secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
        let mut exited = None;
        let log = self.log.clone();
        let status = &mut self.status;
        let child = &mut self.child;
        wait_until_log(
            secs,
            what,
            || read_or_empty(&log),
            || {
                if cond() {
                    return true;
                }
                if status.is_none() {
                    *status = child.try_wait().ok().flatten();
                }
                if let Some(s) = status {
                    exited = Some(*s);
                    return true;
                }
                false
            },
        );
        if let Some(s) = exited {
            if !cond() {
                panic!(
                    "{} exited ({s}) while waiting for: {what}\n--- log ---\n{}",
                    self.what,
                    read_or_empty(&self.log)
                );
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Kill `pid` with SIGKILL if it is a live process named `comm` (guards
/// against a recycled pid), and wait up to 5 s for it to disappear.
pub fn kill_pid_named(pid: Pid, comm: &str) {
    let comm_path = format!("/proc/{pid}/comm");
    let is_it = || read_or_empty(Path::new(&comm_path)).trim() == comm;
    if !is_it() {
        return;
    }
    let _ = kill(pid, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_it() && !is_zombie(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_zombie(pid: Pid) -> bool {
    read_or_empty(Path::new(&format!("/proc/{pid}/stat")))
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// Open `path` for appending (creating it), for a child's output.
pub fn append_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open log {}: {e}", path.display()))
}

/// A client namespace attached to a server namespace by the veth pair
/// `s{n}` (server side, MAC 02:00:00:00:{n}:01) ↔ `c{n}` (client side,
/// MAC 02:00:00:00:{n}:02), DAD off, both up with their link-locals.
#[derive(Clone, Debug)]
pub struct ClientLink {
    /// The client's namespace.
    pub ns: Netns,
    /// The server's end, e.g. `s0`.
    pub server_if: String,
    /// The client's end, e.g. `c0`.
    pub client_if: String,
    /// The client's link-local address (the return route's next hop).
    pub client_ll: std::net::Ipv6Addr,
}

impl ClientLink {
    /// Make client namespace number `n` (0..=255) and link it to `server`.
    pub fn new(server: &Netns, n: u8) -> ClientLink {
        let ns = Netns::new(&format!("cli{n}"));
        let server_if = format!("s{n}");
        let client_if = format!("c{n}");
        let smac = format!("02:00:00:00:{n:02x}:01");
        let cmac = format!("02:00:00:00:{n:02x}:02");
        crate::veth(server, &server_if, &smac, &ns, &client_if, &cmac);
        // dhclient and pd-server need the link-locals (no DAD, but they
        // appear only once the carrier is up).
        server.wait_addr(&server_if, crate::link_local_of(&smac));
        ns.wait_addr(&client_if, crate::link_local_of(&cmac));
        ClientLink {
            client_ll: crate::link_local_of(&cmac),
            ns,
            server_if,
            client_if,
        }
    }
}

/// `ip -6 route show proto 93` (pd-server's routes) in `ns`, trimmed.
pub fn pd_routes(ns: &Netns) -> String {
    ns.ip(&["-6", "route", "show", "proto", "93"])
        .trim()
        .to_string()
}
