//! The per-user request budget: Google Health allows each user 300 requests a minute. The client
//! counts its own requests per user in minute windows, stops before the limit (the fetcher then
//! defers that user only, until the window ends), and treats a 429 as "no budget until then".

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use fitex_provider::RateBudget;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    used: u32,
    /// Set by a 429: nothing is sent before this.
    blocked_until: Option<DateTime<Utc>>,
}

/// Request windows of every user seen recently (pure: the caller passes the time).
#[derive(Debug)]
pub struct UserBudgets {
    limit: u32,
    window: Duration,
    users: HashMap<String, Window>,
}

impl UserBudgets {
    pub fn new(limit_per_window: u32, window: Duration) -> Self {
        UserBudgets { limit: limit_per_window.max(1), window, users: HashMap::new() }
    }

    fn current(&mut self, user: &str, now: DateTime<Utc>) -> &mut Window {
        let window = self.window;
        let entry = self.users.entry(user.to_owned()).or_insert(Window {
            started: now,
            used: 0,
            blocked_until: None,
        });
        let blocked = entry.blocked_until.is_some_and(|until| until > now);
        if !blocked && now >= entry.started + window {
            *entry = Window { started: now, used: 0, blocked_until: None };
        }
        entry
    }

    fn budget(limit: u32, window_length: Duration, window: &Window) -> RateBudget {
        match window.blocked_until {
            Some(until) => RateBudget { limit, remaining: 0, resets_at: until },
            None => RateBudget {
                limit,
                remaining: limit.saturating_sub(window.used),
                resets_at: window.started + window_length,
            },
        }
    }

    /// Takes one request from `user`'s budget: `Ok` with what is left, or `Err` with the budget
    /// (none left) and when it renews.
    pub fn take(&mut self, user: &str, now: DateTime<Utc>) -> Result<RateBudget, RateBudget> {
        let (limit, length) = (self.limit, self.window);
        let window = self.current(user, now);
        if window.blocked_until.is_some_and(|until| until > now) || window.used >= limit {
            return Err(Self::budget(limit, length, window));
        }
        window.used += 1;
        Ok(Self::budget(limit, length, window))
    }

    /// What is left for `user` now, without spending any.
    pub fn peek(&mut self, user: &str, now: DateTime<Utc>) -> RateBudget {
        let (limit, length) = (self.limit, self.window);
        let window = self.current(user, now);
        Self::budget(limit, length, window)
    }

    /// The provider answered 429: no more requests for `user` until `until`.
    pub fn block(&mut self, user: &str, until: DateTime<Utc>, now: DateTime<Utc>) {
        let window = self.current(user, now);
        window.blocked_until = Some(until);
        window.used = window.used.max(1);
    }

    /// Forgets users whose window ended (bounded memory however many users come and go).
    pub fn forget_idle(&mut self, now: DateTime<Utc>) {
        let window = self.window;
        self.users.retain(|_, w| {
            w.blocked_until.is_some_and(|until| until > now) || now < w.started + window
        });
    }

    pub fn tracked_users(&self) -> usize {
        self.users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn each_user_has_their_own_minute() {
        let mut budgets = UserBudgets::new(3, Duration::seconds(60));
        for left in [2, 1, 0] {
            assert_eq!(budgets.take("a", t(1)).unwrap().remaining, left);
        }
        let refused = budgets.take("a", t(2)).unwrap_err();
        assert_eq!((refused.remaining, refused.resets_at), (0, t(61)));
        // Another user is unaffected.
        assert_eq!(budgets.take("b", t(2)).unwrap().remaining, 2);
        // The window renews.
        assert_eq!(budgets.take("a", t(61)).unwrap().remaining, 2);
    }

    #[test]
    fn a_429_blocks_until_the_time_given() {
        let mut budgets = UserBudgets::new(300, Duration::seconds(60));
        budgets.take("a", t(0)).unwrap();
        budgets.block("a", t(90), t(5));
        assert_eq!(budgets.take("a", t(70)).unwrap_err().resets_at, t(90));
        assert_eq!(budgets.peek("a", t(70)).remaining, 0);
        assert!(budgets.take("b", t(70)).is_ok());
        assert_eq!(budgets.take("a", t(90)).unwrap().remaining, 299);
    }

    #[test]
    fn idle_users_are_forgotten() {
        let mut budgets = UserBudgets::new(300, Duration::seconds(60));
        budgets.take("a", t(0)).unwrap();
        budgets.take("b", t(50)).unwrap();
        budgets.forget_idle(t(70));
        assert_eq!(budgets.tracked_users(), 1);
        assert_eq!(budgets.peek("a", t(70)).remaining, 300);
    }
}
