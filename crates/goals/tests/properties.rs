//! Property tests: bounds, invalid days, determinism and input order.

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
            let base = round_to(f64::from(b.map_or(5000, |b| b.steps)), w.round_to);
            prop_assert!(g.steps >= base, "{} below baseline {base}", g.steps);
            prop_assert!(g.steps <= base + w.max_total_increase, "{} above +3000", g.steps);
            if base <= age_target(p.age) {
                prop_assert!(g.steps <= age_target(p.age), "{} above the age target", g.steps);
            }
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
