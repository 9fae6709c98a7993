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
//! loop is busy, waits on its queue instead of on a timer. A group then
//! closes right after a turn has read what queued on the socket, and a
//! Request's two waits overlap instead of adding up.
//!
//! The nearest turn end, not the first one after the due time: turns are
//! quantized, and the first one after it made a group every three turns
//! where the pace asked for two (~750 µs instead of ~500 at 10,000/s:
//! 5 % less CPU, but more exchanges over 2 ms; BENCHMARKS.md
//! §00000000). When the loop is not busy (its next turn waits on the
//! socket) its jobs go at once and the writer sleeps out its pace as
//! before, so a quiet server commits an isolated Request at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

    /// The writer: the loop holds its jobs until the group is due and will
    /// send them at a turn's end, so wait on the queue, not on a timer.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }
}

/// Jobs the loop holds for the writer's next group.
#[derive(Debug)]
pub struct Held<T> {
    jobs: Vec<T>,
}

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held { jobs: Vec::new() }
    }
}

impl<T> Held<T> {
    pub fn push(&mut self, job: T) {
        self.jobs.push(job);
    }

    /// At the end of a loop turn: the jobs to send now. All of them when
    /// the loop's next turn waits on the socket (`busy` false: nothing
    /// says when it would end), when nothing is due, or when this turn end
    /// is the one nearest the writer's `due` time (the next turn is
    /// expected to end at `next`; unknown, hold until `due`). None
    /// otherwise.
    pub fn release(
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

    /// Everything, whatever is due (the loop is stopping).
    pub fn take_all(&mut self) -> Vec<T> {
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
        // The next turn's end unknown: hold until the due time.
        assert!(h.release(true, t + 499 * US, due, None).is_empty());
        assert_eq!(h.release(true, t + 500 * US, due, None), vec![3]);
        assert!(h.release(true, t + 600 * US, due, None).is_empty());
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
}
