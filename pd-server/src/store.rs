//! Lease persistence: a trait the driver uses and its sled implementation.
//!
//! Durability rule (ARCHITECTURE rule 4): the lease writer appends records
//! to the journal with [`SledStore::append`] (one write per group, see
//! [`journal`]), and the writer threads (`driver::syncers`) fdatasync it and call
//! [`SledStore::durable`] before the Replies that grant them leave
//! ([`SledStore::commit`] does both in one call, for tools and tests). sled is the
//! checkpoint: when a journal file is full, a background thread folds its
//! records into sled block by block ([`blocks`]), flushes sled and deletes
//! the file ([`SledStore::settle`] starts it; `store/write.rs`). Times are monotonic in memory
//! and wall-clock Unix seconds on disk; [`Clock`] (in `record.rs`, with the
//! record format) is the only conversion point.

mod background;
pub mod blocks;
mod fold;
pub mod journal;
mod mark;
mod present;
mod record;
mod write;

use blocks::Key;
use fold::{flush_sled, fold_file, migrate, replay};
use present::Present;
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
    /// A background checkpoint (reading a journal file, folding it into
    /// sled, flushing, removing the file) failed.
    #[error("lease database checkpoint failed: {0}")]
    Checkpoint(String),
    /// A block of records does not decode.
    #[error("lease database block {key} is corrupt: {reason}")]
    CorruptBlock {
        /// The block's key, hex.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// An earlier append or checkpoint failed; nothing more is written.
    #[error("lease database stopped after an earlier failure: {0}")]
    Stopped(String),
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
    /// Write these records and delete these prefixes durably (one journal
    /// append + fdatasync), then raise the mark.
    fn write(&self, clock: Clock, put: &[Lease], delete: &[Prefix]) -> Result<(), StoreError>;
}

/// sled-backed store in `state-dir/leases`, with its journal in
/// `state-dir/leases.journal`.
pub struct SledStore {
    db: sled::Db,
    /// The records, in blocks ([`blocks::TREE`]).
    blocks: sled::Tree,
    journal: Mutex<JournalState>,
    /// sled's log file: its flush ends in sync_file_range, which does not
    /// make appended data survive a power cut; we fdatasync it as well.
    log_file: std::fs::File,
    path: PathBuf,
    mark_path: PathBuf,
    /// Records in sled and the journal together (counted at load, kept up
    /// to date by commits).
    count: AtomicU64,
    /// The value last written to the mark file.
    marked: AtomicU64,
    /// Journal size at which a checkpoint starts ([`journal::ROTATE_BYTES`];
    /// tests lower it with `PD_SERVER_JOURNAL_ROTATE_BYTES`).
    rotate_bytes: u64,
}

/// The journal and what goes with it (behind a mutex: the trait takes
/// `&self`; only the writer thread commits).
struct JournalState {
    journal: journal::Journal,
    /// Frames of the turn being written (kept to reuse its allocation).
    buf: Vec<u8>,
    /// The background checkpoint in flight, if any.
    checkpoint: Option<std::thread::JoinHandle<Result<(), String>>>,
    /// Which records exist, in sled and the journal together; `None`
    /// until the first load or commit builds it from sled.
    present: Option<Present>,
    /// Set by a failed append or checkpoint: the store then refuses every
    /// later commit and checkpoint (a later journal file folded before a
    /// failed earlier one would let old records win).
    failed: Option<String>,
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
        let blocks = db
            .open_tree(blocks::TREE)
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
        migrate(&db, &blocks, &log_file)?;
        let jdir = dir.join("leases.journal");
        let next = replay(&db, &blocks, &log_file, &jdir)?;
        let journal =
            journal::Journal::create(&jdir, next).map_err(|source| StoreError::JournalIo {
                op: "create",
                path: journal::file_path(&jdir, next),
                source,
            })?;
        Ok(SledStore {
            db,
            blocks,
            journal: Mutex::new(JournalState {
                journal,
                buf: Vec::new(),
                checkpoint: None,
                present: None,
                failed: None,
            }),
            log_file,
            path,
            mark_path,
            count: AtomicU64::new(0),
            marked: AtomicU64::new(marked),
            rotate_bytes: std::env::var("PD_SERVER_JOURNAL_ROTATE_BYTES")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(journal::ROTATE_BYTES, |b| {
                    b.clamp(4096, journal::ROTATE_BYTES)
                }),
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
        self.commit(clock, put, delete)?;
        self.save_mark()?;
        self.settle()
    }
}

impl SledStore {
    /// Hand every record to `f` in block order, without collecting them (a
    /// restore of a million leases need not hold them twice). Whatever the
    /// journal holds is checkpointed first (at start, replay left none).
    pub fn load_each(&self, clock: Clock, f: impl FnMut(Lease)) -> Result<u64, StoreError> {
        self.sync(true)?;
        let found = self.read_all(clock, f)?;
        self.loaded(found)
    }

    /// Decode every record in sled (records decoded in one pass share their
    /// interface name) and note which exist.
    fn read_all(&self, clock: Clock, mut f: impl FnMut(Lease)) -> Result<u64, StoreError> {
        let mut iface = None;
        let present = self.scan(|key, record| {
            f(decode_with(key, record, clock, &mut iface)?);
            Ok(())
        })?;
        let found = present.count;
        self.journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .present = Some(present);
        Ok(found)
    }

    /// Every record in sled, in block order, to `f`; returns which exist.
    fn scan(
        &self,
        mut f: impl FnMut(&Key, &[u8]) -> Result<(), StoreError>,
    ) -> Result<Present, StoreError> {
        let mut present = Present::default();
        for kv in self.blocks.iter() {
            let (k, v) = kv.map_err(|source| StoreError::Io { op: "read", source })?;
            let block: Key = k.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                key: hex(&k),
                reason: "block key is not 17 octets",
            })?;
            for (index, record) in blocks::decode(&block, &v)? {
                let key = blocks::record_key(&block, index);
                f(&key, record)?;
                present.insert(&key);
            }
        }
        Ok(present)
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
        // What was read is durable: from now on fewer is damage.
        self.save_mark()?;
        Ok(found)
    }

    /// How many records the last mark said the store holds: a capacity hint
    /// for a restore (0 when unknown).
    pub fn records_hint(&self) -> usize {
        usize::try_from(self.marked.load(Ordering::SeqCst)).unwrap_or(0)
    }
}

impl SledStore {
    /// Write into sled only, without the journal and unflushed: for offline
    /// tools that fill a store in bulk (`pd-bench fill`) and then call
    /// [`flush`](Self::flush). Never what the daemon does. Whatever the
    /// journal holds is checkpointed first, so these writes come after it.
    pub fn write_unflushed(
        &self,
        clock: Clock,
        put: &[Lease],
        delete: &[Prefix],
    ) -> Result<(), StoreError> {
        self.sync(true)?;
        let mut st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        self.ensure_present(&mut st)?;
        let values: Vec<Vec<u8>> = put.iter().map(|l| encode(l, clock)).collect();
        let changes: Vec<blocks::Change<'_>> = put
            .iter()
            .zip(&values)
            .map(|(l, v)| (key(&l.prefix), Some(&v[..])))
            .chain(delete.iter().map(|p| (key(p), None)))
            .collect();
        blocks::apply(&self.blocks, &changes)?;
        let present = st.present.get_or_insert_with(Present::default);
        for (k, v) in &changes {
            if v.is_some() {
                present.insert(k);
            } else {
                present.remove(k);
            }
        }
        self.count.store(present.count, Ordering::SeqCst);
        Ok(())
    }

    /// Flush sled and fdatasync its log, bypassing the journal (offline
    /// tools that wrote with [`write_unflushed`](Self::write_unflushed)).
    pub fn flush(&self) -> Result<(), StoreError> {
        flush_sled(&self.db, &self.log_file)
    }

    /// Finish the checkpoint in flight, if any, and report its result.
    /// With `force`, also checkpoint the current journal now and wait.
    pub fn sync(&self, force: bool) -> Result<(), StoreError> {
        let mut st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        finish(&mut st)?;
        self.checkpoint(&mut st, force)?;
        finish(&mut st)
    }

    /// Collect a finished checkpoint (its error, if it failed) without
    /// waiting. It never starts one: only [`settle`](Self::settle) does.
    /// A writer holding the journal right now means there is nothing to
    /// collect yet.
    pub fn poll(&self) -> Result<(), StoreError> {
        let Ok(mut st) = self.journal.try_lock() else {
            return Ok(());
        };
        if st.checkpoint.as_ref().is_some_and(|h| h.is_finished()) {
            finish(&mut st)?;
        }
        Ok(())
    }

    /// Collect a finished checkpoint; start one when the journal is big
    /// enough (or `force`) and none is in flight.
    fn checkpoint(&self, st: &mut JournalState, force: bool) -> Result<(), StoreError> {
        stopped(st)?;
        if st.checkpoint.as_ref().is_some_and(|h| h.is_finished()) {
            finish(st)?;
        }
        let big = st.journal.size() >= self.rotate_bytes;
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
        let tree = self.blocks.clone();
        let next = st.journal.seq() + 1;
        let h = std::thread::Builder::new()
            .name("pd-checkpoint".into())
            .spawn(move || {
                background::lower_this_thread();
                let bytes = std::fs::read(&old)
                    .map_err(|e| format!("cannot read {}: {e}", old.display()))?;
                // The writer wrote this file whole before the rotation.
                if let (_, Some((at, why))) =
                    fold_file(&tree, &bytes).map_err(|e| format!("{}: {e}", old.display()))?
                {
                    return Err(format!("{} is damaged at octet {at} ({})", old.display(), why.as_str()));
                }
                flush_sled(&db, &log).map_err(|e| e.to_string())?;
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

    /// Raise the mark to the current record count (the writer does it once
    /// a second and as it stops: the count covers only durable commits).
    pub fn save_mark(&self) -> Result<(), StoreError> {
        self.raise_mark(u64::MAX)
    }

    /// Raise the mark to the durable record count, but not above `bound`
    /// (the pipelined writer: the least count of the appends not yet
    /// durable, which a crash may leave). Never lowers it: an append lowers
    /// it before it writes.
    pub fn raise_mark(&self, bound: u64) -> Result<(), StoreError> {
        let count = self.count.load(Ordering::SeqCst).min(bound);
        if count > self.marked.load(Ordering::SeqCst) {
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

/// Wait for the checkpoint in flight, if any: its records are in sled now.
/// A failure stops the store.
fn finish(st: &mut JournalState) -> Result<(), StoreError> {
    let Some(h) = st.checkpoint.take() else {
        return Ok(());
    };
    let e = match h.join() {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e,
        Err(_) => "the checkpoint thread panicked".into(),
    };
    st.failed = Some(format!("checkpoint: {e}"));
    Err(StoreError::Checkpoint(e))
}

/// The store's earlier failure, if any.
fn stopped(st: &JournalState) -> Result<(), StoreError> {
    match &st.failed {
        Some(e) => Err(StoreError::Stopped(e.clone())),
        None => Ok(()),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
