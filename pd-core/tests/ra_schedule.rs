//! The multicast RA schedule (RFC 4861 §6.2.4, §6.2.6) in virtual time.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::Duration;

use pd_core::ra::schedule::{
    MAX_INITIAL_RTR_ADVERT_INTERVAL, MAX_RA_DELAY_TIME, MIN_DELAY_BETWEEN_RAS,
};
use pd_core::ra::{RaSchedule, RaTimers, RaTimersError};
use pd_core::time::Timestamp;
use proptest::prelude::*;

fn ms(t: Timestamp) -> u64 {
    t.as_millis()
}
fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}
fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Jump from wake-up to wake-up until `until`; the times an RA was sent.
fn run(s: &mut RaSchedule, until: u64) -> Vec<u64> {
    let mut sent = vec![];
    while let Some(t) = s.poll_timeout() {
        if ms(t) > until {
            break;
        }
        assert!(s.handle_timeout(t), "due at {t:?} but nothing to send");
        sent.push(ms(t));
    }
    sent
}

fn gaps(times: &[u64]) -> Vec<u64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn timers_defaults_and_bounds() {
    let d = RaTimers::default();
    assert_eq!(d.max_interval, secs(600));
    assert_eq!(d.min_interval, secs(198));
    assert_eq!(
        RaTimers::with_max(secs(30)).min_interval,
        Duration::from_millis(9_900)
    );
    // Under 9 s the default min is 0.75 x max.
    assert_eq!(RaTimers::with_max(secs(8)).min_interval, secs(6));
    // 0.33 x 9 s is under the 3 s floor.
    assert_eq!(RaTimers::with_max(secs(9)).min_interval, secs(3));
    assert_eq!(
        RaTimers::with_max(secs(10)).min_interval,
        Duration::from_millis(3_300)
    );
    assert!(RaTimers::new(secs(3), secs(4)).is_ok());
    assert!(RaTimers::new(secs(200), secs(1800)).is_ok());
    assert_eq!(
        RaTimers::new(secs(3), secs(3)),
        Err(RaTimersError::Max(secs(3)))
    );
    assert_eq!(
        RaTimers::new(secs(3), secs(1801)),
        Err(RaTimersError::Max(secs(1801)))
    );
    assert_eq!(
        RaTimers::new(Duration::from_millis(2_999), secs(100)),
        Err(RaTimersError::Min {
            min: Duration::from_millis(2_999),
            max: secs(100)
        })
    );
    assert_eq!(
        RaTimers::new(secs(76), secs(100)),
        Err(RaTimersError::Min {
            min: secs(76),
            max: secs(100)
        })
    );
    assert!(RaTimers::new(secs(75), secs(100)).is_ok());
    // Every default passes the checks.
    for max in 4..=1800 {
        let t = RaTimers::with_max(secs(max));
        assert!(
            RaTimers::new(t.min_interval, t.max_interval).is_ok(),
            "max {max}"
        );
    }
}

#[test]
fn idle_until_started() {
    let mut s = RaSchedule::new(RaTimers::default(), 1);
    assert_eq!(s.poll_timeout(), None);
    assert!(!s.is_running());
    assert!(!s.handle_timeout(at(1_000_000)));
    s.on_solicit(at(5));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn first_three_ras_at_the_initial_pace_with_default_timers() {
    // Default min 198 s > 16 s: the capped intervals are exactly 16 s.
    for seed in 0..50 {
        let mut s = RaSchedule::new(RaTimers::default(), seed);
        s.start(at(1_000));
        assert_eq!(
            s.poll_timeout(),
            Some(at(1_000)),
            "the first RA goes at once"
        );
        let sent = run(&mut s, 1_000 + 3_600_000);
        assert_eq!(&sent[..3], &[1_000, 17_000, 33_000], "seed {seed}");
        for g in &gaps(&sent)[2..] {
            assert!((198_000..=600_000).contains(g), "seed {seed}: gap {g}");
        }
    }
}

#[test]
fn initial_cap_applies_to_two_intervals_then_lifts() {
    // min 5 s, max 60 s: initial gaps in [5, 16] s, later ones in [5, 60] s.
    let timers = RaTimers::new(secs(5), secs(60)).unwrap();
    let mut later_over_16 = 0;
    for seed in 0..200 {
        let mut s = RaSchedule::new(timers, seed);
        s.start(Timestamp::ZERO);
        let sent = run(&mut s, 600_000);
        let g = gaps(&sent);
        assert!(g.len() >= 9, "seed {seed}: {sent:?}");
        for (i, gap) in g.iter().enumerate() {
            let hi = if i < 2 { 16_000 } else { 60_000 };
            assert!((5_000..=hi).contains(gap), "seed {seed}: gap {i} = {gap}");
        }
        if g[2] > 16_000 {
            later_over_16 += 1;
        }
    }
    // Gap 2 (RA 3 -> 4) is uncapped: over 200 seeds some exceed 16 s.
    assert!(later_over_16 > 100, "{later_over_16}");
}

#[test]
fn same_seed_same_schedule_other_seed_other_schedule() {
    let timers = RaTimers::new(secs(30), secs(600)).unwrap();
    let mut a = RaSchedule::new(timers, 7);
    let mut b = RaSchedule::new(timers, 7);
    let mut c = RaSchedule::new(timers, 8);
    for s in [&mut a, &mut b, &mut c] {
        s.start(Timestamp::ZERO);
    }
    let (ra, rb, rc) = (
        run(&mut a, 7_200_000),
        run(&mut b, 7_200_000),
        run(&mut c, 7_200_000),
    );
    assert_eq!(ra, rb);
    assert_ne!(ra, rc);
}

#[test]
fn solicit_answer_is_delayed_up_to_500_ms() {
    let mut seen_nonzero = false;
    for seed in 0..100 {
        let mut s = RaSchedule::new(RaTimers::default(), seed);
        s.start(Timestamp::ZERO);
        assert!(s.handle_timeout(Timestamp::ZERO));
        // Next periodic RA at 16 s; an RS at 10 s (past the 3 s window).
        s.on_solicit(at(10_000));
        let t = ms(s.poll_timeout().unwrap());
        assert!((10_000..=10_500).contains(&t), "seed {seed}: {t}");
        seen_nonzero |= t > 10_000;
        assert!(!s.handle_timeout(at(t - 1)) || t == 10_000);
        assert!(s.handle_timeout(at(t)));
    }
    assert!(seen_nonzero);
}

#[test]
fn solicit_within_3_s_of_a_multicast_ra_waits_for_the_rate_limit() {
    for seed in 0..100 {
        let mut s = RaSchedule::new(RaTimers::default(), seed);
        s.start(at(50_000));
        assert!(s.handle_timeout(at(50_000)));
        s.on_solicit(at(51_000));
        let t = ms(s.poll_timeout().unwrap());
        // RFC 4861 §6.2.6: last RA + MIN_DELAY_BETWEEN_RAS + random delay.
        assert!((53_000..=53_500).contains(&t), "seed {seed}: {t}");
        assert!(!s.handle_timeout(at(52_999)));
        assert!(s.handle_timeout(at(t)));
    }
}

#[test]
fn solicit_never_postpones_an_earlier_ra() {
    let mut s = RaSchedule::new(RaTimers::default(), 3);
    s.start(Timestamp::ZERO);
    assert!(s.handle_timeout(Timestamp::ZERO));
    assert_eq!(s.poll_timeout(), Some(at(16_000)));
    // RS at 15.9 s: any delay lands after 16 s, so the 16 s RA answers it.
    s.on_solicit(at(15_900));
    assert!(ms(s.poll_timeout().unwrap()) <= 16_000);
    // A second RS does not move an already scheduled answer later.
    let mut s = RaSchedule::new(RaTimers::default(), 4);
    s.start(Timestamp::ZERO);
    assert!(s.handle_timeout(Timestamp::ZERO));
    s.on_solicit(at(10_000));
    let first = s.poll_timeout().unwrap();
    for k in 1..20 {
        s.on_solicit(at(10_000 + k * 10));
        assert!(s.poll_timeout().unwrap() <= first);
    }
    // Before start, the first RA is already due now: an RS changes nothing.
    let mut s = RaSchedule::new(RaTimers::default(), 5);
    s.start(at(100));
    s.on_solicit(at(100));
    assert_eq!(s.poll_timeout(), Some(at(100)));
}

#[test]
fn spurious_and_early_timeouts_change_nothing() {
    let timers = RaTimers::new(secs(4), secs(20)).unwrap();
    let mut clean = RaSchedule::new(timers, 11);
    let mut poked = RaSchedule::new(timers, 11);
    clean.start(Timestamp::ZERO);
    poked.start(Timestamp::ZERO);
    let mut clean_sent = vec![];
    let mut poked_sent = vec![];
    for _ in 0..30 {
        let t = clean.poll_timeout().unwrap();
        assert!(clean.handle_timeout(t));
        clean_sent.push(t);

        let t = poked.poll_timeout().unwrap();
        // Early calls, including one a millisecond early, return false.
        for early in [0, ms(t) / 2, ms(t).saturating_sub(1)] {
            if early < ms(t) {
                assert!(!poked.handle_timeout(at(early)));
                assert_eq!(poked.poll_timeout(), Some(t));
            }
        }
        assert!(poked.handle_timeout(t));
        // A second call at the same instant is spurious.
        assert!(!poked.handle_timeout(t));
        poked_sent.push(t);
    }
    assert_eq!(clean_sent, poked_sent);
}

#[test]
fn late_handling_counts_from_the_actual_send() {
    let mut s = RaSchedule::new(RaTimers::default(), 9);
    s.start(Timestamp::ZERO);
    assert!(s.handle_timeout(at(2_500)));
    assert_eq!(s.poll_timeout(), Some(at(18_500)));
}

#[test]
fn stop_and_restart() {
    let mut s = RaSchedule::new(RaTimers::default(), 21);
    s.start(Timestamp::ZERO);
    let sent = run(&mut s, 40_000);
    assert_eq!(sent, vec![0, 16_000, 32_000]);
    s.stop();
    assert!(!s.is_running());
    assert_eq!(s.poll_timeout(), None);
    assert!(!s.handle_timeout(at(10_000_000)));
    s.on_solicit(at(33_000));
    assert_eq!(s.poll_timeout(), None);
    // Restarted 1 s after the last RA: the rate limit holds the first back.
    s.start(at(33_000));
    assert_eq!(s.poll_timeout(), Some(at(35_000)));
    // start() while running changes nothing.
    s.start(at(34_000));
    assert_eq!(s.poll_timeout(), Some(at(35_000)));
    let sent = run(&mut s, 35_000 + 40_000);
    assert_eq!(sent, vec![35_000, 51_000, 67_000], "initial pace again");
}

#[test]
fn config_change_restarts_the_initial_pace() {
    let mut s = RaSchedule::new(RaTimers::default(), 5);
    s.start(Timestamp::ZERO);
    let sent = run(&mut s, 40_000);
    assert_eq!(sent.len(), 3);
    let next = ms(s.poll_timeout().unwrap());
    assert!(next >= 32_000 + 198_000);
    s.on_config_change(at(100_000));
    assert_eq!(s.poll_timeout(), Some(at(100_000)));
    let sent = run(&mut s, 133_000);
    assert_eq!(sent, vec![100_000, 116_000, 132_000]);
    // Within 3 s of the last RA, the change waits for the rate limit.
    s.on_config_change(at(133_000));
    assert_eq!(s.poll_timeout(), Some(at(135_000)));
}

#[test]
fn out_of_range_timers_still_rate_limit() {
    // min > max and a zero max: the schedule neither panics nor floods.
    let timers = RaTimers {
        min_interval: secs(10),
        max_interval: Duration::ZERO,
    };
    let mut s = RaSchedule::new(timers, 1);
    s.start(Timestamp::ZERO);
    let sent = run(&mut s, 30_000);
    assert_eq!(gaps(&sent), vec![3_000; 10]);
}

proptest! {
    /// Whatever the seeds, timers and solicitations: no two multicast RAs
    /// closer than MIN_DELAY_BETWEEN_RAS, every RS answered within
    /// MIN_DELAY_BETWEEN_RAS + MAX_RA_DELAY_TIME, no gap over max (or 16 s
    /// while initial).
    #[test]
    fn rate_limit_and_answers_hold(
        seed in any::<u64>(),
        min_s in 3u64..=20,
        extra_s in 1u64..=100,
        rs_times in prop::collection::vec(0u64..400_000, 0..40),
    ) {
        let max_s = (min_s * 4 / 3 + 1).max(min_s + extra_s);
        let timers = RaTimers::new(secs(min_s), secs(max_s)).unwrap();
        let mut s = RaSchedule::new(timers, seed);
        s.start(Timestamp::ZERO);
        let mut rs_times = rs_times;
        rs_times.sort_unstable();
        let mut rs = rs_times.iter().peekable();
        let mut sent: Vec<u64> = vec![];
        let mut answered_by: Vec<(u64, u64)> = vec![];
        let mut pending: Vec<u64> = vec![];
        loop {
            let due = ms(s.poll_timeout().unwrap());
            if due > 500_000 { break; }
            match rs.peek() {
                Some(&&r) if r < due => {
                    // An RS arrives before the next wake-up.
                    s.on_solicit(at(r));
                    pending.push(r);
                    rs.next();
                }
                _ => {
                    prop_assert!(s.handle_timeout(at(due)));
                    sent.push(due);
                    for r in pending.drain(..) { answered_by.push((r, due)); }
                }
            }
        }
        prop_assert!(pending.is_empty(), "unanswered RS at {:?}", pending);
        for g in gaps(&sent) {
            prop_assert!(g >= 3_000, "gap {} in {:?}", g, sent);
            prop_assert!(g <= max_s * 1000, "gap {} over max {}", g, max_s);
        }
        for g in gaps(&sent).iter().take(2) {
            prop_assert!(u128::from(*g) <= MAX_INITIAL_RTR_ADVERT_INTERVAL.as_millis());
        }
        let bound = u64::try_from((MIN_DELAY_BETWEEN_RAS + MAX_RA_DELAY_TIME).as_millis()).unwrap();
        for (r, a) in answered_by {
            prop_assert!(a >= r && a - r <= bound, "RS at {} answered at {}", r, a);
        }
    }
}
