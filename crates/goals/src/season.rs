//! A participant's own season as they see it: each day against its goal, their streaks of days
//! with the goal met, and their week in FitEx miles.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::engine::Goal;
use crate::program::{day_outcome, member_week_across, DayOutcome, Membership, Program, Unit};
use crate::team::required_met_days;
use crate::validity::{classify, DayRecord, Validity};

/// One day of a participant's season, for a chart of steps against the goal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeasonDay {
    pub date: NaiveDate,
    /// The stored steps; `None` without a stored record.
    pub steps: Option<i32>,
    /// The day's goal in steps; `None` when none was computed.
    pub goal_steps: Option<i32>,
    /// The stored record's verdict ([`classify`]); `None` without a stored record.
    pub validity: Option<Validity>,
    pub outcome: DayOutcome,
    /// Minutes logged by hand for the day, all entries together (0: none).
    pub logged_minutes: i32,
}

/// Every day of the season from its start through `through` (at most its last day), in date
/// order, each with its stored record's steps and verdict and its goal. For duplicate records or
/// goals of a date the last wins.
pub fn season_days(
    program: &Program,
    days: &[DayRecord],
    goals: &[Goal],
    through: NaiveDate,
) -> Vec<SeasonDay> {
    let last = through.min(program.end_date());
    program
        .start_date
        .iter_days()
        .take_while(|date| *date <= last)
        .map(|date| {
            let day = days.iter().rev().find(|d| d.date == date);
            let goal = goals.iter().rev().find(|g| g.effective_date == date);
            SeasonDay {
                date,
                steps: day.map(|d| d.steps),
                goal_steps: goal.map(|g| g.steps),
                validity: day.map(|d| classify(d, &program.goals.validity)),
                outcome: day_outcome(program, day, goal),
                logged_minutes: day.map_or(0, |d| d.manual.total()),
            }
        })
        .collect()
}

/// Runs of days with the goal met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Streaks {
    /// Days met in the run that is still going (0 when the last counted day missed).
    pub current: u32,
    /// Days met in the longest run so far (the current one included).
    pub longest: u32,
}

/// The current and longest runs of days with the goal met, from `outcomes` in date order
/// (through the last day so far). A missed day ends a run. A day without a valid wear record, or
/// without a goal, neither ends nor lengthens one: it says nothing about activity (the engine
/// counts only valid days; a forgotten charger is not a missed goal). With `last_day_running`,
/// a missed last day (today, not over yet) does not end the current run either.
pub fn streaks(outcomes: &[DayOutcome], last_day_running: bool) -> Streaks {
    let mut run = 0;
    let mut longest = 0;
    let last = outcomes.len().saturating_sub(1);
    for (index, outcome) in outcomes.iter().enumerate() {
        match outcome {
            DayOutcome::Met => {
                run += 1;
                longest = longest.max(run);
            }
            DayOutcome::Missed if last_day_running && index == last => {}
            DayOutcome::Missed => run = 0,
            DayOutcome::NoValidWear | DayOutcome::NoGoal => {}
        }
    }
    Streaks { current: run, longest }
}

/// A participant's program week, in FitEx miles whatever the program's unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MyWeek {
    pub week: u32,
    /// FitEx miles counted over the week's days so far on the team.
    pub miles: f64,
    /// The sum of the daily goals of those days, in FitEx miles.
    pub goal_miles: f64,
    /// Days of the week on the team (0–7).
    pub active_days: u32,
    /// Days the goal was met, as the team week counts them (in the program unit).
    pub days_goal_met: u32,
    /// Days needed to meet the week's goal: `met_days_per_week`, pro rata to the active days.
    pub days_needed: u32,
}

/// The participant's `week` in FitEx miles ([`member_week_across`] with the program counted in
/// miles), with the met days as their team's week counts them.
pub fn my_week(
    program: &Program,
    participant_id: i64,
    week: u32,
    days: &[DayRecord],
    goals: &[Goal],
    memberships: &[Membership],
) -> MyWeek {
    let in_miles = Program { unit: Unit::FitexMiles, ..program.clone() };
    let miles = member_week_across(&in_miles, participant_id, week, days, goals, memberships);
    let counted = member_week_across(program, participant_id, week, days, goals, memberships);
    MyWeek {
        week,
        miles: miles.progress_total,
        goal_miles: miles.goal_total,
        active_days: counted.active_days,
        days_goal_met: counted.days_goal_met,
        days_needed: required_met_days(program.met_days_per_week, counted.active_days),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::tests::{d, goal_of};
    use crate::program::DayOutcome::{Met, Missed, NoGoal, NoValidWear};

    fn worn(n: u64, steps: i32, mvpa: i32) -> DayRecord {
        DayRecord {
            date: d(n),
            steps,
            distance_km: 0.0,
            moderate_vigorous_minutes: mvpa,
            worn_minutes: Some(800),
            no_data: false,
            manual: Default::default(),
        }
    }

    #[test]
    fn streaks_count_met_days_and_end_at_a_missed_one() {
        assert_eq!(streaks(&[], false), Streaks { current: 0, longest: 0 });
        assert_eq!(streaks(&[Met, Met, Missed, Met], false), Streaks { current: 1, longest: 2 });
        assert_eq!(streaks(&[Met, Met, Met, Missed], false), Streaks { current: 0, longest: 3 });
        assert_eq!(streaks(&[Missed, Met, Met], false), Streaks { current: 2, longest: 2 });
    }

    #[test]
    fn days_without_valid_wear_neither_end_nor_lengthen_a_streak() {
        let outcomes = [Met, NoValidWear, NoValidWear, Met, NoGoal, Met];
        assert_eq!(streaks(&outcomes, false), Streaks { current: 3, longest: 3 });
        assert_eq!(streaks(&[NoValidWear; 4], false), Streaks::default());
    }

    #[test]
    fn today_not_yet_met_does_not_end_the_current_streak() {
        assert_eq!(streaks(&[Met, Met, Missed], true), Streaks { current: 2, longest: 2 });
        assert_eq!(streaks(&[Met, Met, Missed], false).current, 0, "the season is over");
        assert_eq!(streaks(&[Met, Missed, Met], true), Streaks { current: 1, longest: 1 });
        assert_eq!(streaks(&[Met, Met, Met], true).current, 3, "met today counts at once");
    }

    #[test]
    fn season_days_mark_non_wear_and_missing_days_instead_of_zero() {
        let p = Program { weeks: 1, ..Program::new(d(0)) };
        let days = [
            worn(0, 9000, 0),
            DayRecord::no_data(d(1)),
            DayRecord { worn_minutes: Some(300), ..worn(2, 7000, 0) },
            worn(4, 5000, 0),
            worn(9, 8000, 0), // after the season
        ];
        let goals: Vec<Goal> = (0..7).map(|n| goal_of(n, 7000)).collect();
        let season = season_days(&p, &days, &goals, d(20));
        assert_eq!(season.len(), 7, "the season's days only");
        assert_eq!(season[0].outcome, Met);
        assert_eq!((season[1].validity, season[1].outcome), (Some(Validity::NonWear), NoValidWear));
        assert_eq!(season[2].validity, Some(Validity::InsufficientWear));
        assert_eq!(season[2].outcome, NoValidWear);
        assert_eq!((season[3].steps, season[3].validity), (None, None), "no record");
        assert_eq!(season[3].goal_steps, Some(7000));
        assert_eq!(season[4].outcome, Missed);
        assert_eq!(season_days(&p, &days, &goals, d(2)).len(), 3, "through today");
        assert!(season_days(&p, &days, &goals, d(0).pred_opt().unwrap()).is_empty());
    }

    #[test]
    fn my_week_is_in_fitex_miles_whatever_the_program_unit() {
        let p = Program { unit: Unit::Steps, ..Program::new(d(0)) };
        let goals: Vec<Goal> = (0..7).map(|n| goal_of(n, 7000)).collect();
        // A 60-minute swim (4 miles), a walk of 8,000 steps (4 miles), one day not worn.
        let days = [worn(0, 2000, 60), worn(1, 8000, 0), DayRecord::no_data(d(2))];
        let always = [Membership { joined: d(0), left: None }];
        let week = my_week(&p, 9, 1, &days, &goals[..3], &always);
        assert_eq!((week.miles, week.goal_miles), (4.0 + 4.0, 10.5));
        // In a steps program the swim does not meet a 7,000-step goal: 1 met day, of 4 needed.
        assert_eq!((week.days_goal_met, week.days_needed, week.active_days), (1, 4, 7));
        let miles = my_week(&Program::new(d(0)), 9, 1, &days, &goals[..3], &always);
        assert_eq!(miles.days_goal_met, 2, "in a FitEx-miles program the swim meets it");
        // Joined on Thursday: 4 days on the team, ⌈4 × 4 / 7⌉ = 3 needed.
        let late = [Membership { joined: d(3), left: None }];
        let week = my_week(&p, 9, 1, &days, &goals, &late);
        assert_eq!((week.active_days, week.days_needed, week.goal_miles), (4, 3, 14.0));
        assert_eq!(week.miles, 0.0);
    }
}
