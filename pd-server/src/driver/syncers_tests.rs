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
    pool: Syncers<u32, Rec>,
    rec: Rec,
    started: mpsc::Receiver<usize>,
    release: Vec<mpsc::Sender<std::io::Result<()>>>,
}

fn rig(n: usize) -> Rig {
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
    let rec = Rec::default();
    let pool = Syncers::start(files, rec.clone()).unwrap();
    Rig {
        pool,
        rec,
        started,
        release,
    }
}

impl Rig {
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
    /// Release every sync still blocked and stop.
    fn finish(self) {
        for tx in &self.release {
            let _ = tx.send(Ok(()));
        }
        self.pool.finish();
    }
}

#[test]
fn a_later_sync_acknowledges_what_a_slow_one_covers() {
    let r = rig(2);
    r.pool.written(10, 1);
    let slow = r.started();
    r.pool.written(11, 2);
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
    let r = rig(1);
    r.pool.written(1, 1);
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
    assert_eq!(r.started(), 0);
    r.release(0, true);
    assert_eq!(r.rec.wait(1), [Event::Durable(vec![2, 3, 4], Some(3))]);
    r.finish();
}

#[test]
fn a_failed_sync_withholds_everything_not_acknowledged() {
    let r = rig(2);
    r.pool.written(1, 1);
    let a = r.started();
    r.pool.written(2, 2);
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
    let r = rig(1);
    r.pool.written(1, 1);
    r.started();
    r.pool.fail("write".into());
    r.release(0, true);
    assert_eq!(r.rec.wait(2), [Event::Failed, Event::Withheld(vec![1])]);
    r.finish();
}

#[test]
fn drain_waits_for_every_written_group() {
    let r = rig(1);
    r.pool.written(1, 1);
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
fn without_syncers_groups_go_when_taken_as_durable() {
    let rec = Rec::default();
    let pool: Syncers<u32, Rec> = Syncers::start(Vec::new(), rec.clone()).unwrap();
    pool.unwritten(1);
    assert_eq!(rec.wait(1), [Event::Durable(vec![1], None)]);
    pool.written(5, 2);
    pool.written(4, 3);
    assert_eq!(pool.mark_bound(), 4);
    pool.durable_now();
    assert_eq!(rec.wait(1), [Event::Durable(vec![2, 3], Some(4))]);
    assert_eq!(pool.mark_bound(), u64::MAX);
    pool.finish();
}

/// One syncer on a real file (the real `Flush`).
fn one_file(file: std::fs::File) -> (Syncers<u32, Rec>, Rec) {
    let rec = Rec::default();
    let pool = Syncers::start(vec![Arc::new(file) as Arc<dyn Flush>], rec.clone()).unwrap();
    (pool, rec)
}

#[test]
fn a_real_fdatasync_error_is_reported() {
    // fdatasync of a pipe fails (EINVAL): the error path of the real Flush.
    let (_r, w) = std::io::pipe().unwrap();
    let (pool, rec) = one_file(std::fs::File::from(std::os::fd::OwnedFd::from(w)));
    pool.written(1, 1);
    assert_eq!(rec.wait(2), [Event::Failed, Event::Withheld(vec![1])]);
    pool.finish();
}

#[test]
fn a_real_file_sync_acknowledges() {
    let path = std::env::temp_dir().join(format!("pd-syncers-{}", std::process::id()));
    let (pool, rec) = one_file(std::fs::File::create(&path).unwrap());
    pool.written(1, 1);
    assert!(pool.drain());
    assert_eq!(rec.wait(1), [Event::Durable(vec![1], Some(1))]);
    pool.finish();
    let _ = std::fs::remove_file(&path);
}
