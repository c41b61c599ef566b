//! Property tests: bounds over the whole settings space, invalid days, determinism and input
//! order.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use fitex_goals::Strategy;
use fitex_goals::*;
use proptest::prelude::*;
use proptest::strategy::Strategy as Gen;

fn d(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 6).unwrap().checked_add_days(Days::new(n)).unwrap()
}

const START: u64 = 20;

/// Up to 80 days of history with unique dates: mostly plausible days, some invalid ones.
fn history() -> impl Gen<Value = Vec<DayRecord>> {
    let day = (
        prop_oneof![
            6 => 1000i32..20_000,
            1 => -50i32..150,
            1 => 40_000i32..80_000,
        ],
        prop_oneof![4 => (0i32..1440).prop_map(Some), 1 => Just(None)],
        0i32..200,
    );
    prop::collection::btree_map(0u64..80, day, 0..70).prop_map(|m: BTreeMap<_, _>| {
        m.into_iter()
            .map(|(n, (steps, worn, mvpa))| DayRecord {
                date: d(n),
                steps,
                distance_km: f64::from(steps.max(0)) / 1300.0,
                moderate_vigorous_minutes: mvpa,
                worn_minutes: worn,
                no_data: false,
                manual: Default::default(),
            })
            .collect()
    })
}

fn any_strategy() -> impl Gen<Value = Strategy> {
    prop_oneof![
        (
            0.0f64..=100.0,
            1usize..12,
            5i64..30,
            1usize..8,
            500i32..3000,
            prop::option::of(3000i32..15_000),
            any::<bool>()
        )
            .prop_map(|(percentile, window, lookback, need, floor, ceiling, by_age)| {
                Strategy::AdaptivePercentile(AdaptivePercentile {
                    percentile,
                    window_valid_days: window,
                    lookback_calendar_days: lookback,
                    min_valid_in_lookback: need,
                    floor,
                    ceiling,
                    ceiling_at_age_target: by_age,
                    ..AdaptivePercentile::default()
                })
            }),
        (0i32..1000, 1u32..=7, 0u32..=3, 0i32..5000, any::<bool>()).prop_map(
            |(increment, advance, back, max_total, cap)| {
                Strategy::WeeklyIncrement(WeeklyIncrement {
                    increment,
                    met_days_to_advance: advance,
                    step_back_below_met_days: back.min(advance),
                    max_total_increase: max_total,
                    cap_at_age_target: cap,
                    ..WeeklyIncrement::default()
                })
            }
        ),
        Just(Strategy::Guideline(Guideline::AgeTarget)),
        Just(Strategy::Guideline(Guideline::NextActivityLevel)),
        (1i32..500).prop_map(|round_to| Strategy::SelfChosen(SelfChosen { round_to })),
    ]
}

fn participant() -> impl Gen<Value = ParticipantGoalInput> {
    (prop::option::of(18u32..90), prop::option::of(-500i32..4000))
        .prop_map(|(age, self_chosen_increase)| ParticipantGoalInput { age, self_chosen_increase })
}

/// Any `i32`, with the edges and the sane range weighted in.
fn int() -> impl Gen<Value = i32> {
    prop_oneof![
        2 => any::<i32>(),
        1 => Just(i32::MAX),
        1 => Just(i32::MIN),
        1 => (i32::MAX - 10_000)..=i32::MAX,
        1 => -10i32..=10,
        2 => 0..=MAX_SETTING_STEPS,
    ]
}

/// A value in `lo..=hi`, the bounds themselves weighted in.
fn within(lo: i32, hi: i32) -> impl Gen<Value = i32> {
    prop_oneof![1 => Just(lo), 1 => Just(hi), 4 => lo..=hi]
}

/// A valid window, lookback or count of days: mostly the everyday range, the bounds weighted in.
fn days_count() -> impl Gen<Value = i64> {
    prop_oneof![2 => 1i32..=30, 1 => within(1, MAX_SETTING_DAYS as i32)].prop_map(i64::from)
}

/// Every `GoalSettings` there is, most of which `validate()` rejects.
fn any_settings() -> impl Gen<Value = GoalSettings> {
    let validity =
        (int(), int(), int(), int()).prop_map(|(worn, no_hr, non_wear, outlier)| ValidityRules {
            min_worn_minutes: worn,
            min_steps_without_heart_rate: no_hr,
            non_wear_below_steps: non_wear,
            outlier_above_steps: outlier,
        });
    let count = || prop_oneof![any::<u32>(), 0u32..20, Just(u32::MAX)];
    let baseline = (count(), count(), int()).prop_map(|(window_days, min_valid_days, without)| {
        BaselineRules { window_days, min_valid_days, goal_without_baseline: without }
    });
    let size = || prop_oneof![any::<usize>(), 0usize..20, Just(usize::MAX)];
    let strategy = prop_oneof![
        (
            prop_oneof![any::<f64>(), 0.0f64..=100.0, Just(f64::NAN), Just(f64::INFINITY)],
            size(),
            prop_oneof![any::<i64>(), -5i64..30, Just(i64::MAX), Just(i64::MIN)],
            size(),
            (int(), int(), prop::option::of(int())),
            any::<bool>(),
        )
            .prop_map(
                |(percentile, window, lookback, need, (round_to, floor, ceiling), by_age)| {
                    Strategy::AdaptivePercentile(AdaptivePercentile {
                        percentile,
                        window_valid_days: window,
                        lookback_calendar_days: lookback,
                        min_valid_in_lookback: need,
                        round_to,
                        floor,
                        ceiling,
                        ceiling_at_age_target: by_age,
                    })
                }
            ),
        (int(), count(), count(), int(), int(), any::<bool>()).prop_map(
            |(increment, advance, back, max_total_increase, round_to, cap)| {
                Strategy::WeeklyIncrement(WeeklyIncrement {
                    increment,
                    met_days_to_advance: advance,
                    step_back_below_met_days: back,
                    max_total_increase,
                    round_to,
                    cap_at_age_target: cap,
                })
            }
        ),
        int().prop_map(|steps| Strategy::Guideline(Guideline::Fixed { steps })),
        Just(Strategy::Guideline(Guideline::AgeTarget)),
        Just(Strategy::Guideline(Guideline::NextActivityLevel)),
        int().prop_map(|round_to| Strategy::SelfChosen(SelfChosen { round_to })),
    ];
    (validity, baseline, strategy).prop_map(|(validity, baseline, strategy)| GoalSettings {
        validity,
        baseline,
        strategy,
    })
}

/// Every `GoalSettings` that `validate()` accepts, edges included.
fn valid_settings() -> impl Gen<Value = GoalSettings> {
    let steps = || within(0, MAX_SETTING_STEPS);
    let round = || within(1, MAX_ROUND_TO);
    let validity = (within(0, 1440), steps(), steps(), steps()).prop_map(|(worn, no_hr, a, b)| {
        ValidityRules {
            min_worn_minutes: worn,
            min_steps_without_heart_rate: no_hr,
            non_wear_below_steps: a.min(b),
            outlier_above_steps: a.max(b),
        }
    });
    let baseline =
        (days_count(), days_count(), steps()).prop_map(|(window, min, without)| BaselineRules {
            window_days: window as u32,
            min_valid_days: min as u32,
            goal_without_baseline: without,
        });
    let strategy = prop_oneof![
        (
            prop_oneof![Just(0.0), Just(100.0), 0.0f64..=100.0],
            (days_count(), days_count(), days_count()),
            (round(), steps(), prop::option::of(steps())),
            any::<bool>(),
        )
            .prop_map(
                |(percentile, (window, lookback, need), (round_to, a, b), by_age)| {
                    let (floor, ceiling) = match b {
                        Some(b) => (a.min(b), Some(a.max(b))),
                        None => (a, None),
                    };
                    Strategy::AdaptivePercentile(AdaptivePercentile {
                        percentile,
                        window_valid_days: window as usize,
                        lookback_calendar_days: lookback,
                        min_valid_in_lookback: need as usize,
                        round_to,
                        floor,
                        ceiling,
                        ceiling_at_age_target: by_age,
                    })
                }
            ),
        (steps(), 0u32..=7, 0u32..=7, steps(), round(), any::<bool>()).prop_map(
            |(increment, a, b, max_total_increase, round_to, cap)| {
                Strategy::WeeklyIncrement(WeeklyIncrement {
                    increment,
                    met_days_to_advance: a.max(b),
                    step_back_below_met_days: a.min(b),
                    max_total_increase,
                    round_to,
                    cap_at_age_target: cap,
                })
            }
        ),
        within(1, MAX_SETTING_STEPS)
            .prop_map(|steps| Strategy::Guideline(Guideline::Fixed { steps })),
        Just(Strategy::Guideline(Guideline::AgeTarget)),
        Just(Strategy::Guideline(Guideline::NextActivityLevel)),
        round().prop_map(|round_to| Strategy::SelfChosen(SelfChosen { round_to })),
    ];
    (validity, baseline, strategy).prop_map(|(validity, baseline, strategy)| GoalSettings {
        validity,
        baseline,
        strategy,
    })
}

/// Any participant, including a self-chosen increase anywhere in `i32`.
fn any_participant() -> impl Gen<Value = ParticipantGoalInput> {
    (prop::option::of(any::<u32>()), prop::option::of(int()))
        .prop_map(|(age, self_chosen_increase)| ParticipantGoalInput { age, self_chosen_increase })
}

/// The floor and the ceiling of the goal on `on` (inclusive), as `docs/goals.md` states them.
fn floor_and_ceiling(
    days: &[DayRecord],
    s: &GoalSettings,
    p: &ParticipantGoalInput,
    on: NaiveDate,
) -> (i64, i64) {
    let b = baseline(days, d(START), &s.baseline, &s.validity, on);
    let without = s.baseline.goal_without_baseline;
    let rounded =
        |step: i32| b.as_ref().map_or(round_to(f64::from(without), step), |b| b.rounded_to(step));
    let age = i64::from(age_target(p.age));
    let (lo, hi) = match &s.strategy {
        Strategy::AdaptivePercentile(a) => {
            (i64::from(a.floor), a.ceiling_for(p.age).map_or(i64::MAX, i64::from))
        }
        Strategy::WeeklyIncrement(w) => {
            let base = i64::from(rounded(w.round_to));
            let mut top = base + i64::from(w.max_total_increase);
            if w.cap_at_age_target && base <= age {
                top = top.min(age);
            }
            (base, top)
        }
        Strategy::Guideline(Guideline::Fixed { steps }) => (i64::from(*steps), i64::from(*steps)),
        Strategy::Guideline(Guideline::AgeTarget) => (age, age),
        Strategy::Guideline(Guideline::NextActivityLevel) => match &b {
            None => (i64::from(without), i64::from(without)),
            Some(b) => {
                let kept = i64::from(b.rounded_to(100));
                (kept.min(5000), kept.max(12_500))
            }
        },
        Strategy::SelfChosen(c) => {
            let increase = f64::from(p.self_chosen_increase.unwrap_or(0).max(0));
            let exact = b.as_ref().map_or(f64::from(without), |b| b.half_steps as f64 / 2.0);
            (i64::from(rounded(c.round_to)), i64::from(round_to(exact + increase, c.round_to)))
        }
    };
    (lo, hi)
}

fn run(days: &[DayRecord], strategy: &Strategy, p: &ParticipantGoalInput) -> Vec<Goal> {
    let settings = GoalSettings { strategy: strategy.clone(), ..GoalSettings::default() };
    goals_between(days, d(START), &settings, p, d(START - 5), d(START + 60))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn adaptive_goals_stay_within_floor_and_ceiling(
        days in history(),
        floor in 0i32..4000,
        ceiling in prop::option::of(4000i32..12_000),
        by_age in any::<bool>(),
        p in participant(),
    ) {
        let a = AdaptivePercentile { floor, ceiling, ceiling_at_age_target: by_age, ..AdaptivePercentile::default() };
        let top = a.ceiling_for(p.age).unwrap_or(i32::MAX);
        for g in run(&days, &Strategy::AdaptivePercentile(a), &p) {
            prop_assert!(g.steps >= floor && g.steps <= top, "{} not in [{floor}, {top}]", g.steps);
            prop_assert_eq!(g.steps % 10 == 0 || g.steps == floor || g.steps == top, true);
        }
    }

    #[test]
    fn increment_goals_stay_between_baseline_and_cap(days in history(), p in participant()) {
        let w = WeeklyIncrement::default();
        let settings = GoalSettings::default();
        let goals = run(&days, &Strategy::WeeklyIncrement(w.clone()), &p);
        for g in goals {
            let b = baseline(&days, d(START), &settings.baseline, &settings.validity, g.effective_date);
            let base = b.map_or(5000, |b| b.rounded_to(w.round_to));
            prop_assert!(g.steps >= base, "{} below baseline {base}", g.steps);
            prop_assert!(g.steps <= base + w.max_total_increase, "{} above +3000", g.steps);
            if base <= age_target(p.age) {
                prop_assert!(g.steps <= age_target(p.age), "{} above the age target", g.steps);
            }
        }
    }

    /// No settings at all make the engine panic or overflow (an increment near `i32::MAX` used
    /// to); whatever `validate()` accepts keeps every goal between its floor and its ceiling.
    #[test]
    fn any_settings_never_panic(days in history(), s in any_settings(), p in any_participant()) {
        let goals = goals_between(&days, d(START), &s, &p, d(START - 5), d(START + 60));
        prop_assert_eq!(goals.len(), 66);
        if s.validate().is_ok() {
            for g in &goals {
                let (lo, hi) = floor_and_ceiling(&days, &s, &p, g.effective_date);
                let steps = i64::from(g.steps);
                prop_assert!((lo..=hi).contains(&steps), "{steps} not in [{lo}, {hi}]");
            }
        }
    }

    #[test]
    fn valid_settings_keep_every_goal_between_floor_and_ceiling(
        days in history(),
        s in valid_settings(),
        p in any_participant(),
    ) {
        prop_assert_eq!(s.validate(), Ok(()));
        let goals = goals_between(&days, d(START), &s, &p, d(START - 5), d(START + 60));
        prop_assert_eq!(goals.len(), 66);
        for g in &goals {
            let (lo, hi) = floor_and_ceiling(&days, &s, &p, g.effective_date);
            prop_assert!(
                (lo..=hi).contains(&i64::from(g.steps)),
                "{} on {} not in [{lo}, {hi}]: {:?}", g.steps, g.effective_date, g.explanation
            );
        }
    }

    #[test]
    fn invalid_days_never_move_goals(
        days in history(),
        strategy in any_strategy(),
        p in participant(),
        replacement in prop_oneof![-100i32..100, 45_001i32..200_000],
    ) {
        let rules = ValidityRules::default();
        let before = run(&days, &strategy, &p);
        let mut changed = days.clone();
        for day in changed.iter_mut().filter(|day| !classify(day, &rules).is_valid()) {
            day.steps = replacement;
        }
        prop_assert_eq!(run(&changed, &strategy, &p), before);
    }

    #[test]
    fn logged_activity_never_moves_a_goal(
        days in history(),
        strategy in any_strategy(),
        p in participant(),
        logged in prop::collection::vec((0i32..1440, 0i32..1440, 0i32..1440, 0i32..1440), 1..8),
        manual_only_days in prop::collection::btree_set(0u64..80, 0..10),
    ) {
        let before = run(&days, &strategy, &p);
        // Minutes on the stored days, and days that hold nothing but a log (as the store reads
        // them: no data, with the minutes).
        let mut with_logs = days.clone();
        for (day, (wm, wv, um, uv)) in with_logs.iter_mut().zip(logged.iter().cycle()) {
            day.manual = ManualMinutes {
                worn_moderate: *wm,
                worn_vigorous: *wv,
                unworn_moderate: *um,
                unworn_vigorous: *uv,
            };
        }
        for n in manual_only_days {
            if days.iter().all(|day| day.date != d(n)) {
                with_logs.push(DayRecord {
                    manual: ManualMinutes { unworn_moderate: 90, ..ManualMinutes::default() },
                    ..DayRecord::no_data(d(n))
                });
            }
        }
        prop_assert_eq!(run(&with_logs, &strategy, &p), before);
    }

    #[test]
    fn deterministic_and_independent_of_input_order(
        days in history(),
        strategy in any_strategy(),
        p in participant(),
        rotate in 0usize..70,
    ) {
        let first = run(&days, &strategy, &p);
        prop_assert_eq!(&run(&days, &strategy, &p), &first);
        let mut shuffled = days.clone();
        shuffled.reverse();
        if !shuffled.is_empty() {
            let k = rotate % shuffled.len();
            shuffled.rotate_left(k);
        }
        prop_assert_eq!(&run(&shuffled, &strategy, &p), &first);
        prop_assert_eq!(first.len(), 66);
    }

    #[test]
    fn later_start_gives_the_same_goals(days in history(), strategy in any_strategy(), p in participant(), skip in 0usize..60) {
        let all = run(&days, &strategy, &p);
        let settings = GoalSettings { strategy, ..GoalSettings::default() };
        let from = all[skip].effective_date;
        let later = goals_between(&days, d(START), &settings, &p, from, d(START + 60));
        prop_assert_eq!(&later[..], &all[skip..]);
    }

    #[test]
    fn team_percent_and_share_are_consistent(
        members in prop::collection::vec((0u32..=7, 0.0f64..50.0, 0.0f64..80.0, 0u32..=7), 0..8),
    ) {
        let members: Vec<MemberWeek> = members
            .into_iter()
            .enumerate()
            .map(|(i, (active, goal, progress, met))| MemberWeek {
                participant_id: i as i64,
                active_days: active,
                goal_total: goal * f64::from(active) / 7.0,
                progress_total: progress,
                days_goal_met: met.min(active),
            })
            .collect();
        let t = team_week(1, 1, &members, 4);
        prop_assert!(t.members_meeting_goal <= t.members);
        prop_assert!((0.0..=1.0).contains(&t.share_meeting_goal));
        prop_assert!(t.percent_of_goal >= 0.0 && t.percent_of_goal.is_finite());
    }
}
