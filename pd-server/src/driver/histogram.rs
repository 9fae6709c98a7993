//! A latency histogram that several threads record into without a lock:
//! log-linear buckets of microseconds, eight per power of two (each at most
//! 12.5 % wide), the layout HdrHistogram uses with three significant bits.
//! The writer threads record each fdatasync into one; `pd-server stats`
//! reports its count and quantiles, the way etcd exposes its WAL fsync
//! durations, so an operator (and the benchmark) sees what the disk did.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two, as bits.
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// Largest power of two kept apart; longer durations share the last
/// bucket (2^40 µs is 12 days).
const TOP_EXP: u32 = 39;
const BUCKETS: usize = (SUB as usize) * (TOP_EXP as usize - SUB_BITS as usize + 2);

/// Recorded durations.
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    max_us: AtomicU64,
}

/// What a histogram holds, as `pd-server stats` shows it (µs). A quantile
/// is the upper end of its bucket, so at most 12.5 % above the true value,
/// and never above the maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Durations recorded.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Longest.
    pub max_us: u64,
}

/// The bucket of `v` µs.
fn bucket(v: u64) -> usize {
    let v = v.min((1 << (TOP_EXP + 1)) - 1);
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let m = (v >> (e - SUB_BITS)) & (SUB - 1);
    (SUB * u64::from(e - SUB_BITS + 1) + m) as usize
}

/// The largest value bucket `i` holds.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let e = i / SUB + u64::from(SUB_BITS) - 1;
    let m = i % SUB;
    ((SUB + m + 1) << (e - u64::from(SUB_BITS))) - 1
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            max_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Count one duration.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(bucket(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Count and quantiles so far (a racing `record` may or may not show).
    pub fn summary(&self) -> Summary {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return Summary::default();
        }
        let max_us = self.max_us.load(Ordering::Relaxed);
        let quantile = |q_per_mille: u64| {
            // The smallest value with at least q of the durations at or
            // below it (nearest rank).
            let rank = (count * q_per_mille).div_ceil(1000).max(1);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return upper(i).min(max_us);
                }
            }
            max_us
        };
        Summary {
            count,
            p50_us: quantile(500),
            p99_us: quantile(990),
            p999_us: quantile(999),
            max_us,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_are_contiguous_and_at_most_an_eighth_wide() {
        let mut prev = bucket(0);
        assert_eq!(prev, 0);
        for v in 1..200_000u64 {
            let b = bucket(v);
            assert!(b == prev || b == prev + 1, "{v}: {prev} -> {b}");
            assert!(v <= upper(b), "{v} above bucket {b}'s top {}", upper(b));
            if b > 0 {
                assert!(v > upper(b - 1), "{v} not above bucket {}", b - 1);
            }
            let low = if b == 0 { 0 } else { upper(b - 1) + 1 };
            assert!(
                (upper(b) - low) * 8 <= low.max(8),
                "bucket {b}: {low}..={}",
                upper(b)
            );
            prev = b;
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(upper(BUCKETS - 1), (1 << (TOP_EXP + 1)) - 1);
    }

    #[test]
    fn an_empty_histogram_says_nothing() {
        assert_eq!(Histogram::default().summary(), Summary::default());
    }

    #[test]
    fn a_slow_tail_shows_in_the_high_quantiles_only() {
        let h = Histogram::default();
        for _ in 0..990 {
            h.record(Duration::from_micros(270));
        }
        for _ in 0..10 {
            h.record(Duration::from_millis(5));
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert!((270..=304).contains(&s.p50_us), "{s:?}");
        assert!((270..=304).contains(&s.p99_us), "{s:?}");
        assert!((5000..=5119).contains(&s.p999_us), "{s:?}");
        assert_eq!(s.max_us, 5000);
    }

    proptest! {
        #[test]
        fn quantiles_are_within_an_eighth_of_the_exact_ones(
            mut v in proptest::collection::vec(0u64..5_000_000, 1..400),
        ) {
            let h = Histogram::default();
            for x in &v {
                h.record(Duration::from_micros(*x));
            }
            v.sort_unstable();
            let s = h.summary();
            let exact = |q: usize| v[(v.len() * q).div_ceil(1000).max(1) - 1];
            for (got, q) in [(s.p50_us, 500), (s.p99_us, 990), (s.p999_us, 999)] {
                let want = exact(q);
                prop_assert!(got >= want && got <= want + want / 8, "q {q}: {got} vs {want}");
            }
            prop_assert_eq!(s.max_us, *v.last().unwrap());
            prop_assert_eq!(s.count, v.len() as u64);
        }
    }
}
