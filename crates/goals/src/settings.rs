//! Goal strategies and their settings (stored by programs as JSON).

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

impl GoalSettings {
    /// Checks that the settings make sense (the engine copes with anything, but a program
    /// should not be saved with, say, a percentile of 160).
    pub fn validate(&self) -> Result<(), SettingsError> {
        let v = &self.validity;
        if v.non_wear_below_steps > v.outlier_above_steps {
            return Err(SettingsError::Invalid("validity: non-wear threshold above outlier"));
        }
        if self.baseline.min_valid_days == 0 {
            return Err(SettingsError::Invalid("baseline: min_valid_days must be at least 1"));
        }
        match &self.strategy {
            Strategy::AdaptivePercentile(a) => {
                if !(0.0..=100.0).contains(&a.percentile) {
                    return Err(SettingsError::Invalid("adaptive: percentile must be 0-100"));
                }
                if a.window_valid_days == 0 || a.lookback_calendar_days <= 0 {
                    return Err(SettingsError::Invalid("adaptive: empty window"));
                }
                if a.min_valid_in_lookback == 0 {
                    return Err(SettingsError::Invalid("adaptive: min_valid_in_lookback is 0"));
                }
                if a.round_to < 1 {
                    return Err(SettingsError::Invalid("adaptive: round_to must be at least 1"));
                }
                if a.ceiling.is_some_and(|c| c < a.floor) {
                    return Err(SettingsError::Invalid("adaptive: ceiling below floor"));
                }
            }
            Strategy::WeeklyIncrement(w) => {
                if w.increment < 0 || w.max_total_increase < 0 {
                    return Err(SettingsError::Invalid("increment: negative increment or cap"));
                }
                if w.round_to < 1 {
                    return Err(SettingsError::Invalid("increment: round_to must be at least 1"));
                }
                if w.step_back_below_met_days > w.met_days_to_advance || w.met_days_to_advance > 7 {
                    return Err(SettingsError::Invalid("increment: met-day thresholds"));
                }
            }
            Strategy::Guideline(Guideline::Fixed { steps }) if *steps <= 0 => {
                return Err(SettingsError::Invalid("guideline: fixed steps must be positive"));
            }
            Strategy::SelfChosen(s) if s.round_to < 1 => {
                return Err(SettingsError::Invalid("self-chosen: round_to must be at least 1"));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Settings rejected by [`GoalSettings::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid goal settings: {0}")]
    Invalid(&'static str),
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
    /// The name recorded in [`crate::Goal::strategy`].
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::AdaptivePercentile(_) => "adaptive_percentile",
            Strategy::WeeklyIncrement(_) => "weekly_increment",
            Strategy::Guideline(_) => "guideline",
            Strategy::SelfChosen(_) => "self_chosen",
        }
    }
}

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
        let all = [
            Strategy::default(),
            Strategy::WeeklyIncrement(WeeklyIncrement::default()),
            Strategy::Guideline(Guideline::Fixed { steps: 7000 }),
            Strategy::Guideline(Guideline::AgeTarget),
            Strategy::Guideline(Guideline::NextActivityLevel),
            Strategy::SelfChosen(SelfChosen::default()),
        ];
        for strategy in all {
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
}
