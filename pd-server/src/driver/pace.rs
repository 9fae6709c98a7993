//! Batch pacing: how long the loop holds off reading and the writer holds
//! off committing, under load.
//!
//! Both wait so that one wake-up (or one fdatasync) covers several messages
//! (or records). A fixed interval does that at any rate, but at high rates
//! it makes every message wait longer than batching needs: at 10,000
//! exchanges/s a 1 ms commit window groups ~10 Requests where 5 amortize
//! the fdatasync as well. A `Pace` waits until `target` more items are
//! expected, from the rate it has seen (a moving average of the time
//! between items), never longer than the configured interval: at low and
//! moderate rates that is the interval, at high rates less. Pure
//! arithmetic on instants; the driver sleeps.
//!
//! The average starts from its first sample, as TCP's smoothed RTT does
//! (RFC 6298 §2.2), not from the interval: seeded with the interval, a
//! burst after a start waited the whole interval once and took ~16
//! batches to come within ~12 % of the wait its rate called for (at
//! 10,000 exchanges/s, Request → Reply over the first 20 ms was
//! 0.2–0.25 ms longer on average). A quiet spell of [`QUIET_SPELLS`]
//! intervals without a batch re-arms that, so the burst that ends it seeds
//! the average again; one long gap under steady load does not (at 2,000
//! exchanges/s one gap in eight is longer than the loop's interval, and
//! re-seeding on each would replace the average with single short gaps).

use std::time::{Duration, Instant};

/// The weight of a new sample in the moving average, as a shift (1/8).
const SMOOTH_SHIFT: u32 = 3;

/// A time without a batch of this many intervals is a quiet spell: the
/// next sample seeds the average.
pub const QUIET_SPELLS: u32 = 4;

/// Rate-aware hold-off for batches of `target` items.
#[derive(Debug, Clone)]
pub struct Pace {
    target: u32,
    /// The configured interval: never wait longer.
    max: Duration,
    /// Moving average of the time between items, ns (samples ≤ max).
    gap_ns: u64,
    /// The next sample replaces the average instead of moving it (none
    /// yet, or a quiet spell ended with the last batch).
    seed: bool,
    /// When the last batch was taken, and how long taking it took (the
    /// writer's fdatasync: time the next batch has been gathering already).
    last: Option<(Instant, Duration)>,
}

impl Pace {
    /// A pace that expects batches of `target` items and waits at most
    /// `max` after the last batch.
    pub fn new(target: u32, max: Duration) -> Self {
        let target = target.max(1);
        let ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Pace {
            target,
            max,
            gap_ns: ns.div_ceil(u64::from(target)),
            seed: true,
            last: None,
        }
    }

    /// When the next batch is due: after the last one, the lesser of the
    /// interval and the time `target` items are expected to take (less what
    /// taking the last batch took); `None` before any batch.
    pub fn due(&self) -> Option<Instant> {
        let expect = Duration::from_nanos(self.gap_ns.saturating_mul(u64::from(self.target)));
        self.last
            .map(|(t, spent)| t + expect.saturating_sub(spent).min(self.max))
    }

    /// A batch of `n` items was taken, done at `at` after `spent` of work
    /// on it; it covers the time since the last batch. A long quiet spell
    /// counts as one gap of the whole interval per item, so it does not
    /// linger in the average; the next sample under the interval seeds it
    /// again.
    pub fn taken(&mut self, n: usize, at: Instant, spent: Duration) {
        let span = self.last.map(|(t, _)| {
            u64::try_from(at.saturating_duration_since(t).as_nanos()).unwrap_or(u64::MAX)
        });
        let per_item = span.and_then(|s| s.checked_div(u64::try_from(n).ok()?));
        if let (Some(span), Some(per_item)) = (span, per_item) {
            let cap = u64::try_from(self.max.as_nanos()).unwrap_or(u64::MAX);
            let sample = per_item.min(cap);
            if self.seed && per_item < cap {
                self.gap_ns = sample;
                self.seed = false;
            } else {
                let (sample, avg) = (i128::from(sample), i128::from(self.gap_ns));
                let next = avg + ((sample - avg) >> SMOOTH_SHIFT);
                self.gap_ns = u64::try_from(next.max(0)).unwrap_or(0);
            }
            if span >= cap.saturating_mul(u64::from(QUIET_SPELLS)) {
                self.seed = true;
            }
        }
        self.last = Some((at, spent));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    /// Feed batches as they would come at one item per `gap`, each batch
    /// taken when it is due (after `spent` of work); return the settled
    /// wait after a batch.
    fn settle(target: u32, max: Duration, gap: Duration, spent: Duration) -> Duration {
        let mut p = Pace::new(target, max);
        let mut t = Instant::now();
        p.taken(1, t, spent);
        for _ in 0..300 {
            // Items that arrived since the last batch (at least the one that
            // woke the reader).
            let span = (p.due().unwrap() - t + spent).max(gap);
            let n = (span.as_nanos() / gap.as_nanos()).max(1);
            t += gap * u32::try_from(n).unwrap();
            p.taken(usize::try_from(n).unwrap(), t, spent);
        }
        p.due().unwrap() - t
    }

    #[test]
    fn the_first_batch_waits_the_interval_and_nothing_is_due_before_it() {
        let mut p = Pace::new(4, 500 * US);
        assert_eq!(p.due(), None);
        let t = Instant::now();
        p.taken(1, t, Duration::ZERO);
        assert_eq!(p.due(), Some(t + 500 * US));
    }

    #[test]
    fn at_moderate_rates_the_wait_is_the_interval() {
        // 8,000 items/s (125 µs apart) with 4 per batch: 500 µs.
        let w = settle(4, 500 * US, 125 * US, Duration::ZERO);
        assert!(w >= 450 * US && w <= 500 * US, "{w:?}");
        // Slower than that: still the interval, never more.
        assert_eq!(settle(4, 500 * US, 2000 * US, Duration::ZERO), 500 * US);
        // The writer at 4,000 Requests/s, 5 per commit, a 250 µs
        // fdatasync: the whole 1 ms interval, as with a fixed one.
        let w = settle(5, 1000 * US, 250 * US, 250 * US);
        assert!(w >= 900 * US && w <= 1000 * US, "{w:?}");
    }

    #[test]
    fn at_high_rates_the_wait_shrinks_to_the_target_batch() {
        // 20,000 items/s (50 µs apart), 4 per batch: ~200 µs, not 500.
        let w = settle(4, 500 * US, 50 * US, Duration::ZERO);
        assert!(w >= 170 * US && w <= 230 * US, "{w:?}");
        // The writer at 10,000 Requests/s: 5 × 100 µs less the 250 µs
        // fdatasync, not 1 ms.
        let w = settle(5, 1000 * US, 100 * US, 250 * US);
        assert!(w >= 200 * US && w <= 320 * US, "{w:?}");
    }

    /// A pace after `batches` batches of `n` items, one every `every`;
    /// and the time of the last.
    fn steady(
        target: u32,
        max: Duration,
        n: usize,
        every: Duration,
        batches: u32,
    ) -> (Pace, Instant) {
        let mut p = Pace::new(target, max);
        let mut t = Instant::now();
        p.taken(1, t, Duration::ZERO);
        for _ in 0..batches {
            t += every;
            p.taken(n, t, Duration::ZERO);
        }
        (p, t)
    }

    #[test]
    fn a_quiet_spell_moves_the_wait_back_and_the_next_burst_seeds_it() {
        let (mut p, mut t) = steady(4, 500 * US, 4, 200 * US, 100);
        let busy = p.due().unwrap() - t;
        assert!(busy < 300 * US, "{busy:?}");
        t += Duration::from_secs(10);
        p.taken(1, t, Duration::ZERO);
        // One sample, capped at the interval: a step, not a jump to 10 s.
        let after = p.due().unwrap() - t;
        assert!(after > busy + 150 * US && after <= 500 * US, "{after:?}");
        // The burst that ends the spell seeds the average again: 4 items
        // 100 µs apart, so 400 µs. (The spell was 10 s: over QUIET_SPELLS
        // intervals.)
        t += 400 * US;
        p.taken(4, t, Duration::ZERO);
        assert_eq!(p.due(), Some(t + 400 * US));
        // The next busy batch (50 µs apart) moves it, no fresh seed.
        t += 200 * US;
        p.taken(4, t, Duration::ZERO);
        let w = p.due().unwrap() - t;
        assert!(w > 350 * US && w < 400 * US, "{w:?}");
    }

    #[test]
    fn the_average_starts_from_its_first_sample() {
        // The writer's pace, 5 per commit within 1 ms: the second batch
        // held 10 items 1 ms after the first, 100 µs apart, so the next is
        // due 5 × 100 µs later, not ~940 µs (the interval moved 1/8 of the
        // way).
        let mut p = Pace::new(5, 1000 * US);
        let t = Instant::now();
        p.taken(1, t, Duration::ZERO);
        p.taken(10, t + 1000 * US, Duration::ZERO);
        assert_eq!(p.due(), Some(t + 1500 * US));
        // Later samples move it, they do not replace it.
        p.taken(2, t + 1500 * US, Duration::ZERO);
        let w = p.due().unwrap() - (t + 1500 * US);
        assert!(w > 500 * US && w < 700 * US, "{w:?}");
    }

    #[test]
    fn one_long_gap_under_load_does_not_reseed_the_average() {
        // 2,000 exchanges/s at the loop: 250 µs apart on average, one gap
        // in eight over the 500 µs interval. Such a gap moves the average;
        // the short gap after it must not replace it.
        let (mut p, mut t) = steady(3, 500 * US, 1, 250 * US, 50);
        assert_eq!(p.due().unwrap() - t, 500 * US);
        t += 900 * US;
        p.taken(1, t, Duration::ZERO);
        t += 40 * US;
        p.taken(1, t, Duration::ZERO);
        assert_eq!(
            p.due().unwrap() - t,
            500 * US,
            "re-seeded from one 40 µs gap"
        );
        // A gap of QUIET_SPELLS intervals does re-arm it.
        t += 500 * US * QUIET_SPELLS;
        p.taken(1, t, Duration::ZERO);
        t += 40 * US;
        p.taken(1, t, Duration::ZERO);
        assert_eq!(p.due().unwrap() - t, 120 * US);
    }

    #[test]
    fn zero_interval_never_waits_and_empty_batches_do_not_count() {
        let mut p = Pace::new(4, Duration::ZERO);
        let t = Instant::now();
        p.taken(3, t, Duration::ZERO);
        assert_eq!(p.due(), Some(t));
        let mut q = Pace::new(4, 500 * US);
        q.taken(1, t, Duration::ZERO);
        q.taken(0, t + 400 * US, Duration::ZERO);
        assert_eq!(q.due(), Some(t + 400 * US + 500 * US));
    }
}
