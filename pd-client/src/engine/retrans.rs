//! Retransmission (RFC 9915 §15) with the parameters of §7.6.
//!
//! One [`Exchange`] is one client-initiated message exchange: the message,
//! its transaction id, the time of its first transmission (for Elapsed Time)
//! and the RT/MRC/MRD bookkeeping. Each transmission draws one RAND.

use pd_core::time::Timestamp;
use pd_core::wire::Message;

use super::rng::Rng;

/// IRT/MRT/MRC of one message type (RFC 9915 §7.6), times in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Initial retransmission time.
    pub irt_ms: u64,
    /// Maximum retransmission time (0: no limit).
    pub mrt_ms: u64,
    /// Maximum retransmission count (0: no limit).
    pub mrc: u32,
    /// RAND of the first RT must be strictly positive (Solicit, §15).
    pub first_rand_positive: bool,
}

/// SOL_MAX_DELAY: the first Solicit waits uniformly 0..=1 s (§18.2.1).
pub const SOL_MAX_DELAY_MS: u64 = 1_000;
/// Solicit: SOL_TIMEOUT 1 s, SOL_MAX_RT 3600 s (overridable by option 82).
pub const SOLICIT: Params = Params {
    irt_ms: 1_000,
    mrt_ms: 3_600_000,
    mrc: 0,
    first_rand_positive: true,
};
/// Request: REQ_TIMEOUT 1 s, REQ_MAX_RT 30 s, REQ_MAX_RC 10.
pub const REQUEST: Params = Params {
    irt_ms: 1_000,
    mrt_ms: 30_000,
    mrc: 10,
    first_rand_positive: false,
};
/// Renew: REN_TIMEOUT 10 s, REN_MAX_RT 600 s (MRD: until T2).
pub const RENEW: Params = Params {
    irt_ms: 10_000,
    mrt_ms: 600_000,
    mrc: 0,
    first_rand_positive: false,
};
/// Rebind: REB_TIMEOUT 10 s, REB_MAX_RT 600 s (MRD: until the leases end).
pub const REBIND: Params = Params {
    irt_ms: 10_000,
    mrt_ms: 600_000,
    mrc: 0,
    first_rand_positive: false,
};
/// Release: REL_TIMEOUT 1 s, REL_MAX_RC 4.
pub const RELEASE: Params = Params {
    irt_ms: 1_000,
    mrt_ms: 0,
    mrc: 4,
    first_rand_positive: false,
};
/// Valid SOL_MAX_RT option values (RFC 9915 §21.24), seconds.
pub const SOL_MAX_RT_RANGE: std::ops::RangeInclusive<u32> = 60..=86_400;

/// `base + RAND*base` with RAND in parts per million.
fn jitter(base: u64, ppm: i64) -> u64 {
    let base = i128::from(base);
    let v = base + base * i128::from(ppm) / 1_000_000;
    u64::try_from(v.max(0)).unwrap_or(u64::MAX)
}

/// RFC 9915 §15: RT = IRT + RAND*IRT; over MRT (if set): RT = MRT + RAND*MRT.
pub fn first_rt(p: &Params, ppm: i64) -> u64 {
    cap(jitter(p.irt_ms, ppm), p.mrt_ms, ppm)
}

/// RFC 9915 §15: RT = 2*RTprev + RAND*RTprev, capped like [`first_rt`].
pub fn next_rt(p: &Params, prev_ms: u64, ppm: i64) -> u64 {
    let prev = i128::from(prev_ms);
    let rt = 2 * prev + prev * i128::from(ppm) / 1_000_000;
    cap(u64::try_from(rt.max(0)).unwrap_or(u64::MAX), p.mrt_ms, ppm)
}

fn cap(rt: u64, mrt: u64, ppm: i64) -> u64 {
    // RFC 9915 §15: "if (RT > MRT) RT = MRT + RAND*MRT" (same RAND draw).
    if mrt != 0 && rt > mrt {
        jitter(mrt, ppm)
    } else {
        rt
    }
}

/// Elapsed Time value (RFC 9915 §21.9): hundredths of a second, capped at 0xffff.
pub fn elapsed_centis(started: Timestamp, now: Timestamp) -> u16 {
    let cs = now.since(started).as_millis() / 10;
    u16::try_from(cs).unwrap_or(u16::MAX)
}

/// What an exchange's timer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Not due yet.
    Wait,
    /// Transmit this (Elapsed Time filled in).
    Send(Box<Message>),
    /// MRC or MRD reached: the exchange failed.
    Failed,
}

/// One client-initiated message exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The message (Elapsed Time rewritten on each transmission).
    pub msg: Message,
    /// Parameters (MRT may change with SOL_MAX_RT).
    pub params: Params,
    /// End of the exchange (MRD), absolute.
    pub mrd_end: Option<Timestamp>,
    /// Time of the first transmission.
    pub started: Option<Timestamp>,
    /// Current RT, ms.
    pub rt_ms: u64,
    /// Transmissions so far.
    pub sent: u32,
    /// When the timer fires next.
    pub next: Timestamp,
}

impl Exchange {
    /// A new exchange whose first transmission is due at `first_at`.
    pub fn new(
        msg: Message,
        params: Params,
        first_at: Timestamp,
        mrd_end: Option<Timestamp>,
    ) -> Self {
        Exchange {
            msg,
            params,
            mrd_end,
            started: None,
            rt_ms: 0,
            sent: 0,
            next: first_at,
        }
    }

    /// The transaction id.
    pub fn xid(&self) -> [u8; 3] {
        self.msg.xid
    }

    /// Run the timer at `now`: transmit (first or again) or fail.
    pub fn tick(&mut self, now: Timestamp, rng: &mut Rng) -> Tick {
        if now < self.next {
            return Tick::Wait;
        }
        // RFC 9915 §15: the exchange fails once MRD has elapsed since the
        // first transmission, or once the message was sent MRC times.
        if self.mrd_end.is_some_and(|end| now >= end) {
            return Tick::Failed;
        }
        if self.params.mrc != 0 && self.sent >= self.params.mrc {
            return Tick::Failed;
        }
        let started = *self.started.get_or_insert(now);
        let first = self.sent == 0;
        let ppm = rng.rand_ppm(first && self.params.first_rand_positive);
        self.rt_ms = if first {
            first_rt(&self.params, ppm)
        } else {
            next_rt(&self.params, self.rt_ms, ppm)
        };
        self.sent = self.sent.saturating_add(1);
        let mut next = now.add(std::time::Duration::from_millis(self.rt_ms));
        if let Some(end) = self.mrd_end {
            next = next.min(end);
        }
        self.next = next;
        // RFC 9915 §21.9: Elapsed Time in every transmission of the exchange.
        self.msg.elapsed = Some(elapsed_centis(started, now));
        Tick::Send(Box::new(self.msg.clone()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn formula_bounds() {
        for ppm in [-100_000, -1, 0, 1, 100_000] {
            let rt = first_rt(&REQUEST, ppm);
            assert!((900..=1100).contains(&rt), "{rt}");
            let rt2 = next_rt(&REQUEST, rt, ppm);
            assert!(rt2 >= rt * 19 / 10 && rt2 <= rt * 21 / 10 + 1, "{rt} {rt2}");
        }
        // Capped at MRT + RAND*MRT.
        assert_eq!(next_rt(&REQUEST, 29_000, 0), 30_000);
        assert_eq!(next_rt(&REQUEST, 29_000, 100_000), 33_000);
        assert_eq!(next_rt(&REQUEST, 29_000, -100_000), 27_000);
        // No MRT: no cap.
        assert_eq!(next_rt(&RELEASE, 100_000, 0), 200_000);
        assert_eq!(next_rt(&RELEASE, u64::MAX, 0), u64::MAX);
    }

    #[test]
    fn elapsed_caps() {
        let t0 = Timestamp::from_secs(5);
        assert_eq!(elapsed_centis(t0, t0), 0);
        assert_eq!(elapsed_centis(t0, Timestamp::from_millis(6_239)), 123);
        assert_eq!(elapsed_centis(t0, t0.add_secs(656)), 0xffff);
    }
}
