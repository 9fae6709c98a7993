//! ISC dhclient as a prefix-delegation client with private files:
//! `dhclient -6 -P [-1|-r] -v -lf DIR/leases -pf DIR/pid -sf DIR/hook IFACE`.
//! It forks into the background once bound; the background process is
//! killed (through its pid file) on drop.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nix::unistd::Pid;

use super::{kill_pid_named, read_or_empty, Proc, TempDir};
use crate::Netns;

/// One `iaprefix` block of a dhclient lease file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IaPrefix {
    /// The prefix as written, e.g. `2001:db8:2222::/64`.
    pub prefix: String,
    /// `starts` (Unix seconds).
    pub starts: Option<u64>,
    /// `preferred-life` (seconds).
    pub preferred_life: Option<u64>,
    /// `max-life` (seconds).
    pub max_life: Option<u64>,
    /// Its `lease6` block is marked `released;`.
    pub released: bool,
}

/// Every `iaprefix` block of a lease file, in file order (the last one is
/// the newest).
pub fn parse_iaprefixes(text: &str) -> Vec<IaPrefix> {
    let mut out: Vec<IaPrefix> = Vec::new();
    let mut open = false;
    let mut block_start = 0;
    for line in text.lines().map(str::trim) {
        let mut words = line.trim_end_matches(';').split_whitespace();
        match (words.next(), words.next()) {
            (Some("lease6"), _) => block_start = out.len(),
            (Some("released"), None) => {
                for p in out.iter_mut().skip(block_start) {
                    p.released = true;
                }
            }
            (Some("iaprefix"), Some(p)) => {
                out.push(IaPrefix {
                    prefix: p.to_string(),
                    starts: None,
                    preferred_life: None,
                    max_life: None,
                    released: false,
                });
                open = true;
            }
            (Some("}"), _) => open = false,
            (Some(key), Some(v)) if open => {
                let n = v.parse().ok();
                if let Some(cur) = out.last_mut() {
                    match key {
                        "starts" => cur.starts = n,
                        "preferred-life" => cur.preferred_life = n,
                        "max-life" => cur.max_life = n,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The IAIDs of every `ia-pd XX:XX:XX:XX {` block, in file order.
pub fn parse_iaids(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("ia-pd "))
        .filter_map(|rest| {
            let hex: String = rest.split_whitespace().next()?.replace(':', "");
            u32::from_str_radix(&hex, 16).ok()
        })
        .collect()
}

/// The `default-duid "…";` of a lease file as colon-hex (pd-server's
/// notation), decoding dhclient's octal escapes.
pub fn parse_default_duid(text: &str) -> Option<String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("default-duid "))?;
    let quoted = line.split_once('"')?.1.rsplit_once('"')?.0;
    let mut bytes = Vec::new();
    let mut chars = quoted.bytes().peekable();
    while let Some(c) = chars.next() {
        if c != b'\\' {
            bytes.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d) if d.is_ascii_digit() => {
                let mut v: u32 = 0;
                for _ in 0..3 {
                    match chars.peek().copied() {
                        Some(d) if (b'0'..=b'7').contains(&d) => {
                            v = v * 8 + u32::from(d - b'0');
                            chars.next();
                        }
                        _ => break,
                    }
                }
                bytes.push(u8::try_from(v).ok()?);
            }
            Some(other) => {
                bytes.push(other);
                chars.next();
            }
            None => return None,
        }
    }
    Some(
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Wall-clock Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An ISC dhclient on `iface` in a namespace, with its own lease file
/// (hence its own DUID), pid file and a hook script that does nothing.
#[derive(Debug)]
pub struct Dhclient {
    ns: Netns,
    iface: String,
    dir: TempDir,
    script: PathBuf,
    log: PathBuf,
}

impl Dhclient {
    /// A client on `iface` in `ns` (nothing started yet).
    pub fn new(ns: &Netns, iface: &str) -> Dhclient {
        let dir = TempDir::new("dhc");
        let script = dir.write_script("hook.sh", "#!/bin/sh\nexit 0\n");
        Dhclient {
            ns: ns.clone(),
            iface: iface.to_string(),
            log: dir.join("dhclient.log"),
            script,
            dir,
        }
    }

    /// The lease file.
    pub fn lease_file(&self) -> PathBuf {
        self.dir.join("leases")
    }

    /// The pid file.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    /// Its scratch directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every dhclient run's output so far.
    pub fn log(&self) -> String {
        read_or_empty(&self.log)
    }

    /// The lease file's text ("" before the first lease).
    pub fn leases_text(&self) -> String {
        read_or_empty(&self.lease_file())
    }

    /// Run `dhclient -6 -P MODE… -v … IFACE` and wait up to `secs` for the
    /// foreground process to exit (it forks a background one once bound).
    pub fn exec(&self, mode: &[&str], secs: u64) -> ExitStatus {
        let lf = self.lease_file().display().to_string();
        let pf = self.pid_file().display().to_string();
        let sf = self.script.display().to_string();
        let mut args = vec!["-6", "-P"];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["-v", "-lf", &lf, "-pf", &pf, "-sf", &sf, &self.iface]);
        let mut p = Proc::spawn(&self.ns, Path::new("dhclient"), &args, &[], &self.log);
        match p.wait_exit(Duration::from_secs(secs)) {
            Some(s) => s,
            None => panic!(
                "{} did not finish within {secs}s\n--- dhclient log ---\n{}",
                p.what(),
                self.log()
            ),
        }
    }

    fn bound(&self, mode: &[&str]) -> IaPrefix {
        let t0 = unix_now();
        let st = self.exec(mode, 30);
        let fresh = || {
            self.prefixes()
                .into_iter()
                .rev()
                .find(|p| !p.released && p.starts.is_some_and(|s| s >= t0))
        };
        let fail = |why: &str| -> String {
            format!(
                "dhclient {mode:?} ({st}): {why}; lease file:\n{}\n--- dhclient log ---\n{}",
                self.leases_text(),
                self.log()
            )
        };
        assert!(st.success(), "{}", fail("failed"));
        // The background process writes its pid file (and may still be
        // writing the lease file) after the foreground one exits.
        super::wait_until_log(
            5,
            "dhclient bound in the background",
            || fail("no fresh lease or no background process"),
            || fresh().is_some() && self.running_pid().is_some(),
        );
        fresh().expect("a fresh prefix")
    }

    /// One shot (`-1`): Solicit … Reply; returns the prefix it got. A
    /// background dhclient keeps the lease afterwards.
    pub fn request(&self) -> IaPrefix {
        self.bound(&["-1"])
    }

    /// Daemon mode (no `-1`): like [`Dhclient::request`], and the
    /// background process keeps retrying whatever fails.
    pub fn start(&self) -> IaPrefix {
        self.bound(&[])
    }

    /// `dhclient -r`: stops the background dhclient and sends a Release.
    pub fn release(&self) {
        let st = self.exec(&["-r"], 30);
        assert!(
            st.success(),
            "dhclient -r failed ({st})\n--- dhclient log ---\n{}",
            self.log()
        );
    }

    /// The background dhclient's pid (from its pid file), if it runs.
    pub fn running_pid(&self) -> Option<Pid> {
        let pid: i32 = read_or_empty(&self.pid_file()).trim().parse().ok()?;
        let pid = Pid::from_raw(pid);
        let comm = read_or_empty(Path::new(&format!("/proc/{pid}/comm")));
        (comm.trim() == "dhclient" && !super::is_zombie(pid)).then_some(pid)
    }

    /// Kill the background dhclient (SIGKILL: no Release is sent).
    pub fn kill(&self) {
        if let Some(pid) = self.running_pid() {
            kill_pid_named(pid, "dhclient");
        }
    }

    /// Every `iaprefix` in the lease file, oldest first.
    pub fn prefixes(&self) -> Vec<IaPrefix> {
        parse_iaprefixes(&self.leases_text())
    }

    /// The newest `iaprefix` not released, if any.
    pub fn current(&self) -> Option<IaPrefix> {
        self.prefixes().into_iter().rev().find(|p| !p.released)
    }

    /// The newest `iaprefix`'s prefix not released, if any.
    pub fn prefix(&self) -> Option<String> {
        self.current().map(|p| p.prefix)
    }

    /// The IAID of the newest `ia-pd` block in the lease file.
    pub fn iaid(&self) -> Option<u32> {
        parse_iaids(&self.leases_text()).last().copied()
    }

    /// The client's DUID (`default-duid` in the lease file), colon-hex.
    pub fn duid(&self) -> Option<String> {
        parse_default_duid(&self.leases_text())
    }
}

impl Drop for Dhclient {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const LEASES: &str = r#"default-duid "\000\001\000\001+\342\022\002\002\000\000\000\000\002";
lease6 {
  interface "c0";
  ia-pd 00:00:00:02 {
    starts 1700000000;
    renew 2;
    rebind 4;
    iaprefix 2001:db8:2222::/64 {
      starts 1700000000;
      preferred-life 6;
      max-life 12;
    }
  }
  released;
  option dhcp6.client-id 0:1:0:1:2b:e2:12:2:0:0:0:0:0:2;
}
lease6 {
  interface "c0";
  ia-pd 00:00:00:02 {
    starts 1700000002;
    iaprefix 2001:db8:2222:1::/64 {
      starts 1700000002;
      preferred-life 3600;
      max-life 7200;
    }
  }
}
"#;

    #[test]
    fn iaprefixes_in_order() {
        let p = parse_iaprefixes(LEASES);
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0],
            IaPrefix {
                prefix: "2001:db8:2222::/64".into(),
                starts: Some(1_700_000_000),
                preferred_life: Some(6),
                max_life: Some(12),
                released: true,
            }
        );
        assert!(!p[1].released);
        assert_eq!(p[1].prefix, "2001:db8:2222:1::/64");
        assert_eq!(p[1].max_life, Some(7200));
        assert!(parse_iaprefixes("").is_empty());
        assert_eq!(parse_iaids(LEASES), vec![2, 2]);
    }

    #[test]
    fn default_duid_octal() {
        assert_eq!(
            parse_default_duid(LEASES).as_deref(),
            Some("00:01:00:01:2b:e2:12:02:02:00:00:00:00:02")
        );
        assert_eq!(
            parse_default_duid("default-duid \"a\\\\\\\"\";").as_deref(),
            Some("61:5c:22")
        );
        assert_eq!(parse_default_duid("lease6 {}"), None);
    }
}
