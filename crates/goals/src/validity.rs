//! Valid days: what a stored day can and cannot tell about activity.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::manual::ManualMinutes;

/// One stored day of a participant (what the fetcher stores; the date is the participant's local
/// date).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayRecord {
    pub date: NaiveDate,
    pub steps: i32,
    pub distance_km: f64,
    /// Fairly + very active minutes.
    pub moderate_vigorous_minutes: i32,
    /// Minutes with a heart-rate signal; `None`: the device gave no heart-rate signal.
    pub worn_minutes: Option<i32>,
    /// The provider holds no data for the day (not worn, or not synced): the numbers are zero
    /// and mean nothing, and the day is non-wear whatever the rules — never an inactive day.
    #[serde(default)]
    pub no_data: bool,
    /// Activity logged by hand for the day (see [`crate::manual`]). It counts in FitEx miles
    /// only: validity, baselines and step goals never read it.
    #[serde(default)]
    pub manual: ManualMinutes,
}

impl DayRecord {
    /// A day with only steps and worn minutes (distance and MVPA zero); handy in tests.
    pub fn steps(date: NaiveDate, steps: i32, worn_minutes: Option<i32>) -> Self {
        Self {
            date,
            steps,
            distance_km: 0.0,
            moderate_vigorous_minutes: 0,
            worn_minutes,
            no_data: false,
            manual: ManualMinutes::default(),
        }
    }

    /// A day the provider holds no data for.
    pub fn no_data(date: NaiveDate) -> Self {
        Self { no_data: true, ..Self::steps(date, 0, None) }
    }
}

/// When a day counts (see `docs/goals.md`, "Valid days").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValidityRules {
    /// A day with a heart-rate signal needs at least this many worn minutes (600 = 10 h).
    pub min_worn_minutes: i32,
    /// A day without a heart-rate signal needs at least this many steps (1,000, *default*).
    pub min_steps_without_heart_rate: i32,
    /// Fewer steps than this is non-wear whatever else the day says (100, *default*).
    pub non_wear_below_steps: i32,
    /// More steps than this is an outlier: shown, never used for goals (45,000, *default*).
    pub outlier_above_steps: i32,
}

impl Default for ValidityRules {
    fn default() -> Self {
        Self {
            min_worn_minutes: 600,
            min_steps_without_heart_rate: 1000,
            non_wear_below_steps: 100,
            outlier_above_steps: 45_000,
        }
    }
}

/// The verdict on one day. Only [`Validity::Valid`] days feed baselines, goals and "goal met".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    Valid,
    /// Fewer than `non_wear_below_steps` steps.
    NonWear,
    /// Worn, but fewer than `min_worn_minutes` (or, without heart rate, fewer than
    /// `min_steps_without_heart_rate` steps).
    InsufficientWear,
    /// More than `outlier_above_steps` steps.
    Outlier,
}

impl Validity {
    pub fn is_valid(self) -> bool {
        self == Validity::Valid
    }
}

/// Classifies a day. Order: no data (non-wear), outlier, then non-wear, then wear time (heart
/// rate present) or the step fallback (no heart rate).
pub fn classify(day: &DayRecord, rules: &ValidityRules) -> Validity {
    if day.no_data {
        Validity::NonWear
    } else if day.steps > rules.outlier_above_steps {
        Validity::Outlier
    } else if day.steps < rules.non_wear_below_steps {
        Validity::NonWear
    } else {
        match day.worn_minutes {
            Some(worn) if worn < rules.min_worn_minutes => Validity::InsufficientWear,
            Some(_) => Validity::Valid,
            None if day.steps < rules.min_steps_without_heart_rate => Validity::InsufficientWear,
            None => Validity::Valid,
        }
    }
}

/// A valid day, as baselines and goals keep it (sorted by date, one per date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidDay {
    pub date: NaiveDate,
    pub steps: i32,
}

/// Sorts once, keeps the last record of each date, and drops invalid days.
pub(crate) fn prepare(days: &[DayRecord], validity: &ValidityRules) -> Vec<ValidDay> {
    let keep = |d: &DayRecord| classify(d, validity).is_valid();
    let to_valid = |d: &DayRecord| ValidDay { date: d.date, steps: d.steps };
    if days.windows(2).all(|w| w[0].date < w[1].date) {
        return days.iter().filter(|d| keep(d)).map(to_valid).collect();
    }
    let mut order: Vec<usize> = (0..days.len()).collect();
    // Stable: records of one date stay in input order, so the last of each run wins.
    order.sort_by_key(|&i| days[i].date);
    let mut out = Vec::with_capacity(days.len());
    for (k, &i) in order.iter().enumerate() {
        let last_of_date = order.get(k + 1).is_none_or(|&j| days[j].date != days[i].date);
        if last_of_date && keep(&days[i]) {
            out.push(to_valid(&days[i]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 3).unwrap()
    }

    #[test]
    fn classifies_each_case() {
        let r = ValidityRules::default();
        let c = |steps, worn| classify(&DayRecord::steps(d(), steps, worn), &r);
        assert_eq!(c(8000, Some(600)), Validity::Valid);
        assert_eq!(c(8000, Some(599)), Validity::InsufficientWear);
        assert_eq!(c(99, Some(900)), Validity::NonWear);
        assert_eq!(c(100, Some(900)), Validity::Valid);
        assert_eq!(c(0, None), Validity::NonWear);
        assert_eq!(c(-5, None), Validity::NonWear);
        assert_eq!(c(999, None), Validity::InsufficientWear);
        assert_eq!(c(1000, None), Validity::Valid);
        assert_eq!(c(45_000, Some(900)), Validity::Valid);
        assert_eq!(c(45_001, Some(900)), Validity::Outlier);
        assert_eq!(c(45_001, None), Validity::Outlier);
        assert!(Validity::Valid.is_valid());
        assert!(!Validity::Outlier.is_valid());
    }

    #[test]
    fn a_day_without_data_is_non_wear_whatever_the_rules() {
        // Rules a program may choose that make a genuine zero a valid (inactive) day.
        let lenient = ValidityRules {
            non_wear_below_steps: 0,
            min_steps_without_heart_rate: 0,
            ..ValidityRules::default()
        };
        assert_eq!(classify(&DayRecord::steps(d(), 0, None), &lenient), Validity::Valid);
        assert_eq!(classify(&DayRecord::no_data(d()), &lenient), Validity::NonWear);
        assert_eq!(
            classify(&DayRecord::no_data(d()), &ValidityRules::default()),
            Validity::NonWear
        );
        // Older stored records (no field) read as data.
        let old: DayRecord = serde_json::from_str(
            r#"{"date":"2025-03-03","steps":0,"distance_km":0.0,"moderate_vigorous_minutes":0,"worn_minutes":null}"#,
        )
        .unwrap();
        assert!(!old.no_data);
    }

    #[test]
    fn serde_names_are_snake_case() {
        let s = serde_json::to_string(&Validity::InsufficientWear).unwrap();
        assert_eq!(s, "\"insufficient_wear\"");
        let v: Validity = serde_json::from_str("\"non_wear\"").unwrap();
        assert_eq!(v, Validity::NonWear);
        let rules: ValidityRules = serde_json::from_str("{\"min_worn_minutes\": 480}").unwrap();
        assert_eq!(rules.min_worn_minutes, 480);
        assert_eq!(rules.outlier_above_steps, 45_000);
    }
}
