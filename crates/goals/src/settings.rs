//! Goal strategies and their settings (stored by programs as JSON).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::baseline::BaselineRules;
use crate::validity::ValidityRules;

/// Age target for participants under 60 (lower end of the Paluch 2022 plateau).
pub const AGE_TARGET_UNDER_60: i32 = 8000;
/// Age target for participants 60 and over.
pub const AGE_TARGET_60_AND_OVER: i32 = 7000;
/// Tudor-Locke 2008 step-defined activity levels: the lower bounds of low active, somewhat
/// active, active and highly active.
pub const ACTIVITY_LEVELS: [i32; 4] = [5000, 7500, 10_000, 12_500];

/// 8,000 steps under 60, 7,000 at 60 and over; unknown age → 8,000.
pub fn age_target(age: Option<u32>) -> i32 {
    match age {
        Some(a) if a >= 60 => AGE_TARGET_60_AND_OVER,
        _ => AGE_TARGET_UNDER_60,
    }
}

/// The first Tudor-Locke level strictly above `baseline_steps`; `None` at 12,500 and above.
pub fn next_activity_level(baseline_steps: i32) -> Option<i32> {
    ACTIVITY_LEVELS.iter().copied().find(|&level| level > baseline_steps)
}

/// Everything a program configures about individual goals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct GoalSettings {
    pub validity: ValidityRules,
    pub baseline: BaselineRules,
    pub strategy: Strategy,
}

/// The most steps any step setting may hold (a floor, ceiling, increment, cap or threshold):
/// far above any daily goal (the outlier bound defaults to 45,000), far below `i32` overflow.
pub const MAX_SETTING_STEPS: i32 = 100_000;
/// The largest `round_to`.
pub const MAX_ROUND_TO: i32 = 10_000;
/// The longest window, lookback or count of days a setting may hold.
pub const MAX_SETTING_DAYS: i64 = 366;

impl GoalSettings {
    /// Checks that the settings make sense and stay within sane bounds ([`MAX_SETTING_STEPS`],
    /// [`MAX_ROUND_TO`], [`MAX_SETTING_DAYS`]), so that no goal can overflow. The engine copes with
    /// anything without panicking, but a program should not be saved with, say, a percentile of
    /// 160 or an increment of 2 billion steps.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let v = &self.validity;
        within("validity.min_worn_minutes", v.min_worn_minutes, 0, 1440)?;
        steps("validity.min_steps_without_heart_rate", v.min_steps_without_heart_rate)?;
        steps("validity.non_wear_below_steps", v.non_wear_below_steps)?;
        steps("validity.outlier_above_steps", v.outlier_above_steps)?;
        if v.non_wear_below_steps > v.outlier_above_steps {
            return Err(SettingsError::Invalid("validity: non-wear threshold above outlier"));
        }
        let b = &self.baseline;
        within("baseline.window_days", b.window_days, 1, MAX_SETTING_DAYS)?;
        within("baseline.min_valid_days", b.min_valid_days, 1, MAX_SETTING_DAYS)?;
        steps("baseline.goal_without_baseline", b.goal_without_baseline)?;
        match &self.strategy {
            Strategy::AdaptivePercentile(a) => {
                if !(0.0..=100.0).contains(&a.percentile) {
                    return Err(SettingsError::Invalid("adaptive: percentile must be 0-100"));
                }
                within("strategy.window_valid_days", a.window_valid_days, 1, MAX_SETTING_DAYS)?;
                within(
                    "strategy.lookback_calendar_days",
                    a.lookback_calendar_days,
                    1,
                    MAX_SETTING_DAYS,
                )?;
                within(
                    "strategy.min_valid_in_lookback",
                    a.min_valid_in_lookback,
                    1,
                    MAX_SETTING_DAYS,
                )?;
                within("strategy.round_to", a.round_to, 1, MAX_ROUND_TO)?;
                steps("strategy.floor", a.floor)?;
                if let Some(ceiling) = a.ceiling {
                    steps("strategy.ceiling", ceiling)?;
                    if ceiling < a.floor {
                        return Err(SettingsError::Invalid("adaptive: ceiling below floor"));
                    }
                }
            }
            Strategy::WeeklyIncrement(w) => {
                steps("strategy.increment", w.increment)?;
                steps("strategy.max_total_increase", w.max_total_increase)?;
                within("strategy.round_to", w.round_to, 1, MAX_ROUND_TO)?;
                if w.step_back_below_met_days > w.met_days_to_advance || w.met_days_to_advance > 7 {
                    return Err(SettingsError::Invalid("increment: met-day thresholds"));
                }
            }
            Strategy::Guideline(Guideline::Fixed { steps: fixed }) => {
                within("strategy.steps", *fixed, 1, i64::from(MAX_SETTING_STEPS))?;
            }
            Strategy::Guideline(_) => {}
            Strategy::SelfChosen(s) => within("strategy.round_to", s.round_to, 1, MAX_ROUND_TO)?,
        }
        Ok(())
    }
}

/// `value` in `min..=max`, else [`SettingsError::OutOfRange`] naming the setting.
fn within<T>(
    setting: &'static str,
    value: T,
    min: impl Into<i64>,
    max: impl Into<i64>,
) -> Result<(), SettingsError>
where
    T: TryInto<i64> + Copy,
{
    let (min, max) = (min.into(), max.into());
    // Above i64 (only a huge usize) is out of range too.
    let value = value.try_into().unwrap_or(i64::MAX);
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(SettingsError::OutOfRange { setting, value, min, max })
    }
}

/// A number of steps: 0 to [`MAX_SETTING_STEPS`].
fn steps(setting: &'static str, value: i32) -> Result<(), SettingsError> {
    within(setting, value, 0, MAX_SETTING_STEPS)
}

/// Settings rejected by [`GoalSettings::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid goal settings: {0}")]
    Invalid(&'static str),
    /// A number outside its sane bounds (for example an increment near `i32::MAX`).
    #[error("invalid goal settings: {setting} is {value}; it must be between {min} and {max}")]
    OutOfRange { setting: &'static str, value: i64, min: i64, max: i64 },
}

/// How individual goals are set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    AdaptivePercentile(AdaptivePercentile),
    WeeklyIncrement(WeeklyIncrement),
    Guideline(Guideline),
    SelfChosen(SelfChosen),
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::AdaptivePercentile(AdaptivePercentile::default())
    }
}

impl Strategy {
    /// Which strategy this is, as recorded in [`crate::Goal::strategy`].
    pub fn kind(&self) -> StrategyKind {
        match self {
            Strategy::AdaptivePercentile(_) => StrategyKind::AdaptivePercentile,
            Strategy::WeeklyIncrement(_) => StrategyKind::WeeklyIncrement,
            Strategy::Guideline(_) => StrategyKind::Guideline,
            Strategy::SelfChosen(_) => StrategyKind::SelfChosen,
        }
    }

    /// The name recorded in [`crate::Goal::strategy`] ([`StrategyKind::as_str`]).
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// Which strategy set a goal ([`crate::Goal::strategy`]), without its settings. Its name
/// ([`StrategyKind::as_str`], also its serde form and its `Display`) is what `goal_history.strategy`
/// stores and `GoalChanged.strategy` carries: "adaptive_percentile", "weekly_increment",
/// "guideline" or "self_chosen" (the same as [`Strategy`]'s `kind` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    AdaptivePercentile,
    WeeklyIncrement,
    Guideline,
    SelfChosen,
}

impl StrategyKind {
    /// Every kind, in the order of [`Strategy`]'s variants.
    pub const ALL: [StrategyKind; 4] = [
        StrategyKind::AdaptivePercentile,
        StrategyKind::WeeklyIncrement,
        StrategyKind::Guideline,
        StrategyKind::SelfChosen,
    ];

    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::AdaptivePercentile => "adaptive_percentile",
            StrategyKind::WeeklyIncrement => "weekly_increment",
            StrategyKind::Guideline => "guideline",
            StrategyKind::SelfChosen => "self_chosen",
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StrategyKind {
    type Err = UnknownStrategy;

    /// The inverse of [`StrategyKind::as_str`] (reading `goal_history.strategy` back).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        StrategyKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownStrategy(name.to_owned()))
    }
}

/// A strategy name that is none of [`StrategyKind`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown goal strategy {0:?}")]
pub struct UnknownStrategy(pub String);

/// Daily adaptive goal: a percentile of the recent valid days (Adams 2013/2017).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdaptivePercentile {
    /// 60.
    pub percentile: f64,
    /// The last 9 valid days.
    pub window_valid_days: usize,
    /// ...within the last 21 calendar days.
    pub lookback_calendar_days: i64,
    /// At least 5 valid days in the lookback, else the previous goal carries over.
    pub min_valid_in_lookback: usize,
    /// 10, *default*.
    pub round_to: i32,
    /// 1,000, *default*.
    pub floor: i32,
    /// None, *default*.
    pub ceiling: Option<i32>,
    /// Also cap at the participant's age target (8,000 / 7,000). false, *default*.
    pub ceiling_at_age_target: bool,
}

impl Default for AdaptivePercentile {
    fn default() -> Self {
        Self {
            percentile: 60.0,
            window_valid_days: 9,
            lookback_calendar_days: 21,
            min_valid_in_lookback: 5,
            round_to: 10,
            floor: 1000,
            ceiling: None,
            ceiling_at_age_target: false,
        }
    }
}

impl AdaptivePercentile {
    /// The effective ceiling for a participant.
    pub fn ceiling_for(&self, age: Option<u32>) -> Option<i32> {
        let age_cap = self.ceiling_at_age_target.then(|| age_target(age));
        match (self.ceiling, age_cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .map(|c| c.max(self.floor))
    }
}

/// Baseline plus a weekly increment while the goal is met (Tudor-Locke 2010).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeeklyIncrement {
    /// 500 steps/day per week, *default*.
    pub increment: i32,
    /// Advance when last week's goal was met on at least 4 valid days of 7.
    pub met_days_to_advance: u32,
    /// Step back one increment when it was met on fewer than 2 days.
    pub step_back_below_met_days: u32,
    /// At most +3,000 over the baseline.
    pub max_total_increase: i32,
    /// 100.
    pub round_to: i32,
    /// Never above the age target, unless the baseline is already above it. true.
    pub cap_at_age_target: bool,
}

impl Default for WeeklyIncrement {
    fn default() -> Self {
        Self {
            increment: 500,
            met_days_to_advance: 4,
            step_back_below_met_days: 2,
            max_total_increase: 3000,
            round_to: 100,
            cap_at_age_target: true,
        }
    }
}

/// A goal from the guidelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum Guideline {
    /// The same number for everyone (7,000 in the Penn trials; or 10,000).
    Fixed { steps: i32 },
    /// 8,000 under 60, 7,000 at 60 and over (Paluch 2022).
    #[default]
    AgeTarget,
    /// The next Tudor-Locke level above the baseline: 5,000 / 7,500 / 10,000 / 12,500.
    NextActivityLevel,
}

/// Baseline plus the increase the participant chose ([`ParticipantGoalInput`]); ENGAGE 2021.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SelfChosen {
    /// 100, *default*.
    pub round_to: i32,
}

impl Default for SelfChosen {
    fn default() -> Self {
        Self { round_to: 100 }
    }
}

/// What the engine needs to know about the participant beyond their days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ParticipantGoalInput {
    pub age: Option<u32>,
    /// Steps/day over baseline, chosen by the participant (self-chosen strategy).
    pub self_chosen_increase: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each strategy, and each guideline target.
    fn every_strategy() -> [Strategy; 6] {
        [
            Strategy::default(),
            Strategy::WeeklyIncrement(WeeklyIncrement::default()),
            Strategy::Guideline(Guideline::Fixed { steps: 7000 }),
            Strategy::Guideline(Guideline::AgeTarget),
            Strategy::Guideline(Guideline::NextActivityLevel),
            Strategy::SelfChosen(SelfChosen::default()),
        ]
    }

    #[test]
    fn age_targets_and_levels() {
        assert_eq!(age_target(None), 8000);
        assert_eq!(age_target(Some(59)), 8000);
        assert_eq!(age_target(Some(60)), 7000);
        assert_eq!(next_activity_level(0), Some(5000));
        assert_eq!(next_activity_level(4999), Some(5000));
        assert_eq!(next_activity_level(5000), Some(7500));
        assert_eq!(next_activity_level(9999), Some(10_000));
        assert_eq!(next_activity_level(12_499), Some(12_500));
        assert_eq!(next_activity_level(12_500), None);
    }

    #[test]
    fn ceilings() {
        let mut a = AdaptivePercentile::default();
        assert_eq!(a.ceiling_for(Some(70)), None);
        a.ceiling_at_age_target = true;
        assert_eq!(a.ceiling_for(Some(70)), Some(7000));
        a.ceiling = Some(6000);
        assert_eq!(a.ceiling_for(Some(30)), Some(6000));
        a.ceiling = Some(500); // below the floor: the floor wins
        assert_eq!(a.ceiling_for(None), Some(1000));
    }

    #[test]
    fn settings_json_round_trip() {
        for strategy in every_strategy() {
            let s = GoalSettings { strategy, ..GoalSettings::default() };
            let json = serde_json::to_string(&s).unwrap();
            let back: GoalSettings = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s, "{json}");
            assert!(s.validate().is_ok());
        }
        let json = r#"{"strategy":{"kind":"guideline","target":"fixed","steps":7000}}"#;
        let s: GoalSettings = serde_json::from_str(json).unwrap();
        assert_eq!(s.strategy, Strategy::Guideline(Guideline::Fixed { steps: 7000 }));
        assert_eq!(s.validity, ValidityRules::default());
        let s: GoalSettings =
            serde_json::from_str(r#"{"strategy":{"kind":"adaptive_percentile","floor":2000}}"#)
                .unwrap();
        match s.strategy {
            Strategy::AdaptivePercentile(a) => {
                assert_eq!((a.floor, a.window_valid_days), (2000, 9))
            }
            other => panic!("{other:?}"),
        }
        let default: GoalSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(default, GoalSettings::default());
    }

    /// `goal_history.strategy` and `GoalChanged.strategy` hold these exact names: changing one is
    /// a change of the stored and published formats.
    #[test]
    fn strategy_names_are_pinned() {
        let pinned = [
            (StrategyKind::AdaptivePercentile, "adaptive_percentile"),
            (StrategyKind::WeeklyIncrement, "weekly_increment"),
            (StrategyKind::Guideline, "guideline"),
            (StrategyKind::SelfChosen, "self_chosen"),
        ];
        assert_eq!(pinned.map(|(kind, _)| kind), StrategyKind::ALL);
        for (kind, name) in pinned {
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<StrategyKind>(&format!("\"{name}\"")).unwrap(), kind);
            assert_eq!(name.parse::<StrategyKind>(), Ok(kind));
        }
        assert_eq!(
            "guideline_age".parse::<StrategyKind>(),
            Err(UnknownStrategy("guideline_age".into()))
        );
        // each strategy's kind is also its settings' `kind` tag
        for strategy in every_strategy() {
            let tag = serde_json::to_value(&strategy).unwrap()["kind"].clone();
            assert_eq!(tag, strategy.kind().as_str(), "{strategy:?}");
            assert_eq!(strategy.name(), strategy.kind().as_str());
        }
    }

    #[test]
    fn validation() {
        let bad = |strategy| GoalSettings { strategy, ..GoalSettings::default() }.validate();
        let a = AdaptivePercentile { percentile: 160.0, ..AdaptivePercentile::default() };
        assert!(bad(Strategy::AdaptivePercentile(a)).is_err());
        let a = AdaptivePercentile { ceiling: Some(10), ..AdaptivePercentile::default() };
        assert!(bad(Strategy::AdaptivePercentile(a)).is_err());
        let w = WeeklyIncrement { met_days_to_advance: 8, ..WeeklyIncrement::default() };
        assert!(bad(Strategy::WeeklyIncrement(w)).is_err());
        assert!(bad(Strategy::Guideline(Guideline::Fixed { steps: 0 })).is_err());
        let e = bad(Strategy::SelfChosen(SelfChosen { round_to: 0 })).unwrap_err();
        assert!(e.to_string().contains("round_to"));
    }

    /// Increments and caps near `i32::MAX` used to pass and then overflow in the engine.
    #[test]
    fn validation_bounds_every_number() {
        let bad = |strategy| GoalSettings { strategy, ..GoalSettings::default() }.validate();
        let w = WeeklyIncrement { increment: i32::MAX - 1000, ..WeeklyIncrement::default() };
        let e = bad(Strategy::WeeklyIncrement(w)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid goal settings: strategy.increment is 2147482647; it must be between 0 and \
             100000"
        );
        let w = WeeklyIncrement { max_total_increase: i32::MAX, ..WeeklyIncrement::default() };
        let e = bad(Strategy::WeeklyIncrement(w)).unwrap_err();
        assert_eq!(
            e,
            SettingsError::OutOfRange {
                setting: "strategy.max_total_increase",
                value: i64::from(i32::MAX),
                min: 0,
                max: 100_000
            }
        );
        let w = WeeklyIncrement { round_to: i32::MAX, ..WeeklyIncrement::default() };
        assert!(bad(Strategy::WeeklyIncrement(w)).is_err());
        let edge = WeeklyIncrement {
            increment: MAX_SETTING_STEPS,
            max_total_increase: MAX_SETTING_STEPS,
            round_to: MAX_ROUND_TO,
            ..WeeklyIncrement::default()
        };
        assert_eq!(bad(Strategy::WeeklyIncrement(edge)), Ok(()));
        let a = AdaptivePercentile { floor: -1, ..AdaptivePercentile::default() };
        assert!(bad(Strategy::AdaptivePercentile(a)).is_err());
        let a = AdaptivePercentile { ceiling: Some(i32::MAX), ..AdaptivePercentile::default() };
        assert!(bad(Strategy::AdaptivePercentile(a)).is_err());
        let a =
            AdaptivePercentile { window_valid_days: usize::MAX, ..AdaptivePercentile::default() };
        assert!(bad(Strategy::AdaptivePercentile(a)).is_err());
        let a = AdaptivePercentile { percentile: f64::NAN, ..AdaptivePercentile::default() };
        assert!(bad(Strategy::AdaptivePercentile(a)).is_err());
        assert!(bad(Strategy::Guideline(Guideline::Fixed { steps: i32::MAX })).is_err());
        let mut s = GoalSettings::default();
        s.baseline.goal_without_baseline = i32::MIN;
        assert!(s.validate().unwrap_err().to_string().contains("baseline.goal_without_baseline"));
        let mut s = GoalSettings::default();
        s.validity.outlier_above_steps = i32::MAX;
        assert!(s.validate().is_err());
    }
}
