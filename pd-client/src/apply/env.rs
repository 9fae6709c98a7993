//! Hook script environment for lease events (pure). Compatible with
//! Dibbler's client (`IFACE`, `REMOTE_ADDR`, `PREFIXn…`, `IAID`) and
//! odhcp6c's `PREFIXES`, plus pd's own `PD_*` names.

use pd_core::effect::{HookAction, HookCall};
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

use crate::engine::Lease;

/// One prefix as reported: (prefix, preferred left, valid left).
type Row = (Prefix, u32, u32);

/// The hook call for `action` on `lease` at `now`.
///
/// `only`: report just these prefixes, with lifetimes 0 (for `delete` and
/// `expire`); `None`: every prefix of the lease with its seconds left.
pub fn hook_call(
    action: HookAction,
    upstream: &str,
    lease: &Lease,
    only: Option<&[Prefix]>,
    now: Timestamp,
) -> HookCall {
    let rows: Vec<Row> = match only {
        Some(ps) => ps.iter().map(|p| (*p, 0, 0)).collect(),
        None => lease
            .prefixes
            .iter()
            .map(|p| {
                let (pref, valid) = p.remaining(now);
                (p.prefix, pref, valid)
            })
            .collect(),
    };
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| env.push((k.to_string(), v));
    // Dibbler client.
    set("IFACE", upstream.to_string());
    set("REMOTE_ADDR", lease.server_addr.to_string());
    set("IAID", lease.iaid.to_string());
    for (i, (p, pref, valid)) in rows.iter().enumerate() {
        let n = i + 1;
        set(&format!("PREFIX{n}"), p.addr().to_string());
        set(&format!("PREFIX{n}LEN"), p.len().to_string());
        set(&format!("PREFIX{n}PREF"), pref.to_string());
        set(&format!("PREFIX{n}VALID"), valid.to_string());
    }
    // odhcp6c: "prefix/len,preferred,valid" separated by spaces.
    let list: Vec<String> = rows
        .iter()
        .map(|(p, pref, valid)| format!("{p},{pref},{valid}"))
        .collect();
    set("PREFIXES", list.join(" "));
    // pd's own.
    set("PD_EVENT", action.as_str().to_string());
    set("PD_IFACE", upstream.to_string());
    set("PD_SERVER", lease.server_addr.to_string());
    set("PD_SERVER_DUID", lease.server_id.to_string());
    set("PD_IAID", lease.iaid.to_string());
    if let Some((p, pref, valid)) = rows.first() {
        set("PD_PREFIX", p.to_string());
        set("PD_PREFERRED", pref.to_string());
        set("PD_VALID", valid.to_string());
    }
    HookCall {
        action,
        key: upstream.to_string(),
        env,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::apply::plan::tests::lease;

    fn get<'a>(c: &'a HookCall, k: &str) -> Option<&'a str> {
        c.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn add_reports_every_prefix_with_seconds_left() {
        let l = lease(&["2001:db8:ab00::/56", "2001:db8:cd00::/56"]);
        let c = hook_call(HookAction::Add, "wan0", &l, None, Timestamp::from_secs(100));
        assert_eq!(c.key, "wan0");
        assert_eq!(get(&c, "IFACE"), Some("wan0"));
        assert_eq!(get(&c, "REMOTE_ADDR"), Some("fe80::1"));
        assert_eq!(get(&c, "IAID"), Some("1"));
        assert_eq!(get(&c, "PREFIX1"), Some("2001:db8:ab00::"));
        assert_eq!(get(&c, "PREFIX1LEN"), Some("56"));
        assert_eq!(get(&c, "PREFIX1PREF"), Some("100"));
        assert_eq!(get(&c, "PREFIX1VALID"), Some("200"));
        assert_eq!(get(&c, "PREFIX2"), Some("2001:db8:cd00::"));
        assert_eq!(get(&c, "PREFIX3"), None);
        assert_eq!(
            get(&c, "PREFIXES"),
            Some("2001:db8:ab00::/56,100,200 2001:db8:cd00::/56,100,200")
        );
        assert_eq!(get(&c, "PD_EVENT"), Some("add"));
        assert_eq!(get(&c, "PD_PREFIX"), Some("2001:db8:ab00::/56"));
        assert_eq!(get(&c, "PD_SERVER"), Some("fe80::1"));
        assert_eq!(
            get(&c, "PD_SERVER_DUID"),
            Some("00:03:00:01:02:00:00:00:00:ee")
        );
        assert_eq!(
            (get(&c, "PD_PREFERRED"), get(&c, "PD_VALID")),
            (Some("100"), Some("200"))
        );
        // Values are plain: no shell metacharacters, no newlines.
        assert!(c
            .env
            .iter()
            .all(|(_, v)| !v.contains(['\n', '$', '`', ';'])));
    }

    #[test]
    fn expire_reports_only_the_lost_prefixes_with_zero_lifetimes() {
        let l = lease(&["2001:db8:ab00::/56", "2001:db8:cd00::/56"]);
        let gone = ["2001:db8:cd00::/56".parse().unwrap()];
        let c = hook_call(
            HookAction::Expire,
            "wan0",
            &l,
            Some(&gone),
            Timestamp::from_secs(300),
        );
        assert_eq!(get(&c, "PD_EVENT"), Some("expire"));
        assert_eq!(get(&c, "PREFIX1"), Some("2001:db8:cd00::"));
        assert_eq!(get(&c, "PREFIX2"), None);
        assert_eq!(get(&c, "PREFIXES"), Some("2001:db8:cd00::/56,0,0"));
        assert_eq!(get(&c, "PD_VALID"), Some("0"));
    }
}
