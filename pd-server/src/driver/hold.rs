//! Commits aligned with the loop's turns.
//!
//! Under load a Request waits twice before its fdatasync: for the loop's
//! next receive turn (`receive-interval-us`; ~250 µs apart at 10,000
//! exchanges/s) and then for the writer's next group (`pace`; ~600 µs
//! apart). When the writer closes its groups on a timer of its own the two
//! waits are independent and add up: a Request read just after a group
//! closed waits a loop period and then a writer period. So while the loop
//! is busy it holds its turns' jobs and sends them to the writer at the
//! end of the turn nearest the writer's due time, and the writer, told the
//! loop is busy, waits on its queue instead of on a timer and commits what
//! it is sent at once. A group then closes right after a turn has read
//! what queued on the socket, a Request's two waits overlap instead of
//! adding up, and it is still one wake-up per group (the loop's send
//! instead of the writer's timer).
//!
//! The nearest turn end, not the first one after the due time: turns are
//! quantized, and the first one after it made a group every three turns
//! where the pace asked for two (~750 µs instead of ~500 at 10,000/s:
//! 5 % less CPU, but more exchanges over 2 ms; BENCHMARKS.md
//! §00000000). When the loop is not busy (its next turn waits on the
//! socket) its jobs go at once and the writer sleeps out its pace as
//! before, so a quiet server commits an isolated Request at once. Before
//! the loop waits on anything but its next turn (a control request, a full
//! route queue) it sends what it holds: a held Reply never waits on those.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

/// When the writer's next group is due, shared from the writer's lead to
/// the loop, and whether the loop is busy, shared the other way.
#[derive(Debug)]
pub struct Shared {
    origin: Instant,
    /// Nanoseconds after `origin` plus one; 0: nothing due (commit at once).
    due_ns: AtomicU64,
    busy: AtomicBool,
}

impl Shared {
    pub fn new() -> Self {
        Shared {
            origin: Instant::now(),
            due_ns: AtomicU64::new(0),
            busy: AtomicBool::new(false),
        }
    }

    /// The writer's lead: when its next group is due.
    pub fn set_due(&self, due: Option<Instant>) {
        let ns = due.map_or(0, |t| {
            let d = t.saturating_duration_since(self.origin).as_nanos();
            u64::try_from(d).unwrap_or(u64::MAX - 1) + 1
        });
        self.due_ns.store(ns, Ordering::Release);
    }

    pub fn due(&self) -> Option<Instant> {
        match self.due_ns.load(Ordering::Acquire) {
            0 => None,
            ns => Some(self.origin + std::time::Duration::from_nanos(ns - 1)),
        }
    }

    /// The loop: its next turn sleeps out its pace (true) or waits on the
    /// socket (false).
    pub fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::Release);
    }

    /// The writer: the loop holds its jobs for the group and sends them at
    /// the turn end nearest its due time, so wait on the queue, not on a
    /// timer, and commit what comes at once. (A loop that goes quiet clears
    /// this before it sends: the channel orders the two.)
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }
}

/// The loop's side of the writer's queue: jobs submitted, held while the
/// loop is busy and the group is not due, and counted in `pending` from
/// submission until the writer is done with them (so nothing that needs no
/// write overtakes a held one).
#[derive(Debug)]
pub struct Outbox<T> {
    tx: Option<mpsc::Sender<T>>,
    held: Held<T>,
    pending: Arc<AtomicUsize>,
    shared: Arc<Shared>,
    /// The loop's next turn sleeps out its pace ...
    busy: bool,
    /// ... and is due then (the turn starts; its work comes after).
    next: Option<Instant>,
}

impl<T> Outbox<T> {
    pub fn new(tx: mpsc::Sender<T>, pending: Arc<AtomicUsize>, shared: Arc<Shared>) -> Self {
        Outbox {
            tx: Some(tx),
            held: Held::default(),
            pending,
            shared,
            busy: false,
            next: None,
        }
    }

    /// Queue a job: held while the loop is busy and the writer's group is
    /// not due (by the last turn end's state), sent at once otherwise;
    /// false if the writer has stopped.
    pub fn submit(&mut self, job: T) -> bool {
        if self.tx.is_none() {
            return false;
        }
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.held.push(job);
        self.release()
    }

    /// A loop turn ended; its next turn sleeps out the pace until `next`
    /// (`busy`) or waits on the socket. Sends what is held if this turn
    /// end is the one nearest the group's due time, or past it, or the
    /// loop is not busy. False if the writer has stopped.
    pub fn turn_ended(&mut self, busy: bool, next: Option<Instant>) -> bool {
        self.busy = busy;
        self.next = next;
        // Before the send: a writer woken by it must see the loop quiet.
        self.shared.set_busy(busy);
        self.release()
    }

    /// Send everything held now: the loop is about to wait on something
    /// other than its next turn.
    pub fn flush(&mut self) -> bool {
        let jobs = self.held.take_all();
        self.send(jobs)
    }

    /// Send everything held and close the queue (the loop is stopping).
    pub fn close(&mut self) {
        self.flush();
        self.tx = None;
    }

    fn release(&mut self) -> bool {
        let jobs = self
            .held
            .release(self.busy, Instant::now(), self.shared.due(), self.next);
        self.send(jobs)
    }

    fn send(&mut self, jobs: Vec<T>) -> bool {
        let mut ok = true;
        for job in jobs {
            let sent = self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok());
            if !sent {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                ok = false;
            }
        }
        ok
    }
}

/// Jobs the loop holds for the writer's next group.
#[derive(Debug)]
struct Held<T> {
    jobs: Vec<T>,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held { jobs: Vec::new() }
    }
}

impl<T> Held<T> {
    fn push(&mut self, job: T) {
        self.jobs.push(job);
    }

    /// At the end of a loop turn: the jobs to send now. All of them when
    /// the loop's next turn waits on the socket (`busy` false: nothing
    /// says when it would end), when nothing is due or `due` has passed,
    /// or when this turn end is nearer `due` than the next turn (due at
    /// `next`; unknown, hold until `due`). None otherwise.
    fn release(
        &mut self,
        busy: bool,
        now: Instant,
        due: Option<Instant>,
        next: Option<Instant>,
    ) -> Vec<T> {
        let hold = busy
            && due.is_some_and(|due| {
                now < due && next.is_none_or(|n| n.saturating_duration_since(due) < due - now)
            });
        if hold {
            Vec::new()
        } else {
            std::mem::take(&mut self.jobs)
        }
    }

    /// Everything, whatever is due.
    fn take_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.jobs)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn a_busy_loop_holds_its_jobs_until_the_turn_nearest_the_due_time() {
        let t = Instant::now();
        let due = Some(t + 500 * US);
        let mut h = Held::default();
        h.push(1);
        // Turns 200 µs apart: the ends at 200 and 400 µs hold (the next
        // one is nearer the due time), ...
        assert!(h.release(true, t, due, Some(t + 200 * US)).is_empty());
        h.push(2);
        assert!(h
            .release(true, t + 200 * US, due, Some(t + 400 * US))
            .is_empty());
        // ... the one at 400 µs with the next at 650 sends (100 µs early
        // beats 150 late), in order.
        assert_eq!(
            h.release(true, t + 400 * US, due, Some(t + 650 * US)),
            vec![1, 2]
        );
        // With the next at 550 µs it holds: that one is nearer.
        h.push(3);
        assert!(h
            .release(true, t + 400 * US, due, Some(t + 550 * US))
            .is_empty());
        // The next turn unknown: hold until the due time.
        assert!(h.release(true, t + 499 * US, due, None).is_empty());
        assert_eq!(h.release(true, t + 500 * US, due, None), vec![3]);
        // Past the due time they go, whatever the next turn (even a stale
        // one, before now).
        h.push(4);
        assert_eq!(
            h.release(true, t + 600 * US, due, Some(t + 800 * US)),
            vec![4]
        );
        h.push(5);
        assert_eq!(
            h.release(true, t + 600 * US, due, Some(t + 100 * US)),
            vec![5]
        );
        // Before it, a stale next turn holds (it says nothing nearer).
        h.push(6);
        assert!(h
            .release(true, t + 300 * US, due, Some(t + 100 * US))
            .is_empty());
    }

    #[test]
    fn jobs_go_at_once_when_the_loop_is_idle_or_nothing_is_due() {
        let t = Instant::now();
        let next = Some(t + 450 * US);
        let mut h = Held::default();
        h.push(1);
        // The next turn waits on the socket: no turn end may come.
        assert_eq!(h.release(false, t, Some(t + 500 * US), next), vec![1]);
        // No group taken yet (or the pace is at rest): commit at once.
        h.push(2);
        assert_eq!(h.release(true, t, None, next), vec![2]);
        h.push(3);
        assert_eq!(h.take_all(), vec![3]);
    }

    #[test]
    fn the_due_time_and_the_busy_flag_cross_threads() {
        let s = std::sync::Arc::new(Shared::new());
        assert_eq!(s.due(), None);
        assert!(!s.busy());
        let at = Instant::now() + 700 * US;
        let w = s.clone();
        std::thread::spawn(move || {
            w.set_due(Some(at));
            w.set_busy(true);
        })
        .join()
        .unwrap();
        assert_eq!(s.due(), Some(at));
        assert!(s.busy());
        s.set_due(None);
        assert_eq!(s.due(), None);
        // A time before the origin is "due now", not "nothing due".
        let s = Shared::new();
        let before = s.origin.checked_sub(US).unwrap();
        s.set_due(Some(before));
        assert_eq!(s.due(), Some(s.origin));
    }

    /// An outbox whose group is due `due` after now, and its queue.
    fn outbox(due: Duration) -> (Outbox<u32>, mpsc::Receiver<u32>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared::new());
        shared.set_due(Some(Instant::now() + due));
        (Outbox::new(tx, pending.clone(), shared), rx, pending)
    }

    fn queued(rx: &mpsc::Receiver<u32>) -> Vec<u32> {
        rx.try_iter().collect()
    }

    #[test]
    fn the_outbox_holds_while_busy_and_counts_held_jobs_as_pending() {
        let (mut o, rx, pending) = outbox(Duration::from_secs(60));
        // Before any turn ended the loop is not busy: at once.
        assert!(o.submit(1));
        assert_eq!(queued(&rx), vec![1]);
        // A busy turn end with the group a minute away: held, yet pending.
        assert!(o.turn_ended(true, Some(Instant::now() + 200 * US)));
        assert!(o.submit(2));
        assert!(o.submit(3));
        assert!(queued(&rx).is_empty());
        assert_eq!(pending.load(Ordering::SeqCst), 3);
        assert!(o.shared.busy());
        // The loop goes quiet: the flag is cleared and the jobs go, in order.
        assert!(o.turn_ended(false, None));
        assert!(!o.shared.busy());
        assert_eq!(queued(&rx), vec![2, 3]);
        // Held again, then flushed before the loop waits on something else.
        o.turn_ended(true, Some(Instant::now() + 200 * US));
        o.submit(4);
        assert!(queued(&rx).is_empty());
        assert!(o.flush());
        assert_eq!(queued(&rx), vec![4]);
        // Held, then the loop stops: close sends it before the queue shuts.
        o.submit(5);
        o.close();
        assert_eq!(queued(&rx), vec![5]);
        assert!(rx.recv().is_err(), "the queue is closed");
        assert!(!o.submit(6), "nothing is taken after close");
        assert_eq!(pending.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn a_busy_outbox_sends_once_the_group_is_due() {
        let (mut o, rx, _) = outbox(Duration::ZERO);
        o.turn_ended(true, Some(Instant::now() + 200 * US));
        assert!(o.submit(1));
        assert_eq!(queued(&rx), vec![1]);
    }

    #[test]
    fn jobs_the_writer_can_no_longer_take_leave_pending() {
        let (mut o, rx, pending) = outbox(Duration::from_secs(60));
        o.turn_ended(true, Some(Instant::now() + 200 * US));
        o.submit(1);
        o.submit(2);
        drop(rx);
        assert_eq!(pending.load(Ordering::SeqCst), 2);
        assert!(!o.flush(), "the writer is gone");
        assert_eq!(pending.load(Ordering::SeqCst), 0);
        o.turn_ended(false, None);
        assert!(!o.submit(3), "sent at once, to no one");
        assert_eq!(pending.load(Ordering::SeqCst), 0);
    }
}
