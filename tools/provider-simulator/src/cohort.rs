//! A seeded synthetic cohort whose step data looks like real participants': a log-normal spread of
//! habitual levels, quieter weekends, day-to-day noise, missing days, low-wear days and the odd
//! extreme day. The same seed always gives the same cohort.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::DayData;

/// Zones cohort users are spread over.
pub const COHORT_TIMEZONES: [&str; 4] =
    ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"];

/// Median habitual steps per day; with `HABITUAL_SIGMA` about 95 % of users fall between roughly
/// 3,000 and 14,000.
pub const MEDIAN_HABITUAL_STEPS: f64 = 6_500.0;
const HABITUAL_SIGMA: f64 = 0.4;
const DAILY_NOISE_SIGMA: f64 = 0.25;
/// Average stride in km per step (~75 cm).
pub const KM_PER_STEP: f64 = 0.000_75;
const LOW_WEAR_PROBABILITY: f64 = 0.05;
const EXTREME_DAY_PROBABILITY: f64 = 0.006;
/// Steps from incidental movement before minutes start counting as fairly/very active.
const INCIDENTAL_STEPS: f64 = 4_000.0;
/// Brisk walking cadence, steps per active minute.
const ACTIVE_CADENCE: f64 = 110.0;

#[derive(Debug, Clone, PartialEq)]
pub struct CohortMember {
    pub user_id: String,
    pub timezone: String,
    /// Days with data; a missing date is a day the tracker never synced (all zeros).
    pub days: BTreeMap<NaiveDate, DayData>,
}

/// `SIM0001`, `SIM0002`, …
pub fn cohort_user_id(index: usize) -> String {
    format!("SIM{:04}", index + 1)
}

fn standard_normal(rng: &mut StdRng) -> f64 {
    // Box–Muller; 1 - u keeps the logarithm's argument in (0, 1].
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A day's full record from its steps and wear, with active minutes and distance consistent with
/// the steps and every minute count within the worn minutes.
pub fn day_from_steps(
    steps: u32,
    worn_minutes: u32,
    resting_heart_rate: Option<u32>,
    km_per_step: f64,
) -> DayData {
    let active = ((steps as f64 - INCIDENTAL_STEPS).max(0.0) / ACTIVE_CADENCE).round() as u32;
    let active = active.min(worn_minutes / 2);
    let very_active_minutes = active * 11 / 20;
    let fairly_active_minutes = active - very_active_minutes;
    let lightly_active_minutes =
        (60 + steps / 40).min(worn_minutes.saturating_sub(active)).min(worn_minutes);
    let sedentary_minutes = worn_minutes.saturating_sub(active + lightly_active_minutes);
    DayData {
        steps,
        distance_km: (steps as f64 * km_per_step * 100.0).round() / 100.0,
        sedentary_minutes,
        lightly_active_minutes,
        fairly_active_minutes,
        very_active_minutes,
        worn_minutes,
        resting_heart_rate,
    }
}

/// `size` users with `days` days of history ending on `last_day` (inclusive).
pub fn generate_cohort(
    seed: u64,
    size: usize,
    days: u32,
    last_day: NaiveDate,
) -> Vec<CohortMember> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..size)
        .map(|index| {
            let habitual =
                (MEDIAN_HABITUAL_STEPS.ln() + HABITUAL_SIGMA * standard_normal(&mut rng)).exp();
            // Most people walk less at weekends; a few walk more.
            let weekend_factor = rng.random_range(0.7..1.1);
            let missing_probability = rng.random_range(0.0..0.12);
            let km_per_step = KM_PER_STEP * rng.random_range(0.88..1.12);
            let resting_base: f64 = rng.random_range(54.0..76.0);
            let timezone = COHORT_TIMEZONES[rng.random_range(0..COHORT_TIMEZONES.len())];
            let mut history = BTreeMap::new();
            for offset in (0..days).rev() {
                let date = last_day - TimeDelta::days(offset as i64);
                // Draw every value for every day so one day's branch does not shift the next's.
                let noise = (DAILY_NOISE_SIGMA * standard_normal(&mut rng)).exp();
                let missing = rng.random_bool(missing_probability);
                let low_wear = rng.random_bool(LOW_WEAR_PROBABILITY);
                let extreme = rng.random_bool(EXTREME_DAY_PROBABILITY);
                let normal_wear = rng.random_range(700..=1_000u32);
                let short_wear = rng.random_range(30..=300u32);
                let extreme_steps = rng.random_range(45_001..=62_000u32);
                let resting = (resting_base + rng.random_range(-2.0..2.0)).round() as u32;
                if missing {
                    continue;
                }
                let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
                let level = habitual * if weekend { weekend_factor } else { 1.0 } * noise;
                let day = if extreme {
                    day_from_steps(extreme_steps, normal_wear.max(900), Some(resting), km_per_step)
                } else if low_wear {
                    let steps = (level * short_wear as f64 / 900.0).round() as u32;
                    day_from_steps(steps, short_wear, None, km_per_step)
                } else {
                    day_from_steps(level.round() as u32, normal_wear, Some(resting), km_per_step)
                };
                history.insert(date, day);
            }
            CohortMember {
                user_id: cohort_user_id(index),
                timezone: timezone.to_string(),
                days: history,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_cohort_and_another_seed_does_not() {
        let a = generate_cohort(42, 10, 28, last_day());
        assert_eq!(a, generate_cohort(42, 10, 28, last_day()));
        assert_ne!(a, generate_cohort(43, 10, 28, last_day()));
        assert_eq!(a[0].user_id, "SIM0001");
        assert_eq!(a[9].user_id, "SIM0010");
    }

    #[test]
    fn history_ends_on_the_last_day_and_spans_the_requested_days() {
        let cohort = generate_cohort(7, 30, 21, last_day());
        let first_day = last_day() - TimeDelta::days(20);
        for member in &cohort {
            assert!(member.days.keys().all(|d| (first_day..=last_day()).contains(d)));
            assert!(COHORT_TIMEZONES.contains(&member.timezone.as_str()));
        }
        let total_days: usize = cohort.iter().map(|m| m.days.len()).sum();
        // Some days are missing, but far from most.
        assert!(total_days < 30 * 21, "expected some missing days");
        assert!(total_days > 30 * 21 * 8 / 10, "too many missing days: {total_days}");
    }

    #[test]
    fn the_spread_looks_like_real_participants() {
        let cohort = generate_cohort(42, 400, 28, last_day());
        let days: Vec<&DayData> = cohort.iter().flat_map(|m| m.days.values()).collect();
        let normal: Vec<&&DayData> = days.iter().filter(|d| d.worn_minutes >= 700).collect();
        let mut steps: Vec<u32> = normal.iter().map(|d| d.steps).collect();
        steps.sort_unstable();
        let median = steps[steps.len() / 2];
        assert!((5_000..8_500).contains(&median), "median {median}");
        let in_band = steps.iter().filter(|s| (2_000..=14_000).contains(*s)).count();
        assert!(in_band * 100 / steps.len() >= 80, "most days should be 2,000–14,000");
        assert!(days.iter().any(|d| d.steps > 45_000), "expected an extreme day");
        let low_wear = days.iter().filter(|d| d.worn_minutes < 400).count();
        assert!(low_wear > 0 && low_wear * 100 / days.len() < 15, "low-wear days: {low_wear}");
        let typical_wear = days.iter().filter(|d| (700..=1_000).contains(&d.worn_minutes)).count();
        assert!(typical_wear * 100 / days.len() >= 85);
    }

    #[test]
    fn weekends_are_quieter_on_average() {
        let cohort = generate_cohort(42, 300, 28, last_day());
        let mean = |weekend: bool| {
            let steps: Vec<f64> = cohort
                .iter()
                .flat_map(|m| m.days.iter())
                .filter(|(d, day)| {
                    matches!(d.weekday(), Weekday::Sat | Weekday::Sun) == weekend
                        && day.worn_minutes >= 700
                        && day.steps < 45_000
                })
                .map(|(_, day)| day.steps as f64)
                .collect();
            steps.iter().sum::<f64>() / steps.len() as f64
        };
        assert!(mean(true) < mean(false) * 0.97, "{} vs {}", mean(true), mean(false));
    }

    #[test]
    fn a_day_is_internally_consistent() {
        for member in generate_cohort(3, 50, 28, last_day()) {
            for day in member.days.values() {
                let minutes = day.sedentary_minutes
                    + day.lightly_active_minutes
                    + day.fairly_active_minutes
                    + day.very_active_minutes;
                assert_eq!(minutes, day.worn_minutes, "{day:?}");
                let stride = day.distance_km / day.steps.max(1) as f64;
                assert!(day.steps < 200 || (0.0006..0.0009).contains(&stride), "{day:?}");
            }
        }
    }

    #[test]
    fn active_minutes_grow_with_steps() {
        let quiet = day_from_steps(3_000, 900, Some(60), KM_PER_STEP);
        let busy = day_from_steps(15_000, 900, Some(60), KM_PER_STEP);
        assert_eq!(quiet.fairly_active_minutes + quiet.very_active_minutes, 0);
        assert_eq!(busy.fairly_active_minutes + busy.very_active_minutes, 100);
        assert_eq!(busy.distance_km, 11.25);
        assert!(busy.lightly_active_minutes > quiet.lightly_active_minutes);
    }
}
