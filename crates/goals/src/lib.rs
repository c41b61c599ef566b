//! FitEx Sync's goal engine: a pure library (no I/O, no async).
//!
//! - [`classify`] decides whether a stored day is *valid* (worn long enough, plausible);
//! - [`baseline`] is the median of the valid days at the start of a program;
//! - [`goals_between`] computes each day's individual step goal with one of four [`Strategy`]s;
//! - [`program`] converts days and goals to FitEx miles and places dates in program weeks;
//! - [`team`] aggregates members into team weeks and ranks teams by percent of goal;
//! - [`close`] is a season's close: when it is due, its final week, an operator's correction;
//! - [`manual`] is activity logged by hand: the kinds, the checks on an entry, a day's minutes;
//! - [`season`] is one participant's season: each day against its goal, streaks, the week in
//!   FitEx miles.
//!
//! Every rule, default and citation is described in `docs/goals.md`.

mod baseline;
mod engine;
mod settings;
mod stats;
mod text;
mod validity;

pub mod citations;
pub mod close;
pub mod manual;
pub mod program;
pub mod season;
pub mod team;

pub use baseline::{baseline, Baseline, BaselineRules};
pub use close::{corrected_week, due_to_close, final_week, CorrectionNote, CorrectionProblem};
pub use engine::{goals_between, Goal};
pub use settings::{
    age_target, next_activity_level, AdaptivePercentile, GoalSettings, Guideline,
    ParticipantGoalInput, SelfChosen, SettingsError, Strategy, StrategyKind, UnknownStrategy,
    WeeklyIncrement, ACTIVITY_LEVELS, AGE_TARGET_60_AND_OVER, AGE_TARGET_UNDER_60, MAX_ROUND_TO,
    MAX_SETTING_DAYS, MAX_SETTING_STEPS,
};
pub use stats::{median, percentile_linear, round_to};
pub use text::thousands;
pub use validity::{classify, DayRecord, Validity, ValidityRules};

pub use manual::{
    ActivityKind, EntryContext, EntryForm, EntryProblem, Intensity, ManualEntry, ManualMinutes,
};
pub use program::{
    day_outcome, day_progress, fitex_miles, goal_in_unit, member_week, member_week_across,
    program_week, progress_in_unit, DayOutcome, DayProgress, Membership, MileRules, Program, Unit,
    DEFAULT_GRACE_HOURS,
};
pub use season::{my_week, season_days, streaks, MyWeek, SeasonDay, Streaks};
pub use team::{
    latest_week, leaderboard, required_met_days, team_week, LeaderboardEntry, MemberWeek, TeamWeek,
};
