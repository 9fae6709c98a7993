//! `bench/run.sh --tiny`: the benchmark script runs end to end (pd-server and
//! Kea under perfdhcp, the store fill/restore tools, dhclient) on a
//! seconds-long setting with the debug binaries, and its summary holds real
//! figures. Fails loudly when the script or a tool it drives breaks.
#![allow(clippy::indexing_slicing, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

/// target/<profile>/, the directory of this test's own binary's parent.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The number right after `key` in `line` (e.g. "-> 199 exchanges/s").
fn number_after(line: &str, key: &str) -> f64 {
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {line:?}"))
        + key.len()..];
    rest.trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key:?} in {line:?}"))
}

#[test]
fn bench_script_tiny_run() {
    pd_tests::require_root();
    let bins = bin_dir();
    for b in ["pd-server", "pd-bench", "pd-client"] {
        assert!(
            bins.join(b).is_file(),
            "{} missing: build the workspace binaries first (cargo build --workspace --bins)",
            bins.join(b).display()
        );
    }
    let out = std::env::temp_dir().join(format!("pd-bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/run.sh");
    let run = Command::new("bash")
        .arg(&script)
        .arg("--tiny")
        .arg("--bin-dir")
        .arg(&bins)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run bench/run.sh");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "bench/run.sh --tiny failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        run.status
    );
    let summary = std::fs::read_to_string(out.join("summary.txt")).expect("summary.txt");
    let line = |prefix: &str| -> &str {
        summary
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in summary:\n{summary}"))
    };
    // Both servers answered at the tiny rate (200/s for 1 s), nearly all exchanges.
    for v in ["pd", "kea", "pd-noflush"] {
        let l = line(&format!("peak {v}: rate"));
        let xps = number_after(l, "->");
        assert!(xps >= 150.0, "{v} answered too little: {l}");
    }
    for v in ["pd", "kea", "pd-noflush", "pd-routes"] {
        let l = line(&format!("fixed {v}:"));
        assert!(number_after(l, ":") >= 150.0, "{l}");
        assert!(number_after(l, "cpu") > 0.0, "no CPU measured: {l}");
    }
    // The same under the lighter generator (pd-bench load).
    for v in ["pd", "kea", "pd-noflush"] {
        let l = line(&format!("light {v}:"));
        assert!(number_after(l, ":") >= 150.0, "{l}");
        assert!(number_after(l, "cpu") > 0.0, "no CPU measured: {l}");
    }
    assert!(line("ratio pd/kea at peak").contains("cpu per exchange"));
    // The durability micro-benchmark measured all three modes.
    for m in ["unflushed", "journal", "sled-flush+fdatasync"] {
        let l = line(&format!("flush-cost {m}:"));
        assert!(number_after(l, "p50") >= 0.0, "{l}");
    }
    // The store fill, the timed restart and the in-process restore worked.
    assert!(line("fill: wrote 2000 leases").contains("2001:db8::/32"));
    let start = line("daemon start to listening");
    assert!(number_after(start, "median") > 0.0, "{start}");
    // The 2000 filled leases plus the readiness probe's one.
    let restored = line("  restore: records=");
    assert!(number_after(restored, "records=") >= 2000.0, "{restored}");
    assert!(
        summary.contains("restore: records=4000 active=4000"),
        "{summary}"
    );
    assert!(
        summary.contains("alloc[0]: prefix=2001:db8:0:fa0::/64"),
        "{summary}"
    );
    // dhclient and pd-client got prefixes from both servers.
    for s in ["pd", "kea", "pd (preference 255)", "kea (preference 255)"] {
        for c in ["dhclient", "pd-client"] {
            let l = line(&format!("client vs {s}: {c}"));
            assert!(!l.contains("FAIL"), "{l}");
            assert!(number_after(l, "median") > 0.0, "{l}");
        }
    }
    // And pd-client with Rapid Commit from both.
    for s in ["pd", "kea"] {
        let l = line(&format!("client vs {s} (rapid commit): pd-client"));
        assert!(!l.contains("FAIL"), "{l}");
        assert!(number_after(l, "median") > 0.0, "{l}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
