//! The baseline: median steps of the valid days at the start of a program.

use std::ops::Range;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::engine::{prepare, ValidDay};
use crate::stats::percentile_of_sorted;
use crate::validity::{DayRecord, ValidityRules};

/// How the baseline is measured (see `docs/goals.md`, "Baseline").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaselineRules {
    /// The baseline window: the first `window_days` days from the program start (14, *default*).
    pub window_days: u32,
    /// Valid days needed for a final baseline (4).
    pub min_valid_days: u32,
    /// The provisional goal while a participant has no valid day at all, for the strategies
    /// built on the baseline (weekly increment, self-chosen, next activity level). 5,000 steps,
    /// *default* (the "sedentary" threshold of Tudor-Locke 2008). The adaptive strategy uses its
    /// floor instead.
    pub goal_without_baseline: i32,
}

impl Default for BaselineRules {
    fn default() -> Self {
        Self { window_days: 14, min_valid_days: 4, goal_without_baseline: 5000 }
    }
}

/// A participant's baseline as known on some date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Median steps of `days_used` (halves rounded up).
    pub steps: i32,
    /// Fewer than `min_valid_days` valid days so far: the value will change.
    pub provisional: bool,
    /// The valid days the median was taken over, ascending.
    pub days_used: Vec<NaiveDate>,
    /// No later day can change the value any more (the window, extended if needed, is over).
    pub window_closed: bool,
}

/// The baseline as known on `as_of` (only days strictly before `as_of` count).
///
/// The valid days of the first `window_days` days from `program_start` are used. When that window
/// has fewer than `min_valid_days` valid days it is extended until it has exactly
/// `min_valid_days` of them; until then the baseline is the median of what there is, marked
/// provisional. `None` when there is no valid day at all. Days may be in any order; for duplicate
/// dates the last one wins.
pub fn baseline(
    days: &[DayRecord],
    program_start: NaiveDate,
    rules: &BaselineRules,
    validity: &ValidityRules,
    as_of: NaiveDate,
) -> Option<Baseline> {
    let valid = prepare(days, validity);
    let mut scratch = Vec::new();
    compute(&valid, program_start, rules, as_of, &mut scratch).map(|core| core.to_public(&valid))
}

/// A baseline over a sorted slice of valid days: `range` indexes that slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaselineCore {
    pub steps: i32,
    pub provisional: bool,
    pub range: Range<usize>,
    pub window_closed: bool,
}

impl BaselineCore {
    pub fn to_public(&self, valid: &[ValidDay]) -> Baseline {
        Baseline {
            steps: self.steps,
            provisional: self.provisional,
            days_used: self.dates(valid).collect(),
            window_closed: self.window_closed,
        }
    }

    pub fn dates<'a>(&self, valid: &'a [ValidDay]) -> impl Iterator<Item = NaiveDate> + 'a {
        valid[self.range.clone()].iter().map(|v| v.date)
    }
}

pub(crate) fn compute(
    valid: &[ValidDay],
    program_start: NaiveDate,
    rules: &BaselineRules,
    as_of: NaiveDate,
    scratch: &mut Vec<i32>,
) -> Option<BaselineCore> {
    let first = valid.partition_point(|v| v.date < program_start);
    let available = valid.partition_point(|v| v.date < as_of);
    if available <= first {
        return None;
    }
    let window_end =
        program_start.checked_add_days(Days::new(u64::from(rules.window_days))).unwrap_or(as_of);
    let in_window = valid.partition_point(|v| v.date < window_end).min(available);
    let min = (rules.min_valid_days.max(1)) as usize;
    let (end, provisional, window_closed) = if in_window - first >= min {
        (in_window, false, as_of >= window_end)
    } else if available - first >= min {
        (first + min, false, true)
    } else {
        (available, true, false)
    };
    scratch.clear();
    scratch.extend(valid[first..end].iter().map(|v| v.steps));
    scratch.sort_unstable();
    let median = percentile_of_sorted(scratch, 50.0)?;
    Some(BaselineCore {
        steps: median.round() as i32,
        provisional,
        range: first..end,
        window_closed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 3).unwrap().checked_add_days(Days::new(n)).unwrap()
    }

    fn rec(n: u64, steps: i32) -> DayRecord {
        DayRecord::steps(day(n), steps, Some(800))
    }

    fn base(days: &[DayRecord], as_of: u64) -> Option<Baseline> {
        baseline(days, day(0), &BaselineRules::default(), &ValidityRules::default(), day(as_of))
    }

    #[test]
    fn median_of_valid_days_in_window() {
        let mut days: Vec<_> = (0..14).map(|n| rec(n, 5000 + 100 * n as i32)).collect();
        days[3].steps = 50; // non-wear
        days[7].worn_minutes = Some(300); // insufficient wear
        days.push(rec(14, 30_000)); // after the window: ignored
        let b = base(&days, 20).unwrap();
        assert_eq!(b.days_used.len(), 12);
        assert!(!b.days_used.contains(&day(3)) && !b.days_used.contains(&day(7)));
        // values 5000,5100,5200,5400,5500,5600,5800,...,6300: median = (5600+5800)/2
        assert_eq!(b.steps, 5700);
        assert!(!b.provisional && b.window_closed);
    }

    #[test]
    fn even_count_median_rounds_half_up() {
        let days = [rec(0, 6000), rec(1, 6001), rec(2, 7000), rec(3, 5000)];
        assert_eq!(base(&days, 14).unwrap().steps, 6001); // (6000 + 6001) / 2 = 6000.5
    }

    #[test]
    fn provisional_until_enough_days_then_window_extends() {
        let mut days = vec![rec(1, 4000), rec(5, 6000), rec(12, 5000)];
        assert_eq!(base(&days, 0), None);
        assert_eq!(base(&days, 1), None);
        let b = base(&days, 2).unwrap();
        assert!(b.provisional && !b.window_closed);
        assert_eq!((b.steps, b.days_used.len()), (4000, 1));
        let b = base(&days, 30).unwrap();
        assert!(b.provisional);
        assert_eq!((b.steps, b.days_used.len()), (5000, 3));
        // the fourth valid day arrives on day 17: the window extends to it, and no further
        days.push(rec(17, 9000));
        days.push(rec(18, 20_000));
        let b = base(&days, 30).unwrap();
        assert!(!b.provisional && b.window_closed);
        assert_eq!(b.days_used, vec![day(1), day(5), day(12), day(17)]);
        assert_eq!(b.steps, 5500);
    }

    #[test]
    fn only_days_before_as_of_and_after_start_count() {
        let days = [rec(0, 3000), rec(1, 4000), rec(2, 5000), rec(3, 6000), rec(4, 90)];
        let before = DayRecord::steps(day(0).pred_opt().unwrap(), 20_000, Some(900));
        let mut all = days.to_vec();
        all.push(before);
        let b = base(&all, 3).unwrap();
        assert_eq!((b.steps, b.provisional), (4000, true));
        let b = base(&all, 4).unwrap();
        assert_eq!((b.steps, b.provisional, b.window_closed), (4500, false, false));
    }

    #[test]
    fn duplicates_last_wins() {
        let days = [rec(0, 3000), rec(0, 7000)];
        assert_eq!(base(&days, 5).unwrap().steps, 7000);
    }
}
