//! Retry schedule for transient provider failures, as data: exponential backoff with full jitter.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first try included) before the event is dead-lettered.
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The ceiling of the wait before attempt `attempt + 1` (attempt counts from 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A wait drawn uniformly from [ceiling/2, ceiling] ("equal jitter": never zero, spread out).
    pub fn delay(&self, attempt: u32, unit_random: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling.mul_f64(0.5 + 0.5 * unit_random.clamp(0.0, 1.0))
    }

    pub fn exhausted(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy =
        RetryPolicy { max_attempts: 5, base: Duration::from_secs(1), max: Duration::from_secs(60) };

    #[test]
    fn doubles_up_to_the_maximum() {
        let ceilings: Vec<u64> = (1..=8).map(|a| POLICY.ceiling(a).as_secs()).collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(POLICY.ceiling(1000), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_half_to_full_ceiling() {
        assert_eq!(POLICY.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(POLICY.delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(POLICY.delay(3, 7.0), Duration::from_secs(4));
    }

    #[test]
    fn exhausted_after_max_attempts() {
        assert!(!POLICY.exhausted(4));
        assert!(POLICY.exhausted(5));
    }
}
