//! Settling: a notification accepted before a fetch of its user-day started is already reflected in
//! what that fetch read, so it costs nothing. One accepted after a fetch that happened moments ago
//! is not fetched at once (a device sync sends several within seconds); it is fetched once more
//! when the settle period since the last fetch has passed, picking up the final values with one
//! call. The first notification of a quiet user-day is fetched at once, so latency stays low.
//!
//! A repeat: a notification accepted within the duplicate window of the one a fetch was made for
//! is, almost always, the provider sending that notification again (a device sync is one
//! notification; the next sync comes minutes later). It costs no call of its own: the day is
//! confirmed later, with one call, unless a fetch of the day for another notification reads it
//! first (the usual case: the participant syncs again). A genuine change notified that soon after
//! another is then read within the confirmation delay instead of the settle period.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

/// When each (connection, date) was last fetched by this replica (a monotonic instant and the wall
/// clock in Unix ms, at the start of the fetch). One user's notifications share a partition, so
/// one replica sees all of them.
#[derive(Debug)]
pub struct Settle {
    period: Duration,
    repeats: Repeats,
    last_fetch: HashMap<(i64, NaiveDate), LastFetch>,
    /// The map's size at which the next pass forgets old entries.
    prune_at: usize,
}

/// The smallest map that is pruned.
const PRUNE_AT_LEAST: usize = 10_000;

/// How notifications that repeat one already fetched are told and handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeats {
    /// A notification accepted at most this long after the one the last fetch was made for is
    /// taken for a repeat of it (zero: none is).
    pub window: Duration,
    /// A repeat's day is fetched this long after the last fetch, unless fetched before.
    pub confirm_after: Duration,
}

/// The last fetch of a (connection, date) by this replica.
#[derive(Debug, Clone, Copy)]
struct LastFetch {
    /// When it started, monotonic.
    at: Instant,
    /// When it started, Unix ms.
    started_ms: i64,
    /// When the notification it was made for was accepted, Unix ms (0: not for a notification).
    notified_ms: i64,
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
    /// Repeats of the notification the last fetch was made for: confirm at the given instant,
    /// unless a fetch of the day comes first.
    pub confirm: Vec<(NaiveDate, Instant)>,
    /// Already reflected in a fetch that started after the notification was accepted.
    pub covered: Vec<NaiveDate>,
}

impl Settle {
    pub fn new(period: Duration, repeats: Repeats) -> Self {
        Self { period, repeats, last_fetch: HashMap::new(), prune_at: PRUNE_AT_LEAST }
    }

    /// Plans `dates`, each with the Unix ms at which its latest notification was accepted.
    pub fn plan(&self, connection: i64, dates: &[(NaiveDate, i64)], now: Instant) -> SettlePlan {
        let mut plan = SettlePlan::default();
        let window_ms = self.repeats.window.as_millis() as i64;
        for (date, received_ms) in dates {
            match self.last_fetch.get(&(connection, *date)) {
                Some(last)
                    if *received_ms > 0
                        && *received_ms + CLOCK_SKEW_MARGIN_MS <= last.started_ms =>
                {
                    plan.covered.push(*date)
                }
                Some(last)
                    if window_ms > 0
                        && *received_ms > 0
                        && last.notified_ms > 0
                        && *received_ms - last.notified_ms <= window_ms =>
                {
                    plan.confirm.push((*date, last.at + self.repeats.confirm_after))
                }
                Some(last) if now.duration_since(last.at) < self.period => {
                    plan.later.push((*date, last.at + self.period))
                }
                _ => plan.fetch_now.push(*date),
            }
        }
        plan
    }

    /// Records fetches of `dates` that started at `started` (`started_ms` on the wall clock),
    /// each made for the notification accepted at `notified_ms` (0 or absent: for none).
    pub fn record(
        &mut self,
        connection: i64,
        dates: &[NaiveDate],
        notified_ms: &BTreeMap<NaiveDate, i64>,
        started: Instant,
        started_ms: i64,
    ) {
        for date in dates {
            let notified_ms = notified_ms.get(date).copied().unwrap_or(0);
            self.last_fetch
                .insert((connection, *date), LastFetch { at: started, started_ms, notified_ms });
        }
        // Forget what can no longer matter, so the map stays small. A pass reads the whole map,
        // so it runs only once the map has doubled since the last one: amortised, each record
        // pays for a constant share of a pass. (Pruning whenever the map held more than 10,000
        // entries scanned all of a 10,000-participant backfill's 280,000 on every fetch: the
        // fetcher's largest cost in the N = 10,000 profile, docs/benchmarks.md.)
        if self.last_fetch.len() > self.prune_at {
            let keep = self.period.max(self.repeats.confirm_after).max(Duration::from_secs(600));
            self.last_fetch.retain(|_, last| started.duration_since(last.at) < keep);
            self.prune_at = (self.last_fetch.len() * 2).max(PRUNE_AT_LEAST);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    const REPEATS: Repeats =
        Repeats { window: Duration::from_millis(2_500), confirm_after: Duration::from_secs(60) };

    fn settle(period: Duration) -> Settle {
        Settle::new(period, REPEATS)
    }

    /// For a fetch made for no notification.
    fn none() -> BTreeMap<NaiveDate, i64> {
        BTreeMap::new()
    }

    #[test]
    fn a_repeat_of_the_fetched_notification_is_confirmed_later_and_a_new_sync_is_not() {
        let mut settle = settle(Duration::from_secs(3));
        let t0 = Instant::now();
        // The fetch for the notification accepted at 1,000 started at 1,300.
        settle.record(1, &[day(20)], &BTreeMap::from([(day(20), 1_000)]), t0, 1_300);
        let t1 = t0 + Duration::from_millis(900);
        let repeat = settle.plan(1, &[(day(20), 3_400)], t1);
        assert_eq!(repeat.confirm, vec![(day(20), t0 + Duration::from_secs(60))]);
        assert!(repeat.fetch_now.is_empty() && repeat.later.is_empty());
        // Accepted 2.6 s after the fetched one: a new sync, held only for the settle period.
        let new_sync = settle.plan(1, &[(day(20), 3_600)], t1);
        assert_eq!(new_sync.later, vec![(day(20), t0 + Duration::from_secs(3))]);
        assert!(new_sync.confirm.is_empty());
        // After a fetch made for no notification (a pending day), nothing is taken for a repeat.
        settle.record(1, &[day(20)], &none(), t1, 2_200);
        let after_pending = settle.plan(1, &[(day(20), 2_300)], t1 + Duration::from_millis(10));
        assert_eq!(after_pending.later, vec![(day(20), t1 + Duration::from_secs(3))]);
        // No window: no repeats.
        let mut strict =
            Settle::new(Duration::from_secs(3), Repeats { window: Duration::ZERO, ..REPEATS });
        strict.record(1, &[day(20)], &BTreeMap::from([(day(20), 1_000)]), t0, 1_300);
        assert!(strict.plan(1, &[(day(20), 1_900)], t1).confirm.is_empty());
    }

    #[test]
    fn a_quiet_day_is_fetched_now_and_a_repeat_waits_for_the_period() {
        let mut settle = settle(Duration::from_secs(3));
        let t0 = Instant::now();
        let plan = settle.plan(1, &[(day(20), 1_000)], t0);
        assert_eq!(plan.fetch_now, vec![day(20)]);
        settle.record(1, &[day(20)], &none(), t0, 1_100);
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
        let mut settle = settle(Duration::from_secs(3));
        let t0 = Instant::now();
        settle.record(1, &[day(20)], &none(), t0, 5_000);
        let plan = settle.plan(1, &[(day(20), 4_500)], t0 + Duration::from_secs(10));
        assert_eq!(plan.covered, vec![day(20)], "even long after: that fetch read its data");
        let close = settle.plan(1, &[(day(20), 4_900)], t0 + Duration::from_secs(10));
        assert_eq!(close.fetch_now, vec![day(20)], "within the clock-skew margin: fetch again");
        let unknown = settle.plan(1, &[(day(20), 0)], t0 + Duration::from_secs(10));
        assert_eq!(unknown.fetch_now, vec![day(20)], "no acceptance time: fetch");
    }

    #[test]
    fn old_entries_are_pruned() {
        let mut settle = settle(Duration::from_millis(1));
        let t0 = Instant::now();
        for i in 0..10_001 {
            settle.record(i, &[day(1)], &none(), t0, 0);
        }
        // Ten minutes on, the next pass (once the map has doubled) forgets them all.
        let t1 = t0 + Duration::from_secs(601);
        for i in 0..10_002 {
            settle.record(100_000 + i, &[day(2)], &none(), t1, 0);
        }
        assert_eq!(settle.last_fetch.len(), 10_002);
        assert!(settle.last_fetch.values().all(|last| last.at == t1));
    }

    #[test]
    fn a_large_map_of_recent_fetches_is_not_scanned_on_every_record() {
        let mut settle = settle(Duration::from_millis(1));
        let t0 = Instant::now();
        // 25,000 recent entries (a large backfill): none can be forgotten yet.
        for i in 0..25_000 {
            settle.record(i, &[day(1)], &none(), t0, 0);
        }
        // The passes so far ran at 10,001 and 20,003 entries; the next waits for twice the map.
        assert_eq!(settle.prune_at, 40_006);
        assert_eq!(settle.last_fetch.len(), 25_000);
    }
}
