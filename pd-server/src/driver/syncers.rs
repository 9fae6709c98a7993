//! Pipelined fdatasyncs with a relay of leaders: the thread that holds the
//! lead gathers a group of records, appends it and makes it durable itself;
//! when that fdatasync is slow, a standby thread takes the lead and goes on
//! gathering, so a slow sync holds up only the Requests it covers. Groups
//! are acknowledged (their Replies leave) in write order.
//!
//! Why pipelined: a commit that writes and then waits for its own
//! fdatasync makes every Request queued behind a slow fdatasync wait for
//! it. On the benchmark's virtio disk 0.1 % of fdatasyncs take 5–25 ms; at
//! 10,000 exchanges/s that alone put the 4-way p99 at 5–12 ms
//! (BENCHMARKS.md §00). Device cache flushes are not served in order
//! there: a later fdatasync often returns before a slow earlier one (88 of
//! 296 and 249 of 567 syncs from 2–4 threads overtook one). An fdatasync
//! that started after a write returned covers that write whichever
//! descriptor it goes through (it writes back and waits on the inode's
//! pages, then flushes the device), so when any sync returns, every group
//! written before it started is durable.
//!
//! Why a relay and not a writer handing each group to a syncer thread (the
//! design of ca55497): the hand-off was one more wake-up per group, and on
//! this VM a context switch with its timer and interrupt exits costs
//! ~15 µs of CPU (BENCHMARKS.md §0000). The leader syncs inline; the loop
//! thread, on its turns, asks a standby to take the lead when the newest
//! sync has run longer than [`TAKEOVER`] ([`Committers::watch`]): a few in a
//! hundred syncs, and no wake-up at all for the others.
//!
//! Errors: Linux reports a writeback error once per open file description
//! (errseq, since 4.13), so each thread syncs through its own description,
//! opened before the file's first write (`journal::SYNC_FDS`): every sync
//! that covers a failed page reports it. The first error withholds every
//! group not yet acknowledged and stops all later acknowledgements (house
//! rule 4: nothing granted leaves before it is on disk).
//!
//! A group that wrote nothing (Replies only) is acknowledged after every
//! group written before it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::histogram::{Histogram, Summary};

/// How long the newest fdatasync may run before a standby takes the lead
/// (the benchmark disk: p50 0.18 ms, p99 0.93 ms).
pub const TAKEOVER: Duration = Duration::from_micros(500);

/// What a thread makes durable (a journal file's description).
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

/// What one step of the lead did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It wrote a group: sync it now.
    Sync,
    /// Nothing to sync (idle, Replies only, or durable already).
    Next,
    /// The queue is closed: finish and stop every thread.
    Stop,
}

/// The lead: the writer's state, run by whichever thread holds it.
pub trait Lead<T, S>: Send + 'static {
    /// Take the next group, write it and report it ([`Pool::written`]).
    fn step(&mut self, pool: &Pool<T, S>) -> Step;
    /// After [`Step::Stop`]: the last things before the threads stop.
    fn finish(&mut self, pool: &Pool<T, S>);
}

struct Waiting<T> {
    /// Durable once `durable >= seq`.
    seq: u64,
    /// The record count it leaves; `None` when it wrote nothing.
    count: Option<u64>,
    group: T,
}

struct State<T> {
    /// One description per thread.
    files: Vec<Arc<dyn Flush>>,
    /// Groups written (the seq of the last).
    written: u64,
    /// The highest seq a sync has started for.
    claimed: u64,
    /// The highest seq known durable.
    durable: u64,
    waiting: VecDeque<Waiting<T>>,
    failed: bool,
    /// Threads waiting in [`Pool::drain`].
    drainers: usize,
}

struct Shared<T, S> {
    state: Mutex<State<T>>,
    /// A sync returned (for drains).
    progress: Condvar,
    sink: S,
    origin: Instant,
    /// When the newest sync in flight started (µs after `origin`, plus
    /// one; 0: none).
    newest: AtomicU64,
    /// The `newest` a standby was last asked to take over from.
    rescued: AtomicU64,
    /// How long each fdatasync took.
    syncs: Histogram,
}

impl<T, S: Sink<T>> Shared<T, S> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn micros(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
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

/// The groups waiting to be durable, and the syncs that make them so.
pub struct Pool<T, S> {
    shared: Arc<Shared<T, S>>,
}

impl<T, S> Clone for Pool<T, S> {
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
        }
    }
}

impl<T, S: Sink<T>> Pool<T, S> {
    /// A pool syncing through `files` (one per thread; none: groups are
    /// durable only through [`durable_now`](Self::durable_now)).
    pub fn new(files: Vec<Arc<dyn Flush>>, sink: S) -> Self {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    files,
                    written: 0,
                    claimed: 0,
                    durable: 0,
                    waiting: VecDeque::new(),
                    failed: false,
                    drainers: 0,
                }),
                progress: Condvar::new(),
                sink,
                origin: Instant::now(),
                newest: AtomicU64::new(0),
                rescued: AtomicU64::new(0),
                syncs: Histogram::default(),
            }),
        }
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

    /// Make everything written so far durable through description `i`
    /// (one fdatasync) and acknowledge what that covers. Nothing new
    /// written: nothing to do.
    pub fn sync(&self, i: usize) {
        let sh = &self.shared;
        let mut st = sh.lock();
        if st.failed || st.written <= st.claimed {
            return;
        }
        let target = st.written;
        st.claimed = target;
        let Some(file) = st.files.get(i).cloned() else {
            sh.fail(&mut st, format!("syncer {i} has no file"));
            return;
        };
        drop(st);
        let started = sh.micros();
        sh.newest.store(started, Ordering::SeqCst);
        let r = file.flush();
        sh.syncs
            .record(Duration::from_micros(sh.micros().saturating_sub(started)));
        let _ = sh
            .newest
            .compare_exchange(started, 0, Ordering::SeqCst, Ordering::SeqCst);
        let mut st = sh.lock();
        match r {
            Ok(()) if target > st.durable && !st.failed => {
                st.durable = target;
                sh.ack(&mut st);
            }
            Ok(()) => {}
            Err(e) => sh.fail(&mut st, format!("fdatasync failed: {e}")),
        }
        if st.drainers > 0 {
            sh.progress.notify_all();
        }
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
        st.drainers += 1;
        while !st.failed && st.durable < st.written {
            st = self
                .shared
                .progress
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        st.drainers -= 1;
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

    /// The newest sync in flight has run longer than `limit`, and no
    /// standby was asked to take over from it yet (true once per sync).
    fn slow(&self, limit: Duration) -> bool {
        let sh = &self.shared;
        let t = sh.newest.load(Ordering::SeqCst);
        if t == 0 {
            return false;
        }
        let limit = u64::try_from(limit.as_micros()).unwrap_or(u64::MAX);
        if sh.micros().saturating_sub(t) < limit {
            return false;
        }
        sh.rescued.swap(t, Ordering::SeqCst) != t
    }
}

/// Who holds the lead.
struct Baton<L> {
    /// The lead while no thread runs it (its holder is syncing).
    lead: Option<L>,
    /// A standby is asked to take it.
    asked: bool,
    stop: bool,
}

struct Relay<L> {
    baton: Mutex<Baton<L>>,
    standby: Condvar,
}

impl<L> Relay<L> {
    fn lock(&self) -> MutexGuard<'_, Baton<L>> {
        self.baton.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wait, as a standby, until asked to lead; `None` once stopped.
    fn take(&self) -> Option<L> {
        let mut b = self.lock();
        loop {
            if b.stop {
                return None;
            }
            if b.asked && b.lead.is_some() {
                b.asked = false;
                return b.lead.take();
            }
            b = self.standby.wait(b).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Leave the lead for a standby while this thread syncs.
    fn park(&self, lead: L) {
        self.lock().lead = Some(lead);
    }

    /// Take the lead back after a sync, unless a standby has it.
    fn retake(&self) -> Option<L> {
        let mut b = self.lock();
        let lead = b.lead.take();
        if lead.is_some() {
            b.asked = false;
        }
        lead
    }

    /// Ask a standby to take the parked lead.
    fn ask(&self) {
        let mut b = self.lock();
        if b.lead.is_some() && !b.stop {
            b.asked = true;
            self.standby.notify_one();
        }
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.standby.notify_all();
    }
}

/// The threads that take turns at the lead, each syncing through its own
/// description.
pub struct Committers<T, S, L> {
    pool: Pool<T, S>,
    relay: Arc<Relay<L>>,
    threads: Vec<JoinHandle<()>>,
}

impl<T, S, L> Committers<T, S, L>
where
    T: Send + 'static,
    S: Sink<T> + 'static,
    L: Lead<T, S>,
{
    /// Start one thread per description of `pool` (at least one), the
    /// first to take the lead running `lead`.
    pub fn start(pool: Pool<T, S>, lead: L, name: &str) -> std::io::Result<Self> {
        let n = pool.shared.lock().files.len().max(1);
        let relay = Arc::new(Relay {
            baton: Mutex::new(Baton {
                lead: Some(lead),
                asked: true,
                stop: false,
            }),
            standby: Condvar::new(),
        });
        let mut c = Committers {
            pool,
            relay,
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let pool = c.pool.clone();
            let relay = c.relay.clone();
            let t = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || run(&pool, &relay, i));
            match t {
                Ok(t) => c.threads.push(t),
                Err(e) => {
                    c.relay.stop();
                    c.join();
                    return Err(e);
                }
            }
        }
        Ok(c)
    }

    /// Called by the loop on its turns: when the newest sync has run longer
    /// than [`TAKEOVER`], ask a standby to take the lead.
    pub fn watch(&self) {
        if self.pool.slow(TAKEOVER) {
            self.relay.ask();
        }
    }

    /// How long the fdatasyncs took so far.
    pub fn sync_times(&self) -> Summary {
        self.pool.shared.syncs.summary()
    }

    /// Wait for every thread to stop (the lead stops them once its queue
    /// is closed and it has finished).
    pub fn join(&mut self) {
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!("lease writer thread panicked");
            }
        }
    }
}

impl<T, S, L> Drop for Committers<T, S, L> {
    fn drop(&mut self) {
        let mut b = self
            .relay
            .baton
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        b.stop = true;
        drop(b);
        self.relay.standby.notify_all();
    }
}

/// Thread `i`: a standby until it holds the lead; then lead, syncing each
/// group it writes through description `i`, until a standby takes the lead
/// during one of its syncs.
fn run<T, S: Sink<T>, L: Lead<T, S>>(pool: &Pool<T, S>, relay: &Relay<L>, i: usize) {
    while let Some(mut lead) = relay.take() {
        loop {
            match lead.step(pool) {
                Step::Next => {}
                Step::Stop => {
                    lead.finish(pool);
                    relay.stop();
                    return;
                }
                Step::Sync => {
                    relay.park(lead);
                    pool.sync(i);
                    match relay.retake() {
                        Some(l) => lead = l,
                        None => break,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "syncers_tests.rs"]
mod tests;
