//! Programs: FitEx miles, program weeks and one member's week.

use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Goal;
use crate::settings::GoalSettings;
use crate::team::MemberWeek;
use crate::validity::{classify, DayRecord};

/// The unit a program counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 1 mile walked, or 15 minutes of moderate-to-vigorous activity.
    #[default]
    FitexMiles,
    Steps,
}

/// How steps and active minutes become FitEx miles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MileRules {
    /// 2,000 steps = 1 mile, *default* (the common US program convention).
    pub steps_per_mile: f64,
    /// 15 minutes of moderate-to-vigorous activity = 1 FitEx mile.
    pub mvpa_minutes_per_mile: f64,
    /// Steps above this count as this many (45,000 = the outlier bound, *default*): a genuine
    /// marathon still counts 22.5 miles, a glitch cannot win the week for its team.
    pub max_counted_steps: i32,
    /// A vigorous minute logged by hand counts this many moderate ones (1, *default*: the same as
    /// a device's "very active" minute, so the two sources count alike; the Physical Activity
    /// Guidelines' 2 is allowed — US HHS 2018). Bounded to 1..=2 where it is read.
    pub vigorous_minute_weight: f64,
}

impl Default for MileRules {
    fn default() -> Self {
        Self {
            steps_per_mile: 2000.0,
            mvpa_minutes_per_mile: 15.0,
            max_counted_steps: 45_000,
            vigorous_minute_weight: 1.0,
        }
    }
}

/// A day's FitEx miles, counted once.
///
/// The device's day counts `max(steps / steps_per_mile, mvpa / mvpa_minutes_per_mile)`: the walking
/// that produced the active minutes is the same walking that produced the steps, so the two are
/// never added. Activity logged by hand (see docs/goals.md, "Manual activity"):
/// - logged while the tracker was worn, the device may already count it as active minutes, so it
///   raises the day's active minutes to the logged ones when those are more, and is never added
///   to them;
/// - logged while the tracker was not worn, no device minute can be the same minute, so it is
///   added: `+ minutes / mvpa_minutes_per_mile`.
///
/// A vigorous minute logged by hand counts `vigorous_minute_weight` moderate ones. Steps are capped
/// at `max_counted_steps`, minutes at 1,440 each; negative values count as 0. Validity does not
/// matter here: a day with too little wear still counts what it recorded and what was logged.
pub fn fitex_miles(day: &DayRecord, rules: &MileRules) -> f64 {
    let steps = f64::from(day.steps.clamp(0, rules.max_counted_steps.max(0)));
    let walking = if rules.steps_per_mile > 0.0 { steps / rules.steps_per_mile } else { 0.0 };
    let weight = rules.vigorous_minute_weight.clamp(1.0, 2.0);
    let (worn_logged, unworn_logged) = day.manual.moderate_equivalent(weight);
    let day_minutes = f64::from(crate::manual::MINUTES_PER_DAY);
    let device = f64::from(day.moderate_vigorous_minutes.clamp(0, crate::manual::MINUTES_PER_DAY));
    let active_minutes = device.max(worn_logged.min(day_minutes));
    let per_mile = |minutes: f64| {
        if rules.mvpa_minutes_per_mile > 0.0 {
            minutes / rules.mvpa_minutes_per_mile
        } else {
            0.0
        }
    };
    walking.max(per_mile(active_minutes)) + per_mile(unworn_logged.min(day_minutes))
}

/// A day's progress in the program unit: FitEx miles, or steps (capped as in [`fitex_miles`]).
pub fn progress_in_unit(day: &DayRecord, unit: Unit, miles: &MileRules) -> f64 {
    match unit {
        Unit::FitexMiles => fitex_miles(day, miles),
        Unit::Steps => f64::from(day.steps.clamp(0, miles.max_counted_steps.max(0))),
    }
}

/// Daily goal converted to the program unit (steps → miles with `steps_per_mile`).
pub fn goal_in_unit(goal_steps: i32, unit: Unit, miles: &MileRules) -> f64 {
    match unit {
        Unit::Steps => f64::from(goal_steps),
        Unit::FitexMiles if miles.steps_per_mile > 0.0 => {
            f64::from(goal_steps) / miles.steps_per_mile
        }
        Unit::FitexMiles => 0.0,
    }
}

/// A program season.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub start_date: NaiveDate,
    /// 8 in FitEx; configuration, not a constant.
    pub weeks: u32,
    pub unit: Unit,
    pub miles: MileRules,
    pub goals: GoalSettings,
    /// A member met their goal for the week on at least this many days (4, *default*).
    pub met_days_per_week: u32,
    /// Hours after the last day during which late syncs and manual entries still count (72,
    /// *default*); see [`Program::grace_deadline`].
    #[serde(default = "default_grace_hours")]
    pub grace_hours: u32,
}

/// The grace period's length when a program does not set one.
pub const DEFAULT_GRACE_HOURS: u32 = 72;

fn default_grace_hours() -> u32 {
    DEFAULT_GRACE_HOURS
}

impl Program {
    /// An 8-week FitEx-miles program with every default.
    pub fn new(start_date: NaiveDate) -> Self {
        Self {
            start_date,
            weeks: 8,
            unit: Unit::FitexMiles,
            miles: MileRules::default(),
            goals: GoalSettings::default(),
            met_days_per_week: 4,
            grace_hours: DEFAULT_GRACE_HOURS,
        }
    }

    /// When the last day has ended everywhere on earth: midnight after it in UTC−12, the last
    /// time zone to finish a date. Participants keep their own zones, so a deadline that is fair to
    /// all of them starts here.
    pub fn last_day_ended(&self) -> DateTime<Utc> {
        let midnight =
            self.end_date().succ_opt().unwrap_or(NaiveDate::MAX).and_time(NaiveTime::MIN);
        Utc.from_utc_datetime(&midnight) + Duration::hours(12)
    }

    /// The end of the grace period: [`grace_hours`](Self::grace_hours) after
    /// [`last_day_ended`](Self::last_day_ended). Until then late syncs and manual entries for
    /// season days count, and entries can be edited; after it the season closes.
    pub fn grace_deadline(&self) -> DateTime<Utc> {
        self.last_day_ended() + Duration::hours(i64::from(self.grace_hours))
    }

    /// First day of a 1-based week (`None` for week 0 or past the program).
    pub fn week_start(&self, week: u32) -> Option<NaiveDate> {
        if week == 0 || week > self.weeks {
            return None;
        }
        self.start_date.checked_add_days(Days::new(u64::from(week - 1) * 7))
    }

    /// Last day of the program.
    pub fn end_date(&self) -> NaiveDate {
        let days = u64::from(self.weeks) * 7;
        self.start_date
            .checked_add_days(Days::new(days.saturating_sub(1)))
            .unwrap_or(NaiveDate::MAX)
    }
}

/// The 1-based program week of `date`; `None` before the start or after the last week.
pub fn program_week(program: &Program, date: NaiveDate) -> Option<u32> {
    let offset = (date - program.start_date).num_days();
    if offset < 0 {
        return None;
    }
    let week = u32::try_from(offset / 7 + 1).ok()?;
    (week <= program.weeks).then_some(week)
}

/// When a participant belonged to a team: from `joined` (inclusive) until `left` (exclusive;
/// `None` = still a member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub joined: NaiveDate,
    pub left: Option<NaiveDate>,
}

impl Membership {
    pub fn is_active(&self, date: NaiveDate) -> bool {
        self.joined <= date && self.left.is_none_or(|left| date < left)
    }
}

/// One member's contribution to a team week: over the days of `week` on which the member
/// belonged to the team, the sum of their daily goals (from `goals`, in the program unit), their
/// counted progress, and the valid days on which their progress in the program unit reached that
/// day's goal in the same unit (so 60 active minutes meet a 3.5-mile goal). A day without a
/// goal in `goals` adds no goal; a day without a record adds no progress. For duplicate records
/// of a date the last wins.
pub fn member_week(
    program: &Program,
    participant_id: i64,
    week: u32,
    days: &[DayRecord],
    goals: &[Goal],
    membership: &Membership,
) -> MemberWeek {
    let mut out = MemberWeek {
        participant_id,
        active_days: 0,
        goal_total: 0.0,
        progress_total: 0.0,
        days_goal_met: 0,
    };
    let Some(start) = program.week_start(week) else {
        return out;
    };
    for date in start.iter_days().take(7) {
        if !membership.is_active(date) {
            continue;
        }
        out.active_days += 1;
        let goal = goals.iter().rev().find(|g| g.effective_date == date);
        if let Some(g) = goal {
            out.goal_total += goal_in_unit(g.steps, program.unit, &program.miles);
        }
        if let Some(day) = days.iter().rev().find(|d| d.date == date) {
            out.progress_total += progress_in_unit(day, program.unit, &program.miles);
            if day_outcome(program, Some(day), goal) == DayOutcome::Met {
                out.days_goal_met += 1;
            }
        }
    }
    out
}

/// A member's week over all their membership periods of one team (a member who left and came
/// back has two): the periods' [`member_week`]s added up, active days at most 7.
pub fn member_week_across(
    program: &Program,
    participant_id: i64,
    week: u32,
    days: &[DayRecord],
    goals: &[Goal],
    memberships: &[Membership],
) -> MemberWeek {
    let mut total = MemberWeek {
        participant_id,
        active_days: 0,
        goal_total: 0.0,
        progress_total: 0.0,
        days_goal_met: 0,
    };
    for membership in memberships {
        let part = member_week(program, participant_id, week, days, goals, membership);
        total.active_days += part.active_days;
        total.goal_total += part.goal_total;
        total.progress_total += part.progress_total;
        total.days_goal_met += part.days_goal_met;
    }
    total.active_days = total.active_days.min(7);
    total
}

/// How one day counts towards the participant's goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayOutcome {
    /// A valid day whose progress in the program unit reached that day's goal in the same unit.
    Met,
    /// A valid day below its goal.
    Missed,
    /// No valid wear record (no record, non-wear, too little wear, an outlier): the day says
    /// nothing about activity, so it is neither met nor missed.
    NoValidWear,
    /// A valid day without a goal (none computed for it yet).
    NoGoal,
}

/// The one rule for "goal met" on a day, as team weeks count it ([`member_week`]): a valid day
/// (see [`classify`]) whose progress in the program unit reached the day's goal in that unit
/// (so 60 active minutes meet a 3.5-mile goal). A day without a valid wear record but with
/// activity logged by hand is met when its progress reached the goal, and says nothing otherwise:
/// the log proves activity, while the missing wear cannot prove its absence.
pub fn day_outcome(program: &Program, day: Option<&DayRecord>, goal: Option<&Goal>) -> DayOutcome {
    let Some(day) = day else { return DayOutcome::NoValidWear };
    let valid = classify(day, &program.goals.validity).is_valid();
    if !valid && day.manual.is_empty() {
        return DayOutcome::NoValidWear;
    }
    let Some(goal) = goal else { return DayOutcome::NoGoal };
    let progress = progress_in_unit(day, program.unit, &program.miles);
    if progress >= goal_in_unit(goal.steps, program.unit, &program.miles) {
        DayOutcome::Met
    } else if valid {
        DayOutcome::Missed
    } else {
        DayOutcome::NoValidWear
    }
}

/// A day's progress against its goal while the day may still be running (the goals API's and the
/// portal's "today"): unlike [`day_outcome`] it does not wait for a valid wear record, since a day
/// in progress rarely has 10 worn hours yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayProgress {
    /// Steps so far (0 without a record).
    pub steps: i32,
    /// Progress in the program unit (0 without a record).
    pub progress: f64,
    /// The day's goal in the program unit; `None` without a goal.
    pub goal: Option<f64>,
    /// `progress / goal` (1.0 = the goal); `None` without a goal above 0.
    pub share_of_goal: Option<f64>,
    /// A goal above 0, and the progress reached it.
    pub goal_met: bool,
}

/// `day`'s progress against `goal` in the program unit (see [`DayProgress`]).
pub fn day_progress(
    program: &Program,
    day: Option<&DayRecord>,
    goal: Option<&Goal>,
) -> DayProgress {
    let progress = day.map_or(0.0, |d| progress_in_unit(d, program.unit, &program.miles));
    let goal = goal.map(|g| goal_in_unit(g.steps, program.unit, &program.miles));
    let positive = goal.filter(|g| *g > 0.0);
    DayProgress {
        steps: day.map_or(0, |d| d.steps),
        progress,
        goal,
        share_of_goal: positive.map(|g| progress / g),
        goal_met: positive.is_some_and(|g| progress >= g),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::manual::ManualMinutes;
    use crate::settings::StrategyKind;

    /// Day `n` of the test calendar (from Monday 2025-03-03).
    pub(crate) fn d(n: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 3).unwrap().checked_add_days(Days::new(n)).unwrap()
    }

    fn day(steps: i32, mvpa: i32) -> DayRecord {
        DayRecord {
            date: d(0),
            steps,
            distance_km: 0.0,
            moderate_vigorous_minutes: mvpa,
            worn_minutes: Some(800),
            no_data: false,
            manual: ManualMinutes::default(),
        }
    }

    fn logged(worn_moderate: i32, worn_vigorous: i32, unworn_moderate: i32) -> ManualMinutes {
        ManualMinutes { worn_moderate, worn_vigorous, unworn_moderate, unworn_vigorous: 0 }
    }

    #[test]
    fn logged_minutes_count_without_counting_a_device_minute_twice() {
        let r = MileRules::default();
        let with = |steps, mvpa, manual| DayRecord { manual, ..day(steps, mvpa) };
        // Not worn: nothing the device saw can be the same minutes, so a 60-minute swim adds 4
        // miles to the 5 walked.
        assert_eq!(fitex_miles(&with(10_000, 60, logged(0, 0, 60)), &r), 9.0);
        // Worn: the device's 60 active minutes may be the same 45 logged ones: nothing is added.
        assert_eq!(fitex_miles(&with(2_000, 60, logged(45, 0, 0)), &r), 4.0);
        // Worn, but the device saw fewer active minutes (cycling moves the wrist little): the
        // logged 90 count instead of the device's 30, never beside them.
        assert_eq!(fitex_miles(&with(2_000, 30, logged(60, 30, 0)), &r), 6.0);
        // Walking still wins when it is more.
        assert_eq!(fitex_miles(&with(16_000, 30, logged(60, 0, 0)), &r), 8.0);
        // A day the provider holds no data for still counts what was logged.
        let no_data = DayRecord { manual: logged(0, 0, 30), ..DayRecord::no_data(d(0)) };
        assert_eq!(fitex_miles(&no_data, &r), 2.0);
        // A vigorous minute counts as one moderate one unless the program weights it.
        let vigorous = DayRecord {
            manual: ManualMinutes { unworn_vigorous: 30, ..ManualMinutes::default() },
            ..day(0, 0)
        };
        assert_eq!(fitex_miles(&vigorous, &r), 2.0);
        let weighted = MileRules { vigorous_minute_weight: 2.0, ..r };
        assert_eq!(fitex_miles(&vigorous, &weighted), 4.0);
        let out_of_bounds = MileRules { vigorous_minute_weight: 50.0, ..r };
        assert_eq!(fitex_miles(&vigorous, &out_of_bounds), 4.0, "the weight is bounded to 2");
        // Logged minutes never count in a steps program.
        assert_eq!(progress_in_unit(&with(3_000, 0, logged(0, 0, 90)), Unit::Steps, &r), 3000.0);
    }

    #[test]
    fn a_logged_activity_can_meet_the_goal_of_a_day_without_valid_wear_but_never_miss_it() {
        let miles = Program::new(d(0));
        let goal = goal_of(0, 7000);
        let unworn =
            |minutes| DayRecord { manual: logged(0, 0, minutes), ..DayRecord::no_data(d(0)) };
        // 3.5 miles = 52.5 minutes.
        assert_eq!(day_outcome(&miles, Some(&unworn(60)), Some(&goal)), DayOutcome::Met);
        assert_eq!(day_outcome(&miles, Some(&unworn(30)), Some(&goal)), DayOutcome::NoValidWear);
        assert_eq!(
            day_outcome(&miles, Some(&DayRecord::no_data(d(0))), Some(&goal)),
            DayOutcome::NoValidWear
        );
        // On a valid day the log adds to the progress that meets or misses the goal.
        let walked = |manual| DayRecord { manual, ..day(4_000, 10) };
        assert_eq!(
            day_outcome(&miles, Some(&walked(logged(0, 0, 0))), Some(&goal)),
            DayOutcome::Missed
        );
        assert_eq!(
            day_outcome(&miles, Some(&walked(logged(0, 0, 30))), Some(&goal)),
            DayOutcome::Met
        );
    }

    #[test]
    fn the_grace_period_starts_when_the_last_day_has_ended_everywhere() {
        let program = Program::new("2026-03-02".parse().unwrap());
        assert_eq!(program.end_date(), "2026-04-26".parse::<NaiveDate>().unwrap());
        let ended = Utc.with_ymd_and_hms(2026, 4, 27, 12, 0, 0).unwrap();
        assert_eq!(program.last_day_ended(), ended, "midnight in UTC-12 is noon UTC");
        assert_eq!(program.grace_deadline(), ended + Duration::hours(72));
        let none = Program { grace_hours: 0, ..program };
        assert_eq!(none.grace_deadline(), ended);
    }

    #[test]
    fn miles_are_counted_once() {
        let r = MileRules::default();
        assert_eq!(fitex_miles(&day(8000, 30), &r), 4.0); // walking wins
        assert_eq!(fitex_miles(&day(2000, 60), &r), 4.0); // a 60-minute swim wins
        assert_eq!(fitex_miles(&day(0, 0), &r), 0.0);
        assert_eq!(fitex_miles(&day(-10, -5), &r), 0.0);
    }

    #[test]
    fn outlier_steps_are_capped_not_dropped() {
        let r = MileRules::default();
        assert_eq!(fitex_miles(&day(60_000, 0), &r), 22.5);
        assert_eq!(fitex_miles(&day(45_000, 0), &r), 22.5);
        assert_eq!(progress_in_unit(&day(60_000, 0), Unit::Steps, &r), 45_000.0);
        assert_eq!(fitex_miles(&day(0, 5000), &r), 96.0); // minutes capped at a day
    }

    #[test]
    fn goal_units() {
        let r = MileRules::default();
        assert_eq!(goal_in_unit(7000, Unit::FitexMiles, &r), 3.5);
        assert_eq!(goal_in_unit(7000, Unit::Steps, &r), 7000.0);
        let zero = MileRules { steps_per_mile: 0.0, ..r };
        assert_eq!(goal_in_unit(7000, Unit::FitexMiles, &zero), 0.0);
    }

    #[test]
    fn weeks() {
        let p = Program::new(d(0));
        assert_eq!(program_week(&p, d(0).pred_opt().unwrap()), None);
        assert_eq!(program_week(&p, d(0)), Some(1));
        assert_eq!(program_week(&p, d(6)), Some(1));
        assert_eq!(program_week(&p, d(7)), Some(2));
        assert_eq!(program_week(&p, d(55)), Some(8));
        assert_eq!(program_week(&p, d(56)), None);
        assert_eq!(p.end_date(), d(55));
        assert_eq!(p.week_start(2), Some(d(7)));
        assert_eq!(p.week_start(0), None);
        assert_eq!(p.week_start(9), None);
    }

    #[test]
    fn member_week_counts_active_days_only() {
        let p = Program { unit: Unit::Steps, ..Program::new(d(0)) };
        let goals: Vec<Goal> = (0..7).map(|n| goal_of(n, 5000)).collect();
        let days: Vec<DayRecord> =
            (0..7).map(|n| DayRecord { date: d(n), ..day(4000 + 500 * n as i32, 0) }).collect();
        let m = Membership { joined: d(2), left: Some(d(6)) };
        let w = member_week(&p, 9, 1, &days, &goals, &m);
        // active on days 2..=5: steps 5000, 5500, 6000, 6500; all meet 5000
        assert_eq!(w.active_days, 4);
        assert_eq!(w.goal_total, 20_000.0);
        assert_eq!(w.progress_total, 23_000.0);
        assert_eq!(w.days_goal_met, 4);
        assert_eq!(member_week(&p, 9, 12, &days, &goals, &m).active_days, 0);
    }

    /// A guideline goal of `steps` for day `n`.
    pub(crate) fn goal_of(n: u64, steps: i32) -> Goal {
        Goal {
            effective_date: d(n),
            steps,
            strategy: StrategyKind::Guideline,
            inputs: vec![],
            citation: "paluch2022".into(),
            provisional: false,
            explanation: String::new(),
        }
    }

    #[test]
    fn a_day_is_met_only_when_valid_and_at_its_goal_in_the_program_unit() {
        let miles = Program::new(d(0));
        let steps = Program { unit: Unit::Steps, ..Program::new(d(0)) };
        let goal = goal_of(0, 7000); // 3.5 miles
        let outcome = |p: &Program, day: Option<DayRecord>, goal: Option<&Goal>| {
            day_outcome(p, day.as_ref(), goal)
        };
        assert_eq!(outcome(&miles, Some(day(7000, 0)), Some(&goal)), DayOutcome::Met);
        assert_eq!(outcome(&miles, Some(day(6990, 0)), Some(&goal)), DayOutcome::Missed);
        // A 60-minute swim is 4 miles: it meets a 3.5-mile goal, but not a 7,000-step one.
        assert_eq!(outcome(&miles, Some(day(2000, 60)), Some(&goal)), DayOutcome::Met);
        assert_eq!(outcome(&steps, Some(day(2000, 60)), Some(&goal)), DayOutcome::Missed);
        // Too little wear, no data, an outlier or no record: neither met nor missed.
        let short = DayRecord { worn_minutes: Some(300), ..day(9000, 0) };
        assert_eq!(outcome(&miles, Some(short), Some(&goal)), DayOutcome::NoValidWear);
        assert_eq!(
            outcome(&miles, Some(DayRecord::no_data(d(0))), Some(&goal)),
            DayOutcome::NoValidWear
        );
        assert_eq!(outcome(&miles, Some(day(50_000, 0)), Some(&goal)), DayOutcome::NoValidWear);
        assert_eq!(outcome(&miles, None, Some(&goal)), DayOutcome::NoValidWear);
        assert_eq!(outcome(&miles, Some(day(9000, 0)), None), DayOutcome::NoGoal);
    }

    #[test]
    fn a_member_who_left_and_came_back_counts_both_periods() {
        let p = Program { unit: Unit::Steps, ..Program::new(d(0)) };
        let goals: Vec<Goal> = (0..7).map(|n| goal_of(n, 5000)).collect();
        let days: Vec<DayRecord> =
            (0..7).map(|n| DayRecord { date: d(n), ..day(6000, 0) }).collect();
        let periods = [
            Membership { joined: d(0), left: Some(d(2)) },
            Membership { joined: d(5), left: None },
        ];
        let w = member_week_across(&p, 9, 1, &days, &goals, &periods);
        assert_eq!((w.active_days, w.days_goal_met), (4, 4));
        assert_eq!((w.goal_total, w.progress_total), (20_000.0, 24_000.0));
        // Overlapping periods never make a week longer than 7 days.
        let twice = [Membership { joined: d(0), left: None }; 2];
        assert_eq!(member_week_across(&p, 9, 1, &days, &goals, &twice).active_days, 7);
    }

    #[test]
    fn a_running_day_shows_its_share_of_the_goal_without_waiting_for_wear() {
        let p = Program::new(d(0));
        let goal = goal_of(0, 8000); // 4 miles
        let morning = DayRecord { worn_minutes: Some(200), ..day(3000, 0) };
        let progress = day_progress(&p, Some(&morning), Some(&goal));
        assert_eq!((progress.steps, progress.progress, progress.goal), (3000, 1.5, Some(4.0)));
        assert_eq!(progress.share_of_goal, Some(0.375));
        assert!(!progress.goal_met);
        assert!(day_progress(&p, Some(&day(8000, 0)), Some(&goal)).goal_met);
        let nothing = day_progress(&p, None, None);
        assert_eq!((nothing.steps, nothing.goal, nothing.share_of_goal), (0, None, None));
        assert!(!day_progress(&p, Some(&day(10, 0)), Some(&goal_of(0, 0))).goal_met);
    }
}
