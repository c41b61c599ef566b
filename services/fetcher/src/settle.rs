//! Settling: a notification accepted before a fetch of its user-day started is already reflected in
//! what that fetch read, so it costs nothing. One accepted after a fetch that happened moments ago
//! is not fetched at once (a device sync sends several within seconds); it is fetched once more
//! when the settle period since the last fetch has passed, picking up the final values with one
//! call. The first notification of a quiet user-day is fetched at once, so latency stays low.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

/// When each (connection, date) was last fetched by this replica (a monotonic instant and the wall
/// clock in Unix ms, at the start of the fetch). One user's notifications share a partition, so
/// one replica sees all of them.
#[derive(Debug)]
pub struct Settle {
    period: Duration,
    last_fetch: HashMap<(i64, NaiveDate), (Instant, i64)>,
}

/// How far the subscriber's and the fetcher's clocks may disagree: a notification counts as covered
/// only if it was accepted at least this long before the fetch started, so a lagging clock cannot
/// make a fetch look as if it had read a change it started before.
pub const CLOCK_SKEW_MARGIN_MS: i64 = 500;

/// What to do with a batch's dates for one connection.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SettlePlan {
    pub fetch_now: Vec<NaiveDate>,
    /// Fetch at the given instant.
    pub later: Vec<(NaiveDate, Instant)>,
    /// Already reflected in a fetch that started after the notification was accepted.
    pub covered: Vec<NaiveDate>,
}

impl Settle {
    pub fn new(period: Duration) -> Self {
        Self { period, last_fetch: HashMap::new() }
    }

    /// Plans `dates`, each with the Unix ms at which its latest notification was accepted.
    pub fn plan(&self, connection: i64, dates: &[(NaiveDate, i64)], now: Instant) -> SettlePlan {
        let mut plan = SettlePlan::default();
        for (date, received_ms) in dates {
            match self.last_fetch.get(&(connection, *date)) {
                Some((_, started_ms))
                    if *received_ms > 0 && *received_ms + CLOCK_SKEW_MARGIN_MS <= *started_ms =>
                {
                    plan.covered.push(*date)
                }
                Some((at, _)) if now.duration_since(*at) < self.period => {
                    plan.later.push((*date, *at + self.period))
                }
                _ => plan.fetch_now.push(*date),
            }
        }
        plan
    }

    /// Records fetches of `dates` that started at `started` (`started_ms` on the wall clock).
    pub fn record(
        &mut self,
        connection: i64,
        dates: &[NaiveDate],
        started: Instant,
        started_ms: i64,
    ) {
        for date in dates {
            self.last_fetch.insert((connection, *date), (started, started_ms));
        }
        // Forget what can no longer matter, so the map stays small.
        if self.last_fetch.len() > 10_000 {
            let keep = self.period.max(Duration::from_secs(600));
            self.last_fetch.retain(|_, (at, _)| started.duration_since(*at) < keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn a_quiet_day_is_fetched_now_and_a_repeat_waits_for_the_period() {
        let mut settle = Settle::new(Duration::from_secs(3));
        let t0 = Instant::now();
        let plan = settle.plan(1, &[(day(20), 1_000)], t0);
        assert_eq!(plan.fetch_now, vec![day(20)]);
        settle.record(1, &[day(20)], t0, 1_100);
        let t1 = t0 + Duration::from_millis(500);
        let plan = settle.plan(1, &[(day(20), 1_400), (day(21), 1_400)], t1);
        assert_eq!(plan.fetch_now, vec![day(21)], "another date is not held back");
        assert_eq!(plan.later, vec![(day(20), t0 + Duration::from_secs(3))]);
        assert_eq!(
            settle.plan(2, &[(day(20), 1_400)], t1).fetch_now,
            vec![day(20)],
            "another connection"
        );
        let t2 = t0 + Duration::from_secs(3);
        assert_eq!(settle.plan(1, &[(day(20), 4_000)], t2).fetch_now, vec![day(20)]);
    }

    #[test]
    fn a_notification_accepted_before_the_last_fetch_started_is_covered() {
        let mut settle = Settle::new(Duration::from_secs(3));
        let t0 = Instant::now();
        settle.record(1, &[day(20)], t0, 5_000);
        let plan = settle.plan(1, &[(day(20), 4_500)], t0 + Duration::from_secs(10));
        assert_eq!(plan.covered, vec![day(20)], "even long after: that fetch read its data");
        let close = settle.plan(1, &[(day(20), 4_900)], t0 + Duration::from_secs(10));
        assert_eq!(close.fetch_now, vec![day(20)], "within the clock-skew margin: fetch again");
        let unknown = settle.plan(1, &[(day(20), 0)], t0 + Duration::from_secs(10));
        assert_eq!(unknown.fetch_now, vec![day(20)], "no acceptance time: fetch");
    }

    #[test]
    fn old_entries_are_pruned() {
        let mut settle = Settle::new(Duration::from_millis(1));
        let t0 = Instant::now();
        for i in 0..10_001 {
            settle.record(i, &[day(1)], t0, 0);
        }
        settle.record(0, &[day(2)], t0 + Duration::from_secs(601), 0);
        assert_eq!(settle.last_fetch.len(), 1);
    }
}
