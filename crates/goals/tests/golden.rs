//! The worked examples of `docs/goals.md`, recomputed. Each test names its doc section; when a
//! number changes here, change it in the doc too (and the other way round).

use chrono::NaiveDate;
use fitex_goals::*;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn day(d: &str, steps: i32, mvpa: i32, worn: Option<i32>) -> DayRecord {
    DayRecord {
        date: date(d),
        steps,
        distance_km: 0.0,
        moderate_vigorous_minutes: mvpa,
        worn_minutes: worn,
        no_data: false,
        manual: Default::default(),
    }
}

const START: &str = "2025-03-03";

/// Participant A of examples 1 and 2: the 14 baseline days and the week after.
fn participant_a() -> Vec<DayRecord> {
    let worn = Some(780);
    vec![
        day("2025-03-03", 6200, 0, worn),
        day("2025-03-04", 5400, 0, worn),
        day("2025-03-05", 7900, 0, worn),
        day("2025-03-06", 80, 0, None), // non-wear
        day("2025-03-07", 6800, 0, worn),
        day("2025-03-08", 4300, 0, worn),
        day("2025-03-09", 9100, 0, worn),
        day("2025-03-10", 5600, 0, worn),
        day("2025-03-11", 12_000, 0, Some(420)), // insufficient wear: 7 h
        day("2025-03-12", 7300, 0, worn),
        day("2025-03-13", 6100, 0, worn),
        day("2025-03-14", 5000, 0, worn),
        day("2025-03-15", 8400, 0, worn),
        day("2025-03-16", 6600, 0, worn),
        day("2025-03-17", 7400, 0, worn),
        day("2025-03-18", 4800, 0, worn),
        day("2025-03-19", 4100, 0, worn),
        day("2025-03-20", 8800, 0, worn),
    ]
}

/// docs/goals.md, "Example 1: a baseline from 14 days with 2 invalid days".
#[test]
fn example_1_baseline() {
    let days = participant_a();
    let v = ValidityRules::default();
    assert_eq!(classify(&days[3], &v), Validity::NonWear);
    assert_eq!(classify(&days[8], &v), Validity::InsufficientWear);
    let b =
        baseline(&days, date(START), &BaselineRules::default(), &v, date("2025-03-17")).unwrap();
    assert_eq!(b.days_used.len(), 12);
    assert_eq!(b.steps, 6400); // (6,200 + 6,600) / 2
    assert!(!b.provisional && b.window_closed);
    // provisional on 2025-03-07: only 3 valid days (6,200, 5,400, 7,900) so far
    let early = baseline(&days, date(START), &BaselineRules::default(), &v, date("2025-03-07"));
    let early = early.unwrap();
    assert_eq!((early.steps, early.provisional), (6200, true));
}

/// docs/goals.md, "Example 2: five days of adaptive goals".
#[test]
fn example_2_adaptive() {
    let days = participant_a();
    let g = goals_between(
        &days,
        date(START),
        &GoalSettings::default(),
        &ParticipantGoalInput::default(),
        date("2025-03-17"),
        date("2025-03-21"),
    );
    let steps: Vec<i32> = g.iter().map(|g| g.steps).collect();
    assert_eq!(steps, vec![6760, 7160, 7160, 6500, 7160]);
    assert!(g
        .iter()
        .all(|g| g.strategy.as_str() == "adaptive_percentile" && g.citation == "adams2013"));
    assert!(g.iter().all(|g| g.inputs.len() == 9 && !g.provisional));
    // 2025-03-21: the last 9 valid days skip the invalid 2025-03-11
    assert_eq!(g[4].inputs.first(), Some(&date("2025-03-12")));
    assert_eq!(g[0].inputs.first(), Some(&date("2025-03-07")));
    assert_eq!(
        g[3].explanation,
        "Your goal is 6,500 steps: the 60th percentile of your last 9 valid days, so it follows \
         what you have actually been doing and can go down as well as up."
    );
    // the percentile itself, as NumPy computes it
    let window = [4100.0, 4800.0, 7400.0, 6600.0, 8400.0, 5000.0, 6100.0, 7300.0, 5600.0];
    assert_eq!(percentile_linear(&window, 60.0), Some(6500.0));
    let window = [6800.0, 4300.0, 9100.0, 5600.0, 7300.0, 6100.0, 5000.0, 8400.0, 6600.0];
    assert!((percentile_linear(&window, 60.0).unwrap() - 6760.0).abs() < 1e-9);
}

/// docs/goals.md, "Example 3: weekly increment with a hold and a step back".
#[test]
fn example_3_weekly_increment() {
    let weeks: [[i32; 7]; 4] = [
        [6000; 7],
        [7000, 7000, 7000, 7000, 6000, 6000, 6000],
        [7500, 7500, 6000, 6000, 6000, 6000, 6000],
        [7200, 6000, 6000, 6000, 6000, 6000, 6000],
    ];
    let start = date(START);
    let days: Vec<DayRecord> = weeks
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, &steps)| DayRecord::steps(start + chrono::Days::new(i as u64), steps, Some(800)))
        .collect();
    let settings = GoalSettings {
        strategy: Strategy::WeeklyIncrement(WeeklyIncrement::default()),
        ..GoalSettings::default()
    };
    let p = ParticipantGoalInput { age: Some(45), self_chosen_increase: None };
    let g = goals_between(&days, start, &settings, &p, start, date("2025-04-06"));
    let week = |w: usize| &g[(w - 1) * 7 + 1]; // the Tuesday: the baseline exists by then
    assert_eq!(g[0].steps, 5000); // Monday of week 1: no valid day yet
    assert!(g[0].provisional);
    let weekly: Vec<i32> = (1..=5).map(|w| week(w).steps).collect();
    assert_eq!(weekly, vec![6000, 6500, 7000, 7000, 6500]);
    assert_eq!(
        week(3).explanation,
        "This week's goal is 7,000 steps a day: your baseline of 6,000 plus 2 weekly steps of \
         500, up because you met last week's goal on 4 of 7 days."
    );
    assert_eq!(
        week(4).explanation,
        "This week's goal stays at 7,000 steps a day: your baseline of 6,000 plus 2 weekly steps \
         of 500 because you met last week's goal on 2 of 7 days (4 needed to go up)."
    );
    assert_eq!(
        week(5).explanation,
        "This week's goal goes back one step to 6,500 steps a day: your baseline of 6,000 plus 1 \
         weekly step of 500 because you met last week's goal on only 1 of 7 days."
    );
    // every day of a week has the same goal once the baseline is final
    assert!(g[14..35].chunks(7).all(|w| w.iter().all(|x| x.steps == w[0].steps)));
}

fn goal(d: &str, steps: i32) -> Goal {
    Goal {
        effective_date: date(d),
        steps,
        strategy: StrategyKind::AdaptivePercentile,
        inputs: vec![],
        citation: "adams2013".into(),
        provisional: false,
        explanation: String::new(),
    }
}

const WEEK_3: [&str; 7] = [
    "2025-03-17",
    "2025-03-18",
    "2025-03-19",
    "2025-03-20",
    "2025-03-21",
    "2025-03-22",
    "2025-03-23",
];

fn example_4_team_week() -> TeamWeek {
    let program = Program::new(date(START));
    assert_eq!(program_week(&program, date("2025-03-17")), Some(3));
    let worn = Some(800);
    let a_days = [(8000, 20), (6000, 60), (7200, 10), (5000, 15), (9000, 30), (12_000, 90)];
    let mut a: Vec<DayRecord> =
        a_days.iter().zip(WEEK_3).map(|(&(s, m), d)| day(d, s, m, worn)).collect();
    a.push(day("2025-03-23", 50, 0, None)); // non-wear
    let b: Vec<DayRecord> = [7000, 8500, 6500, 9000, 7600, 4000, 8000]
        .iter()
        .zip(WEEK_3)
        .map(|(&s, d)| day(d, s, 0, worn))
        .collect();
    let c = vec![
        day("2025-03-19", 10_000, 0, worn), // before joining: not counted
        day("2025-03-21", 6400, 0, worn),
        day("2025-03-22", 5000, 45, worn),
        day("2025-03-23", 3000, 0, worn),
    ];
    let goals = |steps: i32| WEEK_3.iter().map(|d| goal(d, steps)).collect::<Vec<_>>();
    let always = Membership { joined: date("2025-02-24"), left: None };
    let friday = Membership { joined: date("2025-03-21"), left: None };
    let ma = member_week(&program, 101, 3, &a, &goals(7000), &always);
    let mb = member_week(&program, 102, 3, &b, &goals(8000), &always);
    let mc = member_week(&program, 103, 3, &c, &goals(6000), &friday);
    let close = |x: f64, y: f64| (x - y).abs() < 1e-9;
    assert_eq!((ma.active_days, ma.days_goal_met), (7, 5));
    assert!(close(ma.goal_total, 24.5) && close(ma.progress_total, 24.625));
    assert_eq!((mb.active_days, mb.days_goal_met), (7, 3));
    assert!(close(mb.goal_total, 28.0) && close(mb.progress_total, 25.3));
    assert_eq!((mc.active_days, mc.days_goal_met), (3, 2));
    assert!(close(mc.goal_total, 9.0) && close(mc.progress_total, 7.7));
    // FitEx miles of two of A's days: walking wins on Monday, the 60 active minutes on Tuesday
    assert_eq!(fitex_miles(&a[0], &program.miles), 4.0);
    assert_eq!(fitex_miles(&a[1], &program.miles), 4.0);
    assert_eq!(goal_in_unit(7000, Unit::FitexMiles, &program.miles), 3.5);
    team_week(11, 3, &[ma, mb, mc], program.met_days_per_week)
}

/// docs/goals.md, "Example 4: one team week, a member joining mid-week".
#[test]
fn example_4_team() {
    let t = example_4_team_week();
    assert!((t.goal - 61.5).abs() < 1e-9);
    assert!((t.progress - 57.625).abs() < 1e-9);
    assert_eq!(format!("{:.2}", t.percent_of_goal), "93.70");
    assert_eq!((t.members, t.members_meeting_goal), (3, 2));
    assert_eq!(format!("{:.2}", t.share_meeting_goal), "0.67");
}

/// docs/goals.md, "Example 5: a three-team leaderboard against the median team".
#[test]
fn example_5_leaderboard() {
    let tw = |team: i64, week: u32, goal: f64, progress: f64| {
        let m = MemberWeek {
            participant_id: team * 100,
            active_days: 7,
            goal_total: goal,
            progress_total: progress,
            days_goal_met: 4,
        };
        team_week(team, week, &[m], 4)
    };
    let team_11 = vec![tw(11, 1, 60.0, 61.2), tw(11, 2, 61.0, 59.17), example_4_team_week()];
    let team_12 = vec![tw(12, 1, 48.0, 48.72), tw(12, 2, 48.0, 48.0), tw(12, 3, 50.0, 52.1)];
    let team_13 = vec![tw(13, 1, 70.0, 59.5), tw(13, 2, 70.0, 77.0), tw(13, 3, 72.0, 72.0)];
    let board = leaderboard(&[(11, team_11), (12, team_12), (13, team_13)], 3);
    let rows: Vec<(i64, u32, String, String, u32)> = board
        .iter()
        .map(|e| {
            let pct = format!("{:.2}", e.percent_of_goal);
            let vs = format!("{:+.2}", e.versus_median);
            (e.team_id, e.rank, pct, vs, e.streak_weeks)
        })
        .collect();
    let row = |t, r, p: &str, v: &str, s| (t, r, p.to_owned(), v.to_owned(), s);
    assert_eq!(
        rows,
        vec![
            row(12, 1, "104.20", "+4.20", 3),
            row(13, 2, "100.00", "+0.00", 2),
            row(11, 3, "93.70", "-6.30", 0),
        ]
    );
}

/// docs/goals.md, "Example 6: a baseline from the backfill, and a real goal on the first day".
#[test]
fn example_6_baseline_from_the_backfill() {
    let worn = Some(780);
    let mut days = vec![
        day("2025-02-08", 9800, 0, worn), // before the 14-day window (and the 21-day lookback)
        day("2025-02-18", 5900, 0, worn),
        day("2025-02-20", 60, 0, None), // non-wear
        day("2025-02-22", 7300, 0, worn),
        day("2025-02-25", 6800, 0, Some(300)), // insufficient wear
        day("2025-02-26", 4700, 0, worn),
        day("2025-03-01", 6500, 0, worn),
    ];
    let start = date(START);
    let v = ValidityRules::default();
    let b = baseline(&days, start, &BaselineRules::default(), &v, start).unwrap();
    assert_eq!((b.steps, b.provisional, b.window_closed), (6200, false, true));
    let window = ["2025-02-18", "2025-02-22", "2025-02-26", "2025-03-01"];
    assert_eq!(b.days_used, window.map(date).to_vec());

    let on = |days: &[DayRecord], strategy: Strategy, p: &ParticipantGoalInput, d: &str| {
        let s = GoalSettings { strategy, ..GoalSettings::default() };
        goals_between(days, start, &s, p, date(d), date(d)).remove(0)
    };
    let nobody = ParticipantGoalInput::default();
    let adaptive = on(&days, Strategy::default(), &nobody, "2025-03-03");
    assert_eq!((adaptive.steps, adaptive.provisional), (6200, false));
    assert_eq!(
        adaptive.explanation,
        "Your goal is 6,200 steps, your baseline, until 5 days with a valid wear record in the \
         last 21 days give a daily goal that follows what you do."
    );
    let weekly = Strategy::WeeklyIncrement(WeeklyIncrement::default());
    let g = on(&days, weekly, &nobody, "2025-03-03");
    assert_eq!((g.steps, g.provisional), (6200, false));
    let chose = ParticipantGoalInput { age: None, self_chosen_increase: Some(2000) };
    let g = on(&days, Strategy::SelfChosen(SelfChosen::default()), &chose, "2025-03-03");
    assert_eq!((g.steps, g.provisional), (8200, false));

    // 8,000 steps on 03-03: five valid days in the lookback, the percentile takes over
    days.push(day("2025-03-03", 8000, 0, worn));
    let g = on(&days, Strategy::default(), &nobody, "2025-03-04");
    assert_eq!((g.steps, g.provisional, g.inputs.len()), (6820, false, 5));
    let b = baseline(&days, start, &BaselineRules::default(), &v, date("2025-03-20")).unwrap();
    assert_eq!(b.steps, 6200);
}

/// docs/goals.md, "Example 7: exact halves and rounding once".
#[test]
fn example_7_exact_halves_and_rounding_once() {
    let start = date(START);
    let alternate = |a: i32, b: i32, n: u64| -> Vec<DayRecord> {
        (0..n)
            .map(|i| {
                let steps = if i % 2 == 0 { a } else { b };
                DayRecord::steps(start + chrono::Days::new(i), steps, Some(780))
            })
            .collect()
    };
    let on = |days: &[DayRecord], strategy: Strategy, p: &ParticipantGoalInput, d: &str| {
        let s = GoalSettings { strategy, ..GoalSettings::default() };
        goals_between(days, start, &s, p, date(d), date(d)).remove(0).steps
    };
    let nobody = ParticipantGoalInput::default();
    let d = alternate(3415, 8865, 9);
    assert_eq!(on(&d, Strategy::default(), &nobody, "2025-03-12"), 7780);

    let e = alternate(6049, 6050, 14);
    let v = ValidityRules::default();
    let b = baseline(&e, start, &BaselineRules::default(), &v, date("2025-03-17")).unwrap();
    assert_eq!((b.half_steps, b.steps, b.rounded_to(100)), (12_099, 6050, 6000));
    let weekly = Strategy::WeeklyIncrement(WeeklyIncrement::default());
    assert_eq!(on(&e, weekly, &nobody, "2025-03-07"), 6000);
    let chose = ParticipantGoalInput { age: None, self_chosen_increase: Some(1500) };
    assert_eq!(on(&e, Strategy::SelfChosen(SelfChosen::default()), &chose, "2025-03-17"), 7500);
}
