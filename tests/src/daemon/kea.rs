//! ISC Kea (`kea-dhcp6`) as a prefix-delegation server in a namespace:
//! a private config, pid/lock directory and memfile lease CSV
//! (`persist = true`, no LFC), its log on stdout.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::{read_or_empty, Proc, TempDir};
use crate::Netns;

/// What goes into the Kea config (see [`KeaConfig::json`]).
#[derive(Clone, Debug)]
pub struct KeaConfig {
    /// The one interface Kea serves.
    pub iface: String,
    /// `pd-pools[0].prefix`, e.g. `2001:db8::`.
    pub pool_prefix: String,
    /// `pd-pools[0].prefix-len`.
    pub pool_len: u8,
    /// `pd-pools[0].delegated-len`.
    pub delegated_len: u8,
    /// `renew-timer` (T1).
    pub t1: u32,
    /// `rebind-timer` (T2).
    pub t2: u32,
    /// `preferred-lifetime`.
    pub preferred: u32,
    /// `valid-lifetime`.
    pub valid: u32,
}

impl KeaConfig {
    /// Pool 2001:db8::/48 of /56s, T1 4 s, T2 8 s, preferred 12 s, valid 20 s.
    pub fn new(iface: &str) -> KeaConfig {
        KeaConfig {
            iface: iface.to_string(),
            pool_prefix: "2001:db8::".into(),
            pool_len: 48,
            delegated_len: 56,
            t1: 4,
            t2: 8,
            preferred: 12,
            valid: 20,
        }
    }

    /// The Dhcp6 JSON with its files in `dir`.
    pub fn json(&self, dir: &Path) -> String {
        let v = serde_json::json!({
            "Dhcp6": {
                "interfaces-config": { "interfaces": [self.iface] },
                "data-directory": dir.display().to_string(),
                "server-id": { "type": "LL", "persist": false },
                "lease-database": {
                    "type": "memfile",
                    "persist": true,
                    "name": dir.join("leases6.csv").display().to_string(),
                    "lfc-interval": 0
                },
                "renew-timer": self.t1,
                "rebind-timer": self.t2,
                "preferred-lifetime": self.preferred,
                "valid-lifetime": self.valid,
                "subnet6": [{
                    "id": 1,
                    "subnet": "2001:db8:ffff::/64",
                    "interface": self.iface,
                    "pd-pools": [{
                        "prefix": self.pool_prefix,
                        "prefix-len": self.pool_len,
                        "delegated-len": self.delegated_len
                    }]
                }],
                "loggers": [{
                    "name": "kea-dhcp6",
                    "output_options": [{ "output": "stdout" }],
                    "severity": "INFO"
                }]
            }
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}

/// One line of Kea's memfile CSV (`leases6.csv`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeaLease {
    /// `address` (the prefix's address for type 2).
    pub address: Ipv6Addr,
    /// `duid`, colon-hex.
    pub duid: String,
    /// `valid_lifetime` (0: the lease was released or deleted).
    pub valid_lifetime: u64,
    /// `expire` (Unix seconds).
    pub expire: u64,
    /// `pref_lifetime`.
    pub pref_lifetime: u64,
    /// `lease_type` (0 NA, 1 TA, 2 prefix).
    pub lease_type: u8,
    /// `iaid`.
    pub iaid: u32,
    /// `prefix_len`.
    pub prefix_len: u8,
    /// `state` (0 default, 1 declined, 2 expired-reclaimed).
    pub state: u8,
}

impl KeaLease {
    /// `address/prefix_len`, as pd-client prints it.
    pub fn prefix(&self) -> String {
        format!("{}/{}", self.address, self.prefix_len)
    }
}

/// Parse Kea's lease CSV (header line first); panics on a line it cannot
/// read (the file is test output, and a format change must be seen).
pub fn parse_kea_csv(text: &str) -> Vec<KeaLease> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.split(',').collect();
    let idx = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("no column {name} in Kea CSV header {header:?}"))
    };
    let (a, d, v, e, p, t, i, l, s) = (
        idx("address"),
        idx("duid"),
        idx("valid_lifetime"),
        idx("expire"),
        idx("pref_lifetime"),
        idx("lease_type"),
        idx("iaid"),
        idx("prefix_len"),
        idx("state"),
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let get = |k: usize| {
                *f.get(k)
                    .unwrap_or_else(|| panic!("short Kea CSV line {line:?}"))
            };
            let num = |k: usize| -> u64 {
                get(k)
                    .parse()
                    .unwrap_or_else(|e| panic!("column {k} of {line:?}: {e}"))
            };
            let small = |k: usize| u8::try_from(num(k)).expect("small Kea CSV field");
            KeaLease {
                address: get(a)
                    .parse()
                    .unwrap_or_else(|e| panic!("address of {line:?}: {e}")),
                duid: get(d).to_string(),
                valid_lifetime: num(v),
                expire: num(e),
                pref_lifetime: num(p),
                lease_type: small(t),
                iaid: u32::try_from(num(i)).expect("iaid fits u32"),
                prefix_len: small(l),
                state: small(s),
            }
        })
        .collect()
}

/// A running `kea-dhcp6` with its scratch directory; killed on drop.
#[derive(Debug)]
pub struct Kea {
    ns: Netns,
    proc: Option<Proc>,
    config: PathBuf,
    csv: PathBuf,
    log: PathBuf,
    dir: TempDir,
}

impl Kea {
    /// Write the config, check it (`kea-dhcp6 -t`), start the server and
    /// wait (10 s) until it listens on UDP 547.
    pub fn start(ns: &Netns, cfg: &KeaConfig) -> Kea {
        let dir = TempDir::new("kea");
        let config = dir.write("kea-dhcp6.json", &cfg.json(dir.path()));
        let cfg_s = config.display().to_string();
        let check = ns.exec("kea-dhcp6", &["-t", &cfg_s]);
        assert!(
            check.status.success(),
            "kea-dhcp6 -t {cfg_s} failed: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let mut kea = Kea {
            ns: ns.clone(),
            proc: None,
            config,
            csv: dir.join("leases6.csv"),
            log: dir.join("kea.log"),
            dir,
        };
        kea.run();
        kea
    }

    fn run(&mut self) {
        assert!(self.proc.is_none(), "kea-dhcp6 is already running");
        let private = self.dir.path().display().to_string();
        let cfg_s = self.config.display().to_string();
        let before = self.log().matches("DHCP6_STARTED").count();
        let mut p = Proc::spawn(
            &self.ns,
            Path::new("kea-dhcp6"),
            &["-c", &cfg_s],
            &[
                ("KEA_PIDFILE_DIR", private.as_str()),
                ("KEA_LOCKFILE_DIR", private.as_str()),
            ],
            &self.log,
        );
        let log = self.log.clone();
        let ns = self.ns.clone();
        p.wait_until(10, "kea-dhcp6 started and bound to UDP 547", || {
            read_or_empty(&log).matches("DHCP6_STARTED").count() > before
                && !ns
                    .exec_ok("ss", &["-Hlun", "sport = :547"])
                    .trim()
                    .is_empty()
        });
        self.proc = Some(p);
    }

    /// Every line of the lease CSV, in order.
    pub fn leases(&self) -> Vec<KeaLease> {
        parse_kea_csv(&read_or_empty(&self.csv))
    }

    /// The CSV lines of prefix `prefix` (`2001:db8::/56`), in order.
    pub fn lines_of(&self, prefix: &str) -> Vec<KeaLease> {
        self.leases()
            .into_iter()
            .filter(|l| l.lease_type == 2 && l.prefix() == prefix)
            .collect()
    }

    /// The raw CSV text.
    pub fn csv_text(&self) -> String {
        read_or_empty(&self.csv)
    }

    /// Kea's output so far.
    pub fn log(&self) -> String {
        read_or_empty(&self.log)
    }

    /// Stop it (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal(Signal::SIGTERM);
            if p.wait_exit(Duration::from_secs(5)).is_none() {
                drop(p);
            }
        }
    }
}

impl Drop for Kea {
    fn drop(&mut self) {
        // Kill before the scratch directory goes.
        self.proc = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kea_2_2_csv() {
        let text = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source\n\
            2001:db8::,00:03:00:01:02:00:00:00:00:02,90,1795459217,1,60,2,3718602612,56,0,0,,02:00:00:00:00:02,0,,1,2\n\
            2001:db8::,00:03:00:01:02:00:00:00:00:02,0,1795459127,1,0,2,3718602612,56,0,0,,02:00:00:00:00:02,0,,1,2\n";
        let l = parse_kea_csv(text);
        assert_eq!(l.len(), 2);
        assert_eq!(
            l.first().map(KeaLease::prefix).as_deref(),
            Some("2001:db8::/56")
        );
        assert_eq!(
            l.iter()
                .map(|x| (x.valid_lifetime, x.lease_type, x.iaid))
                .collect::<Vec<_>>(),
            vec![(90, 2, 3_718_602_612), (0, 2, 3_718_602_612)]
        );
    }
}
