#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Durable(Vec<u32>, Option<u64>),
    Withheld(Vec<u32>),
    Failed,
}

#[derive(Clone, Default)]
struct Rec(Arc<Mutex<Vec<Event>>>);

impl Sink<u32> for Rec {
    fn durable(&self, groups: Vec<u32>, count: Option<u64>) {
        self.0.lock().unwrap().push(Event::Durable(groups, count));
    }
    fn withheld(&self, groups: Vec<u32>) {
        self.0.lock().unwrap().push(Event::Withheld(groups));
    }
    fn failed(&self, _why: String) {
        self.0.lock().unwrap().push(Event::Failed);
    }
}

impl Rec {
    /// Wait until `n` events came; return them all.
    fn wait(&self, n: usize) -> Vec<Event> {
        let until = Instant::now() + Duration::from_secs(5);
        while self.0.lock().unwrap().len() < n && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A description whose syncs return when the test says, with what it says.
struct Gate {
    id: usize,
    started: mpsc::Sender<usize>,
    result: Mutex<mpsc::Receiver<std::io::Result<()>>>,
}

impl Flush for Gate {
    fn flush(&self) -> std::io::Result<()> {
        self.started.send(self.id).unwrap();
        self.result.lock().unwrap().recv().unwrap()
    }
}

struct Rig {
    pool: Pool<u32, Rec>,
    rec: Rec,
    started: mpsc::Receiver<usize>,
    release: Vec<mpsc::Sender<std::io::Result<()>>>,
    syncs: Vec<std::thread::JoinHandle<()>>,
}

/// Descriptions whose syncs the test releases, the channel that says which
/// one started, and the senders that release them.
type Gates = (
    Vec<Arc<dyn Flush>>,
    mpsc::Receiver<usize>,
    Vec<mpsc::Sender<std::io::Result<()>>>,
);

fn gates(n: usize) -> Gates {
    let (stx, started) = mpsc::channel();
    let mut release = Vec::new();
    let mut files: Vec<Arc<dyn Flush>> = Vec::new();
    for id in 0..n {
        let (tx, rx) = mpsc::channel();
        release.push(tx);
        files.push(Arc::new(Gate {
            id,
            started: stx.clone(),
            result: Mutex::new(rx),
        }));
    }
    (files, started, release)
}

fn rig(n: usize) -> Rig {
    let (files, started, release) = gates(n);
    let rec = Rec::default();
    Rig {
        pool: Pool::new(files, rec.clone()),
        rec,
        started,
        release,
        syncs: Vec::new(),
    }
}

impl Rig {
    /// Sync through description `i` on a thread of its own (as a writer
    /// thread does).
    fn sync(&mut self, i: usize) {
        let pool = self.pool.clone();
        self.syncs.push(std::thread::spawn(move || pool.sync(i)));
    }
    fn started(&self) -> usize {
        self.started.recv_timeout(Duration::from_secs(5)).unwrap()
    }
    fn release(&self, id: usize, ok: bool) {
        let r = if ok {
            Ok(())
        } else {
            Err(std::io::Error::other("EIO"))
        };
        self.release[id].send(r).unwrap();
    }
    /// Release every sync still blocked and wait for the sync threads.
    fn finish(self) {
        for tx in &self.release {
            let _ = tx.send(Ok(()));
        }
        for t in self.syncs {
            t.join().unwrap();
        }
    }
}

#[test]
fn a_later_sync_acknowledges_what_a_slow_one_covers() {
    let mut r = rig(2);
    r.pool.written(10, 1);
    r.sync(0);
    let slow = r.started();
    r.pool.written(11, 2);
    r.sync(1);
    let fast = r.started();
    assert_ne!(slow, fast);
    r.release(fast, true);
    // The second sync started after both writes: both are durable, in order.
    assert_eq!(r.rec.wait(1), [Event::Durable(vec![1, 2], Some(11))]);
    r.release(slow, true);
    assert!(r.pool.drain());
    assert_eq!(
        r.rec.wait(1),
        [],
        "the slow sync acknowledges nothing twice"
    );
    r.finish();
}

#[test]
fn acknowledgements_keep_write_order() {
    let mut r = rig(2);
    r.pool.written(1, 1);
    r.sync(0);
    assert_eq!(r.started(), 0);
    // Written while the first sync is in flight: it does not cover them.
    r.pool.written(2, 2);
    r.pool.written(3, 3);
    r.pool.unwritten(4);
    assert_eq!(r.rec.wait(0), []);
    r.release(0, true);
    assert_eq!(r.rec.wait(1), [Event::Durable(vec![1], Some(1))]);
    // One sync covers both later writes; the group that wrote nothing goes
    // with them, after them.
    r.sync(1);
    assert_eq!(r.started(), 1);
    r.release(1, true);
    assert_eq!(r.rec.wait(1), [Event::Durable(vec![2, 3, 4], Some(3))]);
    r.finish();
}

#[test]
fn a_failed_sync_withholds_everything_not_acknowledged() {
    let mut r = rig(2);
    r.pool.written(1, 1);
    r.sync(0);
    let a = r.started();
    r.pool.written(2, 2);
    r.sync(1);
    let b = r.started();
    r.release(b, false);
    assert_eq!(
        r.rec.wait(2),
        [Event::Failed, Event::Withheld(vec![1, 2])],
        "a group an earlier sync might cover is withheld too"
    );
    // The other sync returning OK acknowledges nothing now.
    r.release(a, true);
    r.pool.written(3, 3);
    r.pool.unwritten(4);
    assert!(!r.pool.drain());
    assert!(r.pool.failed());
    assert_eq!(
        r.rec.wait(2),
        [Event::Withheld(vec![3]), Event::Withheld(vec![4])]
    );
    r.finish();
}

#[test]
fn a_failed_write_withholds_what_waits() {
    let mut r = rig(1);
    r.pool.written(1, 1);
    r.sync(0);
    r.started();
    r.pool.fail("write".into());
    r.release(0, true);
    assert_eq!(r.rec.wait(2), [Event::Failed, Event::Withheld(vec![1])]);
    r.finish();
}

#[test]
fn drain_waits_for_every_written_group() {
    let mut r = rig(1);
    r.pool.written(1, 1);
    r.sync(0);
    r.started();
    let tx = r.release[0].clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(Ok(())).unwrap();
    });
    let start = Instant::now();
    assert!(r.pool.drain());
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(r.rec.wait(1), [Event::Durable(vec![1], Some(1))]);
    t.join().unwrap();
    r.finish();
}

#[test]
fn without_files_groups_go_when_taken_as_durable() {
    let rec = Rec::default();
    let pool: Pool<u32, Rec> = Pool::new(Vec::new(), rec.clone());
    pool.unwritten(1);
    assert_eq!(rec.wait(1), [Event::Durable(vec![1], None)]);
    pool.written(5, 2);
    pool.written(4, 3);
    assert_eq!(pool.mark_bound(), 4);
    pool.durable_now();
    assert_eq!(rec.wait(1), [Event::Durable(vec![2, 3], Some(4))]);
    assert_eq!(pool.mark_bound(), u64::MAX);
}

/// A pool syncing through a real file (the real `Flush`).
fn one_file(file: std::fs::File) -> (Pool<u32, Rec>, Rec) {
    let rec = Rec::default();
    let pool = Pool::new(vec![Arc::new(file) as Arc<dyn Flush>], rec.clone());
    (pool, rec)
}

#[test]
fn a_real_fdatasync_error_is_reported() {
    // fdatasync of a pipe fails (EINVAL): the error path of the real Flush.
    let (_r, w) = std::io::pipe().unwrap();
    let (pool, rec) = one_file(std::fs::File::from(std::os::fd::OwnedFd::from(w)));
    pool.written(1, 1);
    pool.sync(0);
    assert_eq!(rec.wait(2), [Event::Failed, Event::Withheld(vec![1])]);
}

#[test]
fn a_real_file_sync_acknowledges() {
    let path = std::env::temp_dir().join(format!("pd-syncers-{}", std::process::id()));
    let (pool, rec) = one_file(std::fs::File::create(&path).unwrap());
    pool.written(1, 1);
    pool.sync(0);
    assert!(pool.drain());
    assert_eq!(rec.wait(1), [Event::Durable(vec![1], Some(1))]);
    let _ = std::fs::remove_file(&path);
}

/// A lead that writes the groups it is sent, one per step, and records on
/// which thread (by the description it synced) each was written.
struct FakeLead {
    rx: mpsc::Receiver<u32>,
    finished: mpsc::Sender<()>,
}

impl Lead<u32, Rec> for FakeLead {
    fn step(&mut self, pool: &Pool<u32, Rec>) -> Step {
        match self.rx.recv() {
            Ok(g) => {
                pool.written(u64::from(g), g);
                Step::Sync
            }
            Err(_) => Step::Stop,
        }
    }
    fn finish(&mut self, pool: &Pool<u32, Rec>) {
        pool.drain();
        self.finished.send(()).unwrap();
    }
}

#[test]
fn the_lead_syncs_inline_and_a_standby_takes_over_from_a_slow_sync() {
    let (files, started, release) = gates(2);
    let rec = Rec::default();
    let (tx, rx) = mpsc::channel();
    let (ftx, finished) = mpsc::channel();
    let lead = FakeLead { rx, finished: ftx };
    let mut c = Committers::start(Pool::new(files, rec.clone()), lead, "t").unwrap();
    let started = || started.recv_timeout(Duration::from_secs(5)).unwrap();
    // The lead writes group 1 and syncs it itself.
    tx.send(1).unwrap();
    let slow = started();
    // Not slow yet: watching asks nobody, and group 2 waits (the lead is
    // syncing).
    c.watch();
    tx.send(2).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(rec.wait(0), []);
    // Slow now: a standby takes the lead, writes group 2 and syncs it
    // through its own description; that sync covers both groups.
    std::thread::sleep(TAKEOVER);
    c.watch();
    let fast = started();
    assert_ne!(slow, fast, "the standby syncs through its own description");
    release[fast].send(Ok(())).unwrap();
    assert_eq!(rec.wait(1), [Event::Durable(vec![1, 2], Some(2))]);
    // Watching again asks nobody for the same slow sync.
    c.watch();
    release[slow].send(Ok(())).unwrap();
    // Either thread leads on; group 3 is written and synced once.
    tx.send(3).unwrap();
    let third = started();
    release[third].send(Ok(())).unwrap();
    assert_eq!(rec.wait(1), [Event::Durable(vec![3], Some(3))]);
    // Closing the queue stops every thread after the lead finished.
    drop(tx);
    finished.recv_timeout(Duration::from_secs(5)).unwrap();
    c.join();
    assert_eq!(rec.wait(0), []);
}
