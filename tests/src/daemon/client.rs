//! pd-client as a test peer: the one-shot commands (`request`, `status`,
//! `release`) run to completion with a time limit, and the daemon
//! (`run --config F`) in a namespace with its log.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{append_log, bin, read_or_empty, Proc, TempDir};
use crate::Netns;

/// The log filter the fixture runs pd-client with.
pub const CLIENT_LOG_FILTER: &str = "info,pd_client=debug,pd_core=debug";

/// One `[[downstream]]` table.
#[derive(Clone, Debug)]
pub struct DownstreamConfig {
    /// `interface`.
    pub interface: String,
    /// `subnet-id` (default: position in the list).
    pub subnet_id: Option<u64>,
    /// `ra-mode` (`None`: not written, the daemon's default slaac).
    pub ra_mode: Option<String>,
}

/// What goes into a test pd-client config (see [`ClientConfig::toml`]).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `client.interface`.
    pub interface: String,
    /// `[[downstream]]` tables.
    pub downstream: Vec<DownstreamConfig>,
    /// More `[client]` lines (e.g. `duid-type = "llt"`).
    pub client_extra: String,
    /// More TOML appended verbatim.
    pub extra: String,
}

impl ClientConfig {
    /// Upstream `iface`, no downstream.
    pub fn new(iface: &str) -> ClientConfig {
        ClientConfig {
            interface: iface.to_string(),
            downstream: Vec::new(),
            client_extra: String::new(),
            extra: String::new(),
        }
    }

    /// Add a downstream interface with `ra-mode = mode`.
    pub fn downstream(mut self, iface: &str, mode: &str) -> ClientConfig {
        self.downstream.push(DownstreamConfig {
            interface: iface.to_string(),
            subnet_id: None,
            ra_mode: Some(mode.to_string()),
        });
        self
    }

    /// The TOML text with `state_dir` as `client.state-dir`.
    pub fn toml(&self, state_dir: &Path) -> String {
        let mut t = format!(
            "[client]\ninterface = {:?}\nstate-dir = {:?}\n{}\n",
            self.interface,
            state_dir.display().to_string(),
            self.client_extra
        );
        for d in &self.downstream {
            t.push_str(&format!(
                "[[downstream]]\ninterface = {:?}\nra = true\n",
                d.interface
            ));
            if let Some(id) = d.subnet_id {
                t.push_str(&format!("subnet-id = {id}\n"));
            }
            if let Some(m) = &d.ra_mode {
                t.push_str(&format!("ra-mode = {m:?}\n"));
            }
            t.push('\n');
        }
        t.push_str(&self.extra);
        t
    }
}

/// What a one-shot command did.
#[derive(Debug)]
pub struct CmdResult {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error (the logs).
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl CmdResult {
    /// The exit code; panics (with the output) if a signal ended it.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| {
            panic!(
                "killed by a signal ({}), not an exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.status, self.stdout, self.stderr
            )
        })
    }

    /// Panic with the output unless the exit code is `want`.
    pub fn assert_code(&self, want: i32) -> &CmdResult {
        assert_eq!(
            self.code(),
            want,
            "exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A pd-client with its own scratch directory (config, state-dir, log).
/// The daemon is not running until [`PdClient::run`]; killed on drop.
#[derive(Debug)]
pub struct PdClient {
    ns: Netns,
    iface: String,
    proc: Option<Proc>,
    config: PathBuf,
    state_dir: PathBuf,
    log: PathBuf,
    dir: TempDir,
}

impl PdClient {
    /// Write the config built from `cfg` (not started).
    pub fn new(ns: &Netns, cfg: &ClientConfig) -> PdClient {
        let dir = TempDir::new("cli");
        let state_dir = dir.join("state");
        PdClient::with_state_dir(ns, cfg, dir, state_dir)
    }

    fn with_state_dir(
        ns: &Netns,
        cfg: &ClientConfig,
        dir: TempDir,
        state_dir: PathBuf,
    ) -> PdClient {
        let config = dir.write("pd-client.toml", &cfg.toml(&state_dir));
        PdClient {
            ns: ns.clone(),
            iface: cfg.interface.clone(),
            proc: None,
            config,
            state_dir,
            log: dir.join("client.log"),
            dir,
        }
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The config file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// `pd-client ARGS` in the namespace (RUST_LOG=debug for pd), killed
    /// after `limit` (a hang fails the test).
    pub fn cmd(&self, args: &[&str], limit: Duration) -> CmdResult {
        let n = std::fs::read_dir(self.dir.path()).map_or(0, Iterator::count);
        let out_p = self.dir.join(&format!("cmd{n}.out"));
        let err_p = self.dir.join(&format!("cmd{n}.err"));
        let started = Instant::now();
        let mut child = Command::new("ip")
            .args(["netns", "exec", self.ns.name()])
            .arg(bin("pd-client"))
            .args(args)
            .env("RUST_LOG", CLIENT_LOG_FILTER)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(append_log(&out_p))
            .stderr(append_log(&err_p))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn pd-client {args:?}: {e}"));
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for pd-client") {
                break s;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "pd-client {args:?} still running after {limit:?}\n--- stderr ---\n{}",
                    read_or_empty(&err_p)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        CmdResult {
            status,
            stdout: read_or_empty(&out_p),
            stderr: read_or_empty(&err_p),
            elapsed: started.elapsed(),
        }
    }

    /// `pd-client request -i IFACE --state-dir D EXTRA…` (limit: 30 s).
    pub fn request(&self, extra: &[&str]) -> CmdResult {
        let sd = self.state_dir.display().to_string();
        let mut args = vec![
            "request",
            "-i",
            self.iface.as_str(),
            "--state-dir",
            sd.as_str(),
        ];
        args.extend_from_slice(extra);
        self.cmd(&args, Duration::from_secs(30))
    }

    /// `pd-client release -i IFACE --state-dir D` (limit: 20 s).
    pub fn release(&self) -> CmdResult {
        let sd = self.state_dir.display().to_string();
        self.cmd(
            &[
                "release",
                "-i",
                self.iface.as_str(),
                "--state-dir",
                sd.as_str(),
            ],
            Duration::from_secs(20),
        )
    }

    /// `pd-client status --json --state-dir D`, parsed (an array).
    pub fn status_json(&self) -> serde_json::Value {
        let sd = self.state_dir.display().to_string();
        let r = self.cmd(
            &["status", "--json", "--state-dir", sd.as_str()],
            Duration::from_secs(10),
        );
        r.assert_code(0);
        let v: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {}", r.stdout));
        assert!(v.is_array(), "status --json is not an array: {v}");
        v
    }

    /// The prefixes of the saved lease (from `status --json`).
    pub fn saved_prefixes(&self) -> Vec<String> {
        self.status_json()
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["prefixes"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["prefix"].as_str().map(str::to_string))
            .collect()
    }

    /// Start `pd-client run --config F` (without waiting for anything).
    pub fn run(&mut self) -> &mut Proc {
        assert!(self.proc.is_none(), "pd-client is already running");
        let config = self.config.display().to_string();
        let p = Proc::spawn(
            &self.ns,
            &bin("pd-client"),
            &["run", "--config", &config],
            &[("RUST_LOG", CLIENT_LOG_FILTER), ("NO_COLOR", "1")],
            &self.log,
        );
        self.proc.insert(p)
    }

    /// The running daemon (panics if not running).
    pub fn proc(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("pd-client is not running")
    }

    /// Everything every run of the daemon logged, in order.
    pub fn log(&self) -> String {
        read_or_empty(&self.log)
    }

    /// Wait up to `secs` until the daemon's log contains `needle` `count`
    /// times (panics with the log, also if the daemon exits).
    pub fn wait_log(&mut self, secs: u64, needle: &str, count: usize) {
        let log = self.log.clone();
        self.proc().wait_until(
            secs,
            &format!("{count}× {needle:?} in the client log"),
            || read_or_empty(&log).matches(needle).count() >= count,
        );
    }

    /// Wait up to `secs` until the daemon's log, from byte `mark` on,
    /// contains `needle` (panics with the log, also if the daemon exits).
    pub fn wait_log_since(&mut self, secs: u64, mark: usize, needle: &str) {
        self.wait_log_with(secs, &format!("{needle:?} in the client log"), |log| {
            log.get(mark..).is_some_and(|t| t.contains(needle))
        });
    }

    /// Wait up to `secs` until `cond(whole log)` holds (panics with the
    /// log, also if the daemon exits).
    pub fn wait_log_with(&mut self, secs: u64, what: &str, mut cond: impl FnMut(&str) -> bool) {
        let log = self.log.clone();
        self.proc()
            .wait_until(secs, what, || cond(&read_or_empty(&log)));
    }

    /// Send `sig` to the daemon and wait up to `secs` for its exit.
    pub fn stop(&mut self, sig: Signal, secs: u64) -> ExitStatus {
        let mut p = self.proc.take().expect("pd-client is not running");
        p.signal(sig);
        match p.wait_exit(Duration::from_secs(secs)) {
            Some(s) => s,
            None => panic!(
                "pd-client still running {secs}s after {sig}\n--- log ---\n{}",
                p.log()
            ),
        }
    }
}

impl Drop for PdClient {
    fn drop(&mut self) {
        // Kill before the scratch directory goes.
        self.proc = None;
    }
}
