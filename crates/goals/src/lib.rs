//! FitEx Sync's goal engine: a pure library (no I/O, no async).
//!
//! - [`classify`] decides whether a stored day is *valid* (worn long enough, plausible);
//! - [`baseline`] is the median of the valid days at the start of a program;
//! - [`goals_between`] computes each day's individual step goal with one of four [`Strategy`]s;
//! - [`program`] converts days and goals to FitEx miles and places dates in program weeks;
//! - [`team`] aggregates members into team weeks and ranks teams by percent of goal.
//!
//! Every rule, default and citation is described in `docs/goals.md`.

mod baseline;
mod engine;
mod settings;
mod stats;
mod text;
mod validity;

pub mod program;
pub mod team;

pub use baseline::{baseline, Baseline, BaselineRules};
pub use engine::{goals_between, Goal};
pub use settings::{
    age_target, next_activity_level, AdaptivePercentile, GoalSettings, Guideline,
    ParticipantGoalInput, SelfChosen, SettingsError, Strategy, WeeklyIncrement, ACTIVITY_LEVELS,
    AGE_TARGET_60_AND_OVER, AGE_TARGET_UNDER_60, MAX_ROUND_TO, MAX_SETTING_DAYS, MAX_SETTING_STEPS,
};
pub use stats::{median, percentile_linear, round_to};
pub use validity::{classify, DayRecord, Validity, ValidityRules};

pub use program::{
    fitex_miles, goal_in_unit, member_week, program_week, progress_in_unit, Membership, MileRules,
    Program, Unit,
};
pub use team::{leaderboard, required_met_days, team_week, LeaderboardEntry, MemberWeek, TeamWeek};

/// Citation keys recorded in [`Goal::citation`]; the full references are in `docs/goals.md`.
pub mod citations {
    /// Adams et al., PLoS ONE 2013;8:e82901 and BMC Public Health 2017;17:286 (adaptive goals).
    pub const ADAMS_2013: &str = "adams2013";
    /// Tudor-Locke, Curr Cardiovasc Risk Rep 2010;4:271-276 (+3,000–4,000 steps ≈ 30 minutes).
    pub const TUDOR_LOCKE_2010: &str = "tudorlocke2010";
    /// Paluch et al., Lancet Public Health 2022;7:e219-e228 (steps and mortality, age plateaus).
    pub const PALUCH_2022: &str = "paluch2022";
    /// Tudor-Locke et al., Med Sci Sports Exerc 2008;40:S537-43 (step-defined activity levels).
    pub const TUDOR_LOCKE_2008: &str = "tudorlocke2008";
    /// ENGAGE trial, JAMA Cardiology 2021 (self-chosen goals set immediately).
    pub const ENGAGE_2021: &str = "engage2021";
}
