//! `sys::hooks` running the scripts in tests/scripts/.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pd_core::effect::{HookAction, HookCall};
use pd_core::sys::hooks::{HookOutcome, HookRunner, HOOK_PATH};
use pd_tests::within;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A private scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("pd-hooks-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn call(action: HookAction, key: &str, env: &[(&str, &str)]) -> HookCall {
    HookCall {
        action,
        key: key.to_string(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[tokio::test]
async fn environment_is_exactly_the_call_plus_path() {
    let s = Scratch::new();
    let out = s.file("env");
    let weird = "a b;$(echo no) `x` \"q\" 'r' *";
    let c = call(
        HookAction::Update,
        "lease-1",
        &[
            ("OUT", &out),
            ("PD_PREFIX", "2001:db8:2222:100::/56"),
            ("PD_WEIRD", weird),
        ],
    );
    let r = HookRunner::new(script("dump.sh"), Duration::from_secs(10));
    // The test process has HOME, CARGO_* and more: none may leak through.
    assert!(std::env::var_os("HOME").is_some() || std::env::var_os("CARGO").is_some());
    assert_eq!(r.run(&c).await, HookOutcome::Exited(0));

    let got: BTreeSet<String> = read(&out).lines().map(str::to_string).collect();
    let want: BTreeSet<String> = [
        format!("OUT={out}"),
        "PD_PREFIX=2001:db8:2222:100::/56".to_string(),
        format!("PD_WEIRD={weird}"),
        format!("PATH={HOOK_PATH}"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);

    let argv: Vec<String> = read(&format!("{out}.argv"))
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        argv,
        vec![
            script("dump.sh").display().to_string(),
            "update".to_string()
        ]
    );
    assert_eq!(read(&format!("{out}.cwd")).trim(), "/");
}

#[tokio::test]
async fn every_action_word_is_argv_1() {
    let s = Scratch::new();
    let r = HookRunner::new(script("dump.sh"), Duration::from_secs(10));
    for (action, word) in [
        (HookAction::Add, "add"),
        (HookAction::Update, "update"),
        (HookAction::Delete, "delete"),
        (HookAction::Expire, "expire"),
    ] {
        let out = s.file(word);
        assert_eq!(
            r.run(&call(action, "k", &[("OUT", &out)])).await,
            HookOutcome::Exited(0)
        );
        let argv = read(&format!("{out}.argv"));
        assert_eq!(argv.lines().nth(1), Some(word), "{argv}");
        assert_eq!(argv.lines().count(), 2, "{argv}");
    }
}

/// Is process `pid` gone (or a zombie nobody reaped yet)?
fn dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "PID (comm) STATE ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

#[tokio::test]
async fn timeout_kills_the_script_and_what_it_started() {
    let s = Scratch::new();
    let out = s.file("pid");
    let r = HookRunner::new(script("sleeper.sh"), Duration::from_millis(800));
    let started = Instant::now();
    let outcome = within(
        20,
        "timed-out hook",
        r.run(&call(HookAction::Add, "k", &[("OUT", &out)])),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(outcome, HookOutcome::TimedOut);
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(took < Duration::from_secs(3), "kill took {took:?}");
    let pid = read(&out).trim().to_string();
    assert!(!pid.is_empty());
    let deadline = Instant::now() + Duration::from_secs(2);
    while !dead(&pid) {
        assert!(Instant::now() < deadline, "sleep {pid} still alive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn same_key_runs_in_order_one_at_a_time() {
    let s = Scratch::new();
    let out = s.file("order");
    let r = HookRunner::new(script("order.sh"), Duration::from_secs(10));
    for seq in ["1", "2", "3", "4", "5"] {
        r.spawn(call(
            HookAction::Update,
            "lease-a",
            &[("OUT", &out), ("SEQ", seq), ("NAP", "0.1")],
        ));
    }
    within(30, "queued hooks", r.wait_idle()).await;
    let lines: Vec<String> = read(&out).lines().map(str::to_string).collect();
    let want: Vec<String> = (1..=5)
        .flat_map(|i| [format!("start {i}"), format!("end {i}")])
        .collect();
    assert_eq!(lines, want);
}

#[tokio::test]
async fn other_keys_run_alongside() {
    let s = Scratch::new();
    let out = s.file("overlap");
    let r = HookRunner::new(script("order.sh"), Duration::from_secs(10));
    r.spawn(call(
        HookAction::Add,
        "slow",
        &[("OUT", &out), ("SEQ", "slow"), ("NAP", "1.5")],
    ));
    // Queued behind nothing: must start while "slow" still sleeps.
    r.spawn(call(
        HookAction::Add,
        "fast",
        &[("OUT", &out), ("SEQ", "fast"), ("NAP", "0")],
    ));
    within(30, "queued hooks", r.wait_idle()).await;
    let text = read(&out);
    let pos = |l: &str| {
        text.lines()
            .position(|x| x == l)
            .unwrap_or_else(|| panic!("{l} missing: {text}"))
    };
    assert!(pos("end fast") < pos("end slow"), "{text}");
    // And the runner is reusable once idle (the key's queue was dropped).
    r.spawn(call(
        HookAction::Delete,
        "slow",
        &[("OUT", &out), ("SEQ", "again"), ("NAP", "0")],
    ));
    within(30, "second round", r.wait_idle()).await;
    assert!(read(&out).ends_with("start again\nend again\n"));
}

#[tokio::test]
async fn failures_are_reported() {
    let fail = HookRunner::new(script("fail.sh"), Duration::from_secs(10));
    assert_eq!(
        fail.run(&call(HookAction::Add, "k", &[])).await,
        HookOutcome::Exited(1)
    );

    let killed = HookRunner::new(script("selfkill.sh"), Duration::from_secs(10));
    assert_eq!(
        killed.run(&call(HookAction::Add, "k", &[])).await,
        HookOutcome::Signalled(15)
    );

    let missing = HookRunner::new(script("no-such-hook.sh"), Duration::from_secs(10));
    match missing.run(&call(HookAction::Add, "k", &[])).await {
        HookOutcome::SpawnFailed(text) => assert!(text.contains("No such file"), "{text}"),
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
    // Fire-and-forget with a missing script still completes (and logs).
    missing.spawn(call(HookAction::Expire, "k", &[]));
    within(10, "spawned failure", missing.wait_idle()).await;
}
