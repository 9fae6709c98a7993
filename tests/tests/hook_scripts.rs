//! The shipped client hook scripts, run as the daemons run them: fixed
//! argv, exactly the documented environment plus PATH.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hooks")
        .join(name)
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pd-hook-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

fn run(name: &str, action: &str, env: &[(&str, &str)]) -> Output {
    Command::new(script(name))
        .arg(action)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(env.iter().copied())
        .output()
        .expect("run hook script")
}

#[test]
fn pd_client_sh_records_the_delegation() {
    let dir = tmpdir("client");
    let d = dir.to_str().expect("utf-8");
    let env = [
        ("PD_HOOK_STATE_DIR", d),
        ("PD_IFACE", "wan0"),
        ("PD_SERVER", "fe80::1"),
        (
            "PREFIXES",
            "2001:db8:2222::/56,3600,7200 2001:db8:3333::/64,10,20",
        ),
    ];
    let out = run("pd-client.sh", "add", &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("wan0.prefixes")).expect("state file");
    assert_eq!(
        text,
        "2001:db8:2222::/56 3600 7200\n2001:db8:3333::/64 10 20\n"
    );
    let out = run("pd-client.sh", "expire", &env);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.join("wan0.prefixes")).expect("state file"),
        ""
    );
    assert!(!run("pd-client.sh", "bogus", &env).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn neutron_notifier_writes_prefix_and_signals() {
    let dir = tmpdir("neutron");
    let file = dir.join("router1/prefix");
    let f = file.to_str().expect("utf-8");
    // A process to signal: it exits 0 on SIGHUP via trap.
    let mut target = Command::new("sh")
        .args(["-c", "trap 'exit 7' HUP; while :; do sleep 0.05; done"])
        .spawn()
        .expect("spawn target");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pid = target.id().to_string();
    let out = run(
        "neutron-pd-notify.sh",
        "add",
        &[
            ("NEUTRON_PD_PREFIX_FILE", f),
            ("NEUTRON_PD_PID", &pid),
            ("PREFIX1", "2001:db8:2222:5::"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("prefix file"),
        "2001:db8:2222:5::/64\n"
    );
    let status = target.wait().expect("wait target");
    assert_eq!(status.code(), Some(7), "the notified process got SIGHUP");
    let out = run(
        "neutron-pd-notify.sh",
        "delete",
        &[("NEUTRON_PD_PREFIX_FILE", f)],
    );
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&file).expect("prefix file"),
        "::/64\n"
    );
    // Missing configuration is an error, not a silent no-op.
    assert!(
        !run("neutron-pd-notify.sh", "add", &[("PREFIX1", "2001:db8::")])
            .status
            .success()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
