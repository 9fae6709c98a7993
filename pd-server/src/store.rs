//! Lease persistence: a trait the driver uses and its sled implementation.
//!
//! Durability rule (ARCHITECTURE rule 4): the lease writer makes records
//! durable with [`SledStore::commit`] (one journal append + fdatasync, see
//! [`journal`]) before it sends the Replies that grant them, then applies
//! them to sled with [`SledStore::settle`]. Times are monotonic in memory
//! and wall-clock Unix seconds on disk; [`Clock`] (in `record.rs`, with the
//! record format) is the only conversion point.

pub mod journal;
mod mark;
mod record;

use record::decode_with;
pub use record::{decode, encode, key, Clock};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use pd_core::prefix::Prefix;

use crate::lease::Lease;

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
    /// The journal cannot be read, written or synced.
    #[error("lease journal {path}: {op} failed: {source}")]
    JournalIo {
        /// What we were doing.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A journal file other than the newest one has a frame that does not
    /// check: damage, not an unfinished write.
    #[error(
        "lease journal {path} is damaged at octet {offset} ({reason}); \
         move it away to start without the leases it holds"
    )]
    JournalDamaged {
        /// The file.
        path: PathBuf,
        /// Where the bad frame starts.
        offset: usize,
        /// Why it does not check.
        reason: &'static str,
    },
    /// A background checkpoint (sled flush) failed.
    #[error("lease database checkpoint failed: {0}")]
    Checkpoint(String),
    /// A record does not decode.
    #[error("lease database record {key} is corrupt: {reason}")]
    Corrupt {
        /// The key, hex.
        key: String,
        /// Why.
        reason: &'static str,
    },
}

/// Where leases are kept.
pub trait LeaseStore {
    /// Every record (active, released, expired).
    fn load(&self, clock: Clock) -> Result<Vec<Lease>, StoreError>;
    /// Write these records and delete these prefixes, then flush once.
    fn write(&self, clock: Clock, put: &[Lease], delete: &[Prefix]) -> Result<(), StoreError>;
}

/// Records a commit made durable, encoded once: what
/// [`SledStore::settle`] puts into sled.
#[derive(Debug)]
pub struct Committed {
    put: Vec<([u8; 17], Vec<u8>)>,
    delete: Vec<[u8; 17]>,
}

/// sled-backed store in `state-dir/leases`, with its journal in
/// `state-dir/leases.journal`.
pub struct SledStore {
    db: sled::Db,
    journal: Mutex<JournalState>,
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

/// The journal and what goes with it (behind a mutex: the trait takes
/// `&self`; only the loop thread writes).
struct JournalState {
    journal: journal::Journal,
    /// Frames of the turn being written (kept to reuse its allocation).
    buf: Vec<u8>,
    /// The background checkpoint in flight, if any.
    checkpoint: Option<std::thread::JoinHandle<Result<(), String>>>,
}

/// sled page cache size.
const CACHE_BYTES: u64 = 4 * 1024 * 1024;

impl SledStore {
    /// Open (or create) the database under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("leases");
        let db = sled::Config::new()
            .path(&path)
            .mode(sled::Mode::HighThroughput)
            // sled's default page cache is 1 GiB; leases are read once at
            // start and written after (by the writer, after the Replies
            // left), so a small cache keeps RSS low: with 32 MiB a restore
            // of 1M leases peaked at 263 MB, with 4 MiB at 199 MB.
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
        let jdir = dir.join("leases.journal");
        let next = replay(&db, &log_file, &jdir)?;
        let journal =
            journal::Journal::create(&jdir, next).map_err(|source| StoreError::JournalIo {
                op: "create",
                path: journal::file_path(&jdir, next),
                source,
            })?;
        Ok(SledStore {
            db,
            journal: Mutex::new(JournalState {
                journal,
                buf: Vec::new(),
                checkpoint: None,
            }),
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
        let mut out = Vec::with_capacity(self.records_hint());
        self.load_each(clock, |l| out.push(l))?;
        Ok(out)
    }

    fn write(&self, clock: Clock, put: &[Lease], delete: &[Prefix]) -> Result<(), StoreError> {
        let done = self.commit(clock, put, delete)?;
        self.settle(done)
    }
}

impl SledStore {
    /// Hand every record to `f` in prefix order, without collecting them
    /// (a restore of a million leases need not hold them twice).
    pub fn load_each(&self, clock: Clock, f: impl FnMut(Lease)) -> Result<u64, StoreError> {
        let found = self.load_part(.., clock, f)?;
        self.loaded(found)
    }

    /// Hand every record in `range` of keys to `f` in prefix order; records
    /// decoded in one pass share their interface name.
    fn load_part<R: std::ops::RangeBounds<[u8; 17]>>(
        &self,
        range: R,
        clock: Clock,
        mut f: impl FnMut(Lease),
    ) -> Result<u64, StoreError> {
        let mut found = 0u64;
        let mut iface = None;
        for kv in self.db.range(range) {
            let (k, v) = kv.map_err(|source| StoreError::Io { op: "read", source })?;
            f(decode_with(&k, &v, clock, &mut iface)?);
            found += 1;
        }
        Ok(found)
    }

    /// The whole store was read and held `found` records: check them
    /// against the mark (fewer means damage) and remember the count.
    fn loaded(&self, found: u64) -> Result<u64, StoreError> {
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
        Ok(found)
    }

    /// How many records the last mark said the store holds: a capacity hint
    /// for a restore (0 when unknown).
    pub fn records_hint(&self) -> usize {
        usize::try_from(self.marked.load(Ordering::SeqCst)).unwrap_or(0)
    }
}

impl SledStore {
    /// Make these records durable: their frames into the journal with one
    /// write and one fdatasync. When it returns, a Reply granting them may
    /// leave. The records, encoded once, come back to be handed to
    /// [`settle`](Self::settle) before the next commit.
    pub fn commit(
        &self,
        clock: Clock,
        put: &[Lease],
        delete: &[Prefix],
    ) -> Result<Committed, StoreError> {
        self.commit_with(clock, put, delete, true)
    }

    /// [`commit`](Self::commit) without the fdatasync: only for measuring
    /// what durability costs (`PD_SERVER_UNSAFE_NO_FLUSH`); never the default.
    pub fn commit_unflushed(
        &self,
        clock: Clock,
        put: &[Lease],
        delete: &[Prefix],
    ) -> Result<Committed, StoreError> {
        self.commit_with(clock, put, delete, false)
    }

    fn commit_with(
        &self,
        clock: Clock,
        put: &[Lease],
        delete: &[Prefix],
        sync: bool,
    ) -> Result<Committed, StoreError> {
        if !delete.is_empty() {
            // Lower the mark before records go, so a crash in between
            // never looks like damage.
            let low = self
                .count
                .load(Ordering::SeqCst)
                .saturating_sub(delete.len() as u64);
            self.set_mark(low.min(self.marked.load(Ordering::SeqCst)))?;
        }
        let done = Committed {
            put: put
                .iter()
                .map(|l| (key(&l.prefix), encode(l, clock)))
                .collect(),
            delete: delete.iter().map(key).collect(),
        };
        let mut st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buf = std::mem::take(&mut st.buf);
        buf.clear();
        for (k, v) in &done.put {
            journal::frame_put(&mut buf, k, v);
        }
        for k in &done.delete {
            journal::frame_delete(&mut buf, k);
        }
        let r = st.journal.append_with(&buf, sync);
        st.buf = buf;
        r.map_err(|source| StoreError::JournalIo {
            op: "append",
            path: st.journal.path(),
            source,
        })?;
        Ok(done)
    }

    /// Apply committed records to sled (unflushed: the journal holds them
    /// until a checkpoint flushes sled) and start a checkpoint when due.
    pub fn settle(&self, done: Committed) -> Result<(), StoreError> {
        self.apply(done)?;
        let mut st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        self.checkpoint(&mut st, false)
    }
}

impl SledStore {
    /// Write into sled only, without the journal and unflushed: for offline
    /// tools that fill a store in bulk (`pd-bench fill`) and then call
    /// [`flush`](Self::flush). Never what the daemon does.
    pub fn write_unflushed(
        &self,
        clock: Clock,
        put: &[Lease],
        delete: &[Prefix],
    ) -> Result<(), StoreError> {
        self.apply(Committed {
            put: put
                .iter()
                .map(|l| (key(&l.prefix), encode(l, clock)))
                .collect(),
            delete: delete.iter().map(key).collect(),
        })
    }

    /// Flush sled and fdatasync its log, bypassing the journal (offline
    /// tools that wrote with [`write_unflushed`](Self::write_unflushed)).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|source| StoreError::Io {
            op: "flush",
            source,
        })?;
        self.log_file
            .sync_data()
            .map_err(|source| StoreError::JournalIo {
                op: "fdatasync",
                path: self.path.join("db"),
                source,
            })
    }

    /// Finish the checkpoint in flight, if any, and report its result.
    /// With `force`, also checkpoint the current journal now and wait.
    pub fn sync(&self, force: bool) -> Result<(), StoreError> {
        let mut st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = st.checkpoint.take() {
            join(h)?;
        }
        self.checkpoint(&mut st, force)?;
        match st.checkpoint.take() {
            Some(h) => join(h),
            None => Ok(()),
        }
    }

    /// Collect a finished checkpoint (its error, if it failed) without
    /// waiting. It never starts one: only [`settle`](Self::settle) does,
    /// when every committed record is in sled. A writer holding the journal
    /// right now means there is nothing to collect yet.
    pub fn poll(&self) -> Result<(), StoreError> {
        let Ok(mut st) = self.journal.try_lock() else {
            return Ok(());
        };
        if st.checkpoint.as_ref().is_some_and(|h| h.is_finished()) {
            if let Some(h) = st.checkpoint.take() {
                join(h)?;
            }
        }
        Ok(())
    }

    /// Collect a finished checkpoint; start one when the journal is big
    /// enough (or `force`) and none is in flight.
    fn checkpoint(&self, st: &mut JournalState, force: bool) -> Result<(), StoreError> {
        if st.checkpoint.as_ref().is_some_and(|h| h.is_finished()) {
            if let Some(h) = st.checkpoint.take() {
                join(h)?;
            }
        }
        let big = st.journal.size() >= journal::ROTATE_BYTES;
        if st.checkpoint.is_some() || !(big || force && st.journal.size() > 0) {
            return Ok(());
        }
        let jio = |op, path, source| StoreError::JournalIo { op, path, source };
        let old = st
            .journal
            .rotate()
            .map_err(|e| jio("rotate", st.journal.path(), e))?;
        let log = self
            .log_file
            .try_clone()
            .map_err(|e| jio("checkpoint", old.clone(), e))?;
        let db = self.db.clone();
        let next = st.journal.seq() + 1;
        // Every record of `old` went into sled before the rotation, so a
        // flush started now covers them all.
        let h = std::thread::Builder::new()
            .name("pd-checkpoint".into())
            .spawn(move || {
                db.flush().map_err(|e| format!("sled flush: {e}"))?;
                log.sync_data().map_err(|e| format!("fdatasync: {e}"))?;
                std::fs::remove_file(&old)
                    .map_err(|e| format!("cannot remove {}: {e}", old.display()))?;
                if let Some(dir) = old.parent() {
                    journal::sync_dir(dir)
                        .map_err(|e| format!("cannot sync {}: {e}", dir.display()))?;
                    // The next rotation then takes a zero-filled file at
                    // once; if this fails, the rotation fills one itself.
                    if let Err(e) = journal::prepare(dir, next) {
                        tracing::warn!(journal = %dir.display(), error = %e, "cannot prepare the next lease journal file");
                    }
                }
                Ok(())
            })
            .map_err(|e| jio("checkpoint", st.journal.path(), e))?;
        st.checkpoint = Some(h);
        Ok(())
    }

    /// The records into sled (unflushed).
    fn apply(&self, done: Committed) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            op: "write",
            source,
        };
        // Plain inserts, not `apply_batch`: records are independent (one per
        // prefix) and the journal already made them durable; `insert` also
        // tells whether the record is new.
        for (k, v) in done.put {
            if self.db.insert(&k[..], v).map_err(io)?.is_none() {
                self.count.fetch_add(1, Ordering::SeqCst);
            }
        }
        for k in done.delete {
            if self.db.remove(&k[..]).map_err(io)?.is_some() {
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

fn join(h: std::thread::JoinHandle<Result<(), String>>) -> Result<(), StoreError> {
    match h.join() {
        Ok(r) => r.map_err(StoreError::Checkpoint),
        Err(_) => Err(StoreError::Checkpoint(
            "the checkpoint thread panicked".into(),
        )),
    }
}

/// Replay the journal files left in `jdir` into sled, flush sled, delete
/// them; returns the sequence number for the next file.
fn replay(db: &sled::Db, log: &std::fs::File, jdir: &Path) -> Result<u64, StoreError> {
    let jio = |op, path: &Path, source| StoreError::JournalIo {
        op,
        path: path.to_path_buf(),
        source,
    };
    let files = journal::files(jdir).map_err(|e| jio("list", jdir, e))?;
    let Some(newest) = files.last().map(|(seq, _)| *seq) else {
        return Ok(0);
    };
    for (seq, path) in &files {
        let bytes = std::fs::read(path).map_err(|e| jio("read", path, e))?;
        let (n, stop) = journal::decode(&bytes, |op| match op {
            journal::Op::Put(k, v) => db.insert(&k[..], v).map(drop),
            journal::Op::Delete(k) => db.remove(&k[..]).map(drop),
        })
        .map_err(|source| StoreError::Io {
            op: "journal replay",
            source,
        })?;
        match stop {
            None => {}
            // The newest file may end in a write that never completed; its
            // Replies never left (they wait for the fdatasync).
            Some((at, why)) if *seq == newest => tracing::warn!(
                journal = %path.display(),
                records = n,
                dropped_octets = bytes.len() - at,
                reason = why.as_str(),
                "lease journal ends in an unfinished write; dropped it"
            ),
            Some((offset, why)) => {
                return Err(StoreError::JournalDamaged {
                    path: path.clone(),
                    offset,
                    reason: why.as_str(),
                })
            }
        }
        tracing::info!(journal = %path.display(), records = n, "lease journal replayed");
    }
    db.flush().map_err(|source| StoreError::Io {
        op: "flush",
        source,
    })?;
    log.sync_data().map_err(|e| StoreError::Io {
        op: "fdatasync",
        source: sled::Error::Io(e),
    })?;
    for (_, path) in &files {
        std::fs::remove_file(path).map_err(|e| jio("remove", path, e))?;
    }
    journal::sync_dir(jdir).map_err(|e| jio("sync", jdir, e))?;
    Ok(newest + 1)
}

#[cfg(test)]
mod tests;
