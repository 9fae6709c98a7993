//! The engine's random draws, on top of [`pd_core::rand::Rng`] (SplitMix64,
//! seeded by the driver): transaction ids, the initial Solicit delay and the
//! RAND of RFC 9915 §15. Deterministic for a given seed.

/// RAND of RFC 9915 §15 is drawn in parts per million, in `-RAND_PPM..=RAND_PPM`.
pub const RAND_PPM: i64 = 100_000;

/// The engine's generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng(pd_core::rand::Rng);

impl Rng {
    /// A generator from a seed (any value, including 0).
    pub fn new(seed: u64) -> Self {
        Rng(pd_core::rand::Rng::new(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        self.0.uniform(0..=max)
    }

    /// A 24-bit DHCPv6 transaction id.
    pub fn xid(&mut self) -> [u8; 3] {
        let mut x = [0u8; 3];
        self.0.fill_bytes(&mut x);
        x
    }

    /// RAND of RFC 9915 §15 in parts per million: uniform in
    /// `-100_000..=100_000` (i.e. -0.1..=+0.1), or `1..=100_000` when
    /// `positive` (the first Solicit, whose RAND must be strictly above 0).
    pub fn rand_ppm(&mut self, positive: bool) -> i64 {
        const SPAN: u64 = RAND_PPM.unsigned_abs();
        if positive {
            i64::try_from(self.0.uniform(1..=SPAN)).unwrap_or(RAND_PPM)
        } else {
            i64::try_from(self.0.uniform(0..=2 * SPAN)).unwrap_or(RAND_PPM) - RAND_PPM
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
