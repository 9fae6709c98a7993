//! A tiny deterministic PRNG (SplitMix64) for transaction ids, the initial
//! Solicit delay and the retransmission jitter. Seeded by the driver, so the
//! engine stays reproducible in tests. Not for anything secret.

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, full 64-bit period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng(u64);

/// RAND of RFC 9915 §15 is drawn in parts per million, in `-RAND_PPM..=RAND_PPM`.
pub const RAND_PPM: i64 = 100_000;

impl Rng {
    /// A generator from a seed (any value, including 0).
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (modulo bias is below 2^-40 for the ranges used).
    pub fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }

    /// A 24-bit DHCPv6 transaction id.
    pub fn xid(&mut self) -> [u8; 3] {
        let [_, _, _, _, _, a, b, c] = self.next_u64().to_be_bytes();
        [a, b, c]
    }

    /// RAND of RFC 9915 §15 in parts per million: uniform in
    /// `-100_000..=100_000` (i.e. -0.1..=+0.1), or `1..=100_000` when
    /// `positive` (the first Solicit, whose RAND must be strictly above 0).
    pub fn rand_ppm(&mut self, positive: bool) -> i64 {
        if positive {
            // 1..=RAND_PPM
            1 + i64::try_from(self.up_to(RAND_PPM as u64 - 1)).unwrap_or(0)
        } else {
            i64::try_from(self.up_to(2 * RAND_PPM as u64)).unwrap_or(RAND_PPM) - RAND_PPM
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn rand_stays_in_range_and_spreads() {
        let mut r = Rng::new(7);
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for _ in 0..20_000 {
            let v = r.rand_ppm(false);
            assert!((-RAND_PPM..=RAND_PPM).contains(&v));
            lo = lo.min(v);
            hi = hi.max(v);
            let p = r.rand_ppm(true);
            assert!((1..=RAND_PPM).contains(&p));
            assert!(r.up_to(1000) <= 1000);
        }
        // The draws cover (nearly) the whole range.
        assert!(lo < -99_000 && hi > 99_000, "{lo} {hi}");
    }
}
