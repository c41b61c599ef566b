//! Unit-level tests of each strategy through the public API.

use chrono::{Days, NaiveDate};
use fitex_goals::*;

fn d(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 3).unwrap().checked_add_days(Days::new(n)).unwrap()
}

fn rec(n: u64, steps: i32) -> DayRecord {
    DayRecord::steps(d(n), steps, Some(800))
}

fn settings(strategy: Strategy) -> GoalSettings {
    GoalSettings { strategy, ..GoalSettings::default() }
}

fn adaptive() -> AdaptivePercentile {
    AdaptivePercentile::default()
}

fn goals(
    days: &[DayRecord],
    s: &GoalSettings,
    p: &ParticipantGoalInput,
    a: u64,
    b: u64,
) -> Vec<Goal> {
    goals_between(days, d(0), s, p, d(a), d(b))
}

fn steps(g: &[Goal]) -> Vec<i32> {
    g.iter().map(|g| g.steps).collect()
}

const NOBODY: ParticipantGoalInput = ParticipantGoalInput { age: None, self_chosen_increase: None };

#[test]
fn adaptive_is_the_numpy_percentile_of_the_last_nine_valid_days() {
    let days: Vec<_> = (0..9).map(|n| rec(n, 1000 * (n as i32 + 1))).collect();
    let s = settings(Strategy::AdaptivePercentile(adaptive()));
    let g = goals(&days, &s, &NOBODY, 9, 9);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].steps, 5800); // numpy.percentile([1000..9000], 60) = 5800
    assert_eq!(g[0].inputs, (0..9).map(d).collect::<Vec<_>>());
    assert_eq!(
        (g[0].strategy.as_str(), g[0].citation.as_str()),
        ("adaptive_percentile", "adams2013")
    );
    assert!(!g[0].provisional);
    assert!(g[0].explanation.contains("60th percentile of your last 9 valid days"));

    // a tenth day: only the last nine count (2000..10000 → 6800)
    let mut more = days.clone();
    more.push(rec(9, 10_000));
    assert_eq!(goals(&more, &s, &NOBODY, 10, 10)[0].steps, 6800);
}

#[test]
fn adaptive_rounds_to_ten_and_goes_down() {
    // [4213, 5000, 5876, 6120, 7777] → h = 2.4 → 5876 + 0.4·244 = 5973.6 → 5970
    let days = [rec(0, 5876), rec(1, 4213), rec(2, 7777), rec(3, 5000), rec(4, 6120)];
    let s = settings(Strategy::AdaptivePercentile(adaptive()));
    assert_eq!(goals(&days, &s, &NOBODY, 5, 5)[0].steps, 5970);
    let mut low = days.to_vec();
    low.push(rec(5, 1500)); // [1500, 4213, 5000, 5876, 6120, 7777] → h = 3 → 5876 → 5880
    let g = goals(&low, &s, &NOBODY, 5, 6);
    assert_eq!(steps(&g), vec![5970, 5880]);
}

#[test]
fn adaptive_floor_and_ceiling() {
    let days: Vec<_> = (0..6).map(|n| rec(n, 300)).collect();
    let s = settings(Strategy::AdaptivePercentile(adaptive()));
    let g = goals(&days, &s, &NOBODY, 6, 6);
    assert_eq!(g[0].steps, 1000);
    assert!(g[0].explanation.contains("floor"));

    let high: Vec<_> = (0..6).map(|n| rec(n, 14_000)).collect();
    let capped = AdaptivePercentile { ceiling: Some(12_000), ..adaptive() };
    let s = settings(Strategy::AdaptivePercentile(capped));
    assert_eq!(goals(&high, &s, &NOBODY, 6, 6)[0].steps, 12_000);
    let by_age = AdaptivePercentile { ceiling_at_age_target: true, ..adaptive() };
    let s = settings(Strategy::AdaptivePercentile(by_age));
    let old = ParticipantGoalInput { age: Some(72), self_chosen_increase: None };
    let g = goals(&high, &s, &old, 6, 6);
    assert_eq!(g[0].steps, 7000);
    assert!(g[0].explanation.contains("capped at 7,000"));
}

#[test]
fn adaptive_provisional_start_then_carry_over() {
    let s = settings(Strategy::AdaptivePercentile(adaptive()));
    let days: Vec<_> = (0..5).map(|n| rec(n, 6000 + 100 * n as i32)).collect();
    let g = goals(&days, &s, &NOBODY, 0, 26);
    // day 0: nothing yet → floor, provisional
    assert_eq!((g[0].steps, g[0].provisional, g[0].inputs.len()), (1000, true, 0));
    // days 1-4: the baseline so far (median), provisional until it has 4 valid days
    assert_eq!(steps(&g[1..5]), vec![6000, 6050, 6100, 6150]);
    assert!(g[1..4].iter().all(|g| g.provisional) && !g[4].provisional);
    // days 5-21: five valid days in the lookback → 60th percentile of 6000..6400 = 6240
    assert!(g[5..=21].iter().all(|g| g.steps == 6240 && !g.provisional));
    // day 22: only four valid days in [day 1, day 21] → carried over
    assert_eq!(g[22].steps, 6240);
    assert!(g[22].explanation.contains("stays at 6,240"), "{}", g[22].explanation);
    assert_eq!(g[22].inputs, (0..5).map(d).collect::<Vec<_>>());
    assert!(g[26].explanation.contains("stays"));
    // the same goals when asked from a later date
    assert_eq!(goals(&days, &s, &NOBODY, 22, 26), g[22..].to_vec());
}

#[test]
fn adaptive_ignores_invalid_days() {
    let s = settings(Strategy::AdaptivePercentile(adaptive()));
    let mut days: Vec<_> = (0..9).map(|n| rec(n, 1000 * (n as i32 + 1))).collect();
    let base = goals(&days, &s, &NOBODY, 0, 12);
    days.push(rec(9, 60_000)); // outlier
    days.push(DayRecord::steps(d(10), 20_000, Some(120))); // insufficient wear
    days.push(DayRecord::steps(d(11), 50, None)); // non-wear
    assert_eq!(steps(&goals(&days, &s, &NOBODY, 0, 12)), steps(&base));
}

fn increment_days(weeks: &[[i32; 7]]) -> Vec<DayRecord> {
    weeks
        .iter()
        .enumerate()
        .flat_map(|(w, days)| {
            days.iter().enumerate().map(move |(i, &s)| rec((w * 7 + i) as u64, s))
        })
        .collect()
}

fn weekly(g: &[Goal]) -> Vec<i32> {
    g.iter().skip(1).step_by(7).map(|g| g.steps).collect()
}

#[test]
fn increment_advances_holds_and_steps_back() {
    let s = settings(Strategy::WeeklyIncrement(WeeklyIncrement::default()));
    let young = ParticipantGoalInput { age: Some(40), self_chosen_increase: None };
    let days = increment_days(&[
        [6000; 7],                                  // met 7 → +500
        [7000, 7000, 7000, 7000, 6000, 6000, 6000], // met 4 → +500
        [7000, 7000, 7000, 6000, 6000, 6000, 6000], // met 3 → hold
        [7000, 6000, 6000, 6000, 6000, 6000, 6000], // met 1 → step back
        [6500, 6500, 6500, 6500, 6500, 6500, 6500], // met 7 → +500
    ]);
    let g = goals(&days, &s, &young, 0, 41);
    // day 0 has no baseline yet (5,000 provisional); from day 1 the baseline is 6,000
    assert_eq!((g[0].steps, g[0].provisional), (5000, true));
    assert_eq!(weekly(&g), vec![6000, 6500, 7000, 7000, 6500, 7000]);
    assert!(
        g[14].explanation.contains("met last week's goal on 4 of 7 days"),
        "{}",
        g[14].explanation
    );
    assert!(g[21].explanation.contains("stays"), "{}", g[21].explanation);
    assert!(g[28].explanation.contains("back one step"), "{}", g[28].explanation);
    assert_eq!(
        (g[8].strategy.as_str(), g[8].citation.as_str()),
        ("weekly_increment", "tudorlocke2010")
    );
    // week 2 goals are provisional? no: four valid days exist from day 4 on
    assert!(!g[8].provisional && g[3].provisional && !g[4].provisional);
    // the same answers when asked for a later range only
    assert_eq!(goals(&days, &s, &young, 28, 41), g[28..].to_vec());
}

#[test]
fn increment_never_goes_below_baseline() {
    let s = settings(Strategy::WeeklyIncrement(WeeklyIncrement::default()));
    let days = increment_days(&[[6000; 7], [6000; 7], [200; 7], [200; 7]]);
    let g = goals(&days, &s, &NOBODY, 1, 34);
    // week 1 met 7 → 6,500; week 2 met 0 → back to 6,000; weeks 3-4 met 0 → stays 6,000
    assert_eq!(
        weekly(&[vec![g[0].clone()], g.clone()].concat()),
        vec![6000, 6500, 6000, 6000, 6000]
    );
    assert!(g.iter().all(|g| g.steps >= 6000));
}

#[test]
fn increment_caps_at_age_target_and_total() {
    let s = settings(Strategy::WeeklyIncrement(WeeklyIncrement::default()));
    let young = ParticipantGoalInput { age: Some(40), self_chosen_increase: None };
    let mut weeks = vec![[6000; 7], [6000, 6000, 6000, 7000, 7000, 7000, 7000]];
    weeks.extend(std::iter::repeat_n([11_000; 7], 7));
    let days = increment_days(&weeks);
    let g = goals(&days, &s, &young, 0, 62);
    assert_eq!(weekly(&g), vec![6000, 6500, 7000, 7500, 8000, 8000, 8000, 8000, 8000]);
    assert!(g[35].explanation.contains("the most it can rise"), "{}", g[35].explanation);

    let no_age_cap = WeeklyIncrement { cap_at_age_target: false, ..WeeklyIncrement::default() };
    let s = settings(Strategy::WeeklyIncrement(no_age_cap));
    let g = goals(&days, &s, &young, 0, 62);
    assert_eq!(weekly(&g), vec![6000, 6500, 7000, 7500, 8000, 8500, 9000, 9000, 9000]);

    // baseline already above the age target: only the +3,000 cap applies
    let high = increment_days(&[
        [9000; 7],
        [9000, 9000, 9000, 20_000, 20_000, 20_000, 20_000],
        [20_000; 7],
        [20_000; 7],
        [20_000; 7],
    ]);
    let s = settings(Strategy::WeeklyIncrement(WeeklyIncrement::default()));
    let old = ParticipantGoalInput { age: Some(65), self_chosen_increase: None };
    assert_eq!(
        weekly(&goals(&high, &s, &old, 0, 41)),
        vec![9000, 9500, 10_000, 10_500, 11_000, 11_500]
    );

    // 7,800 under 60: one increment would pass 8,000, so the goal stops at 8,000
    let near = increment_days(&[[7800; 7], [7800, 7800, 7800, 9000, 9000, 9000, 9000], [9000; 7]]);
    assert_eq!(weekly(&goals(&near, &s, &young, 0, 27)), vec![7800, 8000, 8000, 8000]);
}

#[test]
fn increment_rounds_the_baseline_to_100() {
    let s = settings(Strategy::WeeklyIncrement(WeeklyIncrement::default()));
    let days = increment_days(&[[6549; 7], [6549; 7]]);
    let g = goals(&days, &s, &NOBODY, 1, 8);
    assert_eq!(g[0].steps, 6500);
    assert_eq!(g[7].steps, 7000);
}

#[test]
fn guideline_targets() {
    let days: Vec<_> = (0..14).map(|n| rec(n, 6000)).collect();
    let fixed = settings(Strategy::Guideline(Guideline::Fixed { steps: 7000 }));
    let g = goals(&days, &fixed, &NOBODY, 0, 2);
    assert_eq!(steps(&g), vec![7000; 3]);
    assert_eq!(g[0].citation, "paluch2022");
    assert!(!g[0].provisional);

    let age = settings(Strategy::Guideline(Guideline::AgeTarget));
    let g = goals(&days, &age, &NOBODY, 0, 0);
    assert_eq!(g[0].steps, 8000);
    assert!(g[0].explanation.contains("do not know your age"));
    let old = ParticipantGoalInput { age: Some(60), self_chosen_increase: None };
    assert_eq!(goals(&days, &age, &old, 0, 0)[0].steps, 7000);

    let next = settings(Strategy::Guideline(Guideline::NextActivityLevel));
    let g = goals(&days, &next, &NOBODY, 0, 20);
    assert_eq!((g[0].steps, g[0].provisional), (5000, true)); // no baseline yet
    assert_eq!(
        (g[20].steps, g[20].provisional, g[20].citation.as_str()),
        (7500, false, "tudorlocke2008")
    );
    let active: Vec<_> = (0..14).map(|n| rec(n, 13_049)).collect();
    assert_eq!(goals(&active, &next, &NOBODY, 20, 20)[0].steps, 13_000);
    let five: Vec<_> = (0..14).map(|n| rec(n, 5000)).collect();
    assert_eq!(goals(&five, &next, &NOBODY, 20, 20)[0].steps, 7500);
}

#[test]
fn self_chosen_increase() {
    let days: Vec<_> = (0..14).map(|n| rec(n, 6040)).collect();
    let s = settings(Strategy::SelfChosen(SelfChosen::default()));
    let chose = ParticipantGoalInput { age: None, self_chosen_increase: Some(1500) };
    let g = goals(&days, &s, &chose, 20, 20);
    assert_eq!(g[0].steps, 7500); // 6,040 + 1,500 = 7,540 → 7,500
    assert_eq!((g[0].citation.as_str(), g[0].strategy.as_str()), ("engage2021", "self_chosen"));
    let g = goals(&days, &s, &NOBODY, 20, 20);
    assert_eq!(g[0].steps, 6000);
    assert!(g[0].explanation.contains("not chosen an increase"));
    let negative = ParticipantGoalInput { age: None, self_chosen_increase: Some(-800) };
    assert_eq!(goals(&days, &s, &negative, 20, 20)[0].steps, 6000);
    let g = goals(&[], &s, &chose, 0, 0);
    assert_eq!((g[0].steps, g[0].provisional), (6500, true));
}

#[test]
fn empty_and_reversed_ranges() {
    let s = GoalSettings::default();
    assert!(goals(&[], &s, &NOBODY, 5, 4).is_empty());
    let g = goals(&[], &s, &NOBODY, 0, 3);
    assert_eq!(g.len(), 4);
    assert!(g.iter().all(|g| g.steps == 1000 && g.provisional));
    assert_eq!(
        g.iter().map(|g| g.effective_date).collect::<Vec<_>>(),
        (0..4).map(d).collect::<Vec<_>>()
    );
}

#[test]
fn duplicates_last_wins_and_order_does_not_matter() {
    let s = GoalSettings::default();
    let days: Vec<_> = (0..12).map(|n| rec(n, 3000 + 250 * n as i32)).collect();
    let g = goals(&days, &s, &NOBODY, 0, 15);
    let mut shuffled = days.clone();
    shuffled.reverse();
    shuffled.insert(0, rec(4, 44_000)); // an earlier duplicate of day 4: the later record wins
    assert_eq!(goals(&shuffled, &s, &NOBODY, 0, 15), g);
    let mut dup = days.clone();
    dup.push(rec(4, 44_000)); // a later duplicate: wins
    assert_ne!(goals(&dup, &s, &NOBODY, 0, 15), g);
}

// ---------------------------------------------------------------- the engine at its edges

/// A day `n` days before the program start (the fetcher's 28-day backfill).
fn before(n: u64, steps: i32) -> DayRecord {
    DayRecord::steps(d(0) - Days::new(n), steps, Some(800))
}

/// Settings no program can be saved with (validate() rejects them) must still not panic: an
/// increment and a cap near `i32::MAX` used to overflow ("attempt to add with overflow" in debug
/// builds, a goal of −2,147,474,000 in release builds).
#[test]
fn increments_near_i32_max_saturate_instead_of_overflowing() {
    let huge = WeeklyIncrement {
        increment: i32::MAX - 1000,
        max_total_increase: i32::MAX,
        cap_at_age_target: false,
        ..WeeklyIncrement::default()
    };
    let s = settings(Strategy::WeeklyIncrement(huge.clone()));
    assert!(s.validate().is_err());
    // every day met: the level climbs each week
    let days: Vec<_> = (0..35).map(|n| rec(n, 40_000)).collect();
    let g = goals(&days, &s, &NOBODY, 0, 41);
    assert_eq!(g.len(), 42);
    assert!(g.iter().all(|g| g.steps >= 5000), "{:?}", steps(&g));
    // week 2: 40,000 + 2,147,482,647 saturates at i32::MAX; not met, so week 3 steps back
    let max = i32::MAX;
    assert_eq!(weekly(&g), vec![40_000, max, 40_000, max, 40_000, max]);
    // the age cap on, and the cap alone near i32::MAX
    let capped = WeeklyIncrement { cap_at_age_target: true, ..huge.clone() };
    let low: Vec<_> = (0..35).map(|n| rec(n, 6000)).collect();
    let g = goals(&low, &settings(Strategy::WeeklyIncrement(capped)), &NOBODY, 0, 41);
    assert_eq!(weekly(&g), vec![6000, 8000, 6000, 8000, 6000, 8000]); // capped at the age target
    let cap_only = WeeklyIncrement { increment: 500, ..huge };
    let g = goals(&days, &settings(Strategy::WeeklyIncrement(cap_only)), &NOBODY, 0, 41);
    assert_eq!(weekly(&g), vec![40_000, 40_500, 40_000, 40_500, 40_000, 40_500]);
}

/// An exact half rounds up: the 60th percentile of 3,415 ×5 and 8,865 ×4 is exactly 7,775
/// (h = 4.8: 3,415 + 0.8 × 5,450), so the goal is 7,780. Floating point gave 7,774.999999999999
/// and 7,770.
#[test]
fn an_exact_half_percentile_rounds_up() {
    let window = [3415, 8865, 3415, 8865, 3415, 8865, 3415, 8865, 3415];
    let days: Vec<_> = window.iter().enumerate().map(|(n, &s)| rec(n as u64, s)).collect();
    let s = settings(Strategy::AdaptivePercentile(adaptive()));
    let g = goals(&days, &s, &NOBODY, 9, 9);
    assert_eq!(g[0].steps, 7780);
    assert!(g[0].explanation.starts_with("Your goal is 7,780 steps"), "{}", g[0].explanation);
}

/// The baseline is rounded once, from the exact median: a median of 6,049.5 is 6,000 to the
/// nearest 100 (it used to become 6,050 and then 6,100).
#[test]
fn the_baseline_is_rounded_once() {
    // four valid days, median (6,049 + 6,050) / 2 = 6,049.5; on day 4 that is the baseline
    let days = [rec(0, 6049), rec(1, 6050), rec(2, 6049), rec(3, 6050)];
    let weekly_goal = settings(Strategy::WeeklyIncrement(WeeklyIncrement::default()));
    let g = goals(&days, &weekly_goal, &NOBODY, 4, 4);
    assert_eq!((g[0].steps, g[0].provisional), (6000, false));

    let chose = ParticipantGoalInput { age: None, self_chosen_increase: Some(1500) };
    let s = settings(Strategy::SelfChosen(SelfChosen::default()));
    let g = goals(&days, &s, &chose, 4, 4);
    assert_eq!(g[0].steps, 7500); // 6,049.5 + 1,500 = 7,549.5 → 7,500, not 6,050 + 1,500 → 7,600
    assert!(g[0].explanation.contains("your baseline of 6,050"), "{}", g[0].explanation);

    let by_100 = AdaptivePercentile { round_to: 100, ..adaptive() };
    let g = goals(&days, &settings(Strategy::AdaptivePercentile(by_100)), &NOBODY, 4, 4);
    assert_eq!(g[0].steps, 6000); // the baseline, while fewer than 5 days are in the lookback

    let next = settings(Strategy::Guideline(Guideline::NextActivityLevel));
    let below = [rec(0, 4999), rec(1, 5000), rec(2, 4999), rec(3, 5000)]; // 4,999.5
    assert_eq!(goals(&below, &next, &NOBODY, 4, 4)[0].steps, 5000);
    let high = [rec(0, 13_049), rec(1, 13_050), rec(2, 13_049), rec(3, 13_050)]; // 13,049.5
    assert_eq!(goals(&high, &next, &NOBODY, 4, 4)[0].steps, 13_000);
}

/// Four valid days in the 14 before the start give the baseline and a real goal from the first
/// day, for every strategy built on it (it used to be the 1,000-step floor, or 5,000).
#[test]
fn a_backfill_gives_a_real_goal_from_the_first_day() {
    // valid: 7,000 6,500 5,200 6,100 → median 6,300; the rest are outside the window or invalid
    let days = [
        before(25, 20_000),
        before(14, 7000),
        before(9, 40),
        before(6, 6500),
        before(3, 5200),
        before(1, 6100),
    ];
    let s = settings(Strategy::AdaptivePercentile(adaptive()));
    let g = goals(&days, &s, &NOBODY, 0, 1);
    assert_eq!((g[0].steps, g[0].provisional), (6300, false));
    assert_eq!(
        g[0].inputs,
        vec![d(0) - Days::new(14), d(0) - Days::new(6), d(0) - Days::new(3), d(0) - Days::new(1)]
    );
    assert_eq!(
        g[0].explanation,
        "Your goal is 6,300 steps, your baseline, until 5 days with a valid wear record in the \
         last 21 days give a daily goal that follows what you do."
    );

    let s = settings(Strategy::WeeklyIncrement(WeeklyIncrement::default()));
    let g = goals(&days, &s, &NOBODY, 0, 6);
    assert!(g.iter().all(|g| g.steps == 6300 && !g.provisional), "{:?}", steps(&g));
    assert_eq!(g[0].explanation, "This week's goal is 6,300 steps a day, your baseline.");

    let chose = ParticipantGoalInput { age: None, self_chosen_increase: Some(2000) };
    let g = goals(&days, &settings(Strategy::SelfChosen(SelfChosen::default())), &chose, 0, 0);
    assert_eq!((g[0].steps, g[0].provisional), (8300, false));
    let next = settings(Strategy::Guideline(Guideline::NextActivityLevel));
    assert_eq!((goals(&days, &next, &NOBODY, 0, 0)[0].steps), 7500);

    // the program's own days do not move a baseline taken before the start
    let mut more = days.to_vec();
    more.extend((0..14).map(|n| rec(n, 11_000)));
    let g = goals(&more, &s, &NOBODY, 0, 6);
    assert!(g.iter().all(|g| g.steps == 6300), "{:?}", steps(&g));
}

/// Fewer than four valid days before the start still beat the floor: the baseline so far,
/// provisional. The floor is for a participant with no valid day at all.
#[test]
fn a_short_backfill_gives_a_provisional_baseline_and_no_valid_day_the_floor() {
    let days = [before(5, 6400), before(2, 5600)];
    let s = settings(Strategy::AdaptivePercentile(adaptive()));
    let g = goals(&days, &s, &NOBODY, 0, 0);
    assert_eq!((g[0].steps, g[0].provisional), (6000, true));
    assert!(g[0].explanation.contains("your baseline so far"), "{}", g[0].explanation);
    let nothing = [DayRecord::steps(d(0) - Days::new(3), 50, None)];
    let g = goals(&nothing, &s, &NOBODY, 0, 0);
    assert_eq!((g[0].steps, g[0].provisional), (1000, true));
}
