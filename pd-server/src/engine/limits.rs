//! Per-link caps against hostile or broken clients (a Solicit/Request flood
//! with random DUIDs must not take the whole pool): a ceiling on active
//! bindings per link and a token bucket on new bindings per link. Renewals
//! of existing bindings are never limited. Memory is bounded: one counter
//! per link that has bindings, at most [`MAX_BUCKETS`] rate buckets.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::Arc;

use pd_core::time::Timestamp;

use super::links::{LinkCounts, LinkId};

/// Most links tracked for rate limiting at once (relay addresses could be
/// forged; the map must not grow without bound).
pub const MAX_BUCKETS: usize = 4096;

/// Where a client is: the interface it is attached to, or the relay that
/// forwarded its messages to us.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LinkKey {
    /// Directly attached on this interface.
    Iface(Arc<str>),
    /// Behind the relay with this address.
    Relay(Ipv6Addr),
}

/// The caps (0 = no cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most active bindings on one link.
    pub max_bindings_per_link: u64,
    /// New bindings per second on one link (burst: one second's worth).
    pub new_bindings_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bindings_per_link: 65_536,
            new_bindings_per_second: 1_000,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Tokens, in thousandths.
    milli: u64,
    last: Timestamp,
}

/// Counters and buckets.
#[derive(Debug, Default)]
pub struct Limiter {
    limits: Limits,
    bindings: LinkCounts,
    buckets: HashMap<LinkKey, Bucket>,
    refused: u64,
}

impl Limiter {
    /// A limiter with these caps.
    pub fn new(limits: Limits) -> Self {
        Limiter {
            limits,
            ..Limiter::default()
        }
    }

    /// May `link` get one more binding now? With `take`, a token is spent.
    pub fn admit(&mut self, link: &LinkKey, now: Timestamp, take: bool) -> bool {
        let max = self.limits.max_bindings_per_link;
        if max != 0 && self.bindings.count(link) >= max {
            self.refused += 1;
            return false;
        }
        let rate = u64::from(self.limits.new_bindings_per_second);
        if rate == 0 {
            return true;
        }
        let cap = rate * 1000;
        if !self.buckets.contains_key(link) && self.buckets.len() >= MAX_BUCKETS {
            // Forget full buckets (idle links) first; if none, the oldest.
            let now_full: Vec<LinkKey> = self
                .buckets
                .iter()
                .filter(|(_, b)| refill(b, now, rate, cap) >= cap)
                .map(|(k, _)| k.clone())
                .collect();
            if now_full.is_empty() {
                if let Some(k) = self
                    .buckets
                    .iter()
                    .min_by_key(|(_, b)| b.last)
                    .map(|(k, _)| k.clone())
                {
                    self.buckets.remove(&k);
                }
            }
            for k in now_full {
                self.buckets.remove(&k);
            }
        }
        let b = self.buckets.entry(link.clone()).or_insert(Bucket {
            milli: cap,
            last: now,
        });
        b.milli = refill(b, now, rate, cap);
        b.last = now;
        if b.milli < 1000 {
            self.refused += 1;
            return false;
        }
        if take {
            b.milli -= 1000;
        }
        true
    }

    /// A binding was made on `link`; returns the id the binding keeps for
    /// [`Limiter::unbound`].
    pub fn bound(&mut self, link: &LinkKey) -> LinkId {
        self.bindings.bound(link)
    }

    /// A binding on link `id` ended.
    pub fn unbound(&mut self, id: LinkId) {
        self.bindings.unbound(id);
    }

    /// The link of id `id` (while it has bindings).
    pub fn link(&self, id: LinkId) -> Option<&LinkKey> {
        self.bindings.key(id)
    }

    /// Active bindings on `link`.
    pub fn bindings(&self, link: &LinkKey) -> u64 {
        self.bindings.count(link)
    }

    /// Links with bindings (each costs one counter).
    pub fn links(&self) -> usize {
        self.bindings.links()
    }

    /// New bindings refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Rate buckets held (bounded by [`MAX_BUCKETS`]).
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }
}

fn refill(b: &Bucket, now: Timestamp, rate: u64, cap: u64) -> u64 {
    let ms = now.since(b.last).as_millis();
    let add = u64::try_from(ms).unwrap_or(u64::MAX).saturating_mul(rate);
    b.milli.saturating_add(add).min(cap)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn link(n: u16) -> LinkKey {
        LinkKey::Relay(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))
    }

    #[test]
    fn rate_refills_over_time() {
        let mut l = Limiter::new(Limits {
            max_bindings_per_link: 0,
            new_bindings_per_second: 2,
        });
        let t = Timestamp::from_secs(10);
        assert!(l.admit(&link(1), t, true));
        assert!(l.admit(&link(1), t, true));
        assert!(!l.admit(&link(1), t, true));
        // Peeking does not spend; another link has its own bucket.
        assert!(l.admit(&link(2), t, false));
        assert!(!l.admit(&link(1), Timestamp::from_millis(10_400), true));
        assert!(l.admit(&link(1), Timestamp::from_millis(10_500), true));
        assert_eq!(l.refused(), 2);
    }

    #[test]
    fn binding_ceiling() {
        let mut l = Limiter::new(Limits {
            max_bindings_per_link: 2,
            new_bindings_per_second: 0,
        });
        let t = Timestamp::ZERO;
        let id = l.bound(&link(1));
        assert!(l.admit(&link(1), t, true));
        l.bound(&link(1));
        assert!(!l.admit(&link(1), t, true));
        l.unbound(id);
        assert!(l.admit(&link(1), t, true));
        l.unbound(id);
        l.unbound(id);
        assert_eq!(l.bindings(&link(1)), 0);
    }

    #[test]
    fn bucket_map_is_bounded() {
        let mut l = Limiter::new(Limits {
            max_bindings_per_link: 0,
            new_bindings_per_second: 1,
        });
        for n in 0..(MAX_BUCKETS as u32 + 500) {
            let key = LinkKey::Relay(Ipv6Addr::from(u128::from(n)));
            l.admit(&key, Timestamp::from_millis(u64::from(n)), true);
        }
        assert!(l.buckets() <= MAX_BUCKETS);
    }
}
