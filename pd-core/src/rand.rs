//! A small deterministic pseudo-random generator for the engines.
//!
//! The engines never read an entropy source (house rule 1): the driver draws
//! a seed once and passes it in, and tests pass fixed seeds. The generator is
//! SplitMix64 (Steele, Lea, Flood 2014): one 64-bit word of state, every seed
//! valid (zero included), period 2^64. It is for protocol jitter
//! (retransmission and advertisement timers), not for anything secret.

use std::ops::RangeInclusive;

/// A seeded SplitMix64 generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

/// The SplitMix64 increment (the golden-ratio constant).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub const fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value uniformly distributed in `range` (both ends included), without
    /// modulo bias. An empty range (start > end) yields its start.
    pub fn uniform(&mut self, range: RangeInclusive<u64>) -> u64 {
        let (lo, hi) = range.into_inner();
        if hi <= lo {
            return lo;
        }
        let span = hi - lo;
        if span == u64::MAX {
            return self.next_u64();
        }
        let n = span + 1;
        // Reject the top partial block of 2^64 so every residue is equally likely.
        let zone = u64::MAX - (u64::MAX - n + 1) % n;
        loop {
            let x = self.next_u64();
            if x <= zone {
                return lo + x % n;
            }
        }
    }

    /// Fill `buf` with random bytes (e.g. a transaction id).
    pub fn fill_bytes(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            for (b, w) in chunk.iter_mut().zip(word) {
                *b = w;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn matches_splitmix64_reference_output() {
        // First outputs of the reference SplitMix64 for seed 1234567
        // (from the algorithm's published C code).
        let mut r = Rng::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let a: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..8)
            .map({
                let mut r = Rng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn uniform_stays_in_range_and_reaches_both_ends() {
        let mut r = Rng::new(42);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = r.uniform(10..=14);
            assert!((10..=14).contains(&v), "{v}");
            seen[(v - 10) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }

    #[test]
    fn uniform_edge_ranges() {
        let mut r = Rng::new(0);
        assert_eq!(r.uniform(5..=5), 5);
        #[allow(clippy::reversed_empty_ranges)]
        let empty = 9..=3;
        assert_eq!(r.uniform(empty), 9);
        // The full range draws straight from the generator.
        let mut a = Rng::new(3);
        let mut b = Rng::new(3);
        assert_eq!(a.uniform(0..=u64::MAX), b.next_u64());
        // A range just under the full one still works.
        let v = r.uniform(1..=u64::MAX);
        assert!(v >= 1);
    }

    #[test]
    fn uniform_is_roughly_flat() {
        let mut r = Rng::new(99);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[r.uniform(0..=3) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..=11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn fill_bytes_covers_odd_lengths() {
        let mut a = Rng::new(5);
        let mut buf = [0u8; 11];
        a.fill_bytes(&mut buf);
        let mut b = Rng::new(5);
        let w1 = b.next_u64().to_le_bytes();
        let w2 = b.next_u64().to_le_bytes();
        assert_eq!(&buf[..8], &w1);
        assert_eq!(&buf[8..], &w2[..3]);
    }
}
