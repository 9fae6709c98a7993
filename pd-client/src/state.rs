//! Persistent client state in the state directory:
//!
//! - `duid`: our DUID in colon-hex, created once and never changed
//!   (RFC 7084 W-5; RFC 9915 §11: a DUID is stable across restarts);
//! - `lease-IFACE.json`: the lease of the upstream interface IFACE.
//!
//! Times on disk are wall-clock Unix seconds; in memory they are monotonic
//! [`Timestamp`]s. [`Clock`] is the only place where one becomes the other.
//! Files are written atomically: temporary file, fsync, rename, fsync of
//! the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use pd_core::duid::{Duid, HW_ETHERNET};
use pd_core::prefix::Prefix;
use pd_core::time::{Timestamp, INFINITY};
use serde::{Deserialize, Serialize};

use crate::config::DuidSpec;
use crate::engine::{Lease, LeasedPrefix};

/// Format version of the lease file.
pub const LEASE_FILE_VERSION: u32 = 1;
/// Seconds from the Unix epoch to 2000-01-01 00:00 UTC (DUID-LLT time base).
pub const DUID_EPOCH_UNIX: u64 = 946_684_800;

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file exists but cannot be understood.
    #[error("{path}: corrupt state file: {reason}")]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A DUID cannot be created from what the host offers.
    #[error("cannot create a DUID: {0}")]
    Duid(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A pair of readings of the monotonic and the wall clock taken together:
/// the single conversion point between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Monotonic now.
    pub mono: Timestamp,
    /// Wall-clock now, milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

impl Clock {
    /// Wall-clock Unix seconds of a monotonic instant.
    pub fn to_unix(&self, t: Timestamp) -> i64 {
        let delta = i128::from(t.as_millis()) - i128::from(self.mono.as_millis());
        let ms = i128::from(self.unix_ms) + delta;
        i64::try_from(ms.div_euclid(1000)).unwrap_or(i64::MAX)
    }

    /// The monotonic instant of Unix second `secs`, and how many seconds
    /// before the monotonic origin it lies (then the instant is the origin).
    pub fn to_mono(&self, secs: i64) -> (Timestamp, u32) {
        let ms =
            i128::from(secs) * 1000 - i128::from(self.unix_ms) + i128::from(self.mono.as_millis());
        if ms >= 0 {
            (
                Timestamp::from_millis(u64::try_from(ms).unwrap_or(u64::MAX - 1)),
                0,
            )
        } else {
            let deficit = (-ms + 999) / 1000;
            (
                Timestamp::ZERO,
                u32::try_from(deficit).unwrap_or(INFINITY - 1),
            )
        }
    }
}

/// Shorten a lifetime by `secs` (infinity stays infinity).
fn shorten(lifetime: u32, secs: u32) -> u32 {
    if lifetime == INFINITY {
        lifetime
    } else {
        lifetime.saturating_sub(secs)
    }
}

/// One prefix as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrefixRecord {
    /// `2001:db8::/56`.
    pub prefix: String,
    /// Preferred lifetime, seconds from `updated`.
    pub preferred: u32,
    /// Valid lifetime, seconds from `updated`.
    pub valid: u32,
    /// Unix seconds of the Reply that set these lifetimes.
    pub updated: i64,
}

/// The lease file of one upstream interface (wall-clock times).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LeaseRecord {
    /// [`LEASE_FILE_VERSION`].
    pub version: u32,
    /// Upstream interface.
    pub interface: String,
    /// Our DUID, colon-hex.
    pub duid: String,
    /// IA_PD identifier.
    pub iaid: u32,
    /// Server DUID, colon-hex.
    pub server_duid: String,
    /// Server address.
    pub server_address: Ipv6Addr,
    /// T1, seconds from `updated`.
    pub t1: u32,
    /// T2, seconds from `updated`.
    pub t2: u32,
    /// Unix seconds of the last Reply.
    pub updated: i64,
    /// Delegated prefixes.
    pub prefixes: Vec<PrefixRecord>,
    /// DNS servers from the server.
    #[serde(default)]
    pub dns_servers: Vec<Ipv6Addr>,
}

/// Seconds left until `updated + lifetime` at Unix time `now` (None: infinite).
pub fn seconds_left(updated: i64, lifetime: u32, now: i64) -> Option<i64> {
    (lifetime != INFINITY).then(|| (updated + i64::from(lifetime) - now).max(0))
}

impl LeaseRecord {
    /// The record of `lease` (monotonic → wall through `clock`).
    pub fn from_lease(interface: &str, duid: &Duid, lease: &Lease, clock: &Clock) -> Self {
        LeaseRecord {
            version: LEASE_FILE_VERSION,
            interface: interface.to_string(),
            duid: duid.to_string(),
            iaid: lease.iaid,
            server_duid: lease.server_id.to_string(),
            server_address: lease.server_addr,
            t1: lease.t1,
            t2: lease.t2,
            updated: clock.to_unix(lease.updated),
            prefixes: lease
                .prefixes
                .iter()
                .map(|p| PrefixRecord {
                    prefix: p.prefix.to_string(),
                    preferred: p.preferred,
                    valid: p.valid,
                    updated: clock.to_unix(p.updated),
                })
                .collect(),
            dns_servers: lease.dns_servers.clone(),
        }
    }

    /// Our DUID as stored.
    pub fn client_duid(&self) -> Result<Duid, String> {
        self.duid.parse().map_err(|e| format!("duid: {e}"))
    }

    /// The lease in monotonic time (wall → monotonic through `clock`).
    /// Instants before the monotonic origin keep their deadlines by
    /// shortening the lifetimes.
    pub fn to_lease(&self, clock: &Clock) -> Result<Lease, String> {
        if self.version != LEASE_FILE_VERSION {
            return Err(format!(
                "version {} is not {LEASE_FILE_VERSION}",
                self.version
            ));
        }
        let server_id: Duid = self
            .server_duid
            .parse()
            .map_err(|e| format!("server-duid: {e}"))?;
        let mut prefixes = Vec::new();
        for (i, p) in self.prefixes.iter().enumerate() {
            let prefix: Prefix = p
                .prefix
                .parse()
                .map_err(|e| format!("prefixes[{i}].prefix: {e}"))?;
            if p.preferred > p.valid {
                return Err(format!(
                    "prefixes[{i}]: preferred lifetime over valid lifetime"
                ));
            }
            let (updated, deficit) = clock.to_mono(p.updated);
            prefixes.push(LeasedPrefix {
                prefix,
                preferred: shorten(p.preferred, deficit),
                valid: shorten(p.valid, deficit),
                updated,
            });
        }
        if prefixes.is_empty() {
            return Err("no prefixes".to_string());
        }
        let (updated, deficit) = clock.to_mono(self.updated);
        Ok(Lease {
            iaid: self.iaid,
            server_id,
            server_addr: self.server_address,
            t1: shorten(self.t1, deficit),
            t2: shorten(self.t2, deficit),
            updated,
            prefixes,
            dns_servers: self.dns_servers.clone(),
        })
    }
}

/// What the host offers for building a DUID.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DuidInputs {
    /// MAC of the upstream interface.
    pub mac: Option<[u8; 6]>,
    /// Wall-clock now, Unix seconds (DUID-LLT).
    pub unix_secs: u64,
    /// /etc/machine-id (DUID-UUID, DUID-EN).
    pub machine_id: Option<[u8; 16]>,
}

/// Build a new DUID of the configured type.
pub fn make_duid(spec: &DuidSpec, inputs: &DuidInputs) -> Result<Duid, StateError> {
    let mac = || {
        inputs
            .mac
            .ok_or_else(|| StateError::Duid("the upstream interface has no MAC address; set client.duid or duid-type = \"uuid\"".into()))
    };
    let mid = || {
        inputs.machine_id.ok_or_else(|| {
            StateError::Duid("/etc/machine-id is missing or malformed; set client.duid".into())
        })
    };
    Ok(match spec {
        DuidSpec::Fixed(d) => d.clone(),
        DuidSpec::Ll => Duid::ll(HW_ETHERNET, &mac()?),
        DuidSpec::Llt => {
            let t =
                u32::try_from(inputs.unix_secs.saturating_sub(DUID_EPOCH_UNIX)).unwrap_or(u32::MAX);
            Duid::llt(HW_ETHERNET, t, &mac()?)
        }
        DuidSpec::En(e) => Duid::en(*e, &mid()?),
        DuidSpec::Uuid => Duid::uuid(mid()?),
    })
}

/// Parse /etc/machine-id content (32 hex digits).
pub fn parse_machine_id(text: &str) -> Option<[u8; 16]> {
    let t = text.trim();
    if t.len() != 32 || !t.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(t.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Write `data` to `path` atomically and durably.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StateError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(data).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// The state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The directory at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateDir { dir: dir.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn ensure(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))
    }

    /// `lease-IFACE.json`.
    pub fn lease_path(&self, iface: &str) -> PathBuf {
        self.dir.join(format!("lease-{iface}.json"))
    }

    /// The DUID file.
    pub fn duid_path(&self) -> PathBuf {
        self.dir.join("duid")
    }

    /// Save (Some) or remove (None) the lease of `iface`.
    pub fn save_lease(
        &self,
        iface: &str,
        duid: &Duid,
        lease: Option<&Lease>,
        clock: &Clock,
    ) -> Result<(), StateError> {
        let path = self.lease_path(iface);
        match lease {
            Some(l) => {
                self.ensure()?;
                let rec = LeaseRecord::from_lease(iface, duid, l, clock);
                let mut text =
                    serde_json::to_vec_pretty(&rec).map_err(|e| StateError::Corrupt {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                text.push(b'\n');
                write_atomic(&path, &text)
            }
            None => match fs::remove_file(&path) {
                Ok(()) => sync_dir(&self.dir),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err(&path)(e)),
            },
        }
    }

    /// The stored record of `iface`, if any.
    pub fn load_record(&self, iface: &str) -> Result<Option<LeaseRecord>, StateError> {
        read_record(&self.lease_path(iface))
    }

    /// The stored lease of `iface` in monotonic time, if any.
    pub fn load_lease(&self, iface: &str, clock: &Clock) -> Result<Option<Lease>, StateError> {
        let path = self.lease_path(iface);
        let Some(rec) = read_record(&path)? else {
            return Ok(None);
        };
        rec.to_lease(clock)
            .map(Some)
            .map_err(|reason| StateError::Corrupt { path, reason })
    }

    /// Every stored lease record, sorted by interface.
    pub fn records(&self) -> Result<Vec<LeaseRecord>, StateError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&self.dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("lease-") && name.ends_with(".json") {
                if let Some(rec) = read_record(&entry.path())? {
                    out.push(rec);
                }
            }
        }
        out.sort_by(|a, b| a.interface.cmp(&b.interface));
        Ok(out)
    }

    /// Our DUID: `spec` if fixed, else the `duid` file, created from
    /// `inputs` the first time and never rewritten afterwards.
    pub fn load_or_create_duid(
        &self,
        spec: &DuidSpec,
        inputs: &DuidInputs,
    ) -> Result<Duid, StateError> {
        if let DuidSpec::Fixed(d) = spec {
            return Ok(d.clone());
        }
        let path = self.duid_path();
        match fs::read_to_string(&path) {
            Ok(text) => {
                text.trim()
                    .parse()
                    .map_err(|e: pd_core::duid::DuidError| StateError::Corrupt {
                        path,
                        reason: e.to_string(),
                    })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let duid = make_duid(spec, inputs)?;
                self.ensure()?;
                write_atomic(&path, format!("{duid}\n").as_bytes())?;
                Ok(duid)
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }
}

fn read_record(path: &Path) -> Result<Option<LeaseRecord>, StateError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests;
