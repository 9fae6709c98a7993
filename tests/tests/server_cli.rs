//! pd-server's command line: `check-config` names the offending key,
//! `leases list` explains a missing database, and a damaged lease database
//! stops `pd-server run` with a clear message instead of an empty start.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use pd_core::duid::Duid;
use pd_core::time::Timestamp;
use pd_server::lease::{ClientKey, Lease, LeaseState};
use pd_server::store::{key, Clock, LeaseStore, SledStore};
use pd_tests::daemon::{bin, unix_now};
use pd_tests::{Netns, PdServer, ServerConfig, TempDir};

const BASE: &str = r#"[server]
interfaces = ["s0"]
state-dir = "/var/lib/pd-test"

[[pool]]
prefix = "2001:db8:2222::/48"
delegated-length = 64
preferred-lifetime = 3600
valid-lifetime = 7200
"#;

fn pd_server(args: &[&str]) -> Output {
    Command::new(bin("pd-server"))
        .args(args)
        .output()
        .expect("run pd-server")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn check_config(dir: &TempDir, name: &str, text: &str) -> Output {
    let f = dir.write(name, text);
    pd_server(&["check-config", &f.display().to_string()])
}

#[test]
fn check_config_accepts_the_packaged_example() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/pd-server.toml");
    let out = pd_server(&["check-config", &example.display().to_string()]);
    assert!(
        out.status.success(),
        "{}: {}",
        example.display(),
        stderr(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn check_config_names_the_offending_key() {
    let dir = TempDir::new("cfg");
    let base = check_config(&dir, "base.toml", BASE);
    assert!(
        base.status.success(),
        "the base config is valid: {}",
        stderr(&base)
    );
    let pool2 = "\n[[pool]]\nprefix = \"2001:db8:2222:100::/56\"\ndelegated-length = 64\n";
    let resv = "\n[[reservation]]\nduid = \"00:03:00:01:02:00:00:00:00:02\"\n\
                prefix = \"2001:db8:3333::/64\"\n";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "delegated length equal to the pool's",
            BASE.replace("delegated-length = 64", "delegated-length = 48"),
            "pool[0].delegated-length",
        ),
        (
            "delegated length shorter than the pool's",
            BASE.replace("delegated-length = 64", "delegated-length = 40"),
            "pool[0].delegated-length",
        ),
        (
            "overlapping pools",
            format!("{BASE}{pool2}"),
            "pool[1].prefix",
        ),
        (
            "reservation outside every pool",
            format!("{BASE}{resv}"),
            "reservation[0].prefix",
        ),
        (
            "preferred > valid",
            BASE.replace("preferred-lifetime = 3600", "preferred-lifetime = 8000"),
            "pool[0].preferred-lifetime",
        ),
        (
            "t1 > t2",
            format!("{BASE}t1 = 3000\nt2 = 2000\n"),
            "pool[0].t1",
        ),
        (
            "interface name too long",
            BASE.replace("\"s0\"", "\"this-is-far-too-long\""),
            "server.interfaces[0]",
        ),
        (
            "interface name with a slash",
            BASE.replace("\"s0\"", "\"s0\", \"eth/0\""),
            "server.interfaces[1]",
        ),
    ];
    for (i, (what, text, key)) in cases.iter().enumerate() {
        let out = check_config(&dir, &format!("bad{i}.toml"), text);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: exit status; {err}");
        assert!(err.contains(key), "{what}: stderr names `{key}`: {err}");
        assert!(
            err.contains(&format!("bad{i}.toml")),
            "{what}: names the file: {err}"
        );
    }
}

#[test]
fn check_config_names_an_unknown_key_and_its_line() {
    let dir = TempDir::new("cfg");
    let text = BASE.replace("delegated-length = 64", "delegated-lenght = 64");
    let line = text
        .lines()
        .position(|l| l.starts_with("delegated-lenght"))
        .expect("typo line")
        + 1;
    let out = check_config(&dir, "typo.toml", &text);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown field `delegated-lenght`"), "{err}");
    assert!(err.contains(&format!("line {line}:")), "line {line}: {err}");
}

#[test]
fn check_config_on_a_missing_file() {
    let out = pd_server(&["check-config", "/nonexistent/pd-server.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("/nonexistent/pd-server.toml"), "{err}");
}

#[test]
fn leases_list_without_a_database_says_so() {
    let dir = TempDir::new("cli");
    let missing = dir.join("no-such-state");
    let out = pd_server(&[
        "leases",
        "--state-dir",
        &missing.display().to_string(),
        "list",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no lease database") && err.contains(&missing.display().to_string()),
        "{err}"
    );
    // The same through a config file naming that state-dir.
    let cfg = dir.write("c.toml", &ServerConfig::new("s0").toml(&missing));
    let out = pd_server(&[
        "leases",
        "--config",
        &cfg.display().to_string(),
        "list",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no lease database"),
        "{}",
        stderr(&out)
    );
    assert!(!missing.exists(), "listing creates nothing");
}

fn lease(n: u16) -> Lease {
    let [hi, lo] = n.to_be_bytes();
    Lease {
        prefix: format!("2001:db8:2222:{n:x}::/64").parse().expect("prefix"),
        client: ClientKey {
            duid: Duid::ll(1, &[2, 0, 0, 0, hi, lo]),
            iaid: 1,
        },
        state: LeaseState::Active,
        preferred_until: Timestamp::from_secs(3600),
        valid_until: Timestamp::from_secs(7200),
        next_hop: "fe80::ff:fe00:2".parse().expect("next hop"),
        iface: Arc::from("s0"),
    }
}

/// A pd-server (not started) whose state-dir holds `n` active leases
/// written by pd-server's own store, in several batches.
fn server_with_leases(ns: &Netns, n: u16) -> PdServer {
    let server = PdServer::new(ns, &ServerConfig::new("s0"));
    let clock = Clock {
        mono: Timestamp::ZERO,
        wall: unix_now(),
    };
    let store = SledStore::open(server.state_dir()).expect("open the store");
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let batch: Vec<Lease> = chunk.iter().map(|i| lease(*i)).collect();
        store.write(clock, &batch, &[]).expect("write leases");
    }
    drop(store);
    let listed = server.leases_json();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(usize::from(n)),
        "the database is readable before the damage"
    );
    server
}

/// `pd-server run` must refuse to start: a non-zero exit within 10 s that
/// explains the lease database problem, and `leases list` must fail too.
fn assert_refuses(mut server: PdServer, what: &str) {
    let p = server.spawn();
    let status = p.wait_exit(Duration::from_secs(10));
    let log = p.log();
    let status = status.unwrap_or_else(|| {
        panic!("{what}: pd-server started on a damaged database\n--- log ---\n{log}")
    });
    assert!(!status.success(), "{what}: exit {status}\n{log}");
    assert!(
        log.contains("lease database"),
        "{what}: a clear message: {log}"
    );
    assert!(!log.contains("pd-server listening"), "{what}: {log}");
    let listed = server.leases_cmd(&["list", "--json"]);
    assert!(
        !listed.status.success(),
        "{what}: `leases list` must fail, not show {}",
        String::from_utf8_lossy(&listed.stdout)
    );
}

fn sled_file(state_dir: &Path, name: &str) -> PathBuf {
    let p = state_dir.join("leases").join(name);
    assert!(
        p.is_file(),
        "{} missing: sled's layout changed?",
        p.display()
    );
    p
}

#[test]
fn garbage_in_a_record_stops_the_server() {
    let ns = Netns::new("cli");
    let server = server_with_leases(&ns, 30);
    {
        let db = sled::open(server.state_dir().join("leases")).expect("open sled");
        db.insert(&key(&lease(7).prefix)[..], &b"\x01garbage"[..])
            .expect("overwrite a record");
        db.flush().expect("flush");
    }
    let err = stderr(&server.leases_cmd(&["list"]));
    assert!(
        err.contains("corrupt") && err.contains("20010db8222200070000000000000000"),
        "names the record: {err}"
    );
    assert_refuses(server, "garbage record");
}

/// `keep` of the bytes before the zero padding of a sled log file.
fn truncate_data(file: &Path, keep: f64) -> u64 {
    let bytes = std::fs::read(file).expect("read db");
    let data = bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
    let len = (data as f64 * keep) as u64;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .expect("open db");
    f.set_len(len).expect("truncate");
    len
}

fn junk(file: &Path) {
    let len = std::fs::metadata(file).expect("db size").len();
    let junk: Vec<u8> = (0..len).map(|i| (i * 7 + 13) as u8).collect();
    std::fs::write(file, junk).expect("overwrite db");
}

#[test]
fn damaged_database_files_stop_the_server() {
    // The database was reopened after the writes (as by any restart or
    // `leases list`), so sled has a snapshot of where its log ends.
    let ns = Netns::new("cli");
    for keep in [0.0, 0.5, 0.95] {
        let server = server_with_leases(&ns, 30);
        let db = sled_file(server.state_dir(), "db");
        let len = truncate_data(&db, keep);
        assert_refuses(server, &format!("db truncated to {len} bytes"));
    }
    let server = server_with_leases(&ns, 30);
    junk(&sled_file(server.state_dir(), "db"));
    assert_refuses(server, "db file overwritten with junk");
}

/// Leases granted by a real pd-server (perfdhcp as the clients), which is
/// then SIGKILLed: the state a crash leaves. Returns the state-dir copy
/// source and the number of active leases.
fn crashed_state(srv: &Netns, work: &TempDir) -> (PathBuf, u64) {
    let link = pd_tests::ClientLink::new(srv, 0);
    let mut server = PdServer::start(srv, &ServerConfig::new("s0"));
    let out = link.ns.exec(
        "bash",
        &[
            "-c",
            "ulimit -v 2000000; exec timeout 30 perfdhcp -6 -l c0 -e prefix-only \
             -R 10000 -r 50 -p 1 -W 1000000",
        ],
    );
    assert!(
        out.status.success(),
        "perfdhcp: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let active = server.stats()["active"].as_u64().expect("active count");
    assert!(active >= 20, "perfdhcp made {active} leases");
    let st = server.stop(nix::sys::signal::Signal::SIGKILL, 5);
    assert!(!st.success());
    let keep = work.join("crashed-state");
    let cp = Command::new("cp")
        .args(["-a"])
        .arg(server.state_dir())
        .arg(&keep)
        .status()
        .expect("cp");
    assert!(cp.success());
    (keep, active)
}

/// A stopped server whose state-dir is a copy of `state`.
fn server_on_copy(ns: &Netns, state: &Path) -> PdServer {
    let server = PdServer::new(ns, &ServerConfig::new("s0"));
    let cp = Command::new("cp")
        .args(["-a"])
        .arg(state)
        .arg(server.state_dir())
        .status()
        .expect("cp");
    assert!(cp.success());
    server
}

fn journal_file(state_dir: &Path) -> PathBuf {
    let dir = state_dir.join("leases.journal");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("journal directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files.pop().expect("a journal file")
}

#[test]
fn damaged_database_after_a_crash_stops_the_server() {
    let srv = Netns::new("srv");
    let work = TempDir::new("crash");
    let (state, active) = crashed_state(&srv, &work);
    // Undamaged, the copy restores every lease.
    let intact = server_on_copy(&srv, &state);
    assert_eq!(intact.active_leases().len() as u64, active, "intact copy");
    drop(intact);
    // sled's own file cut short or garbled: the journal still holds every
    // lease acknowledged since the last checkpoint, so nothing is lost.
    for damage in ["emptied", "junk"] {
        let server = server_on_copy(&srv, &state);
        let db = sled_file(server.state_dir(), "db");
        if damage == "junk" {
            junk(&db);
        } else {
            truncate_data(&db, 0.0);
        }
        assert_eq!(
            server.active_leases().len() as u64,
            active,
            "db {damage}: the journal restores what sled lost"
        );
    }
    // Both cut short: fewer records than the mark, refused.
    for keep in [0.0, 0.5] {
        let server = server_on_copy(&srv, &state);
        let len = truncate_data(&journal_file(server.state_dir()), keep);
        truncate_data(&sled_file(server.state_dir(), "db"), 0.0);
        assert_refuses(
            server,
            &format!("after a crash, journal truncated to {len} bytes and db emptied"),
        );
    }
    let server = server_on_copy(&srv, &state);
    junk(&journal_file(server.state_dir()));
    junk(&sled_file(server.state_dir(), "db"));
    assert_refuses(
        server,
        "after a crash, journal and db overwritten with junk",
    );
}
