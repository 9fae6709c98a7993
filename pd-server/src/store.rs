//! Lease persistence: a trait the driver uses and its sled implementation.
//!
//! Durability rule (ARCHITECTURE rule 4): the driver writes every lease
//! changed in one loop turn with [`LeaseStore::write`], which flushes once,
//! and only then sends the Replies of that turn. Times are monotonic in
//! memory and wall-clock Unix seconds on disk; [`Clock`] is the only
//! conversion point.

mod mark;

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pd_core::duid::Duid;
use pd_core::prefix::Prefix;
use pd_core::time::Timestamp;

use crate::lease::{ClientKey, Lease, LeaseState};

/// Store errors, naming the path or the record.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled could not open the database.
    #[error("cannot open lease database {path}: {source}")]
    Open {
        /// Database directory.
        path: PathBuf,
        /// Cause.
        source: sled::Error,
    },
    /// A read or write failed.
    #[error("lease database {op} failed: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// Cause.
        source: sled::Error,
    },
    /// Fewer records than the mark says were written: the database lost
    /// data (a damaged file after a crash, a partial restore).
    #[error(
        "lease database {path} holds {found} records but {expected} were written before: \
         it is damaged. Restore it from a backup, or delete {mark} to start with the {found} that are left"
    )]
    Damaged {
        /// Database directory.
        path: PathBuf,
        /// Records found.
        found: u64,
        /// The mark.
        expected: u64,
        /// The mark file.
        mark: PathBuf,
    },
    /// The mark file cannot be read or written.
    #[error("lease database mark: {0}")]
    Mark(String),
    /// A record does not decode.
    #[error("lease database record {key} is corrupt: {reason}")]
    Corrupt {
        /// The key, hex.
        key: String,
        /// Why.
        reason: &'static str,
    },
}

/// The pair of clocks read once by the driver: monotonic `mono` and the
/// wall clock `wall` (Unix seconds) at the same moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Monotonic now.
    pub mono: Timestamp,
    /// Wall-clock now, Unix seconds.
    pub wall: u64,
}

/// Wall-clock value meaning "never" (infinite lifetime).
const WALL_NEVER: u64 = u64::MAX;

impl Clock {
    /// The pair for monotonic `mono` read at wall time `since_epoch`, made
    /// exact: the monotonic side is moved to the next whole wall second, so
    /// conversions lose nothing across restarts (a deadline moves by at
    /// most half a second once, when it is rounded to whole seconds).
    pub fn at(mono: Timestamp, since_epoch: std::time::Duration) -> Clock {
        let frac = u64::from(since_epoch.subsec_millis());
        let (pad, carry) = if frac == 0 { (0, 0) } else { (1000 - frac, 1) };
        Clock {
            mono: Timestamp::from_millis(mono.as_millis().saturating_add(pad)),
            wall: since_epoch.as_secs().saturating_add(carry),
        }
    }

    /// Monotonic → Unix seconds.
    pub fn to_wall(&self, t: Timestamp) -> u64 {
        if t == Timestamp::NEVER {
            return WALL_NEVER;
        }
        let delta_ms = i128::from(t.as_millis()) - i128::from(self.mono.as_millis());
        // Rounded to the nearest second.
        let secs = i128::from(self.wall) + (delta_ms + 500).div_euclid(1000);
        u64::try_from(secs.max(0)).unwrap_or(WALL_NEVER - 1)
    }

    /// Unix seconds → monotonic (a past time maps to the past, floor 0).
    pub fn to_mono(&self, wall: u64) -> Timestamp {
        if wall == WALL_NEVER {
            return Timestamp::NEVER;
        }
        let delta_s = i128::from(wall) - i128::from(self.wall);
        let ms = i128::from(self.mono.as_millis()) + delta_s * 1000;
        Timestamp::from_millis(u64::try_from(ms.max(0)).unwrap_or(u64::MAX - 1))
    }
}

/// Where leases are kept.
pub trait LeaseStore {
    /// Every record (active, released, expired).
    fn load(&self, clock: Clock) -> Result<Vec<Lease>, StoreError>;
    /// Write these records and delete these prefixes, then flush once.
    fn write(&self, clock: Clock, put: &[Lease], delete: &[Prefix]) -> Result<(), StoreError>;
}

/// sled-backed store in `state-dir/leases`.
pub struct SledStore {
    db: sled::Db,
    /// sled's log file: its flush ends in sync_file_range, which does not
    /// make appended data survive a power cut; we fdatasync it as well.
    log_file: std::fs::File,
    path: PathBuf,
    mark_path: PathBuf,
    /// Records in the database (counted at load, kept up to date by writes).
    count: AtomicU64,
    /// The value last written to the mark file.
    marked: AtomicU64,
}

const VERSION: u8 = 1;
/// sled page cache size.
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

impl SledStore {
    /// Open (or create) the database under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("leases");
        let db = sled::Config::new()
            .path(&path)
            .mode(sled::Mode::HighThroughput)
            // sled's default page cache is 1 GiB; leases are read once at
            // start and written after, so a small cache keeps RSS low.
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        let log_file = std::fs::File::open(path.join("db")).map_err(|e| {
            StoreError::Mark(format!("cannot open {}: {e}", path.join("db").display()))
        })?;
        let mark_path = mark::path(dir);
        let marked = mark::read(&mark_path)
            .map_err(StoreError::Mark)?
            .unwrap_or(0);
        Ok(SledStore {
            db,
            log_file,
            path,
            mark_path,
            count: AtomicU64::new(0),
            marked: AtomicU64::new(marked),
        })
    }
}

impl LeaseStore for SledStore {
    fn load(&self, clock: Clock) -> Result<Vec<Lease>, StoreError> {
        // (No `with_capacity(self.db.len())`: sled's `len` is a full scan.)
        let mut out = Vec::new();
        for kv in self.db.iter() {
            let (k, v) = kv.map_err(|source| StoreError::Io { op: "read", source })?;
            out.push(decode(&k, &v, clock)?);
        }
        let found = out.len() as u64;
        let expected = self.marked.load(Ordering::SeqCst);
        if found < expected {
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                found,
                expected,
                mark: self.mark_path.clone(),
            });
        }
        self.count.store(found, Ordering::SeqCst);
        Ok(out)
    }

    fn write(&self, clock: Clock, put: &[Lease], delete: &[Prefix]) -> Result<(), StoreError> {
        self.write_unflushed(clock, put, delete)?;
        self.db.flush().map_err(|source| StoreError::Io {
            op: "flush",
            source,
        })?;
        self.log_file.sync_data().map_err(|e| StoreError::Io {
            op: "fdatasync",
            source: sled::Error::Io(e),
        })?;
        Ok(())
    }
}

impl SledStore {
    /// Write without the flush: only for measuring what durability costs
    /// (`PD_SERVER_UNSAFE_NO_FLUSH`); never the default.
    pub fn write_unflushed(
        &self,
        clock: Clock,
        put: &[Lease],
        delete: &[Prefix],
    ) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            op: "write",
            source,
        };
        if !delete.is_empty() {
            // Lower the mark before records go, so a crash in between
            // never looks like damage.
            let low = self
                .count
                .load(Ordering::SeqCst)
                .saturating_sub(delete.len() as u64);
            self.set_mark(low.min(self.marked.load(Ordering::SeqCst)))?;
        }
        // Plain inserts, not `apply_batch`: records are independent (one per
        // prefix) and no Reply leaves before the flush, so the batch needs no
        // atomicity; `insert` also tells whether the record is new.
        for l in put {
            if self
                .db
                .insert(&key(&l.prefix)[..], encode(l, clock))
                .map_err(io)?
                .is_none()
            {
                self.count.fetch_add(1, Ordering::SeqCst);
            }
        }
        for p in delete {
            if self.db.remove(&key(p)[..]).map_err(io)?.is_some() {
                self.count.fetch_sub(1, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    /// Raise the mark to the current record count (call after a successful
    /// flush: the driver does it on its periodic tick and at shutdown).
    pub fn save_mark(&self) -> Result<(), StoreError> {
        let count = self.count.load(Ordering::SeqCst);
        if count != self.marked.load(Ordering::SeqCst) {
            self.set_mark(count)?;
        }
        Ok(())
    }

    fn set_mark(&self, value: u64) -> Result<(), StoreError> {
        mark::write(&self.mark_path, value).map_err(|e| {
            StoreError::Mark(format!("cannot write {}: {e}", self.mark_path.display()))
        })?;
        self.marked.store(value, Ordering::SeqCst);
        Ok(())
    }
}

/// Key: 16 address octets + length: sorts by address.
pub fn key(p: &Prefix) -> [u8; 17] {
    let mut k = [0u8; 17];
    let (a, l) = k.split_at_mut(16);
    a.copy_from_slice(&p.addr().octets());
    l.copy_from_slice(&[p.len()]);
    k
}

/// Value layout (version 1): version, state, iaid(4), preferred-until(8),
/// valid-until(8) in Unix seconds (u64::MAX = never), next hop(16),
/// iface length(1) + iface, DUID length(1) + DUID.
pub fn encode(l: &Lease, clock: Clock) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + l.iface.len() + l.client.duid.as_bytes().len());
    v.push(VERSION);
    v.push(match l.state {
        LeaseState::Active => 0,
        LeaseState::Released => 1,
        LeaseState::Expired => 2,
    });
    v.extend_from_slice(&l.client.iaid.to_be_bytes());
    v.extend_from_slice(&clock.to_wall(l.preferred_until).to_be_bytes());
    v.extend_from_slice(&clock.to_wall(l.valid_until).to_be_bytes());
    v.extend_from_slice(&l.next_hop.octets());
    let iface = l.iface.as_bytes();
    let iface = iface.get(..iface.len().min(255)).unwrap_or_default();
    v.push(iface.len() as u8);
    v.extend_from_slice(iface);
    let duid = l.client.duid.as_bytes();
    v.push(duid.len().min(255) as u8);
    v.extend_from_slice(duid.get(..duid.len().min(255)).unwrap_or_default());
    v
}

/// A cursor over a record's bytes that never panics.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
}

/// Decode one record; any defect is a [`StoreError::Corrupt`] naming the key.
pub fn decode(k: &[u8], v: &[u8], clock: Clock) -> Result<Lease, StoreError> {
    let corrupt = |reason| StoreError::Corrupt {
        key: k.iter().map(|b| format!("{b:02x}")).collect(),
        reason,
    };
    let kb: [u8; 17] = k.try_into().map_err(|_| corrupt("key is not 17 octets"))?;
    let (a, l) = kb.split_at(16);
    let addr: [u8; 16] = a.try_into().map_err(|_| corrupt("key"))?;
    let len = l.first().copied().unwrap_or(255);
    let prefix =
        Prefix::new(Ipv6Addr::from(addr), len).map_err(|_| corrupt("bad prefix in key"))?;
    let mut r = Reader(v);
    if r.u8() != Some(VERSION) {
        return Err(corrupt("unknown record version"));
    }
    let state = match r.u8() {
        Some(0) => LeaseState::Active,
        Some(1) => LeaseState::Released,
        Some(2) => LeaseState::Expired,
        _ => return Err(corrupt("bad state")),
    };
    let trunc = || corrupt("record truncated");
    let iaid = u32::from_be_bytes(r.array().ok_or_else(trunc)?);
    let preferred = u64::from_be_bytes(r.array().ok_or_else(trunc)?);
    let valid = u64::from_be_bytes(r.array().ok_or_else(trunc)?);
    let next_hop = Ipv6Addr::from(r.array::<16>().ok_or_else(trunc)?);
    let n = usize::from(r.u8().ok_or_else(trunc)?);
    let iface = std::str::from_utf8(r.take(n).ok_or_else(trunc)?)
        .map_err(|_| corrupt("interface name is not UTF-8"))?;
    let n = usize::from(r.u8().ok_or_else(trunc)?);
    let duid = Duid::from_bytes(r.take(n).ok_or_else(trunc)?).map_err(|_| corrupt("bad DUID"))?;
    if !r.0.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(Lease {
        prefix,
        client: ClientKey { duid, iaid },
        state,
        preferred_until: clock.to_mono(preferred),
        valid_until: clock.to_mono(valid),
        next_hop,
        iface: Arc::from(iface),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn lease(n: u16, state: LeaseState) -> Lease {
        Lease {
            prefix: format!("2001:db8:2222:{n:x}::/64").parse().unwrap(),
            client: ClientKey {
                duid: Duid::ll(1, &[2, 0, 0, 0, 0, n as u8]),
                iaid: u32::from(n),
            },
            state,
            preferred_until: Timestamp::from_secs(1_000 + u64::from(n)),
            valid_until: Timestamp::NEVER,
            next_hop: "fe80::ff:fe00:2".parse().unwrap(),
            iface: Arc::from("veth0"),
        }
    }

    const CLOCK: Clock = Clock {
        mono: Timestamp::from_secs(500),
        wall: 1_700_000_000,
    };

    #[test]
    fn clock_conversion() {
        assert_eq!(CLOCK.to_wall(Timestamp::from_secs(600)), 1_700_000_100);
        assert_eq!(CLOCK.to_mono(1_700_000_100), Timestamp::from_secs(600));
        assert_eq!(CLOCK.to_wall(Timestamp::NEVER), WALL_NEVER);
        assert_eq!(CLOCK.to_mono(WALL_NEVER), Timestamp::NEVER);
        // Long past: floors at the origin, which is in the past.
        assert_eq!(CLOCK.to_mono(1), Timestamp::ZERO);
        // After a restart (new monotonic origin) the wall time carries over.
        let later = Clock {
            mono: Timestamp::from_secs(5),
            wall: 1_700_000_050,
        };
        assert_eq!(
            later.to_mono(CLOCK.to_wall(Timestamp::from_secs(600))),
            Timestamp::from_secs(55)
        );
    }

    #[test]
    fn exact_pairs_lose_nothing_across_restarts() {
        use std::time::Duration;
        // A deadline 7200.3 s ahead, converted and restored by three
        // "restarts" at odd sub-second moments, stays within half a second.
        let deadline_wall_ms: u64 = 1_700_000_000_000 + 7_200_300;
        let mut mono_deadline = Timestamp::from_millis(7_200_300);
        let mut c = Clock::at(Timestamp::ZERO, Duration::from_millis(1_700_000_000_000));
        for (mono0, wall_ms) in [
            (0u64, 1_700_000_100_777u64),
            (5, 1_700_000_200_001),
            (123, 1_700_000_300_999),
        ] {
            let stored = c.to_wall(mono_deadline);
            c = Clock::at(
                Timestamp::from_millis(mono0),
                Duration::from_millis(wall_ms),
            );
            mono_deadline = c.to_mono(stored);
            let back_ms =
                i128::from(wall_ms) + i128::from(mono_deadline.as_millis()) - i128::from(mono0);
            assert!(
                (back_ms - i128::from(deadline_wall_ms)).abs() <= 500,
                "drifted: {back_ms}"
            );
        }
    }

    #[test]
    fn record_roundtrip_and_corruption() {
        let l = lease(7, LeaseState::Released);
        let v = encode(&l, CLOCK);
        assert_eq!(decode(&key(&l.prefix), &v, CLOCK).unwrap(), l);
        for cut in 0..v.len() {
            assert!(
                decode(&key(&l.prefix), &v[..cut], CLOCK).is_err(),
                "cut at {cut}"
            );
        }
        let mut bad = v.clone();
        bad[0] = 9;
        assert!(matches!(
            decode(&key(&l.prefix), &bad, CLOCK),
            Err(StoreError::Corrupt {
                reason: "unknown record version",
                ..
            })
        ));
        assert!(decode(&[1, 2, 3], &v, CLOCK).is_err());
    }

    fn open_retrying(dir: &Path) -> Result<SledStore, StoreError> {
        // sled releases its file lock from a background thread after drop.
        let mut s = SledStore::open(dir);
        for _ in 0..50 {
            if !matches!(s, Err(StoreError::Open { .. })) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            s = SledStore::open(dir);
        }
        s
    }

    #[test]
    fn lost_records_are_an_error_not_a_silent_reset() {
        let dir = std::env::temp_dir().join(format!("pd-store-mark-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        {
            let s = SledStore::open(&dir).unwrap();
            s.load(CLOCK).unwrap();
            let all: Vec<Lease> = (1..=5).map(|n| lease(n, LeaseState::Active)).collect();
            s.write(CLOCK, &all, &[]).unwrap();
            s.save_mark().unwrap();
            // Deleting lowers the mark first.
            s.write(CLOCK, &[], &[lease(5, LeaseState::Active).prefix])
                .unwrap();
            s.save_mark().unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("leases.count"))
                .unwrap()
                .trim(),
            "4"
        );
        let s = open_retrying(&dir).unwrap();
        assert_eq!(s.load(CLOCK).unwrap().len(), 4);
        drop(s);
        // The database loses records (here: replaced by an empty one).
        std::thread::sleep(std::time::Duration::from_millis(200));
        std::fs::remove_dir_all(dir.join("leases")).unwrap();
        let s = open_retrying(&dir).unwrap();
        match s.load(CLOCK) {
            Err(
                e @ StoreError::Damaged {
                    found: 0,
                    expected: 4,
                    ..
                },
            ) => {
                assert!(e.to_string().contains("leases.count"), "{e}");
            }
            other => panic!("expected Damaged, got {other:?}"),
        }
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sled_persists_across_reopen() {
        let dir = std::env::temp_dir().join(format!("pd-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let s = SledStore::open(&dir).unwrap();
            s.write(
                CLOCK,
                &[lease(1, LeaseState::Active), lease(2, LeaseState::Expired)],
                &[],
            )
            .unwrap();
            s.write(CLOCK, &[], &[lease(2, LeaseState::Expired).prefix])
                .unwrap();
        }
        let s = open_retrying(&dir).unwrap();
        assert_eq!(s.load(CLOCK).unwrap(), vec![lease(1, LeaseState::Active)]);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
