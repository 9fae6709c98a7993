#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A private temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "pd-client-state-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn lease(updated: Timestamp) -> Lease {
    Lease {
        iaid: 9,
        server_id: Duid::ll(1, &[2, 0, 0, 0, 0, 0xee]),
        server_addr: "fe80::1".parse().unwrap(),
        t1: 100,
        t2: 160,
        updated,
        prefixes: vec![
            LeasedPrefix {
                prefix: "2001:db8:1::/56".parse().unwrap(),
                preferred: 200,
                valid: 300,
                updated,
            },
            LeasedPrefix {
                prefix: "2001:db8:2::/56".parse().unwrap(),
                preferred: INFINITY,
                valid: INFINITY,
                updated,
            },
        ],
        dns_servers: vec!["2001:db8::53".parse().unwrap()],
    }
}

fn me() -> Duid {
    Duid::ll(1, &[2, 0, 0, 0, 0, 1])
}

#[test]
fn clock_converts_both_ways() {
    let c = Clock {
        mono: Timestamp::from_secs(100),
        unix_ms: 1_700_000_000_500,
    };
    assert_eq!(c.to_unix(Timestamp::from_secs(100)), 1_700_000_000);
    assert_eq!(c.to_unix(Timestamp::from_secs(160)), 1_700_000_060);
    assert_eq!(c.to_unix(Timestamp::ZERO), 1_699_999_900);
    assert_eq!(
        c.to_mono(1_700_000_060),
        (Timestamp::from_millis(159_500), 0)
    );
    // 200.5 s before the origin: clamped to the origin, 201 s (rounded up) of deficit.
    assert_eq!(c.to_mono(1_699_999_700), (Timestamp::ZERO, 201));
}

#[test]
fn lease_round_trip_through_a_restart() {
    let t = TempDir::new();
    let dir = StateDir::new(&t.0);
    // Before the "restart": monotonic 1000 s = Unix 1_700_000_000.
    let before = Clock {
        mono: Timestamp::from_secs(1000),
        unix_ms: 1_700_000_000_000,
    };
    let l = lease(Timestamp::from_secs(950));
    dir.save_lease("wan0", &me(), Some(&l), &before).unwrap();
    let names: Vec<_> = fs::read_dir(&t.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("lease-wan0.json")],
        "no temporary file left"
    );
    let rec = dir.load_record("wan0").unwrap().unwrap();
    assert_eq!(rec.updated, 1_699_999_950);
    assert_eq!(rec.client_duid().unwrap(), me());
    // Same clock: identical lease.
    assert_eq!(dir.load_lease("wan0", &before).unwrap().unwrap(), l);
    // After a restart 30 s later, monotonic origin anew (now = 5 s):
    // the Reply was 80 s ago, i.e. 75 s before the new origin.
    let after = Clock {
        mono: Timestamp::from_secs(5),
        unix_ms: 1_700_000_030_000,
    };
    let back = dir.load_lease("wan0", &after).unwrap().unwrap();
    assert_eq!(back.updated, Timestamp::ZERO);
    assert_eq!((back.t1, back.t2), (25, 85));
    assert_eq!(
        (back.prefixes[0].preferred, back.prefixes[0].valid),
        (125, 225)
    );
    assert_eq!(back.prefixes[1].valid, INFINITY, "infinity survives");
    // Deadlines in wall-clock terms are unchanged.
    assert_eq!(
        after.to_unix(back.prefixes[0].valid_until()),
        1_699_999_950 + 300
    );
    assert_eq!(after.to_unix(back.renew_at()), 1_699_999_950 + 100);
    // Removal.
    dir.save_lease("wan0", &me(), None, &after).unwrap();
    assert!(dir.load_record("wan0").unwrap().is_none());
    dir.save_lease("wan0", &me(), None, &after).unwrap();
}

#[test]
fn corrupt_files_name_the_file() {
    let t = TempDir::new();
    fs::create_dir_all(&t.0).unwrap();
    let dir = StateDir::new(&t.0);
    let clock = Clock {
        mono: Timestamp::ZERO,
        unix_ms: 0,
    };
    fs::write(dir.lease_path("wan0"), "{ not json").unwrap();
    let e = dir.load_lease("wan0", &clock).unwrap_err().to_string();
    assert!(
        e.contains("lease-wan0.json") && e.contains("corrupt"),
        "{e}"
    );
    let mut rec = LeaseRecord::from_lease("wan0", &me(), &lease(Timestamp::ZERO), &clock);
    rec.prefixes[0].prefix = "2001:db8::1/56".into();
    fs::write(dir.lease_path("wan0"), serde_json::to_string(&rec).unwrap()).unwrap();
    let e = dir.load_lease("wan0", &clock).unwrap_err().to_string();
    assert!(
        e.contains("lease-wan0.json") && e.contains("prefixes[0].prefix"),
        "{e}"
    );
    fs::write(dir.duid_path(), "zz").unwrap();
    let e = dir
        .load_or_create_duid(&DuidSpec::Ll, &DuidInputs::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("/duid"), "{e}");
    fs::write(dir.lease_path("wan1"), "[]").unwrap();
    let e = dir.records().unwrap_err().to_string();
    assert!(e.contains("lease-wan1.json"), "{e}");
}

#[test]
fn duid_is_created_once() {
    let t = TempDir::new();
    let dir = StateDir::new(&t.0);
    let inputs = DuidInputs {
        mac: Some([2, 0, 0, 0, 0, 1]),
        unix_secs: DUID_EPOCH_UNIX + 5,
        machine_id: None,
    };
    let d = dir.load_or_create_duid(&DuidSpec::Ll, &inputs).unwrap();
    assert_eq!(d.to_string(), "00:03:00:01:02:00:00:00:00:01");
    assert_eq!(
        fs::read_to_string(dir.duid_path()).unwrap(),
        "00:03:00:01:02:00:00:00:00:01\n"
    );
    // Another MAC later (interface replaced): the DUID stays.
    let other = DuidInputs {
        mac: Some([2, 0, 0, 0, 0, 2]),
        ..inputs.clone()
    };
    assert_eq!(dir.load_or_create_duid(&DuidSpec::Llt, &other).unwrap(), d);
    // A fixed DUID is used as is and not written.
    let fixed = Duid::en(32473, &[1, 2]);
    assert_eq!(
        dir.load_or_create_duid(&DuidSpec::Fixed(fixed.clone()), &other)
            .unwrap(),
        fixed
    );
    assert_eq!(
        fs::read_to_string(dir.duid_path()).unwrap(),
        "00:03:00:01:02:00:00:00:00:01\n"
    );
}

#[test]
fn duid_types() {
    let inputs = DuidInputs {
        mac: Some([2, 0, 0, 0, 0, 1]),
        unix_secs: DUID_EPOCH_UNIX + 0x0102,
        machine_id: parse_machine_id("0123456789abcdef0123456789abcdef\n"),
    };
    assert_eq!(
        make_duid(&DuidSpec::Llt, &inputs).unwrap().to_string(),
        "00:01:00:01:00:00:01:02:02:00:00:00:00:01"
    );
    assert_eq!(make_duid(&DuidSpec::Uuid, &inputs).unwrap().type_code(), 4);
    let en = make_duid(&DuidSpec::En(32473), &inputs).unwrap();
    assert!(en.to_string().starts_with("00:02:00:00:7e:d9:01:23:45"));
    assert!(make_duid(&DuidSpec::Ll, &DuidInputs::default())
        .unwrap_err()
        .to_string()
        .contains("MAC"));
    assert!(make_duid(&DuidSpec::Uuid, &DuidInputs::default())
        .unwrap_err()
        .to_string()
        .contains("machine-id"));
    assert_eq!(parse_machine_id("xyz"), None);
    assert_eq!(parse_machine_id("0123456789abcdef0123456789abcdeg"), None);
}

#[test]
fn records_lists_every_interface() {
    let t = TempDir::new();
    let dir = StateDir::new(&t.0);
    assert!(dir.records().unwrap().is_empty(), "missing dir is empty");
    let clock = Clock {
        mono: Timestamp::ZERO,
        unix_ms: 1_000_000,
    };
    for i in ["wan1", "wan0"] {
        dir.save_lease(i, &me(), Some(&lease(Timestamp::ZERO)), &clock)
            .unwrap();
    }
    fs::write(t.0.join("unrelated"), "x").unwrap();
    let recs = dir.records().unwrap();
    assert_eq!(
        recs.iter()
            .map(|r| r.interface.as_str())
            .collect::<Vec<_>>(),
        vec!["wan0", "wan1"]
    );
    assert_eq!(seconds_left(1000, 300, 1100), Some(200));
    assert_eq!(seconds_left(1000, 300, 2000), Some(0));
    assert_eq!(seconds_left(1000, INFINITY, 2000), None);
}
