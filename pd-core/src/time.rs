//! Monotonic time and DHCPv6 lifetimes.
//!
//! The engines never read a clock: the driver passes `now` in. [`Timestamp`]
//! is milliseconds since an origin the driver picks (its start-up). Wall-clock
//! time exists only at the store boundary (see the daemons' store adapters).

use std::time::Duration;

/// The DHCPv6 "infinity" lifetime (RFC 9915 §7.7): 0xffffffff seconds.
pub const INFINITY: u32 = u32::MAX;

/// A monotonic instant, in milliseconds since the driver's origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The origin.
    pub const ZERO: Timestamp = Timestamp(0);
    /// A moment that never comes (used for infinite lifetimes).
    pub const NEVER: Timestamp = Timestamp(u64::MAX);

    /// From milliseconds since the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// From seconds since the origin.
    pub const fn from_secs(s: u64) -> Self {
        Timestamp(s.saturating_mul(1000))
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This instant plus `d`, saturating at [`Timestamp::NEVER`].
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant plus `secs` seconds.
    pub fn add_secs(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// The deadline `lifetime` seconds after this instant; infinity never expires.
    pub fn deadline(self, lifetime: u32) -> Timestamp {
        if lifetime == INFINITY {
            Timestamp::NEVER
        } else {
            self.add_secs(u64::from(lifetime))
        }
    }

    /// Whole seconds left until `deadline`, as a DHCPv6 lifetime
    /// (infinity for [`Timestamp::NEVER`], rounded down, 0 once passed).
    pub fn remaining_secs(self, deadline: Timestamp) -> u32 {
        if deadline == Timestamp::NEVER {
            return INFINITY;
        }
        let secs = deadline.0.saturating_sub(self.0) / 1000;
        // Never report a finite deadline as infinity.
        u32::try_from(secs)
            .unwrap_or(INFINITY - 1)
            .min(INFINITY - 1)
    }
}

/// Scale a lifetime by `num/den` (for T1/T2 defaults); infinity stays infinity.
pub fn scale_lifetime(lifetime: u32, num: u32, den: u32) -> u32 {
    if lifetime == INFINITY || den == 0 {
        return lifetime;
    }
    let v = u64::from(lifetime) * u64::from(num) / u64::from(den);
    u32::try_from(v).unwrap_or(INFINITY - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinity_never_expires() {
        let now = Timestamp::from_secs(10);
        assert_eq!(now.deadline(INFINITY), Timestamp::NEVER);
        assert_eq!(now.remaining_secs(Timestamp::NEVER), INFINITY);
    }

    #[test]
    fn finite_deadline_counts_down() {
        let now = Timestamp::from_secs(10);
        let d = now.deadline(100);
        assert_eq!(d, Timestamp::from_secs(110));
        assert_eq!(Timestamp::from_secs(60).remaining_secs(d), 50);
        assert_eq!(Timestamp::from_millis(109_500).remaining_secs(d), 0);
        assert_eq!(Timestamp::from_secs(200).remaining_secs(d), 0);
    }

    #[test]
    fn huge_values_saturate() {
        let t = Timestamp::from_millis(u64::MAX - 5);
        assert_eq!(t.add_secs(10), Timestamp::NEVER);
        assert_eq!(t.add(Duration::from_secs(1)), Timestamp::NEVER);
        assert_eq!(Timestamp::ZERO.since(t), Duration::ZERO);
        // The largest finite lifetime never turns into infinity.
        assert_eq!(
            Timestamp::ZERO.remaining_secs(Timestamp::from_millis(u64::MAX - 1)),
            INFINITY - 1
        );
    }

    #[test]
    fn scaling() {
        assert_eq!(scale_lifetime(3600, 1, 2), 1800);
        assert_eq!(scale_lifetime(3600, 4, 5), 2880);
        assert_eq!(scale_lifetime(INFINITY, 1, 2), INFINITY);
        assert_eq!(scale_lifetime(INFINITY - 1, 4, 5), 3_435_973_835);
    }
}
