//! How many user-days of goals `goals_between` recomputes per second: a 56-day program with 90
//! days of history per participant (the goals service recomputes a whole season when a late
//! sync changes a day). Target: at least 1 million user-days per second per core.

use std::hint::black_box;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fitex_goals::*;

const PROGRAM_DAYS: u64 = 56;
const HISTORY_DAYS: u64 = 90;

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 3).unwrap()
}

/// 90 days ending on the program's last day (34 before the start), shuffled a little, with
/// some invalid days, like a participant's stored rows.
fn history(seed: u64) -> Vec<DayRecord> {
    let first = start().checked_sub_days(Days::new(HISTORY_DAYS - PROGRAM_DAYS)).unwrap();
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut days: Vec<DayRecord> = (0..HISTORY_DAYS)
        .map(|n| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let r = (x >> 33) as i32;
            let steps = 3000 + r % 9000;
            let worn = if r % 11 == 0 { Some(300) } else { Some(700 + r % 500) };
            DayRecord {
                date: first.checked_add_days(Days::new(n)).unwrap(),
                steps: if r % 17 == 0 { 40 } else { steps },
                distance_km: f64::from(steps) / 1300.0,
                moderate_vigorous_minutes: r % 60,
                worn_minutes: worn,
                no_data: false,
                manual: Default::default(),
            }
        })
        .collect();
    days.swap(10, 40);
    days
}

fn run(days: &[DayRecord], settings: &GoalSettings) -> Vec<Goal> {
    let p = ParticipantGoalInput { age: Some(45), self_chosen_increase: Some(2000) };
    let through = start().checked_add_days(Days::new(PROGRAM_DAYS - 1)).unwrap();
    goals_between(days, start(), settings, &p, start(), through)
}

fn strategies() -> Vec<(&'static str, GoalSettings)> {
    let with = |strategy| GoalSettings { strategy, ..GoalSettings::default() };
    vec![
        ("adaptive_percentile", GoalSettings::default()),
        ("weekly_increment", with(Strategy::WeeklyIncrement(WeeklyIncrement::default()))),
        ("guideline_next_level", with(Strategy::Guideline(Guideline::NextActivityLevel))),
        ("self_chosen", with(Strategy::SelfChosen(SelfChosen::default()))),
    ]
}

/// A plain timing loop, so the result is printed as user-days per second.
fn report_user_days_per_second() {
    let users: Vec<Vec<DayRecord>> = (0..1000).map(history).collect();
    for (name, settings) in strategies() {
        let mut rounds = 0u64;
        let t = Instant::now();
        while t.elapsed().as_secs_f64() < 1.0 {
            for days in &users {
                black_box(run(black_box(days), &settings));
            }
            rounds += 1;
        }
        let user_days = (rounds * users.len() as u64 * PROGRAM_DAYS) as f64;
        println!(
            "goals_between/{name}: {:.2} million user-days per second (one core)",
            user_days / t.elapsed().as_secs_f64() / 1e6
        );
    }
}

fn bench(c: &mut Criterion) {
    report_user_days_per_second();
    let days = history(7);
    let mut group = c.benchmark_group("goals_between");
    group.throughput(Throughput::Elements(PROGRAM_DAYS));
    for (name, settings) in strategies() {
        group.bench_function(name, |b| b.iter(|| run(black_box(&days), &settings)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
