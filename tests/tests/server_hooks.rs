//! pd-server's hook scripts driven by ISC dhclient: the OpenStack guide's
//! Dibbler script and the shipped hooks/pd-server.sh install and remove
//! the return route (with `[routes] install = false`), and the hook
//! environment is exactly the documented one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pd_tests::daemon::{pd_routes, read_or_empty, wait_until_log};
use pd_tests::{ClientLink, Dhclient, Netns, PdServer, ServerConfig, TempDir};

/// The route script from the OpenStack prefix-delegation guide (Dibbler).
const OPENSTACK_SCRIPT: &str = r#"#!/bin/bash
if [ "$PREFIX1" != "" ]; then
    if [ "$1" == "add" ]; then
        ip -6 route add ${PREFIX1}/64 via $REMOTE_ADDR dev $IFACE
    fi
    if [ "$1" == "delete" ]; then
        ip -6 route del ${PREFIX1}/64 via $REMOTE_ADDR dev $IFACE
    fi
fi
"#;

fn shipped_hook() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("hooks")
        .join("pd-server.sh")
}

/// Start a server on s0 running `hook`, built-in routes off.
fn lab(hook: &Path, lifetimes: Option<(u32, u32, u32, u32)>) -> (Netns, ClientLink, PdServer) {
    let srv = Netns::new("srv");
    let link = ClientLink::new(&srv, 0);
    let mut cfg = ServerConfig::new("s0");
    if let Some((p, v, t1, t2)) = lifetimes {
        cfg = cfg.lifetimes(p, v, t1, t2);
    }
    cfg.install_routes = false;
    cfg.hook = Some(hook.to_path_buf());
    let server = PdServer::start(&srv, &cfg);
    (srv, link, server)
}

/// The `ip -6 route show` line of `prefix` in `ns`, if any.
fn route_line(ns: &Netns, prefix: &str) -> Option<String> {
    ns.ip(&["-6", "route", "show"])
        .lines()
        .find(|l| l.starts_with(&format!("{prefix} ")))
        .map(str::to_string)
}

/// Wait for the hook-made route `prefix via ll dev s0`; it must not be
/// pd-server's own (proto 93). Returns the line.
fn wait_hook_route(srv: &Netns, server: &PdServer, prefix: &str, link: &ClientLink) -> String {
    let want = format!("{prefix} via {} dev {} ", link.client_ll, link.server_if);
    wait_until_log(
        5,
        &format!("hook installs `{want}`"),
        || server.log(),
        || route_line(srv, prefix).is_some_and(|l| l.starts_with(&want)),
    );
    let line = route_line(srv, prefix).expect("route");
    assert!(!line.contains("proto 93"), "not pd-server's route: {line}");
    assert_eq!(pd_routes(srv), "", "install = false: no proto 93 routes");
    line
}

fn wait_no_route(srv: &Netns, server: &PdServer, prefix: &str, why: &str) {
    wait_until_log(
        5,
        &format!("{why}: route of {prefix} gone"),
        || server.log(),
        || route_line(srv, prefix).is_none(),
    );
}

#[test]
fn openstack_dibbler_script_adds_and_deletes_the_route() {
    let dir = TempDir::new("hook");
    let script = dir.write_script("openstack.sh", OPENSTACK_SCRIPT);
    let (srv, link, server) = lab(&script, None);
    let dh = Dhclient::new(&link.ns, &link.client_if);
    let prefix = dh.request().prefix;
    wait_hook_route(&srv, &server, &prefix, &link);
    dh.release();
    wait_no_route(&srv, &server, &prefix, "delete hook");
    assert_eq!(server.lease_state(&prefix), "released");
}

#[test]
fn shipped_script_follows_grant_release_and_expiry() {
    let hook = shipped_hook();
    assert!(hook.is_file(), "{} missing", hook.display());
    let (srv, link, server) = lab(&hook, Some((3, 4, 3, 4)));
    let dh = Dhclient::new(&link.ns, &link.client_if);

    let prefix = dh.request().prefix;
    let line = wait_hook_route(&srv, &server, &prefix, &link);
    assert!(line.contains("metric 1024"), "script's metric: {line}");
    dh.release();
    wait_no_route(&srv, &server, &prefix, "delete hook");

    // Again, then let it run out: the expire call withdraws the route.
    let again = dh.request().prefix;
    assert_eq!(again, prefix);
    wait_hook_route(&srv, &server, &prefix, &link);
    dh.kill();
    wait_until_log(
        12,
        "lease expired",
        || server.log(),
        || server.lease_state(&prefix) == "expired",
    );
    wait_no_route(&srv, &server, &prefix, "expire hook");
}

/// The variables of one hook call, read from its dump file.
fn env_of(path: &Path) -> BTreeMap<String, String> {
    read_or_empty(path)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn num(env: &BTreeMap<String, String>, key: &str) -> u64 {
    env.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} is not a number: {env:?}"))
}

#[test]
fn hook_environment_is_the_documented_one() {
    let dir = TempDir::new("hook");
    let out = dir.path().display().to_string();
    // /proc/$$/environ: what the script was started with (a shell's `env`
    // would add PWD and friends).
    let script = dir.write_script(
        "dump.sh",
        &format!(
            "#!/bin/sh\n\
             tr '\\0' '\\n' < /proc/$$/environ > {out}/env.$1.tmp\n\
             mv {out}/env.$1.tmp {out}/env.$1\n\
             echo \"$1 $#\" >> {out}/calls\n"
        ),
    );
    let (_srv, link, server) = lab(&script, Some((3, 6, 2, 3)));
    let dh = Dhclient::new(&link.ns, &link.client_if);
    let prefix = dh.request().prefix;
    let duid = dh.duid().expect("duid");
    let iaid = dh.iaid().expect("iaid").to_string();
    let ll = link.client_ll.to_string();
    let file = |action: &str| dir.join(&format!("env.{action}"));
    let wait_call = |action: &str, secs| {
        wait_until_log(
            secs,
            &format!("hook `{action}` called"),
            || server.log(),
            || file(action).is_file(),
        );
    };
    wait_call("add", 5);
    wait_call("update", 8); // dhclient renews at T1 = 2 s
    dh.release();
    wait_call("delete", 5);
    let _ = dh.request();
    dh.kill();
    wait_call("expire", 12);

    let (addr, len) = prefix.split_once('/').expect("prefix/len");
    for action in ["add", "update", "delete", "expire"] {
        let env = env_of(&file(action));
        let mut want_keys = vec![
            "IFACE",
            "REMOTE_ADDR",
            "PREFIX1",
            "PREFIX1LEN",
            "PREFIX1PREF",
            "PREFIX1VALID",
            "IAID",
            "SRV_OPTION1",
            "PD_EVENT",
            "PD_PREFIX",
            "PD_DUID",
            "PD_IAID",
            "PD_NEXTHOP",
            "PD_IFACE",
            "PD_PREFERRED",
            "PD_VALID",
            "PATH",
        ];
        if action != "expire" {
            want_keys.extend(["CLNT_MESSAGE", "SRV_MESSAGE"]);
        }
        want_keys.sort_unstable();
        let keys: Vec<&str> = env.keys().map(String::as_str).collect();
        assert_eq!(keys, want_keys, "variables of `{action}`: {env:?}");
        let fixed = [
            ("IFACE", "s0"),
            ("PD_IFACE", "s0"),
            ("REMOTE_ADDR", ll.as_str()),
            ("PD_NEXTHOP", ll.as_str()),
            ("PREFIX1", addr),
            ("PREFIX1LEN", len),
            ("PD_PREFIX", prefix.as_str()),
            ("IAID", iaid.as_str()),
            ("PD_IAID", iaid.as_str()),
            ("SRV_OPTION1", duid.as_str()),
            ("PD_DUID", duid.as_str()),
            ("PD_EVENT", action),
            ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        ];
        for (k, v) in fixed {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{k} of `{action}`");
        }
        let (pref, valid) = (num(&env, "PREFIX1PREF"), num(&env, "PREFIX1VALID"));
        assert_eq!(pref, num(&env, "PD_PREFERRED"), "{action}");
        assert_eq!(valid, num(&env, "PD_VALID"), "{action}");
        match action {
            "add" | "update" => {
                assert!((2..=3).contains(&pref), "{action} preferred {pref}");
                assert!((5..=6).contains(&valid), "{action} valid {valid}");
                assert_eq!(env.get("SRV_MESSAGE").map(String::as_str), Some("REPLY"));
            }
            _ => assert_eq!((pref, valid), (0, 0), "{action}: nothing left"),
        }
    }
    let msg = |a: &str| env_of(&file(a)).get("CLNT_MESSAGE").cloned();
    assert_eq!(msg("add").as_deref(), Some("REQUEST"));
    assert_eq!(msg("update").as_deref(), Some("RENEW"));
    assert_eq!(msg("delete").as_deref(), Some("RELEASE"));
    // One argument each time.
    let calls = read_or_empty(&dir.join("calls"));
    assert!(
        calls.lines().all(|l| l.ends_with(" 1")),
        "argc is 1: {calls}"
    );
}
