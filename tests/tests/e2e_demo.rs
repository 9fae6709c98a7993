//! The README's demo as a test: the same script, the same topology
//! (scripts/topology.sh), with short lifetimes so it also shows a lease
//! expiring. The script asserts every step and exits non-zero on the first
//! failure; here we also check that each step reported what it saw.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn demo_delegates_routes_pings_releases_and_expires() {
    pd_tests::require_root();
    // Both daemons, built (pd_tests::bin panics with how to build them).
    let dir = pd_tests::bin("pd-server")
        .parent()
        .expect("binary directory")
        .to_path_buf();
    assert!(
        pd_tests::bin("pd-client").starts_with(&dir),
        "pd-server and pd-client in one directory"
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let name = format!("pdt-demo-{}", std::process::id());
    let out = Command::new(root.join("demo.sh"))
        .env("PD_DEMO_NAME", &name)
        .env("PD_DEMO_EXPIRY", "1")
        .env("PD_BIN_DIR", &dir)
        .output()
        .expect("run demo.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo.sh failed ({}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for seen in [
        "active   duid 00:03:00:01:02:00:00:00:01:02",
        "via fe80::ff:fe00:102 dev up0",
        "lan0: 2001:db8:2222:",
        "unreachable 2001:db8:2222:",
        "eth0: 2001:db8:2222:",
        "default via fe80::ff:fe00:201 dev eth0 proto ra",
        "3 packets transmitted, 3 received, 0% packet loss",
        "released duid 00:03:00:01:02:00:00:00:01:02",
        ": gone",
        "the same router got the same prefix back",
        "lease expired and its return route withdrawn",
        "all steps passed",
    ] {
        assert!(text.contains(seen), "demo output lacks {seen:?}:\n{text}");
    }
    // The script cleaned up its namespaces.
    let ns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    assert!(
        !String::from_utf8_lossy(&ns.stdout).contains(&name),
        "namespaces left behind"
    );
}
