//! Network namespaces made by the test process, deleted in `Drop`.

use std::fs::File;
use std::future::Future;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::sched::{setns, CloneFlags};

use crate::require_root;

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
struct Inner {
    name: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A named network namespace (`ip netns`), deleted when the last clone
/// drops. DAD is off in it (`all` and `default`), and `lo` is up.
#[derive(Clone, Debug)]
pub struct Netns {
    inner: Arc<Inner>,
}

impl Netns {
    /// Create `pdt-TAG-PID-N` (deleting a leftover of that name first).
    pub fn new(tag: &str) -> Netns {
        require_root();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("pdt-{tag}-{}-{n}", std::process::id());
        if Path::new("/run/netns").join(&name).exists() {
            let _ = Command::new("ip").args(["netns", "delete", &name]).status();
        }
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns {
            inner: Arc::new(Inner { name }),
        };
        // Before any link exists, so every new link inherits it.
        ns.sysctl("net.ipv6.conf.all.accept_dad", "0");
        ns.sysctl("net.ipv6.conf.default.accept_dad", "0");
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Take over an existing namespace made by someone else (e.g.
    /// scripts/topology.sh); it is deleted when the last clone drops.
    pub fn adopt(name: &str) -> Netns {
        require_root();
        assert!(
            Path::new("/run/netns").join(name).exists(),
            "namespace {name} does not exist"
        );
        Netns {
            inner: Arc::new(Inner {
                name: name.to_string(),
            }),
        }
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Run `cmd args` inside the namespace and return its output.
    pub fn exec(&self, cmd: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", self.name(), cmd])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {} {cmd}: {e}", self.name()))
    }

    /// Like [`Netns::exec`], panicking with stderr unless it succeeds;
    /// returns stdout.
    pub fn exec_ok(&self, cmd: &str, args: &[&str]) -> String {
        let out = self.exec(cmd, args);
        assert!(
            out.status.success(),
            "in {}: {cmd} {args:?} failed ({}): {}",
            self.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ip ARGS` in the namespace, which must succeed; returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        self.exec_ok("ip", args)
    }

    /// `sysctl -w KEY=VALUE` in the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.exec_ok("sysctl", &["-q", "-w", &format!("{key}={value}")]);
    }

    /// Read a sysctl in the namespace.
    pub fn sysctl_get(&self, key: &str) -> String {
        self.exec_ok("sysctl", &["-n", key]).trim().to_string()
    }

    /// Start `cmd args` in the background inside the namespace; it is
    /// killed when the returned value drops.
    pub fn spawn(&self, cmd: &str, args: &[&str]) -> Background {
        let child = Command::new("ip")
            .args(["netns", "exec", self.name(), cmd])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd} in {}: {e}", self.name()));
        Background { child }
    }

    /// Start async code on a new thread that has entered the namespace,
    /// under its own current-thread tokio runtime.
    pub fn start<F, Fut, T>(&self, f: F) -> NsTask<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        let path = Path::new("/run/netns").join(self.name());
        let name = self.name().to_string();
        let handle = std::thread::Builder::new()
            .name(format!("in-{name}"))
            .spawn(move || {
                let file =
                    File::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                setns(&file, CloneFlags::CLONE_NEWNET)
                    .unwrap_or_else(|e| panic!("setns into {name}: {e}"));
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build a tokio runtime");
                rt.block_on(f())
            })
            .expect("spawn a namespace thread");
        NsTask { handle }
    }

    /// Run async code inside the namespace and return its result (a panic
    /// inside propagates).
    pub fn run<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        self.start(f).join()
    }
}

/// Async code running inside a namespace (see [`Netns::start`]).
#[derive(Debug)]
pub struct NsTask<T> {
    handle: JoinHandle<T>,
}

impl<T> NsTask<T> {
    /// Wait for it; a panic inside propagates.
    pub fn join(self) -> T {
        match self.handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// A background process in a namespace, killed and reaped on drop.
#[derive(Debug)]
pub struct Background {
    child: Child,
}

impl Background {
    /// The process id of the `ip netns exec` wrapper (it execs the command,
    /// so this is the command's pid).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Has it exited (without waiting)?
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
