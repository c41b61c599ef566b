//! `goals_between`: the goal in force on each date, for every strategy.

use std::ops::Range;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::baseline::{compute, BaselineCore, BaselineRules};
use crate::citations;
use crate::settings::{
    age_target, AdaptivePercentile, GoalSettings, Guideline, ParticipantGoalInput, SelfChosen,
    Strategy, StrategyKind, WeeklyIncrement, ACTIVITY_LEVELS, AGE_TARGET_60_AND_OVER,
};
use crate::stats::{percentile_exact, Exact};
use crate::text::{ordinal, plural, thousands};
use crate::validity::{prepare, DayRecord, ValidDay};

/// One day's goal, with what it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    pub effective_date: NaiveDate,
    pub steps: i32,
    /// The strategy that set it (stored and published as [`StrategyKind::as_str`]).
    pub strategy: StrategyKind,
    /// The valid days the value was computed from, ascending.
    pub inputs: Vec<NaiveDate>,
    /// Citation key (see [`crate::citations`] and `docs/goals.md`).
    pub citation: String,
    /// Computed from too little data (a provisional baseline or none); it will change.
    pub provisional: bool,
    /// One plain sentence a participant can read.
    pub explanation: String,
}

/// The goal in force on each date from `from` through `through` inclusive (one [`Goal`] per
/// date, ascending; empty when `from > through`).
///
/// Deterministic; `days` may be in any order; for duplicate dates the last record wins. Only
/// valid days (see [`crate::classify`]) are used, and only days strictly before a date count
/// for that date's goal. Goals for a date do not depend on `from`: history before `from` is
/// taken into account (carried-over adaptive goals, weekly increments).
pub fn goals_between(
    days: &[DayRecord],
    program_start: NaiveDate,
    settings: &GoalSettings,
    participant: &ParticipantGoalInput,
    from: NaiveDate,
    through: NaiveDate,
) -> Vec<Goal> {
    if from > through {
        return Vec::new();
    }
    let valid = prepare(days, &settings.validity);
    let mut ctx = Ctx {
        valid: &valid,
        baseline: Tracker::new(&valid, program_start, &settings.baseline),
        rules: &settings.baseline,
        participant,
        program_start,
        out: Vec::with_capacity(span(from, through)),
        scratch: Vec::new(),
    };
    match &settings.strategy {
        Strategy::AdaptivePercentile(a) => ctx.adaptive(a, from, through),
        Strategy::WeeklyIncrement(w) => ctx.increment(w, from, through),
        Strategy::Guideline(g) => ctx.guideline(*g, from, through),
        Strategy::SelfChosen(s) => ctx.self_chosen(*s, from, through),
    }
    ctx.out
}

fn span(from: NaiveDate, through: NaiveDate) -> usize {
    usize::try_from((through - from).num_days() + 1).unwrap_or(0)
}

fn dates(from: NaiveDate, through: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= through)
}

fn minus_days(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d.checked_sub_days(Days::new(n as u64)).unwrap_or(NaiveDate::MIN)
    } else {
        d.checked_add_days(Days::new(n.unsigned_abs())).unwrap_or(NaiveDate::MAX)
    }
}

/// The baseline as of successive dates; cached once no later day can change it.
struct Tracker<'a> {
    valid: &'a [ValidDay],
    start: NaiveDate,
    rules: &'a BaselineRules,
    closed: Option<(NaiveDate, Option<BaselineCore>)>,
    scratch: Vec<i32>,
}

impl<'a> Tracker<'a> {
    fn new(valid: &'a [ValidDay], start: NaiveDate, rules: &'a BaselineRules) -> Self {
        Self { valid, start, rules, closed: None, scratch: Vec::new() }
    }

    fn at(&mut self, as_of: NaiveDate) -> Option<BaselineCore> {
        if let Some((since, core)) = &self.closed {
            if as_of >= *since {
                return core.clone();
            }
        }
        let core = compute(self.valid, self.start, self.rules, as_of, &mut self.scratch);
        if core.as_ref().is_some_and(|c| c.window_closed) {
            self.closed = Some((as_of, core.clone()));
        }
        core
    }
}

struct Ctx<'a> {
    valid: &'a [ValidDay],
    baseline: Tracker<'a>,
    rules: &'a BaselineRules,
    participant: &'a ParticipantGoalInput,
    program_start: NaiveDate,
    out: Vec<Goal>,
    scratch: Vec<i32>,
}

/// An adaptive goal actually computed from a window (what carries over).
#[derive(Clone)]
struct Computed {
    steps: i32,
    /// Before floor and ceiling.
    raw: i32,
    inputs: Range<usize>,
    on: NaiveDate,
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments, reason = "a private constructor of the output row")]
    fn push(
        &mut self,
        date: NaiveDate,
        steps: i32,
        strategy: StrategyKind,
        inputs: Vec<NaiveDate>,
        citation: &str,
        provisional: bool,
        explanation: String,
    ) {
        self.out.push(Goal {
            effective_date: date,
            steps,
            strategy,
            inputs,
            citation: citation.to_owned(),
            provisional,
            explanation,
        });
    }

    fn dates_of(&self, range: Range<usize>) -> Vec<NaiveDate> {
        self.valid[range].iter().map(|v| v.date).collect()
    }

    /// Index of the first valid day on or after `d`.
    fn index_at(&self, d: NaiveDate) -> usize {
        self.valid.partition_point(|v| v.date < d)
    }

    // ---------------------------------------------------------------- adaptive percentile

    fn adaptive(&mut self, a: &AdaptivePercentile, from: NaiveDate, through: NaiveDate) {
        let ceiling = a.ceiling_for(self.participant.age);
        let clamp = |x: i32| {
            let x = x.max(a.floor);
            ceiling.map_or(x, |c| x.min(c))
        };
        let lookback = a.lookback_calendar_days.max(1);
        let need = a.min_valid_in_lookback.max(1);
        let window = a.window_valid_days.max(1);

        // The goal that carries into `from`: the latest date before it with enough data.
        let mut last: Option<Computed> = None;
        if let Some(first) = self.valid.first().map(|v| v.date) {
            let mut d = from.pred_opt().unwrap_or(from);
            while d > first && d < from {
                let hi = self.index_at(d);
                let lo = self.index_at(minus_days(d, lookback));
                if hi - lo >= need {
                    last = Some(self.percentile_goal(a, hi.saturating_sub(window).max(lo)..hi, d));
                    break;
                }
                d = d.pred_opt().unwrap_or(first);
            }
        }

        let mut hi = self.index_at(from);
        let mut lo = self.index_at(minus_days(from, lookback));
        let name = StrategyKind::AdaptivePercentile;
        let cite = citations::ADAMS_2013;
        for d in dates(from, through) {
            let low = minus_days(d, lookback);
            while hi < self.valid.len() && self.valid[hi].date < d {
                hi += 1;
            }
            while lo < hi && self.valid[lo].date < low {
                lo += 1;
            }
            if hi - lo >= need {
                let range = hi.saturating_sub(window).max(lo)..hi;
                let c = self.percentile_goal(a, range.clone(), d);
                let bound = if c.raw < a.floor {
                    format!(" (raised to the floor of {})", thousands(a.floor))
                } else if let Some(cap) = ceiling.filter(|&cap| c.raw > cap) {
                    format!(" (capped at {})", thousands(cap))
                } else {
                    String::new()
                };
                let explanation = format!(
                    "Your goal is {} steps: the {} percentile of your last {}{bound}, so it \
                     follows what you have actually been doing and can go down as well as up.",
                    thousands(c.steps),
                    ordinal(a.percentile),
                    plural(range.len(), "valid day"),
                );
                let inputs = self.dates_of(range);
                self.push(d, c.steps, name, inputs, cite, false, explanation);
                last = Some(c);
            } else if let Some(c) = &last {
                let explanation = format!(
                    "Your goal stays at {} steps, as set on {}, because fewer than {} of the \
                     last {} days have a valid wear record.",
                    thousands(c.steps),
                    c.on,
                    plural(need, "day"),
                    lookback,
                );
                let (steps, inputs) = (c.steps, self.dates_of(c.inputs.clone()));
                self.push(d, steps, name, inputs, cite, false, explanation);
            } else {
                match self.baseline.at(d) {
                    Some(b) => {
                        let steps = clamp(b.exact().round_to(a.round_to));
                        let explanation = if b.provisional {
                            format!(
                                "Your provisional goal is {} steps, your baseline so far, until {} \
                                 with a valid wear record give a daily goal of your own.",
                                thousands(steps),
                                plural(need, "day"),
                            )
                        } else {
                            format!(
                                "Your goal is {} steps, your baseline, until {} with a valid \
                                 wear record in the last {lookback} days give a daily goal that \
                                 follows what you do.",
                                thousands(steps),
                                plural(need, "day"),
                            )
                        };
                        let inputs = self.dates_of(b.range);
                        self.push(d, steps, name, inputs, cite, b.provisional, explanation);
                    }
                    None => {
                        let steps = clamp(a.floor);
                        let explanation = format!(
                            "Your provisional goal is {} steps until your tracker has recorded a \
                             full day of wear.",
                            thousands(steps)
                        );
                        self.push(d, steps, name, Vec::new(), cite, true, explanation);
                    }
                }
            }
        }
    }

    fn percentile_goal(
        &mut self,
        a: &AdaptivePercentile,
        range: Range<usize>,
        on: NaiveDate,
    ) -> Computed {
        self.scratch.clear();
        self.scratch.extend(self.valid[range.clone()].iter().map(|v| v.steps));
        self.scratch.sort_unstable();
        let p = percentile_exact(&self.scratch, a.percentile).unwrap_or(Exact::whole(0));
        let raw = p.round_to(a.round_to);
        let ceiling = a.ceiling_for(self.participant.age);
        let mut steps = raw.max(a.floor);
        if let Some(c) = ceiling {
            steps = steps.min(c);
        }
        Computed { steps, raw, inputs: range, on }
    }

    // ---------------------------------------------------------------- weekly increment

    fn increment(&mut self, w: &WeeklyIncrement, from: NaiveDate, through: NaiveDate) {
        let name = StrategyKind::WeeklyIncrement;
        let cite = citations::TUDOR_LOCKE_2010;
        // Settings may hold anything (validate() bounds them): add in i64, saturate to i32 once.
        let age_t = i64::from(age_target(self.participant.age));
        let inc = w.increment.max(0);
        let max_total = i64::from(w.max_total_increase.max(0));
        let start = self.program_start;
        // Level = net number of increments; changes only at week boundaries.
        let mut level: i32 = 0;
        let mut change = Change::Start;
        let mut week_goals = [0i64; 7];
        let mut prev_week: Range<usize> = 0..0;
        for d in dates(from.min(start), through) {
            let offset = (d - start).num_days();
            let in_program = offset >= 0;
            let day_of_week = if in_program { (offset % 7) as usize } else { 0 };
            let base = self.baseline.at(d);
            let base_exact = base.as_ref().map_or_else(
                || Exact::whole(i64::from(self.rules.goal_without_baseline)),
                BaselineCore::exact,
            );
            // The exact median, rounded once.
            let base_r = base_exact.round_to(w.round_to);
            // The age target caps the goal unless the (rounded) baseline is already above it.
            let allowed = if w.cap_at_age_target && i64::from(base_r) <= age_t {
                max_total.min(age_t - i64::from(base_r))
            } else {
                max_total
            }
            .max(0);
            if in_program && offset >= 7 && day_of_week == 0 {
                // A new week: judge last week's goal on its valid days.
                let week_start = minus_days(d, 7);
                let range = self.index_at(week_start)..self.index_at(d);
                let met = self.valid[range.clone()]
                    .iter()
                    .filter(|v| {
                        i64::from(v.steps) >= week_goals[(v.date - week_start).num_days() as usize]
                    })
                    .count() as u32;
                let max_level = if inc > 0 {
                    i32::try_from((allowed + i64::from(inc) - 1) / i64::from(inc))
                        .unwrap_or(i32::MAX)
                } else {
                    0
                };
                change = if met >= w.met_days_to_advance {
                    if level < max_level {
                        level += 1;
                        Change::Advanced(met)
                    } else {
                        level = max_level;
                        Change::AtCap(met)
                    }
                } else if met < w.step_back_below_met_days && level > 0 {
                    level -= 1;
                    Change::SteppedBack(met)
                } else {
                    Change::Held(met)
                };
                prev_week = range;
            }
            let climbed = i64::from(level) * i64::from(inc);
            let added = climbed.min(allowed);
            let steps = i32::try_from(i64::from(base_r) + added).unwrap_or(i32::MAX);
            week_goals[day_of_week] = i64::from(steps);
            if d < from {
                continue;
            }
            let provisional = base.as_ref().is_none_or(|b| b.provisional);
            let advance = w.met_days_to_advance;
            let of_what = match &base {
                Some(b) if b.provisional => "your baseline so far",
                Some(_) => "your baseline",
                None => "a starting goal until your tracker records a full day",
            };
            let start_text = if level == 0 {
                format!("{} steps a day, {of_what}", thousands(steps))
            } else {
                format!(
                    "{} steps a day: {of_what} of {} plus {} of {}",
                    thousands(steps),
                    thousands(base_r),
                    plural(level as usize, "weekly step"),
                    thousands(inc),
                )
            };
            let cap_text = if added < climbed { ", the most it can rise" } else { "" };
            let explanation = match change {
                Change::Start => format!("This week's goal is {start_text}."),
                Change::Advanced(met) => format!(
                    "This week's goal is {start_text}{cap_text}, up because you met last week's \
                     goal on {met} of 7 days."
                ),
                Change::AtCap(met) => format!(
                    "This week's goal is {start_text}, the most it can rise, and you met last \
                     week's goal on {met} of 7 days."
                ),
                Change::Held(met) => format!(
                    "This week's goal stays at {start_text}{cap_text} because you met last \
                     week's goal on {met} of 7 days ({advance} needed to go up)."
                ),
                Change::SteppedBack(met) => format!(
                    "This week's goal goes back one step to {start_text} because you met last \
                     week's goal on only {met} of 7 days."
                ),
            };
            let mut inputs: Vec<NaiveDate> = match &base {
                Some(b) => b.dates(self.valid).collect(),
                None => Vec::new(),
            };
            inputs.extend(self.valid[prev_week.clone()].iter().map(|v| v.date));
            inputs.sort_unstable();
            inputs.dedup();
            self.push(d, steps, name, inputs, cite, provisional, explanation);
        }
    }

    // ---------------------------------------------------------------- guideline

    /// A fixed or age-based target: it rests on none of the participant's days, so it cites the
    /// step-count evidence alone and is final at once.
    fn push_guideline_target(&mut self, date: NaiveDate, steps: i32, explanation: String) {
        let name = StrategyKind::Guideline;
        self.push(date, steps, name, Vec::new(), citations::PALUCH_2022, false, explanation);
    }

    fn guideline(&mut self, g: Guideline, from: NaiveDate, through: NaiveDate) {
        let name = StrategyKind::Guideline;
        let age = self.participant.age;
        for d in dates(from, through) {
            match g {
                Guideline::Fixed { steps } => {
                    let explanation = format!(
                        "Your goal is {} steps a day, the program's goal.",
                        thousands(steps)
                    );
                    self.push_guideline_target(d, steps, explanation);
                }
                Guideline::AgeTarget => {
                    let steps = age_target(age);
                    let explanation = match age {
                        Some(a) if a >= 60 => format!(
                            "Your goal is {} steps a day: at 60 and over, most of the health \
                             benefit of walking is reached by about this many steps.",
                            thousands(steps)
                        ),
                        Some(_) => format!(
                            "Your goal is {} steps a day: under 60, most of the health benefit of \
                             walking is reached by about this many steps.",
                            thousands(steps)
                        ),
                        None => format!(
                            "Your goal is {} steps a day, the target for adults under 60, because \
                             we do not know your age (at 60 and over it would be {}).",
                            thousands(steps),
                            thousands(AGE_TARGET_60_AND_OVER)
                        ),
                    };
                    self.push_guideline_target(d, steps, explanation);
                }
                Guideline::NextActivityLevel => {
                    let cite = citations::TUDOR_LOCKE_2008;
                    match self.baseline.at(d) {
                        Some(b) => {
                            let so_far = if b.provisional { " so far" } else { "" };
                            // Strictly above the exact median (4,999.5 → 5,000, not 7,500).
                            let next = ACTIVITY_LEVELS
                                .iter()
                                .copied()
                                .find(|&level| b.exact().cmp_steps(i64::from(level)).is_lt());
                            let (steps, explanation) = match next {
                                Some(level) => (
                                    level,
                                    format!(
                                        "Your goal is {} steps a day, the next activity level \
                                         above your baseline{so_far} of {}.",
                                        thousands(level),
                                        thousands(b.steps())
                                    ),
                                ),
                                None => {
                                    let keep = b.exact().round_to(100);
                                    (
                                        keep,
                                        format!(
                                            "Your goal is {} steps a day, your baseline{so_far}: \
                                             you are already in the highest activity level, so \
                                             keep it up.",
                                            thousands(keep)
                                        ),
                                    )
                                }
                            };
                            let inputs = b.dates(self.valid).collect();
                            self.push(d, steps, name, inputs, cite, b.provisional, explanation);
                        }
                        None => {
                            let steps = self.rules.goal_without_baseline;
                            let explanation = format!(
                                "Your provisional goal is {} steps a day until your tracker has \
                                 recorded a full day of wear.",
                                thousands(steps)
                            );
                            self.push(d, steps, name, Vec::new(), cite, true, explanation);
                        }
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- self-chosen

    fn self_chosen(&mut self, s: SelfChosen, from: NaiveDate, through: NaiveDate) {
        let name = StrategyKind::SelfChosen;
        let cite = citations::ENGAGE_2021;
        let chosen = self.participant.self_chosen_increase;
        let increase = chosen.unwrap_or(0).max(0);
        for d in dates(from, through) {
            let base = self.baseline.at(d);
            let base_steps = base.as_ref().map_or(self.rules.goal_without_baseline, |b| b.steps());
            let base_exact = base.as_ref().map_or_else(
                || Exact::whole(i64::from(self.rules.goal_without_baseline)),
                BaselineCore::exact,
            );
            // Rounded once, at the end: 6,049.5 + 1,500 = 7,549.5 → 7,500.
            let steps = base_exact.plus(i64::from(increase)).round_to(s.round_to);
            let of_what = match &base {
                Some(b) if b.provisional => {
                    format!("your baseline so far of {}", thousands(b.steps()))
                }
                Some(b) => format!("your baseline of {}", thousands(b.steps())),
                None => format!(
                    "a starting {} until your tracker records a full day",
                    thousands(base_steps)
                ),
            };
            let explanation = match chosen {
                Some(c) if c > 0 => format!(
                    "Your goal is {} steps a day: {of_what} plus the {} you chose.",
                    thousands(steps),
                    thousands(increase)
                ),
                Some(_) => format!(
                    "Your goal is {} steps a day, {of_what}, since the increase you chose is not \
                     above zero.",
                    thousands(steps)
                ),
                None => format!(
                    "Your goal is {} steps a day, {of_what}, because you have not chosen an \
                     increase yet.",
                    thousands(steps)
                ),
            };
            let provisional = base.as_ref().is_none_or(|b| b.provisional);
            let inputs = base.as_ref().map_or_else(Vec::new, |b| b.dates(self.valid).collect());
            self.push(d, steps, name, inputs, cite, provisional, explanation);
        }
    }
}

/// What happened at the last week boundary (for the explanation).
#[derive(Debug, Clone, Copy)]
enum Change {
    Start,
    Advanced(u32),
    AtCap(u32),
    Held(u32),
    SteppedBack(u32),
}
