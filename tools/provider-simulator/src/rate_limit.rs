//! Fitbit's per-user hourly budget: a fixed number of calls per clock hour, the counter reset at
//! the top of the hour (UTC hours; every US zone is a whole number of hours from UTC).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// The start of the next clock hour after `now`.
pub fn next_top_of_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(TimeDelta::hours(1)).expect("an hour divides any timestamp")
        + TimeDelta::hours(1)
}

/// Whole seconds until `reset_at`, rounded up so a client that waits this long is never early.
pub fn seconds_until(now: DateTime<Utc>, reset_at: DateTime<Utc>) -> u64 {
    let millis = (reset_at - now).num_milliseconds().max(0) as u64;
    millis.div_ceil(1000)
}

/// What the `Fitbit-Rate-Limit-*` headers report after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    pub remaining: u32,
    pub reset_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed(RateStatus),
    Limited(RateStatus),
}

/// One user's current window.
#[derive(Debug, Clone)]
pub struct RateWindow {
    remaining: u32,
    resets_at: DateTime<Utc>,
}

impl RateWindow {
    pub fn new(now: DateTime<Utc>, limit: u32) -> Self {
        RateWindow { remaining: limit, resets_at: next_top_of_hour(now) }
    }

    /// A window with `remaining` calls that resets after `reset_seconds` (the admin override that
    /// keeps rate-limit tests fast); after it the normal hourly windows resume.
    pub fn overridden(now: DateTime<Utc>, remaining: u32, reset_seconds: u64) -> Self {
        RateWindow { remaining, resets_at: now + TimeDelta::seconds(reset_seconds as i64) }
    }

    fn roll_over(&mut self, now: DateTime<Utc>, limit: u32) {
        if now >= self.resets_at {
            *self = RateWindow::new(now, limit);
        }
    }

    /// The state without spending a call.
    pub fn status(&mut self, now: DateTime<Utc>, limit: u32) -> RateStatus {
        self.roll_over(now, limit);
        RateStatus {
            limit,
            remaining: self.remaining,
            reset_seconds: seconds_until(now, self.resets_at),
        }
    }

    /// Spends one call if the budget allows it.
    pub fn admit(&mut self, now: DateTime<Utc>, limit: u32) -> Admission {
        self.roll_over(now, limit);
        if self.remaining == 0 {
            return Admission::Limited(self.status(now, limit));
        }
        self.remaining -= 1;
        Admission::Allowed(self.status(now, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_window_ends_at_the_top_of_the_next_hour() {
        assert_eq!(next_top_of_hour(at("2026-11-20T10:59:59.5Z")), at("2026-11-20T11:00:00Z"));
        assert_eq!(next_top_of_hour(at("2026-11-20T10:00:00Z")), at("2026-11-20T11:00:00Z"));
        assert_eq!(next_top_of_hour(at("2026-11-20T23:30:00Z")), at("2026-11-21T00:00:00Z"));
    }

    #[test]
    fn reset_seconds_round_up() {
        let reset = at("2026-11-20T11:00:00Z");
        assert_eq!(seconds_until(at("2026-11-20T10:59:59.2Z"), reset), 1);
        assert_eq!(seconds_until(at("2026-11-20T10:15:00Z"), reset), 2_700);
        assert_eq!(seconds_until(at("2026-11-20T11:00:01Z"), reset), 0);
    }

    #[test]
    fn spends_the_budget_then_limits_until_the_top_of_the_hour() {
        let start = at("2026-11-20T10:15:00Z");
        let mut window = RateWindow::new(start, 3);
        let remaining: Vec<Admission> = (0..4).map(|_| window.admit(start, 3)).collect();
        let status = |remaining| RateStatus { limit: 3, remaining, reset_seconds: 2_700 };
        assert_eq!(
            remaining,
            vec![
                Admission::Allowed(status(2)),
                Admission::Allowed(status(1)),
                Admission::Allowed(status(0)),
                Admission::Limited(status(0)),
            ]
        );
        assert_eq!(
            window.admit(at("2026-11-20T10:59:59Z"), 3),
            Admission::Limited(RateStatus { limit: 3, remaining: 0, reset_seconds: 1 })
        );
        assert_eq!(
            window.admit(at("2026-11-20T11:00:00Z"), 3),
            Admission::Allowed(RateStatus { limit: 3, remaining: 2, reset_seconds: 3_600 })
        );
    }

    #[test]
    fn an_override_resets_after_its_own_seconds_then_hourly() {
        let start = at("2026-11-20T10:15:00Z");
        let mut window = RateWindow::overridden(start, 0, 2);
        assert_eq!(
            window.admit(start, 150),
            Admission::Limited(RateStatus { limit: 150, remaining: 0, reset_seconds: 2 })
        );
        assert_eq!(
            window.admit(at("2026-11-20T10:15:02Z"), 150),
            Admission::Allowed(RateStatus { limit: 150, remaining: 149, reset_seconds: 2_698 })
        );
    }
}
