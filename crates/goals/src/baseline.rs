//! The baseline: median steps of the valid days just before a program starts (the backfill) or,
//! failing that, at its start.

use std::ops::Range;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::stats::{median_half_steps, Exact};
use crate::validity::{prepare, DayRecord, ValidDay, ValidityRules};

/// How the baseline is measured (see `docs/goals.md`, "Baseline").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaselineRules {
    /// The baseline windows: the `window_days` days before the program start, else the first
    /// `window_days` days from it (14, *default*).
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
    /// Median steps of `days_used`, in whole steps (halves rounded up); for display. Goals are
    /// rounded once from the exact median ([`Baseline::rounded_to`]).
    pub steps: i32,
    /// The exact median, in half steps (2 × the median: the median of whole steps is a whole or
    /// a half step).
    pub half_steps: i64,
    /// Fewer than `min_valid_days` valid days so far: the value will change.
    pub provisional: bool,
    /// The valid days the median was taken over, ascending.
    pub days_used: Vec<NaiveDate>,
    /// No later day can change the value any more (the window, extended if needed, is over).
    pub window_closed: bool,
}

impl Baseline {
    /// The exact median rounded once to the nearest multiple of `step` (halves up): a median of
    /// 6,049.5 gives 6,000 at 100, not 6,050 and then 6,100.
    pub fn rounded_to(&self, step: i32) -> i32 {
        Exact::halves(self.half_steps).round_to(step)
    }
}

/// The baseline as known on `as_of` (only days strictly before `as_of` count).
///
/// When the `window_days` days before `program_start` (the fetcher's backfill) hold at least
/// `min_valid_days` valid days, the baseline is their median, final from the program start on.
/// Otherwise the window runs from those days (if any) through the first `window_days` days from
/// `program_start`; when it has fewer than `min_valid_days` valid days it is extended until it has
/// exactly `min_valid_days` of them; until then the baseline is the median of what there is,
/// marked provisional. `None` when there is no valid day in the window at all. Days may be in any
/// order; for duplicate dates the last one wins.
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
    /// 2 × the median (exact).
    pub half_steps: i64,
    pub provisional: bool,
    pub range: Range<usize>,
    pub window_closed: bool,
}

impl BaselineCore {
    /// The exact median.
    pub fn exact(&self) -> Exact {
        Exact::halves(self.half_steps)
    }

    /// The median in whole steps (halves up), for explanations.
    pub fn steps(&self) -> i32 {
        self.exact().round_to(1)
    }

    pub fn to_public(&self, valid: &[ValidDay]) -> Baseline {
        Baseline {
            steps: self.steps(),
            half_steps: self.half_steps,
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
    let window = Days::new(u64::from(rules.window_days));
    let before_start = program_start.checked_sub_days(window).unwrap_or(NaiveDate::MIN);
    let first = valid.partition_point(|v| v.date < before_start);
    let at_start = valid.partition_point(|v| v.date < program_start);
    let available = valid.partition_point(|v| v.date < as_of);
    let min = (rules.min_valid_days.max(1)) as usize;
    let (end, provisional, window_closed) = if at_start.min(available).saturating_sub(first) >= min
    {
        // Enough valid days before the start (the backfill): a baseline from the first day.
        (at_start.min(available), false, as_of >= program_start)
    } else {
        if available <= first {
            return None;
        }
        let window_end = program_start.checked_add_days(window).unwrap_or(NaiveDate::MAX);
        let in_window = valid.partition_point(|v| v.date < window_end).min(available);
        if in_window - first >= min {
            (in_window, false, as_of >= window_end)
        } else if available - first >= min {
            (first + min, false, true)
        } else {
            (available, true, false)
        }
    };
    scratch.clear();
    scratch.extend(valid[first..end].iter().map(|v| v.steps));
    scratch.sort_unstable();
    let half_steps = median_half_steps(scratch)?;
    Some(BaselineCore { half_steps, provisional, range: first..end, window_closed })
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
        base_on(days, day(as_of))
    }

    fn base_on(days: &[DayRecord], as_of: NaiveDate) -> Option<Baseline> {
        baseline(days, day(0), &BaselineRules::default(), &ValidityRules::default(), as_of)
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
    fn even_count_median_is_kept_exact_and_rounded_once() {
        let days = [rec(0, 6000), rec(1, 6001), rec(2, 7000), rec(3, 5000)];
        let b = base(&days, 14).unwrap(); // (6000 + 6001) / 2 = 6000.5
        assert_eq!((b.steps, b.half_steps), (6001, 12_001));
        // a median of 6,049.5 is 6,000 to the nearest 100, not 6,050 and then 6,100
        let days = [rec(0, 6049), rec(1, 6050), rec(2, 7000), rec(3, 5000)];
        let b = base(&days, 14).unwrap();
        assert_eq!((b.steps, b.half_steps), (6050, 12_099));
        assert_eq!((b.rounded_to(100), b.rounded_to(10), b.rounded_to(1)), (6000, 6050, 6050));
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
    fn only_days_before_as_of_and_in_the_windows_count() {
        let days = [rec(0, 3000), rec(1, 4000), rec(2, 5000), rec(3, 6000), rec(4, 90)];
        let mut all = days.to_vec();
        // the day before the start counts; a day 15 days before it (outside the window) does not
        all.push(DayRecord::steps(day(0).pred_opt().unwrap(), 20_000, Some(900)));
        all.push(DayRecord::steps(day(0) - Days::new(15), 1000, Some(900)));
        let b = base(&all, 0).unwrap();
        assert_eq!((b.steps, b.provisional, b.days_used.len()), (20_000, true, 1));
        let b = base(&all, 2).unwrap();
        assert_eq!((b.steps, b.provisional), (4000, true));
        let b = base(&all, 3).unwrap();
        assert_eq!((b.steps, b.provisional, b.window_closed), (4500, false, false));
        let b = base(&all, 5).unwrap();
        assert_eq!((b.steps, b.days_used.len()), (5000, 5));
        assert_eq!(base(&[all[4], all[6]], 30), None, "no valid day in either window");
    }

    /// Four valid days among the 14 before the start (the 28-day backfill) are the baseline from
    /// the first day; the program's own days do not change it.
    #[test]
    fn a_backfill_with_enough_valid_days_is_the_baseline_from_the_first_day() {
        let before = |n: u64, steps: i32| DayRecord::steps(day(0) - Days::new(n), steps, Some(800));
        let mut days = vec![
            before(20, 30_000), // outside the 14-day window
            before(14, 7000),
            before(9, 40), // non-wear
            before(6, 6500),
            before(3, 5200),
            before(1, 6100),
            rec(0, 12_000),
            rec(1, 12_000),
        ];
        let b = base(&days, 0).unwrap();
        assert_eq!((b.steps, b.provisional, b.window_closed), (6300, false, true));
        assert_eq!(
            b.days_used,
            vec![
                day(0) - Days::new(14),
                day(0) - Days::new(6),
                day(0) - Days::new(3),
                day(0) - Days::new(1)
            ]
        );
        assert_eq!(base(&days, 30), Some(b.clone()), "final from the first day");
        // before the start it is still forming from the days so far
        let early = base_on(&days, day(0) - Days::new(2)).unwrap();
        assert_eq!((early.steps, early.provisional, early.window_closed), (6500, true, false));
        // with only three valid days before the start they are a provisional baseline, then
        // the window runs on into the program
        days.retain(|d| d.date != day(0) - Days::new(14));
        let b = base(&days, 0).unwrap();
        assert_eq!((b.steps, b.provisional, b.days_used.len()), (6100, true, 3));
        let b = base(&days, 1).unwrap();
        assert_eq!((b.steps, b.provisional, b.days_used.len()), (6300, false, 4));
    }

    #[test]
    fn duplicates_last_wins() {
        let days = [rec(0, 3000), rec(0, 7000)];
        assert_eq!(base(&days, 5).unwrap().steps, 7000);
    }
}
