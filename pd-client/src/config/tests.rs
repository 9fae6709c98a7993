#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

const FULL: &str = r#"
[client]
interface = "wan0"
state-dir = "/tmp/pd"
prefix-length = 56
iaid = 7
duid-type = "llt"
rapid-commit = true

[[downstream]]
interface = "lan0"
address = "::1"
dns = ["2001:db8::53"]
mtu = 1500

[[downstream]]
interface = "lan1"
subnet-id = 5
address = "::abcd"
ra = false
address-mode = "dhcpv6-stateless"

[[downstream]]
interface = "lan2"
address-mode = "dhcpv6-stateful"

[hooks]
script = "/etc/pd-client/hook"
timeout = 5
"#;

fn err(text: &str) -> String {
    Config::parse(text, "test.toml").unwrap_err().to_string()
}

#[test]
fn full_example() {
    let c = Config::parse(FULL, "test.toml").unwrap();
    assert_eq!(c.client.interface, "wan0");
    assert_eq!(c.client.state_dir, PathBuf::from("/tmp/pd"));
    assert_eq!(c.client.prefix_length, Some(56));
    assert_eq!(c.client.iaid, 7);
    assert_eq!(c.client.duid, DuidSpec::Llt);
    assert!(c.client.rapid_commit);
    assert_eq!(c.downstream.len(), 3);
    // ra-mode follows address-mode: M and O set.
    let d2 = &c.downstream[2];
    assert_eq!(d2.ra_mode, Some(Mode::Dhcpv6Stateful));
    assert!(d2.ra_plan.send_ra && d2.ra_plan.managed && d2.ra_plan.other && !d2.ra_plan.autonomous);
    assert_eq!(d2.subnet_id, 2);
    let d0 = &c.downstream[0];
    assert_eq!((d0.subnet_id, d0.iid, d0.mtu), (0, 1, Some(1500)));
    assert_eq!((d0.ra_mode, d0.address_mode), (Some(Mode::Slaac), None));
    assert!(d0.ra_plan.send_ra && d0.ra_plan.autonomous && !d0.ra_plan.managed);
    assert_eq!(d0.dns, vec!["2001:db8::53".parse::<Ipv6Addr>().unwrap()]);
    let d1 = &c.downstream[1];
    assert_eq!((d1.subnet_id, d1.iid), (5, 0xabcd));
    assert_eq!(
        (d1.ra_mode, d1.address_mode),
        (None, Some(Mode::Dhcpv6Stateless))
    );
    assert!(!d1.ra_plan.send_ra);
    let h = c.hooks.unwrap();
    assert_eq!(h.timeout, Duration::from_secs(5));
}

#[test]
fn defaults() {
    let c = Config::parse("[client]\ninterface = \"eth0\"\n[[downstream]]\ninterface=\"a\"\n[[downstream]]\ninterface=\"b\"\n", "x").unwrap();
    assert_eq!(c.client.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    assert_eq!(c.client.iaid, iaid_from_name("eth0"));
    assert_eq!(c.client.duid, DuidSpec::Ll);
    assert!(!c.client.rapid_commit);
    assert!(c.hooks.is_none());
    // subnet-id defaults to the order of appearance.
    assert_eq!(c.downstream[1].subnet_id, 1);
    // FNV-1a test vectors.
    assert_eq!(iaid_from_name(""), 0x811c_9dc5);
    assert_eq!(iaid_from_name("a"), 0xe40c_292c);
    assert_ne!(iaid_from_name("eth0"), iaid_from_name("eth1"));
}

#[test]
fn errors_name_the_key() {
    let base = "[client]\ninterface = \"wan0\"\n";
    // Unknown keys are refused (deny_unknown_fields) and named.
    let e = err(&format!("{base}prefix-lenght = 56\n"));
    assert!(e.contains("prefix-lenght"), "{e}");
    assert!(err("[client]\n").contains("interface"));
    assert!(err(&format!("{base}prefix-length = 0\n")).starts_with("client.prefix-length:"));
    assert!(err(&format!("{base}prefix-length = 129\n")).starts_with("client.prefix-length:"));
    assert!(err(&format!("{base}hint = \"2001:db8::1/56\"\n")).starts_with("client.hint:"));
    assert!(err(&format!(
        "{base}hint = \"2001:db8::/48\"\nprefix-length = 56\n"
    ))
    .starts_with("client.prefix-length:"));
    assert!(err(&format!("{base}duid-type = \"xx\"\n")).starts_with("client.duid-type:"));
    assert!(err(&format!("{base}duid-type = \"en\"\n")).starts_with("client.duid-enterprise:"));
    assert!(err(&format!("{base}duid = \"00:03\"\n")).starts_with("client.duid:"));
    assert!(err(&format!(
        "{base}duid = \"00:03:00:01:02:00:00:00:00:01\"\nduid-type = \"ll\"\n"
    ))
    .starts_with("client.duid:"));
    assert!(
        err("[client]\ninterface = \"this-name-is-too-long\"\n").starts_with("client.interface:")
    );
    let ds = |s: &str| {
        err(&format!(
            "{base}[[downstream]]\ninterface = \"lan0\"\n{s}\n"
        ))
    };
    assert!(ds("address = \"2001:db8::1\"").starts_with("downstream[0].address:"));
    assert!(ds("address = \"::\"").starts_with("downstream[0].address:"));
    assert!(ds("address = \"x\"").starts_with("downstream[0].address:"));
    assert!(ds("mtu = 1000").starts_with("downstream[0].mtu:"));
    assert!(ds("dns = [\"8.8.8.8\"]").starts_with("downstream[0].dns:"));
    assert!(ds("ra-mode = \"bogus\"").starts_with("downstream[0].ra-mode:"));
    assert!(
        ds("ra-mode = \"slaac\"\naddress-mode = \"dhcpv6-stateful\"")
            .starts_with("downstream[0].address-mode:")
    );
    assert!(ds("ra = false\nra-mode = \"slaac\"").starts_with("downstream[0].ra-mode:"));
    assert!(ds("[[downstream]]\ninterface = \"lan0\"").starts_with("downstream[1].interface:"));
    assert!(ds("subnet-id = 1\n[[downstream]]\ninterface = \"lan1\"")
        .starts_with("downstream[1].subnet-id:"));
    assert!(
        err(&format!("{base}[[downstream]]\ninterface = \"wan0\"\n"))
            .starts_with("downstream[0].interface:")
    );
    assert!(err(&format!("{base}[hooks]\nscript = \"hook\"\n")).starts_with("hooks.script:"));
    assert!(
        err(&format!("{base}[hooks]\nscript = \"/x\"\ntimeout = 0\n"))
            .starts_with("hooks.timeout:")
    );
}

#[test]
fn explicit_duid_and_en() {
    let c = Config::parse(
        "[client]\ninterface = \"w\"\nduid = \"00:03:00:01:02:00:00:00:00:01\"\n",
        "x",
    )
    .unwrap();
    assert_eq!(
        c.client.duid,
        DuidSpec::Fixed("00:03:00:01:02:00:00:00:00:01".parse().unwrap())
    );
    let c = Config::parse(
        "[client]\ninterface = \"w\"\nduid-type = \"en\"\nduid-enterprise = 32473\n",
        "x",
    )
    .unwrap();
    assert_eq!(c.client.duid, DuidSpec::En(32473));
    let c = Config::parse(
        "[client]\ninterface = \"w\"\nduid-type = \"uuid\"\nhint = \"2001:db8::/48\"\n",
        "x",
    )
    .unwrap();
    assert_eq!(c.client.duid, DuidSpec::Uuid);
    assert_eq!(c.client.hint.unwrap().len(), 48);
}

#[test]
fn missing_file_is_named() {
    let e = Config::load(Path::new("/nonexistent/pd-client.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/nonexistent/pd-client.toml:"), "{e}");
}
