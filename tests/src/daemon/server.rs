//! pd-server as a test peer: a config in a scratch directory, the daemon
//! in a namespace, and its lease command line.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::{bin, Proc, TempDir};
use crate::Netns;

/// The log filter the fixture runs pd-server with.
pub const SERVER_LOG_FILTER: &str = "info,pd_server=debug,pd_core=debug";

/// What goes into a test pd-server config (see [`ServerConfig::toml`]).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `server.interfaces`.
    pub interfaces: Vec<String>,
    /// `pool.prefix`.
    pub pool: String,
    /// `pool.delegated-length`.
    pub delegated_length: u8,
    /// `pool.preferred-lifetime`.
    pub preferred: u32,
    /// `pool.valid-lifetime`.
    pub valid: u32,
    /// `pool.t1` (default: the server's).
    pub t1: Option<u32>,
    /// `pool.t2` (default: the server's).
    pub t2: Option<u32>,
    /// `routes.install`.
    pub install_routes: bool,
    /// `hooks.script`.
    pub hook: Option<PathBuf>,
    /// More TOML appended verbatim (e.g. `[[reservation]]` tables).
    pub extra: String,
}

impl ServerConfig {
    /// One interface, pool 2001:db8:2222::/48 of /64s, 3600/7200 s, routes on.
    pub fn new(iface: &str) -> ServerConfig {
        ServerConfig {
            interfaces: vec![iface.to_string()],
            pool: "2001:db8:2222::/48".into(),
            delegated_length: 64,
            preferred: 3600,
            valid: 7200,
            t1: None,
            t2: None,
            install_routes: true,
            hook: None,
            extra: String::new(),
        }
    }

    /// Set the lifetimes and renewal times handed out.
    pub fn lifetimes(mut self, preferred: u32, valid: u32, t1: u32, t2: u32) -> ServerConfig {
        self.preferred = preferred;
        self.valid = valid;
        self.t1 = Some(t1);
        self.t2 = Some(t2);
        self
    }

    /// The TOML text, with `state_dir` as `server.state-dir`.
    pub fn toml(&self, state_dir: &Path) -> String {
        let ifaces: Vec<String> = self.interfaces.iter().map(|i| format!("{i:?}")).collect();
        let mut t = format!(
            "[server]\ninterfaces = [{}]\nstate-dir = {:?}\n\n\
             [[pool]]\nprefix = {:?}\ndelegated-length = {}\n\
             preferred-lifetime = {}\nvalid-lifetime = {}\n",
            ifaces.join(", "),
            state_dir.display().to_string(),
            self.pool,
            self.delegated_length,
            self.preferred,
            self.valid,
        );
        if let Some(t1) = self.t1 {
            t.push_str(&format!("t1 = {t1}\n"));
        }
        if let Some(t2) = self.t2 {
            t.push_str(&format!("t2 = {t2}\n"));
        }
        t.push_str(&format!("\n[routes]\ninstall = {}\n", self.install_routes));
        if let Some(h) = &self.hook {
            t.push_str(&format!(
                "\n[hooks]\nscript = {:?}\n",
                h.display().to_string()
            ));
        }
        t.push_str(&self.extra);
        t
    }
}

/// A pd-server with its own scratch directory (config, state-dir, log).
/// Not running until [`PdServer::run`]; killed on drop.
#[derive(Debug)]
pub struct PdServer {
    ns: Netns,
    proc: Option<Proc>,
    config: PathBuf,
    state_dir: PathBuf,
    log: PathBuf,
    dir: TempDir,
    /// Extra environment for every start.
    env: Vec<(String, String)>,
}

impl PdServer {
    /// Write the config built from `cfg` (not started).
    pub fn new(ns: &Netns, cfg: &ServerConfig) -> PdServer {
        PdServer::with_toml(ns, |state_dir| cfg.toml(state_dir))
    }

    /// Write the config `toml(state_dir)` (not started).
    pub fn with_toml(ns: &Netns, toml: impl FnOnce(&Path) -> String) -> PdServer {
        let dir = TempDir::new("srv");
        let state_dir = dir.join("state");
        let config = dir.write("pd-server.toml", &toml(&state_dir));
        PdServer {
            ns: ns.clone(),
            proc: None,
            config,
            state_dir,
            log: dir.join("server.log"),
            dir,
            env: Vec::new(),
        }
    }

    /// Write the config and run the server until it listens.
    pub fn start(ns: &Netns, cfg: &ServerConfig) -> PdServer {
        let mut s = PdServer::new(ns, cfg);
        s.run();
        s
    }

    /// The config file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The scratch directory (for more files).
    pub fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// Everything every run of the server logged, in order.
    pub fn log(&self) -> String {
        super::read_or_empty(&self.log)
    }

    /// Set `key` in the environment of every later start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.into(), value.into()));
    }

    /// Start `pd-server run --config F` (without waiting for it).
    pub fn spawn(&mut self) -> &mut Proc {
        assert!(self.proc.is_none(), "pd-server is already running");
        let config = self.config.display().to_string();
        let mut env = vec![("RUST_LOG", SERVER_LOG_FILTER), ("NO_COLOR", "1")];
        env.extend(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let p = Proc::spawn(
            &self.ns,
            &bin("pd-server"),
            &["run", "--config", &config],
            &env,
            &self.log,
        );
        self.proc.insert(p)
    }

    /// Start the server and wait (10 s) until it logs "pd-server listening".
    pub fn run(&mut self) {
        let before = self.log().matches("pd-server listening").count();
        let log = self.log.clone();
        self.spawn().wait_until(10, "pd-server listening", || {
            super::read_or_empty(&log)
                .matches("pd-server listening")
                .count()
                > before
        });
    }

    /// The running server process (panics if not running).
    pub fn proc(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("pd-server is not running")
    }

    /// Is a server process running (not yet exited)?
    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(|p| p.try_status().is_none())
    }

    /// Forget a server process that has exited on its own (so it can be
    /// started again); returns its exit status.
    pub fn take_exited(&mut self) -> Option<ExitStatus> {
        let status = self.proc.as_mut()?.try_status()?;
        self.proc = None;
        Some(status)
    }

    /// Send `sig` and wait up to `secs` for the exit; returns the status.
    pub fn stop(&mut self, sig: Signal, secs: u64) -> ExitStatus {
        let mut p = self.proc.take().expect("pd-server is not running");
        p.signal(sig);
        match p.wait_exit(Duration::from_secs(secs)) {
            Some(s) => s,
            None => panic!(
                "pd-server still running {secs}s after {sig}\n--- log ---\n{}",
                p.log()
            ),
        }
    }

    /// Run `pd-server ARGS` (on the host: the control socket and the
    /// database are files) and return its output.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin("pd-server"))
            .args(args)
            .output()
            .expect("run pd-server")
    }

    /// `pd-server leases --config F ARGS`.
    pub fn leases_cmd(&self, args: &[&str]) -> Output {
        let config = self.config.display().to_string();
        let mut all = vec!["leases", "--config", config.as_str()];
        all.extend_from_slice(args);
        self.cli(&all)
    }

    /// `pd-server leases list --json`: through the control socket while the
    /// server runs, from the database when it is stopped.
    pub fn leases_json(&self) -> serde_json::Value {
        let out = self.leases_cmd(&["list", "--json"]);
        assert!(
            out.status.success(),
            "pd-server leases list --json failed ({}): {}\n--- server log ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "leases list --json is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        assert!(v.is_array(), "leases list --json is not an array: {v}");
        v
    }

    /// The lease record of `prefix` (e.g. `2001:db8:2222::/64`), if any.
    pub fn lease(&self, prefix: &str) -> Option<serde_json::Value> {
        self.leases_json().as_array().and_then(|a| {
            a.iter()
                .find(|l| l.get("prefix").and_then(|p| p.as_str()) == Some(prefix))
                .cloned()
        })
    }

    /// The `state` of the lease of `prefix` ("" if there is none).
    pub fn lease_state(&self, prefix: &str) -> String {
        self.lease(prefix)
            .and_then(|l| l.get("state")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The records in state `active`.
    pub fn active_leases(&self) -> Vec<serde_json::Value> {
        self.leases_json()
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|l| l.get("state").and_then(|s| s.as_str()) == Some("active"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ask the running server for its counters over the control socket.
    pub fn stats(&self) -> serde_json::Value {
        let sock = self.state_dir.join("control.sock");
        let mut s = UnixStream::connect(&sock)
            .unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
        s.write_all(b"{\"cmd\":\"stats\"}\n").expect("send stats");
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).expect("read stats");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("stats answer {line:?}: {e}"));
        assert_eq!(v.get("result"), Some(&"stats".into()), "stats answer: {v}");
        v
    }
}

impl Drop for PdServer {
    fn drop(&mut self) {
        // Kill before the scratch directory goes.
        self.proc = None;
    }
}
