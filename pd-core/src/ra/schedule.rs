//! When to send multicast Router Advertisements on one interface
//! (RFC 4861 §6.2.4, §6.2.6), sans-IO.
//!
//! The driver calls [`RaSchedule::start`] when the interface becomes an
//! advertising interface, feeds every valid Router Solicitation to
//! [`RaSchedule::on_solicit`], sleeps until [`RaSchedule::poll_timeout`],
//! and sends one RA to all-nodes (ff02::1) each time
//! [`RaSchedule::handle_timeout`] returns true. Every RA this schedule asks
//! for is multicast: solicited ones too (RFC 4861 §6.2.6, the usual case).
//!
//! On [`RaSchedule::stop`] the driver SHOULD send up to
//! [`MAX_FINAL_RTR_ADVERTISEMENTS`] RAs with router lifetime 0 (RFC 4861
//! §6.2.5); that is outside this schedule.

use std::time::Duration;

use crate::rand::Rng;
use crate::time::Timestamp;

/// RFC 4861 §10: cap on the first intervals after start.
pub const MAX_INITIAL_RTR_ADVERT_INTERVAL: Duration = Duration::from_secs(16);
/// RFC 4861 §10: how many RAs are "initial" (sent at capped intervals).
pub const MAX_INITIAL_RTR_ADVERTISEMENTS: u32 = 3;
/// RFC 4861 §10: final RAs (router lifetime 0) when advertising stops.
pub const MAX_FINAL_RTR_ADVERTISEMENTS: u32 = 3;
/// RFC 4861 §10: most a solicited RA is delayed.
pub const MAX_RA_DELAY_TIME: Duration = Duration::from_millis(500);
/// RFC 4861 §10: least time between two multicast RAs.
pub const MIN_DELAY_BETWEEN_RAS: Duration = Duration::from_secs(3);

/// MinRtrAdvInterval / MaxRtrAdvInterval (RFC 4861 §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RaTimers {
    /// MinRtrAdvInterval.
    pub min_interval: Duration,
    /// MaxRtrAdvInterval.
    pub max_interval: Duration,
}

/// Intervals outside the RFC 4861 §6.2.1 bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RaTimersError {
    /// MaxRtrAdvInterval not in 4..=1800 s.
    #[error("max RA interval {0:?} is outside 4 s ..= 1800 s (RFC 4861 §6.2.1)")]
    Max(Duration),
    /// MinRtrAdvInterval not in 3 s ..= 0.75 × max.
    #[error("min RA interval {min:?} is outside 3 s ..= 0.75 x max ({max:?}) (RFC 4861 §6.2.1)")]
    Min {
        /// The min given.
        min: Duration,
        /// The max given.
        max: Duration,
    },
}

impl Default for RaTimers {
    /// RFC 4861 §6.2.1: max 600 s, min 0.33 × max (198 s).
    fn default() -> Self {
        RaTimers::with_max(Duration::from_secs(600))
    }
}

impl RaTimers {
    /// `max` with the default min: 0.33 × max when max ≥ 9 s (RFC 4861
    /// §6.2.1) but never under the 3 s floor, else 0.75 × max (as radvd
    /// does; the RFC's literal "max" would break its own 0.75 × max bound).
    pub fn with_max(max: Duration) -> Self {
        let min = if max >= Duration::from_secs(9) {
            // 0.33 × 9 s = 2.97 s would break the 3 s floor of §6.2.1.
            (max * 33 / 100).max(Duration::from_secs(3))
        } else {
            max * 3 / 4
        };
        RaTimers {
            min_interval: min,
            max_interval: max,
        }
    }

    /// Checked intervals (RFC 4861 §6.2.1: max in 4..=1800 s, min in
    /// 3 s ..= 0.75 × max).
    pub fn new(min: Duration, max: Duration) -> Result<Self, RaTimersError> {
        if max < Duration::from_secs(4) || max > Duration::from_secs(1800) {
            return Err(RaTimersError::Max(max));
        }
        if min < Duration::from_secs(3) || min > max * 3 / 4 {
            return Err(RaTimersError::Min { min, max });
        }
        Ok(RaTimers {
            min_interval: min,
            max_interval: max,
        })
    }
}

/// The multicast RA timer of one interface.
#[derive(Clone, Debug)]
pub struct RaSchedule {
    /// MinRtrAdvInterval in ms (≤ `max_ms`).
    min_ms: u64,
    /// MaxRtrAdvInterval in ms.
    max_ms: u64,
    rng: Rng,
    /// When the next multicast RA goes; `None` when stopped.
    next: Option<Timestamp>,
    /// When the last multicast RA went (kept across stop/start).
    last_sent: Option<Timestamp>,
    /// Multicast RAs sent since start (or the last config change).
    sent: u32,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RaSchedule {
    /// A stopped schedule. Timers outside the RFC bounds are used as given,
    /// except that min is lowered to max if above it; the
    /// [`MIN_DELAY_BETWEEN_RAS`] rate limit always holds.
    pub fn new(cfg: RaTimers, seed: u64) -> Self {
        let max_ms = millis(cfg.max_interval);
        RaSchedule {
            min_ms: millis(cfg.min_interval).min(max_ms),
            max_ms,
            rng: Rng::new(seed),
            next: None,
            last_sent: None,
            sent: 0,
        }
    }

    /// The interface becomes an advertising interface: the first RA goes
    /// now (or as soon as the rate limit allows). No effect if running.
    pub fn start(&mut self, now: Timestamp) {
        if self.next.is_some() {
            return;
        }
        self.sent = 0;
        self.next = Some(self.earliest(now));
    }

    /// Stop advertising (see the module doc for the final RAs).
    pub fn stop(&mut self) {
        self.next = None;
    }

    /// Whether the schedule is running.
    pub fn is_running(&self) -> bool {
        self.next.is_some()
    }

    /// The advertised information changed: send up to
    /// [`MAX_INITIAL_RTR_ADVERTISEMENTS`] RAs at the initial pace again,
    /// the first one now or as soon as the rate limit allows (RFC 4861
    /// §6.2.4). No effect when stopped.
    pub fn on_config_change(&mut self, now: Timestamp) {
        let Some(next) = self.next else { return };
        self.sent = 0;
        self.next = Some(next.min(self.earliest(now)));
    }

    /// A valid Router Solicitation arrived: schedule the answer (a
    /// multicast RA) per RFC 4861 §6.2.6. No effect when stopped or when an
    /// RA is already due sooner.
    pub fn on_solicit(&mut self, now: Timestamp) {
        let Some(next) = self.next else { return };
        // RFC 4861 §6.2.6: a random delay in 0 ..= MAX_RA_DELAY_TIME.
        let delay = self.rng.uniform(0..=millis(MAX_RA_DELAY_TIME));
        let mut at = Timestamp::from_millis(now.as_millis().saturating_add(delay));
        if let Some(last) = self.last_sent {
            let allowed = last.add(MIN_DELAY_BETWEEN_RAS);
            if now < allowed {
                // RFC 4861 §6.2.6: within MIN_DELAY_BETWEEN_RAS of the last
                // multicast RA, send at that RA + MIN_DELAY_BETWEEN_RAS +
                // the random delay.
                at = Timestamp::from_millis(allowed.as_millis().saturating_add(delay));
            }
        }
        // RFC 4861 §6.2.6: if the next multicast RA is due sooner anyway,
        // it is the answer.
        self.next = Some(next.min(at));
    }

    /// When [`RaSchedule::handle_timeout`] next wants to be called.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.next
    }

    /// Time passed: true means send one multicast RA now. An early or
    /// spurious call returns false and changes nothing.
    pub fn handle_timeout(&mut self, now: Timestamp) -> bool {
        match self.next {
            Some(due) if due <= now => {}
            _ => return false,
        }
        self.last_sent = Some(now);
        self.sent = self.sent.saturating_add(1);
        // RFC 4861 §6.2.4: after each multicast RA, a uniform interval in
        // [MinRtrAdvInterval, MaxRtrAdvInterval] …
        let mut interval = self.rng.uniform(self.min_ms..=self.max_ms);
        // … capped at MAX_INITIAL_RTR_ADVERT_INTERVAL until the first
        // MAX_INITIAL_RTR_ADVERTISEMENTS RAs have gone.
        if self.sent < MAX_INITIAL_RTR_ADVERTISEMENTS {
            interval = interval.min(millis(MAX_INITIAL_RTR_ADVERT_INTERVAL));
        }
        // RFC 4861 §6.2.6: multicast RAs at most one per MIN_DELAY_BETWEEN_RAS.
        interval = interval.max(millis(MIN_DELAY_BETWEEN_RAS));
        self.next = Some(Timestamp::from_millis(
            now.as_millis().saturating_add(interval),
        ));
        true
    }

    /// `now`, or later if the rate limit demands it.
    fn earliest(&self, now: Timestamp) -> Timestamp {
        match self.last_sent {
            Some(last) => now.max(last.add(MIN_DELAY_BETWEEN_RAS)),
            None => now,
        }
    }
}
