//! The write path: records into the journal (one write per group, with or
//! without its fdatasync), what the writer threads report back, and the rotation
//! that hands a full journal file to a checkpoint.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use pd_core::prefix::Prefix;

use super::present::Present;
use super::{encode, finish, journal, key, stopped, Clock, JournalState, SledStore, StoreError};
use crate::lease::Lease;

impl SledStore {
    /// Make these records durable: their frames into the journal with one
    /// write and one fdatasync. When it returns, a Reply granting them may
    /// leave; call [`settle`](Self::settle) after the Replies left.
    pub fn commit(&self, clock: Clock, put: &[Lease], delete: &[Prefix]) -> Result<(), StoreError> {
        self.commit_with(clock, put, delete, true).map(drop)
    }

    /// Write these records' frames into the journal with one write and no
    /// fdatasync (the pipelined writer, `driver::syncers`). They are
    /// durable once an fdatasync through one of [`sync_fds`](Self::sync_fds)
    /// that started after this returned has returned; then call
    /// [`durable`](Self::durable) with the count this returns (the number
    /// of records once they are). A crash before that may lose them, or
    /// leave the torn tail replay drops.
    pub fn append(
        &self,
        clock: Clock,
        put: &[Lease],
        delete: &[Prefix],
    ) -> Result<u64, StoreError> {
        self.commit_with(clock, put, delete, false)
    }

    /// The current journal file's descriptions for the writer threads (new ones
    /// after each rotation).
    pub fn sync_fds(&self) -> Vec<Arc<std::fs::File>> {
        let st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        st.journal.sync_fds()
    }

    /// Appended records are durable: the store holds `count` records (what
    /// [`save_mark`](Self::save_mark) may raise the mark to).
    pub fn durable(&self, count: u64) {
        self.count.store(count, Ordering::SeqCst);
    }

    /// An fdatasync of appended records failed: the store stops, as after a
    /// failed commit (no later append, rotation or checkpoint). Returns the
    /// store's first failure (this one, naming the file, if it is).
    pub fn fail(&self, why: &str) -> String {
        let mut st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        let path = st.journal.path();
        st.failed
            .get_or_insert_with(|| format!("{why} ({})", path.display()))
            .clone()
    }

    /// Write the frames, with the fdatasync when `sync`; returns the record
    /// count after them (the store's count already, when `sync`).
    fn commit_with(
        &self,
        clock: Clock,
        put: &[Lease],
        delete: &[Prefix],
        sync: bool,
    ) -> Result<u64, StoreError> {
        let mut guard = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        let st = &mut *guard;
        stopped(st)?;
        self.ensure_present(st)?;
        let mut buf = std::mem::take(&mut st.buf);
        buf.clear();
        let present = st.present.get_or_insert_with(Present::default);
        // Puts before deletes, as the frames go: every prefix of the frames
        // (what a torn write leaves) holds at least the final count.
        // (`present` changes before the write: if it fails, the store
        // stops, so no later commit counts on it.)
        for l in put {
            let k = key(&l.prefix);
            journal::frame_put(&mut buf, &k, &encode(l, clock));
            present.insert(&k);
        }
        for p in delete {
            let k = key(p);
            journal::frame_delete(&mut buf, &k);
            present.remove(&k);
        }
        let count = present.count;
        // Lower the mark before records go, so a crash in between never
        // looks like damage.
        if count < self.marked.load(Ordering::SeqCst) {
            self.set_mark(count)?;
        }
        let r = if sync {
            st.journal.append(&buf)
        } else {
            st.journal.write(&buf)
        };
        st.buf = buf;
        if let Err(source) = r {
            let e = StoreError::JournalIo {
                op: "append",
                path: st.journal.path(),
                source,
            };
            st.failed = Some(e.to_string());
            return Err(e);
        }
        if sync {
            self.count.store(count, Ordering::SeqCst);
        }
        Ok(count)
    }

    /// Build `present` from sled if no load did (offline tools that write
    /// without reading first): sled holds every record then, as opening
    /// folded the journal into it. Fewer than the mark is damage, as at load.
    pub(super) fn ensure_present(&self, st: &mut JournalState) -> Result<(), StoreError> {
        if st.present.is_none() {
            let p = self.scan(|_, _| Ok(()))?;
            let expected = self.marked.load(Ordering::SeqCst);
            if p.count < expected {
                return Err(StoreError::Damaged {
                    path: self.path.clone(),
                    found: p.count,
                    expected,
                    mark: self.mark_path.clone(),
                });
            }
            self.count.store(p.count, Ordering::SeqCst);
            st.present = Some(p);
        }
        Ok(())
    }

    /// After a commit's Replies left: collect a finished checkpoint, and
    /// start one when the journal file is full.
    pub fn settle(&self) -> Result<(), StoreError> {
        let mut st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        self.checkpoint(&mut st, false)
    }

    /// Collect a finished checkpoint; true if the journal file is full and
    /// [`settle`](Self::settle) would rotate it. The pipelined writer
    /// settles only once every append to the file is durable: a sync of
    /// one file does not cover another, and replay takes damage in a file
    /// that is not the newest for an error.
    pub fn rotation_due(&self) -> Result<bool, StoreError> {
        let mut st = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        stopped(&st)?;
        if st.checkpoint.as_ref().is_some_and(|h| h.is_finished()) {
            finish(&mut st)?;
        }
        Ok(st.checkpoint.is_none() && st.journal.size() >= self.rotate_bytes)
    }
}
