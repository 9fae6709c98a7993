//! The lease writer: threads that make the loop's records durable and then
//! send the Replies that wait for them (house rule 4: nothing granted
//! leaves before it is on disk).
//!
//! Group commit: the writer takes every job queued since its last write
//! and writes them with one journal write. Under sustained load it also
//! waits, so that one fdatasync (40–100 µs of CPU on a virtio disk) covers
//! more Requests: until about `COMMIT_TARGET` records are expected at the
//! rate it sees, never longer than `min_interval` after its last write
//! (`pace`); an isolated Request is written at once. While the loop is
//! busy it holds its jobs and sends them at the turn end nearest that due
//! time, so the group closes right after a turn (`driver::hold`). The writer then
//! fdatasyncs the group itself and sends its Replies; when that sync is
//! slow, a standby thread takes over the writing (`driver::syncers`), so a
//! slow fdatasync holds up only the Requests it covers. The loop thread
//! never waits for the disk: it keeps receiving, answering Solicits and
//! queueing jobs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pd_core::effect::Transmit;
use pd_core::prefix::Prefix;
use pd_core::sys::net::DhcpSocket;
use pd_core::wire;
use tokio::sync::mpsc as amsc;

use super::histogram::Summary;
use super::hold::{Outbox, Shared};
use super::pace::Pace;
use super::syncers::{Committers, Flush, Lead, Pool, Sink, Step};
use crate::engine::Effect;
use crate::lease::Lease;
use crate::store::{Clock, SledStore};

/// One loop turn's writes and what waits for them.
pub struct Job {
    /// The turn's clock (deadlines are stored as wall-clock times).
    pub clock: Clock,
    /// Records to write.
    pub puts: Vec<Lease>,
    /// Prefixes to delete.
    pub forgets: Vec<Prefix>,
    /// Messages that leave once the records are durable.
    pub replies: Vec<Transmit>,
    /// Route and hook effects, handed back to the loop once durable.
    pub after: Vec<Effect>,
}

/// What the writer tells the loop.
pub enum Done {
    /// Records are durable: run these route and hook effects.
    After(Vec<Effect>),
    /// A write failed: the daemon must stop (no later job is committed).
    Failed(String),
}

/// How the writer commits.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    /// false only for `PD_SERVER_UNSAFE_NO_FLUSH` (benchmarks).
    pub durable: bool,
    /// Least time between two commits under load.
    pub min_interval: Duration,
}

/// Handle on the writer threads.
pub struct Writer {
    /// The queue to the writer threads, with the jobs the loop holds for
    /// the next group (`driver::hold`).
    out: Outbox<Job>,
    threads: Option<Committers<Group, Acks, Leader>>,
    /// Completions, for the loop's select.
    pub done: amsc::UnboundedReceiver<Done>,
    /// Jobs submitted and not finished (held ones too).
    pending: Arc<AtomicUsize>,
}

/// How often an idle writer raises the record-count mark (only the writer
/// touches the mark once it runs: it alone knows what is durable).
const MARK_EVERY: Duration = Duration::from_secs(1);

/// Records one commit should cover under load: five share one fdatasync's
/// CPU (40–100 µs on the benchmark's virtio disk); more only make Replies
/// wait.
const COMMIT_TARGET: u32 = 5;

impl Writer {
    /// Start the writer threads.
    pub fn start(
        store: Arc<SledStore>,
        sock: Arc<DhcpSocket>,
        mode: Mode,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let (dtx, done) = amsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let acks = Acks {
            store: store.clone(),
            sock,
            done: dtx,
            pending: pending.clone(),
        };
        let pool = Pool::new(sync_fds(&store, mode), acks);
        let shared = Arc::new(Shared::new());
        let lead = Leader {
            pace: Pace::new(COMMIT_TARGET, mode.min_interval),
            marked_at: Instant::now(),
            store,
            rx,
            mode,
            shared: shared.clone(),
        };
        let threads = Committers::start(pool, lead, "pd-writer")?;
        Ok(Writer {
            out: Outbox::new(tx, pending.clone(), shared),
            threads: Some(threads),
            done,
            pending,
        })
    }

    /// At the end of each loop turn, with whether the next turn sleeps out
    /// the loop's pace until `next` (`busy`) or waits on the socket: send
    /// the held jobs if this turn end is the one nearest the writer's next
    /// group, or past it, or the loop is not busy (`driver::hold`); and a
    /// standby takes over the writing when the writer's fdatasync is slow
    /// (`driver::syncers`). False if the writer has stopped.
    pub fn turn_ended(&mut self, busy: bool, next: Option<Instant>) -> bool {
        let sent = self.out.turn_ended(busy, next);
        if let Some(t) = &self.threads {
            t.watch();
        }
        sent
    }

    /// Send the held jobs now: the loop is about to wait on something other
    /// than its next turn. False if the writer has stopped.
    pub fn flush_held(&mut self) -> bool {
        self.out.flush()
    }

    /// How long the writer's fdatasyncs took so far (`pd-server stats`).
    pub fn sync_times(&self) -> Summary {
        self.threads
            .as_ref()
            .map(Committers::sync_times)
            .unwrap_or_default()
    }

    /// No job queued or in flight and no report unread: a Reply (or a
    /// route change) that needs no write may go at once without overtaking
    /// an earlier one.
    pub fn idle(&self) -> bool {
        self.pending.load(Ordering::SeqCst) == 0 && self.done.is_empty()
    }

    /// Queue a job: held for the next group while the loop is busy and
    /// the group is not due, sent at once otherwise (`driver::hold`);
    /// false if the writer has stopped.
    pub fn submit(&mut self, job: Job) -> bool {
        self.out.submit(job)
    }

    /// Let the writer finish every queued job and stop; returns what it
    /// reported that the loop has not read yet.
    pub fn finish(&mut self) -> Vec<Done> {
        self.out.close();
        if let Some(mut t) = self.threads.take() {
            t.join();
        }
        let mut out = Vec::new();
        while let Ok(d) = self.done.try_recv() {
            out.push(d);
        }
        out
    }
}

/// One write's Replies and effects, waiting for its records.
struct Group {
    replies: Vec<Transmit>,
    after: Vec<Effect>,
    /// Jobs it holds (for `pending`).
    jobs: usize,
}

/// Where the writer threads put durable groups: their Replies leave, their
/// effects go to the loop in write order.
struct Acks {
    store: Arc<SledStore>,
    sock: Arc<DhcpSocket>,
    done: amsc::UnboundedSender<Done>,
    pending: Arc<AtomicUsize>,
}

impl Sink<Group> for Acks {
    fn durable(&self, mut groups: Vec<Group>, count: Option<u64>) {
        if let Some(c) = count {
            self.store.durable(c);
        }
        for g in &groups {
            send(&self.sock, &g.replies);
        }
        let after: Vec<Effect> = groups.iter_mut().flat_map(|g| g.after.drain(..)).collect();
        if !after.is_empty() {
            let _ = self.done.send(Done::After(after));
        }
        self.withheld(groups);
    }

    fn withheld(&self, groups: Vec<Group>) {
        let n = groups.iter().map(|g| g.jobs).sum();
        self.pending.fetch_sub(n, Ordering::SeqCst);
    }

    fn failed(&self, why: String) {
        // Never a lease granted that is not on disk: every Reply not yet
        // sent is dropped and nothing later is committed.
        let e = self.store.fail(&why);
        tracing::error!(error = %e, "lease database write failed; withholding replies and stopping");
        let _ = self.done.send(Done::Failed(e));
    }
}

/// The descriptions the writer threads sync through (none without durability).
fn sync_fds(store: &SledStore, mode: Mode) -> Vec<Arc<dyn Flush>> {
    if !mode.durable {
        return Vec::new();
    }
    let fds = store.sync_fds();
    fds.into_iter().map(|f| f as Arc<dyn Flush>).collect()
}

/// The writer's state, run by whichever writer thread holds the lead.
struct Leader {
    store: Arc<SledStore>,
    rx: mpsc::Receiver<Job>,
    pace: Pace,
    marked_at: Instant,
    mode: Mode,
    shared: Arc<Shared>,
}

impl Lead<Group, Acks> for Leader {
    fn step(&mut self, pool: &Pool<Group, Acks>) -> Step {
        // After the last group's sync: rotate a full journal file.
        rotate(&self.store, pool, self.mode);
        if self.marked_at.elapsed() >= MARK_EVERY {
            save_mark(&self.store, pool, &mut self.marked_at);
        }
        let mut jobs = match next_group(&self.rx, self.pace.due(), MARK_EVERY, &self.shared) {
            Next::Group(jobs) => jobs,
            Next::Idle => {
                save_mark(&self.store, pool, &mut self.marked_at);
                return Step::Next;
            }
            Next::Closed => return Step::Stop,
        };
        let Some(clock) = jobs.first().map(|j| j.clock) else {
            return Step::Next;
        };
        let (puts, forgets) = records(&mut jobs);
        let group = Group {
            jobs: jobs.len(),
            replies: jobs.iter_mut().flat_map(|j| j.replies.drain(..)).collect(),
            after: jobs.iter_mut().flat_map(|j| j.after.drain(..)).collect(),
        };
        if puts.is_empty() && forgets.is_empty() {
            pool.unwritten(group);
            return Step::Next;
        }
        let start = Instant::now();
        match self.store.append(clock, &puts, &forgets) {
            Ok(count) => {
                let end = Instant::now();
                self.pace
                    .taken(puts.len() + forgets.len(), end, end - start);
                self.shared.set_due(self.pace.due());
                pool.written(count, group);
                if self.mode.durable {
                    return Step::Sync;
                }
                // Benchmarks only: everything is the same but the
                // fdatasync, so the difference is what it costs.
                pool.durable_now();
            }
            Err(e) => {
                pool.fail(e.to_string());
                pool.unwritten(group);
            }
        }
        Step::Next
    }

    fn finish(&mut self, pool: &Pool<Group, Acks>) {
        pool.drain();
        save_mark(&self.store, pool, &mut self.marked_at);
    }
}

/// Collect a finished checkpoint; when the journal file is full, wait for
/// every group written to it to be durable, then rotate and checkpoint
/// (`SledStore::rotation_due`, `SledStore::settle`). A checkpoint, when one starts, starts after
/// those groups' Replies left.
fn rotate(store: &SledStore, pool: &Pool<Group, Acks>, mode: Mode) {
    let rotated = match store.rotation_due() {
        Ok(true) if pool.drain() => store.settle(),
        Ok(_) => return,
        Err(e) => Err(e),
    };
    match rotated {
        Ok(_) => pool.set_files(sync_fds(store, mode)),
        Err(e) => pool.fail(e.to_string()),
    }
}

/// What the writer takes next.
enum Next {
    /// Jobs to commit together (never empty).
    Group(Vec<Job>),
    /// Nothing came for the idle interval.
    Idle,
    /// The loop is gone and the queue is empty.
    Closed,
}

/// The next group. Under load (the next commit `due` later) sleep until
/// then before looking at the queue, and block on it only when nothing
/// came meanwhile: one wake-up per group, and a sleeping writer costs the
/// loop no wake-up per queued job (it would, waiting on the channel).
/// While the loop is busy it holds its jobs and sends them at the turn end
/// nearest `due` (`driver::hold`): then block on the queue at once and
/// commit what comes, early or not, so the group closes when that turn
/// ends, with the loop's send as its one wake-up. A job that comes from a
/// loop gone quiet (it clears the busy flag before it sends) waits out
/// `due` as under the timer.
fn next_group(
    rx: &mpsc::Receiver<Job>,
    due: Option<Instant>,
    idle: Duration,
    shared: &Shared,
) -> Next {
    if !shared.busy() {
        sleep_until(due);
    }
    let first = match rx.try_recv() {
        Ok(j) => j,
        Err(TryRecvError::Disconnected) => return Next::Closed,
        Err(TryRecvError::Empty) => match rx.recv_timeout(idle) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => return Next::Idle,
            Err(RecvTimeoutError::Disconnected) => return Next::Closed,
        },
    };
    if !shared.busy() {
        sleep_until(due);
    }
    let mut jobs = vec![first];
    gather(rx, &mut jobs);
    Next::Group(jobs)
}

fn sleep_until(due: Option<Instant>) {
    if let Some(left) = due.and_then(|t| t.checked_duration_since(Instant::now())) {
        std::thread::sleep(left);
    }
}

/// Take every job already queued. A job with deletions ends the group:
/// within a group puts are written before deletions, which is the order of
/// one turn but not of two.
fn gather(rx: &mpsc::Receiver<Job>, group: &mut Vec<Job>) {
    while group.last().is_some_and(|j| j.forgets.is_empty()) {
        match rx.try_recv() {
            Ok(j) => group.push(j),
            Err(_) => break,
        }
    }
}

/// The group's records in submission order (a later record of the same
/// prefix wins, in the journal and in sled alike), moved out of the jobs.
fn records(group: &mut [Job]) -> (Vec<Lease>, Vec<Prefix>) {
    let mut puts = Vec::new();
    let mut forgets = Vec::new();
    for j in group {
        puts.append(&mut j.puts);
        forgets.append(&mut j.forgets);
    }
    (puts, forgets)
}

fn send(sock: &DhcpSocket, replies: &[Transmit]) {
    for t in replies {
        let bytes = wire::encode(&t.envelope);
        if let Err(e) = sock.send_now(&bytes, t.to, t.ifindex) {
            tracing::warn!(to = %t.to, ifindex = t.ifindex, error = %e, "send failed");
        }
    }
}

/// Raise the mark to the durable record count, not above what a group not
/// yet durable leaves; never after a failure.
fn save_mark(store: &SledStore, pool: &Pool<Group, Acks>, marked_at: &mut Instant) {
    *marked_at = Instant::now();
    if pool.failed() {
        return;
    }
    if let Err(e) = store.raise_mark(pool.mark_bound()) {
        tracing::warn!(error = %e, "cannot update the lease database mark");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use pd_core::time::Timestamp;

    fn job(forget: bool) -> Job {
        Job {
            clock: Clock {
                mono: Timestamp::ZERO,
                wall: 0,
            },
            puts: Vec::new(),
            forgets: if forget {
                vec!["2001:db8::/64".parse().unwrap()]
            } else {
                Vec::new()
            },
            replies: Vec::new(),
            after: Vec::new(),
        }
    }

    fn groups(jobs: &[bool]) -> Vec<usize> {
        let (tx, rx) = mpsc::channel();
        for &f in jobs {
            tx.send(job(f)).unwrap();
        }
        let mut out = Vec::new();
        while let Ok(first) = rx.try_recv() {
            let mut g = vec![first];
            gather(&rx, &mut g);
            out.push(g.len());
        }
        out
    }

    #[test]
    fn queued_jobs_are_committed_together() {
        assert_eq!(groups(&[false, false, false]), vec![3]);
    }

    #[test]
    fn a_job_with_deletions_ends_its_group() {
        // puts before deletions holds within a turn, not across two.
        assert_eq!(groups(&[false, true, false, true, true]), vec![2, 2, 1]);
    }

    #[test]
    fn under_load_the_writer_waits_out_the_interval() {
        let (tx, rx) = mpsc::channel();
        tx.send(job(false)).unwrap();
        let start = Instant::now();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            tx.send(job(false)).unwrap();
            tx
        });
        let due = Some(start + Duration::from_millis(50));
        let Next::Group(g) = next_group(&rx, due, Duration::from_secs(5), &Shared::new()) else {
            panic!("no group");
        };
        assert_eq!(g.len(), 2, "the job queued during the interval joins");
        assert!(start.elapsed() >= Duration::from_millis(50));
        // Then nothing is queued: it waits for the next job, takes it at
        // once, and reports idle and closed.
        let tx = t.join().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(job(false)).unwrap();
            tx
        });
        let start = Instant::now();
        let Next::Group(g) = next_group(&rx, None, Duration::from_secs(5), &Shared::new()) else {
            panic!("no group");
        };
        assert_eq!(g.len(), 1);
        assert!(start.elapsed() >= Duration::from_millis(20));
        let tx = t.join().unwrap();
        let idle = next_group(&rx, None, Duration::from_millis(10), &Shared::new());
        assert!(matches!(idle, Next::Idle));
        drop(tx);
        assert!(matches!(
            next_group(&rx, None, Duration::from_millis(10), &Shared::new()),
            Next::Closed
        ));
    }

    /// This thread's voluntary context switches so far.
    fn switches() -> u64 {
        let s = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Wait for a group due in 10 ms whose job comes at 200 ms; the
    /// writer's wake-ups meanwhile.
    fn wakeups(busy: bool) -> u64 {
        let shared = Shared::new();
        shared.set_busy(busy);
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        let due = Some(start + Duration::from_millis(10));
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            tx.send(job(false)).unwrap();
            tx
        });
        let before = switches();
        let Next::Group(g) = next_group(&rx, due, Duration::from_secs(5), &shared) else {
            panic!("no group");
        };
        let n = switches() - before;
        assert_eq!(g.len(), 1);
        assert!(start.elapsed() >= Duration::from_millis(200));
        drop(t.join().unwrap());
        n
    }

    #[test]
    fn while_the_loop_is_busy_the_writer_waits_on_the_queue_not_a_timer() {
        // Busy: the loop sends at the turn end nearest the due time; one
        // wake-up (the queue's), not the timer's and then the queue's.
        let (busy, quiet) = (wakeups(true), wakeups(false));
        assert!(busy < quiet, "busy {busy}, quiet {quiet}");
    }

    /// Jobs sent 10 and 30 ms into a wait for a group due at 50 ms: how long the
    /// writer took to take them, and how many it took.
    fn early(busy: bool) -> (Duration, usize) {
        let shared = Shared::new();
        shared.set_busy(busy);
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        let due = Some(start + Duration::from_millis(50));
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            tx.send(job(false)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            tx.send(job(false)).unwrap();
            tx
        });
        let Next::Group(g) = next_group(&rx, due, Duration::from_secs(5), &shared) else {
            panic!("no group");
        };
        let took = start.elapsed();
        drop(t.join().unwrap());
        (took, g.len())
    }

    #[test]
    fn a_busy_loops_early_send_is_committed_at_once_a_quiet_loops_waits() {
        // Busy: the loop chose this turn end as the nearest one; the group
        // closes now, with the first job.
        let (took, n) = early(true);
        assert!(took < Duration::from_millis(50), "{took:?}");
        assert_eq!(n, 1);
        // Quiet: the pace is waited out and gathers the second job too.
        let (took, n) = early(false);
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert_eq!(n, 2, "the job sent during the wait joins");
    }
}
