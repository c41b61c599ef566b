//! Settling: a user-day fetched moments ago is not fetched again at once when more notifications
//! for it arrive (a device sync sends several within seconds); it is fetched once more when the
//! settle period since the last fetch has passed, which picks up the final values with one call.
//! The first notification of a quiet user-day is fetched at once, so latency stays low.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

/// When each (connection, date) was last fetched by this replica. One user's notifications share
/// a partition, so one replica sees all of them.
#[derive(Debug)]
pub struct Settle {
    period: Duration,
    last_fetch: HashMap<(i64, NaiveDate), Instant>,
}

impl Settle {
    pub fn new(period: Duration) -> Self {
        Self { period, last_fetch: HashMap::new() }
    }

    /// Splits `dates` into those to fetch now and those to fetch at the given instant.
    pub fn split(
        &self,
        connection: i64,
        dates: &[NaiveDate],
        now: Instant,
    ) -> (Vec<NaiveDate>, Vec<(NaiveDate, Instant)>) {
        let mut fetch_now = Vec::new();
        let mut later = Vec::new();
        for date in dates {
            match self.last_fetch.get(&(connection, *date)) {
                Some(at) if now.duration_since(*at) < self.period => {
                    later.push((*date, *at + self.period))
                }
                _ => fetch_now.push(*date),
            }
        }
        (fetch_now, later)
    }

    pub fn record(&mut self, connection: i64, dates: &[NaiveDate], now: Instant) {
        for date in dates {
            self.last_fetch.insert((connection, *date), now);
        }
        // Forget what can no longer delay anything, so the map stays small.
        if self.last_fetch.len() > 10_000 {
            let period = self.period;
            self.last_fetch.retain(|_, at| now.duration_since(*at) < period);
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
        assert_eq!(settle.split(1, &[day(20)], t0), (vec![day(20)], vec![]));
        settle.record(1, &[day(20)], t0);
        let t1 = t0 + Duration::from_millis(500);
        let (now, later) = settle.split(1, &[day(20), day(21)], t1);
        assert_eq!(now, vec![day(21)], "another date is not held back");
        assert_eq!(later, vec![(day(20), t0 + Duration::from_secs(3))]);
        let (now, later) = settle.split(2, &[day(20)], t1);
        assert_eq!((now, later), (vec![day(20)], vec![]), "another connection is not held back");
        let t2 = t0 + Duration::from_secs(3);
        assert_eq!(settle.split(1, &[day(20)], t2), (vec![day(20)], vec![]));
    }

    #[test]
    fn old_entries_are_pruned() {
        let mut settle = Settle::new(Duration::from_millis(1));
        let t0 = Instant::now();
        for i in 0..10_001 {
            settle.record(i, &[day(1)], t0);
        }
        settle.record(0, &[day(2)], t0 + Duration::from_secs(1));
        assert_eq!(settle.last_fetch.len(), 1);
    }
}
