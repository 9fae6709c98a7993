//! The packaging test: tests/packaging/test-packages.sh builds the .debs and
//! .rpms (release build), installs, runs, removes and purges the .debs on
//! this machine and inspects the .rpms. It needs root and fails loudly
//! (never skips). It takes minutes: a release build plus, on a fresh
//! machine, `cargo install cargo-deb cargo-generate-rpm`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[test]
fn packages_build_install_run_and_purge() {
    pd_tests::require_root();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent");
    let script = workspace.join("tests/packaging/test-packages.sh");
    let start = Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .current_dir(workspace)
        // The outer cargo's variables would confuse the nested builds.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("== "))
        .collect();
    println!("{}", summary.join("\n"));
    println!("test-packages.sh took {:.0?}", start.elapsed());
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
        script.display(),
        out.status,
        tail(&stdout, 60),
        tail(&stderr, 80)
    );
    assert!(
        stdout.contains("== all packaging checks passed"),
        "the script exited 0 without reaching its end"
    );
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .get(lines.len().saturating_sub(n)..)
        .unwrap_or_default()
        .join("\n")
}
