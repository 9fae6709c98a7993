//! What the one-shot commands print (pure): a lease just obtained
//! (`request`) and the saved leases (`status`), human or JSON.

use std::fmt::Write as _;

use pd_core::time::{Timestamp, INFINITY};
use serde::Serialize;

use crate::engine::Lease;
use crate::state::{seconds_left, LeaseRecord};

/// One prefix with seconds left (0xffffffff: infinite).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrefixReport {
    /// `2001:db8:0:1::/64`.
    pub prefix: String,
    /// Preferred lifetime left, seconds.
    pub preferred: u32,
    /// Valid lifetime left, seconds.
    pub valid: u32,
}

/// A lease as printed by `pd-client request --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeaseReport {
    /// Upstream interface.
    pub interface: String,
    /// IA_PD identifier.
    pub iaid: u32,
    /// Server DUID, colon-hex.
    pub server_duid: String,
    /// Server address.
    pub server_address: String,
    /// Seconds to T1.
    pub t1: u32,
    /// Seconds to T2.
    pub t2: u32,
    /// The prefixes.
    pub prefixes: Vec<PrefixReport>,
}

fn secs(v: u32) -> String {
    if v == INFINITY {
        "infinite".to_string()
    } else {
        format!("{v}s")
    }
}

impl LeaseReport {
    /// The report of `lease` at `now`.
    pub fn new(interface: &str, lease: &Lease, now: Timestamp) -> Self {
        LeaseReport {
            interface: interface.to_string(),
            iaid: lease.iaid,
            server_duid: lease.server_id.to_string(),
            server_address: lease.server_addr.to_string(),
            t1: now.remaining_secs(lease.renew_at()),
            t2: now.remaining_secs(lease.rebind_at()),
            prefixes: lease
                .prefixes
                .iter()
                .map(|p| {
                    let (preferred, valid) = p.remaining(now);
                    PrefixReport {
                        prefix: p.prefix.to_string(),
                        preferred,
                        valid,
                    }
                })
                .collect(),
        }
    }

    /// One JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Human-readable lines.
    pub fn human(&self) -> String {
        let mut s = String::new();
        for p in &self.prefixes {
            let _ = writeln!(
                s,
                "prefix {} preferred {} valid {}",
                p.prefix,
                secs(p.preferred),
                secs(p.valid)
            );
        }
        let _ = writeln!(
            s,
            "server {} duid {}",
            self.server_address, self.server_duid
        );
        let _ = write!(
            s,
            "interface {} iaid {} renew in {} rebind in {}",
            self.interface,
            self.iaid,
            secs(self.t1),
            secs(self.t2)
        );
        s
    }
}

/// A saved lease as printed by `pd-client status` (seconds left from now).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// The lease.
    #[serde(flatten)]
    pub lease: LeaseReport,
    /// Seconds until the last valid lifetime ends.
    pub expires: u32,
}

fn left(updated: i64, lifetime: u32, now: i64) -> u32 {
    seconds_left(updated, lifetime, now)
        .map_or(INFINITY, |v| u32::try_from(v).unwrap_or(INFINITY - 1))
}

impl StatusReport {
    /// The report of a stored record at Unix time `now`.
    pub fn new(rec: &LeaseRecord, now: i64) -> Self {
        let prefixes: Vec<PrefixReport> = rec
            .prefixes
            .iter()
            .map(|p| PrefixReport {
                prefix: p.prefix.clone(),
                preferred: left(p.updated, p.preferred, now),
                valid: left(p.updated, p.valid, now),
            })
            .collect();
        let expires = prefixes.iter().map(|p| p.valid).max().unwrap_or(0);
        StatusReport {
            lease: LeaseReport {
                interface: rec.interface.clone(),
                iaid: rec.iaid,
                server_duid: rec.server_duid.clone(),
                server_address: rec.server_address.to_string(),
                t1: left(rec.updated, rec.t1, now),
                t2: left(rec.updated, rec.t2, now),
                prefixes,
            },
            expires,
        }
    }

    /// Human-readable lines.
    pub fn human(&self) -> String {
        let state = if self.expires == 0 { " (expired)" } else { "" };
        format!(
            "{}\nexpires in {}{state}",
            self.lease.human(),
            secs(self.expires)
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::engine::LeasedPrefix;
    use crate::state::Clock;
    use pd_core::duid::Duid;

    fn lease() -> Lease {
        Lease {
            iaid: 7,
            server_id: Duid::ll(1, &[2, 0, 0, 0, 0, 0xee]),
            server_addr: "fe80::1".parse().unwrap(),
            t1: 1800,
            t2: 2880,
            updated: Timestamp::from_secs(10),
            prefixes: vec![LeasedPrefix {
                prefix: "2001:db8:0:1::/64".parse().unwrap(),
                preferred: 3600,
                valid: 7200,
                updated: Timestamp::from_secs(10),
            }],
            dns_servers: vec![],
        }
    }

    #[test]
    fn request_json_has_the_documented_shape() {
        let r = LeaseReport::new("wan0", &lease(), Timestamp::from_secs(10));
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "interface": "wan0", "iaid": 7,
                "server_duid": "00:03:00:01:02:00:00:00:00:ee", "server_address": "fe80::1",
                "t1": 1800, "t2": 2880,
                "prefixes": [{"prefix": "2001:db8:0:1::/64", "preferred": 3600, "valid": 7200}]
            })
        );
        let h = r.human();
        assert!(
            h.starts_with("prefix 2001:db8:0:1::/64 preferred 3600s valid 7200s\n"),
            "{h}"
        );
        assert!(h.contains("server fe80::1"));
    }

    #[test]
    fn status_counts_down_from_the_saved_times() {
        let clock = Clock {
            mono: Timestamp::from_secs(10),
            unix_ms: 1_000_000_000,
        };
        let rec =
            LeaseRecord::from_lease("wan0", &Duid::ll(1, &[2, 0, 0, 0, 0, 1]), &lease(), &clock);
        let s = StatusReport::new(&rec, 1_000_000 + 100);
        assert_eq!((s.lease.t1, s.lease.t2, s.expires), (1700, 2780, 7100));
        assert_eq!(s.lease.prefixes[0].preferred, 3500);
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["expires"], 7100);
        assert_eq!(v["interface"], "wan0");
        let late = StatusReport::new(&rec, 1_000_000 + 8000);
        assert_eq!(late.expires, 0);
        assert!(late.human().ends_with("(expired)"));
    }
}
