//! The hook runner: `SCRIPT ACTION` with a fixed environment, a timeout,
//! and calls with the same key run one after the other.
//!
//! Hooks observe, never decide: outcomes are logged, never fed back into
//! protocol decisions.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::{mpsc, Notify};

use crate::effect::HookCall;

/// The only inherited-looking variable a hook gets besides the call's own.
pub const HOOK_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Output kept per stream for the debug log; the rest is read and dropped.
const OUTPUT_CAP: usize = 16 * 1024;
/// How long to wait for a hook's output pipes to close once it has exited
/// (a background grandchild may keep them open).
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// How a hook run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookOutcome {
    /// The script exited with this status code.
    Exited(i32),
    /// The script was killed by this signal (not by us).
    Signalled(i32),
    /// The script ran past the timeout and was killed with its process group.
    TimedOut,
    /// The script could not be started (or waited for): the error text.
    SpawnFailed(String),
}

impl HookOutcome {
    /// Exit status 0.
    pub fn is_success(&self) -> bool {
        *self == HookOutcome::Exited(0)
    }
}

/// Per-key FIFO queues; a key's worker task exists while its queue does.
type Queues = HashMap<String, mpsc::UnboundedSender<HookCall>>;

#[derive(Debug)]
struct Inner {
    script: PathBuf,
    timeout: Duration,
    queues: Mutex<Queues>,
    /// Calls queued by `spawn` and not finished yet.
    pending: AtomicUsize,
    idle: Notify,
}

/// Runs one hook script; cheap to clone (clones share the queues).
#[derive(Clone, Debug)]
pub struct HookRunner {
    inner: Arc<Inner>,
}

impl HookRunner {
    /// A runner for `script`, killing any run that lasts over `timeout`.
    pub fn new(script: PathBuf, timeout: Duration) -> Self {
        HookRunner {
            inner: Arc::new(Inner {
                script,
                timeout,
                queues: Mutex::new(HashMap::new()),
                pending: AtomicUsize::new(0),
                idle: Notify::new(),
            }),
        }
    }

    /// The script path.
    pub fn script(&self) -> &Path {
        &self.inner.script
    }

    /// Run the hook once and wait for it: argv `[script, action]`, an
    /// environment of PATH plus exactly the call's variables (a PATH in the
    /// call wins), cwd `/`, stdin empty, output captured and logged at debug.
    pub async fn run(&self, call: &HookCall) -> HookOutcome {
        run_one(&self.inner.script, self.inner.timeout, call).await
    }

    /// Queue the hook and return at once. Calls with the same `key` run in
    /// the order they were queued, one at a time; other keys run alongside.
    /// The outcome is logged (warn unless it exited 0). Needs a tokio runtime.
    pub fn spawn(&self, call: HookCall) {
        self.inner.pending.fetch_add(1, Ordering::SeqCst);
        let mut queues = lock(&self.inner.queues);
        match queues.entry(call.key.clone()) {
            Entry::Occupied(e) => {
                // The worker removes its entry (under this lock) before it
                // drops the receiver, so a present sender always delivers.
                if let Err(mpsc::error::SendError(call)) = e.get().send(call) {
                    e.remove();
                    self.start_worker(&mut queues, call);
                }
            }
            Entry::Vacant(_) => self.start_worker(&mut queues, call),
        }
    }

    fn start_worker(&self, queues: &mut Queues, first: HookCall) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let key = first.key.clone();
        queues.insert(key.clone(), tx);
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let mut next = Some(first);
            while let Some(call) = next {
                let outcome = run_one(&inner.script, inner.timeout, &call).await;
                log_outcome(&inner.script, &call, &outcome);
                if inner.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                    inner.idle.notify_waiters();
                }
                let mut queues = lock(&inner.queues);
                next = rx.try_recv().ok();
                if next.is_none() {
                    queues.remove(&key);
                }
            }
        });
    }

    /// Wait until every call queued with [`HookRunner::spawn`] has finished
    /// (for shutdown and tests).
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

fn lock(m: &Mutex<Queues>) -> MutexGuard<'_, Queues> {
    // A panic elsewhere cannot leave the map inconsistent: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn log_outcome(script: &Path, call: &HookCall, outcome: &HookOutcome) {
    let script = script.display();
    let action = call.action.as_str();
    let key = call.key.as_str();
    match outcome {
        HookOutcome::Exited(0) => tracing::debug!(%script, action, key, "hook succeeded"),
        HookOutcome::Exited(code) => {
            tracing::warn!(%script, action, key, code, "hook exited non-zero")
        }
        HookOutcome::Signalled(signal) => {
            tracing::warn!(%script, action, key, signal, "hook killed by signal")
        }
        HookOutcome::TimedOut => tracing::warn!(%script, action, key, "hook timed out, killed"),
        HookOutcome::SpawnFailed(error) => {
            tracing::warn!(%script, action, key, %error, "hook could not run")
        }
    }
}

/// A variable name the environment block can carry unambiguously.
fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}

/// Read a pipe to its end, keeping the first `OUTPUT_CAP` bytes.
async fn drain(mut pipe: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend(chunk.iter().take(n.min(room)));
            }
        }
    }
}

fn outcome_of(status: ExitStatus) -> HookOutcome {
    match (status.code(), status.signal()) {
        (Some(code), _) => HookOutcome::Exited(code),
        (None, Some(sig)) => HookOutcome::Signalled(sig),
        // Neither: stopped/continued cannot come out of wait(); be explicit.
        (None, None) => HookOutcome::SpawnFailed(format!("unexpected wait status {status}")),
    }
}

async fn run_one(script: &Path, timeout: Duration, call: &HookCall) -> HookOutcome {
    if let Some((bad, _)) = call.env.iter().find(|(k, _)| !valid_env_name(k)) {
        return HookOutcome::SpawnFailed(format!("invalid environment variable name {bad:?}"));
    }
    let mut cmd = Command::new(script);
    cmd.arg(call.action.as_str())
        .env_clear()
        .env("PATH", HOOK_PATH)
        .envs(call.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return HookOutcome::SpawnFailed(e.to_string()),
    };
    let out = child.stdout.take().map(|p| tokio::spawn(drain(p)));
    let err = child.stderr.take().map(|p| tokio::spawn(drain(p)));
    let outcome = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => outcome_of(status),
        Ok(Err(e)) => HookOutcome::SpawnFailed(format!("wait: {e}")),
        Err(_elapsed) => {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                // The group may already be gone (ESRCH): nothing to do then.
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            // Kill (if killpg could not) and reap the direct child.
            if let Err(e) = child.kill().await {
                tracing::warn!(script = %script.display(), error = %e, "could not kill timed-out hook");
            }
            HookOutcome::TimedOut
        }
    };
    for (name, task) in [("stdout", out), ("stderr", err)] {
        let Some(task) = task else { continue };
        let abort = task.abort_handle();
        match tokio::time::timeout(OUTPUT_GRACE, task).await {
            Ok(Ok(bytes)) if !bytes.is_empty() => tracing::debug!(
                script = %script.display(),
                action = call.action.as_str(),
                stream = name,
                output = %String::from_utf8_lossy(&bytes).trim_end(),
                "hook output"
            ),
            Ok(_) => {}
            Err(_) => abort.abort(),
        }
    }
    outcome
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_checked() {
        assert!(valid_env_name("PD_PREFIX"));
        assert!(!valid_env_name(""));
        assert!(!valid_env_name("A=B"));
        assert!(!valid_env_name("A\0"));
    }

    #[tokio::test]
    async fn bad_env_name_is_refused_before_spawning() {
        let r = HookRunner::new(PathBuf::from("/bin/true"), Duration::from_secs(5));
        let call = HookCall {
            action: crate::effect::HookAction::Add,
            key: "k".into(),
            env: vec![("A=B".into(), "x".into())],
        };
        match r.run(&call).await {
            HookOutcome::SpawnFailed(t) => assert!(t.contains("A=B"), "{t}"),
            o => panic!("unexpected {o:?}"),
        }
    }

    #[tokio::test]
    async fn drain_caps_what_it_keeps() {
        let data = vec![b'x'; OUTPUT_CAP + 5000];
        let kept = drain(data.as_slice()).await;
        assert_eq!(kept.len(), OUTPUT_CAP);
    }
}
