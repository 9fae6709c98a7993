#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
use super::*;

const GOOD: &str = r#"
[server]
interfaces = ["eth1"]
state-dir = "/var/lib/pd-server"
preference = 255
rapid-commit = true

[[pool]]
prefix = "2001:db8:2222::/48"
delegated-length = 64
preferred-lifetime = 3600
valid-lifetime = 7200

[routes]
install = true

[hooks]
script = "/etc/pd-server/pd-server.sh"
timeout = 10

[[reservation]]
duid = "00:03:00:01:02:00:00:00:00:01"
prefix = "2001:db8:2222:ff::/64"
"#;

fn with(extra: &str) -> String {
    format!("{GOOD}\n{extra}")
}

fn fails(text: &str) -> ConfigError {
    parse(text).expect_err("config should be rejected")
}

#[test]
fn good_config_and_defaults() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.interfaces, vec!["eth1".to_string()]);
    let p = &c.pools[0];
    assert_eq!((p.preferred, p.valid, p.t1, p.t2), (3600, 7200, 1800, 2880));
    assert_eq!(p.delegated_len, 64);
    assert_eq!(
        c.routes,
        RoutesConfig {
            install: true,
            metric: 1024
        }
    );
    assert_eq!(
        c.control_socket,
        PathBuf::from("/var/lib/pd-server/control.sock")
    );
    assert_eq!(
        c.reservations[0].prefix.to_string(),
        "2001:db8:2222:ff::/64"
    );
    assert!(c.rapid_commit);
}

#[test]
fn shipped_example_is_valid() {
    let text = include_str!("../../../packaging/pd-server.toml");
    parse(text).unwrap();
}

#[test]
fn rejects_each_bad_key_by_name() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            GOOD.replace("delegated-length = 64", "delegated-length = 48"),
            "pool[0].delegated-length",
            "longer",
        ),
        (
            GOOD.replace("delegated-length = 64", "delegated-length = 40"),
            "pool[0].delegated-length",
            "longer",
        ),
        (
            GOOD.replace("delegated-length = 64", "delegated-length = 129"),
            "pool[0].delegated-length",
            "over 128",
        ),
        (
            with("[[pool]]\nprefix = \"2001:db8:2222:8000::/49\"\n"),
            "pool[1].prefix",
            "overlaps pool[0]",
        ),
        (
            GOOD.replace("2001:db8:2222:ff::/64", "2001:db8:3333::/64"),
            "reservation[0].prefix",
            "not a delegated prefix",
        ),
        (
            GOOD.replace("2001:db8:2222:ff::/64", "2001:db8:2222:f0::/60"),
            "reservation[0].prefix",
            "not a delegated prefix",
        ),
        (
            GOOD.replace("preferred-lifetime = 3600", "preferred-lifetime = 9000"),
            "pool[0].preferred-lifetime",
            "greater than valid",
        ),
        (
            GOOD.replace(
                "valid-lifetime = 7200",
                "valid-lifetime = 7200\nt1 = 3000\nt2 = 2000",
            ),
            "pool[0].t1",
            "greater than t2",
        ),
        (
            GOOD.replace("[\"eth1\"]", "[\"this-name-is-far-too-long\"]"),
            "server.interfaces[0]",
            "cannot be a Linux interface name",
        ),
        (
            GOOD.replace("[\"eth1\"]", "[\"eth/1\"]"),
            "server.interfaces[0]",
            "cannot be a Linux interface name",
        ),
        (
            GOOD.replace("[\"eth1\"]", "[]"),
            "server.interfaces",
            "at least one",
        ),
        (
            GOOD.replace("2001:db8:2222::/48\"", "2001:db8:2222::1/48\""),
            "pool[0].prefix",
            "bits set",
        ),
        (
            GOOD.replace("00:03:00:01", "zz:03:00:01"),
            "reservation[0].duid",
            "hex",
        ),
        (
            GOOD.replace(
                "state-dir = \"/var/lib/pd-server\"",
                "state-dir = \"relative\"",
            ),
            "server.state-dir",
            "absolute",
        ),
        (
            GOOD.replace("timeout = 10", "timeout = 0"),
            "hooks.timeout",
            "1 to 3600",
        ),
    ];
    for (text, key, reason) in cases {
        let e = fails(&text);
        assert_eq!(e.key, key, "{e}");
        assert!(e.reason.contains(reason), "{key}: {e}");
    }
}

#[test]
fn unknown_and_missing_keys_are_named() {
    let e = fails(&GOOD.replace("rapid-commit = true", "rapid-comit = true"));
    assert!(e.reason.contains("unknown field `rapid-comit`"), "{e}");
    assert!(e.key.starts_with("line "), "{e}");
    let e = fails("[server]\ninterfaces = [\"eth0\"]\nbogus = 1\n");
    assert_eq!(e.key, "line 3", "the line of the unknown key: {e}");
    let e = fails(&with("[bogus]\nx = 1\n"));
    assert!(e.reason.contains("unknown field `bogus`"), "{e}");
    let e = fails("[server]\ninterfaces = [\"eth0\"]\n");
    assert!(e.reason.contains("missing field `state-dir`"), "{e}");
    let e = fails(&GOOD.replace("preference = 255", "preference = 256"));
    assert!(e.key.starts_with("line "), "{e}");
}

#[test]
fn interface_names() {
    assert!(
        valid_ifname("eth0") && valid_ifname("veth-pd-1234.5") && valid_ifname("a23456789012345")
    );
    for bad in [
        "",
        ".",
        "..",
        "a234567890123456",
        "eth 0",
        "eth:0",
        "a/b",
        "é",
    ] {
        assert!(!valid_ifname(bad), "{bad:?}");
    }
}

#[test]
fn commit_interval_has_a_default_and_a_bound() {
    let c = parse(GOOD).unwrap();
    assert_eq!(
        c.commit_interval_us,
        crate::config::DEFAULT_COMMIT_INTERVAL_US
    );
    let c = parse(&GOOD.replace(
        "rapid-commit = true",
        "rapid-commit = true\ncommit-interval-us = 0",
    ))
    .unwrap();
    assert_eq!(c.commit_interval_us, 0);
    let e = fails(&GOOD.replace(
        "rapid-commit = true",
        "rapid-commit = true\ncommit-interval-us = 20000",
    ));
    assert_eq!(e.key, "server.commit-interval-us", "{e}");
    assert!(e.reason.contains("more than 10000"), "{e}");
}

#[test]
fn receive_interval_has_a_default_and_a_bound() {
    let c = parse(GOOD).unwrap();
    assert_eq!(
        c.receive_interval_us,
        crate::config::DEFAULT_RECEIVE_INTERVAL_US
    );
    let c = parse(&GOOD.replace(
        "rapid-commit = true",
        "rapid-commit = true\nreceive-interval-us = 0",
    ))
    .unwrap();
    assert_eq!(c.receive_interval_us, 0);
    let e = fails(&GOOD.replace(
        "rapid-commit = true",
        "rapid-commit = true\nreceive-interval-us = 2001",
    ));
    assert_eq!(e.key, "server.receive-interval-us", "{e}");
    assert!(e.reason.contains("more than 2000"), "{e}");
}
