//! Pipelined fdatasyncs: the writer appends a group of records and goes on
//! gathering the next one while a pool of syncer threads makes the file
//! durable and acknowledges the groups (their Replies leave) in write order.
//!
//! Why: a commit that writes and then waits for its own fdatasync makes
//! every Request queued behind a slow fdatasync wait for it. On the
//! benchmark's virtio disk 0.1 % of fdatasyncs take 5–25 ms; at 10,000
//! exchanges/s that alone put the 4-way p99 at 5–12 ms (BENCHMARKS.md §00).
//! Device cache flushes are not served in order there: a later fdatasync
//! often returns before a slow earlier one (88 of 296 and 249 of 567 syncs
//! from 2–4 threads overtook one). An fdatasync that started after a write
//! returned covers that write whichever descriptor it goes through (it
//! writes back and waits on the inode's pages, then flushes the device), so
//! when any sync returns, every group written before it started is durable.
//! In a model of the writer (groups every 500 µs, 10 s) the p99.9 from
//! write to durable went from 50.5 ms serial to 1.1 ms with four syncers.
//!
//! Errors: Linux reports a writeback error once per open file description
//! (errseq, since 4.13), so each syncer syncs through its own description,
//! opened before the file's first write (`journal::SYNC_FDS`): every sync
//! that covers a failed page reports it. The first error withholds every
//! group not yet acknowledged and stops all later acknowledgements (house
//! rule 4: nothing granted leaves before it is on disk).
//!
//! A group that wrote nothing (Replies only) is acknowledged after every
//! group written before it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// What a syncer makes durable (a journal file's description).
pub trait Flush: Send + Sync {
    /// fdatasync.
    fn flush(&self) -> std::io::Result<()>;
}

impl Flush for std::fs::File {
    fn flush(&self) -> std::io::Result<()> {
        self.sync_data()
    }
}

/// Where acknowledged and withheld groups go; called under the pool's
/// lock, so in write order.
pub trait Sink<T>: Send + Sync {
    /// These groups are durable, oldest first; `count` is the record count
    /// the last of them that wrote left (`None` if none wrote).
    fn durable(&self, groups: Vec<T>, count: Option<u64>);
    /// These groups are never acknowledged (a sync or write failed).
    fn withheld(&self, groups: Vec<T>);
    /// The first failure, once.
    fn failed(&self, why: String);
}

struct Waiting<T> {
    /// Durable once `durable >= seq`.
    seq: u64,
    /// The record count it leaves; `None` when it wrote nothing.
    count: Option<u64>,
    group: T,
}

struct State<T> {
    /// One description per syncer.
    files: Vec<Arc<dyn Flush>>,
    /// Groups written (the seq of the last).
    written: u64,
    /// The highest seq a syncer has started a sync for.
    claimed: u64,
    /// The highest seq known durable.
    durable: u64,
    waiting: VecDeque<Waiting<T>>,
    failed: bool,
    stop: bool,
}

struct Shared<T, S> {
    state: Mutex<State<T>>,
    /// A group was written (or the pool stops).
    work: Condvar,
    /// A sync returned.
    progress: Condvar,
    sink: S,
}

impl<T, S: Sink<T>> Shared<T, S> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hand every group up to `durable` to the sink.
    fn ack(&self, st: &mut State<T>) {
        let mut groups = Vec::new();
        let mut count = None;
        while st.waiting.front().is_some_and(|w| w.seq <= st.durable) {
            if let Some(w) = st.waiting.pop_front() {
                count = w.count.or(count);
                groups.push(w.group);
            }
        }
        if !groups.is_empty() {
            self.sink.durable(groups, count);
        }
    }

    fn fail(&self, st: &mut State<T>, why: String) {
        if st.failed {
            return;
        }
        st.failed = true;
        self.sink.failed(why);
        let groups: Vec<T> = st.waiting.drain(..).map(|w| w.group).collect();
        if !groups.is_empty() {
            self.sink.withheld(groups);
        }
        self.progress.notify_all();
    }
}

/// The syncer threads and the groups waiting for them.
pub struct Syncers<T, S> {
    shared: Arc<Shared<T, S>>,
    threads: Vec<JoinHandle<()>>,
}

impl<T: Send + 'static, S: Sink<T> + 'static> Syncers<T, S> {
    /// One syncer thread per description; none makes a pool whose groups
    /// are durable only through [`durable_now`](Self::durable_now).
    pub fn start(files: Vec<Arc<dyn Flush>>, sink: S) -> std::io::Result<Self> {
        let n = files.len();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                files,
                written: 0,
                claimed: 0,
                durable: 0,
                waiting: VecDeque::new(),
                failed: false,
                stop: false,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            sink,
        });
        let mut pool = Syncers {
            shared,
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let sh = pool.shared.clone();
            let t = std::thread::Builder::new()
                .name(format!("pd-sync-{i}"))
                .spawn(move || run(&sh, i));
            match t {
                Ok(t) => pool.threads.push(t),
                Err(e) => {
                    pool.stop();
                    return Err(e);
                }
            }
        }
        Ok(pool)
    }

    /// A group was just written, leaving `count` records once durable
    /// (call it after the write returned: a sync claims it only after).
    pub fn written(&self, count: u64, group: T) {
        let mut st = self.shared.lock();
        if st.failed {
            self.shared.sink.withheld(vec![group]);
            return;
        }
        st.written += 1;
        let seq = st.written;
        st.waiting.push_back(Waiting {
            seq,
            count: Some(count),
            group,
        });
        self.shared.work.notify_one();
    }

    /// A group that wrote nothing: acknowledged once everything written
    /// before it is.
    pub fn unwritten(&self, group: T) {
        let mut st = self.shared.lock();
        if st.failed {
            self.shared.sink.withheld(vec![group]);
            return;
        }
        let seq = st.written;
        st.waiting.push_back(Waiting {
            seq,
            count: None,
            group,
        });
        self.shared.ack(&mut st);
    }

    /// Take everything written as durable without a sync (only for
    /// measuring what durability costs: `PD_SERVER_UNSAFE_NO_FLUSH`).
    pub fn durable_now(&self) {
        let mut st = self.shared.lock();
        st.durable = st.written;
        self.shared.ack(&mut st);
    }

    /// A write failed: withhold every group not yet acknowledged and every
    /// later one.
    pub fn fail(&self, why: String) {
        let mut st = self.shared.lock();
        self.shared.fail(&mut st, why);
    }

    /// Whether a sync or write failed.
    pub fn failed(&self) -> bool {
        self.shared.lock().failed
    }

    /// Wait until every group written is durable; false if that failed.
    pub fn drain(&self) -> bool {
        let mut st = self.shared.lock();
        while !st.failed && st.durable < st.written {
            st = self
                .shared
                .progress
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !st.failed
    }

    /// Sync through these descriptions from now on (a new journal file;
    /// call it drained, before the file's first write).
    pub fn set_files(&self, files: Vec<Arc<dyn Flush>>) {
        let mut st = self.shared.lock();
        st.files = files;
    }

    /// The least record count a group not yet durable leaves (`u64::MAX`
    /// if none): a crash may leave the store with any of them, so the mark
    /// must not rise above it.
    pub fn mark_bound(&self) -> u64 {
        let st = self.shared.lock();
        st.waiting
            .iter()
            .filter_map(|w| w.count)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Wait for every group written, then stop the syncers.
    pub fn finish(mut self) {
        self.drain();
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.work.notify_all();
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!("lease syncer thread panicked");
            }
        }
    }
}

impl<T, S> Drop for Syncers<T, S> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.stop = true;
        }
        self.shared.work.notify_all();
    }
}

/// Syncer `i`: sync whatever is written and not yet claimed, through its
/// own description; acknowledge what that covers.
fn run<T, S: Sink<T>>(sh: &Shared<T, S>, i: usize) {
    let mut st = sh.lock();
    loop {
        if !st.failed && st.written > st.claimed {
            let target = st.written;
            st.claimed = target;
            let Some(file) = st.files.get(i).cloned() else {
                sh.fail(&mut st, format!("syncer {i} has no file"));
                continue;
            };
            drop(st);
            let r = file.flush();
            st = sh.lock();
            match r {
                Ok(()) if target > st.durable && !st.failed => {
                    st.durable = target;
                    sh.ack(&mut st);
                }
                Ok(()) => {}
                Err(e) => sh.fail(&mut st, format!("fdatasync failed: {e}")),
            }
            sh.progress.notify_all();
            continue;
        }
        if st.stop {
            return;
        }
        st = sh.work.wait(st).unwrap_or_else(PoisonError::into_inner);
    }
}

#[cfg(test)]
#[path = "syncers_tests.rs"]
mod tests;
