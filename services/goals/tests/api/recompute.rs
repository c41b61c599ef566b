use std::time::Duration;

use fitex_proto::{GoalChanged, Message, TeamProgressChanged};

use crate::helpers::*;

/// A participant with 14 days of history in a program that started 14 days ago, whose first
/// activity event has been turned into goals from the program start to today (15 of them).
/// Returns (team, participant, program start).
async fn seeded_with_goals(app: &TestGoals) -> (i64, i64, chrono::NaiveDate) {
    let program = app.program("Autumn season", 14, "steps").await;
    let team = app.team(program, "Walkers").await;
    let start = today() - chrono::Duration::days(14);
    let participant = app.member(team, start).await;
    for offset in 0..14 {
        app.store_day(
            participant,
            start + chrono::Duration::days(offset),
            5000 + offset as i32 * 100,
        )
        .await;
    }
    app.publish_day(participant, start, 5000).await;
    wait_for("goals from the program start to today", Duration::from_secs(20), || async {
        app.goal_rows(participant).await.len() == 15
    })
    .await;
    (team, participant, start)
}

#[tokio::test]
async fn an_activity_event_becomes_persisted_goals_and_goal_and_team_events() {
    let app = spawn_goals().await;
    let (team, participant, _) = seeded_with_goals(&app).await;
    let goals = app.goal_rows(participant).await;
    assert_eq!(goals.last().unwrap().0, today());
    // With 14 valid days the adaptive rule applies: the 60th percentile (linear) of the last 9
    // valid days (5,500..6,300 by 100) is 5,900 + 0.8 × 100 = 5,980 — today's goal, not provisional.
    assert_eq!(goals.last().unwrap().1, 5980);
    assert!(!goals.last().unwrap().2);

    let events = app.records(&app.kafka.topics.goals, 15, Duration::from_secs(20)).await;
    assert_eq!(events.len(), 15, "one goal event per new goal");
    let last = events
        .iter()
        .map(|r| GoalChanged::decode(r.payload.as_slice()).unwrap())
        .max_by_key(|e| e.effective_date.clone())
        .unwrap();
    assert_eq!((last.steps, last.strategy.as_str()), (5980, "adaptive_percentile"));
    assert_eq!(last.citation, "adams2013");
    assert_eq!(events[0].key.as_deref(), Some(participant.to_string().as_str()));

    let teams = app.records(&app.kafka.topics.team_progress, 3, Duration::from_secs(10)).await;
    assert!(!teams.is_empty(), "team progress published");
    let progress = TeamProgressChanged::decode(teams[0].payload.as_slice()).unwrap();
    assert_eq!(progress.team_id, team);
    assert_eq!(progress.unit, "steps");
}

#[tokio::test]
async fn redelivery_writes_no_duplicate_history_and_publishes_nothing_new() {
    let app = spawn_goals().await;
    let (_, participant, start) = seeded_with_goals(&app).await;
    let before = app.records(&app.kafka.topics.goals, 15, Duration::from_secs(20)).await.len();
    // The same event again (as after a crash before the offset commit).
    app.publish_day(participant, start, 5000).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.goal_rows(participant).await.len(), 15);
    let after = app.records(&app.kafka.topics.goals, 16, Duration::from_secs(3)).await.len();
    assert_eq!(before, after, "no new goal events for unchanged goals");
}

#[tokio::test]
async fn late_data_for_an_old_date_recomputes_the_later_goals() {
    let app = spawn_goals().await;
    let (_, participant, _) = seeded_with_goals(&app).await;
    let before = app.goal_rows(participant).await;
    // A late sync: three days ago was far less active than first stored (6,100 → 1,500 steps).
    // The last 9 valid days become 1,500, 5,500..6,000, 6,200, 6,300: the 60th percentile is
    // 5,800 + 0.8 × 100 = 5,880.
    let late = today() - chrono::Duration::days(3);
    app.store_day(participant, late, 1500).await;
    app.publish_day(participant, late, 1500).await;
    wait_for("today's goal to follow", Duration::from_secs(20), || async {
        app.goal_rows(participant).await.last().unwrap().1 == 5880
    })
    .await;
    assert_eq!(before.last().unwrap().1, 5980);
    let after = app.goal_rows(participant).await;
    let unchanged_until = after.iter().position(|g| g.0 > late).unwrap();
    assert_eq!(
        after[..unchanged_until],
        before[..unchanged_until],
        "goals before the late day stay"
    );
}

/// A program `days_ago` days old with `goal_settings` (JSON).
async fn program_with(app: &TestGoals, days_ago: i64, goal_settings: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO programs (name, start_date, weeks, unit, goal_settings, mile_rules)
         VALUES ('Backfilled season', $1, 8, 'steps', $2::jsonb, '{}'::jsonb) RETURNING id",
    )
    .bind(today() - chrono::Duration::days(days_ago))
    .bind(goal_settings)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Stores `days` (days before the start, steps), publishes the last as the fetcher's backfill
/// would, and waits for the goals from the start (two days ago) to today.
async fn backfilled(
    app: &TestGoals,
    program: i64,
    days: &[(i64, i32)],
) -> Vec<(chrono::NaiveDate, i32, bool)> {
    let team = app.team(program, "Early birds").await;
    let start = today() - chrono::Duration::days(2);
    let participant = app.member(team, start).await;
    for &(before, steps) in days {
        app.store_day(participant, start - chrono::Duration::days(before), steps).await;
    }
    let (before, steps) = days[days.len() - 1];
    app.publish_day(participant, start - chrono::Duration::days(before), steps).await;
    wait_for("goals from the program start to today", Duration::from_secs(20), || async {
        app.goal_rows(participant).await.len() == 3
    })
    .await;
    app.goal_rows(participant).await
}

/// docs/goals.md, "Baseline": the service reads the stored days before the program start (the
/// 28-day backfill) and the engine takes the baseline from the 4 valid days of the 14 before the
/// start — a real goal from the first day, not the 1,000-step floor.
#[tokio::test]
async fn the_backfill_before_the_start_gives_a_real_goal_from_the_first_day() {
    let app = spawn_goals().await;
    let program = program_with(&app, 2, "{}").await;
    // 25 days before: outside the window and every lookback; 3 days before: non-wear
    let days = [(25, 9800), (13, 5900), (9, 7300), (5, 4700), (3, 50), (1, 6500)];
    let goals = backfilled(&app, program, &days).await;
    // median of 4,700 5,900 6,500 7,300 = 6,200; 4 valid days in the lookback (5 needed)
    let start = today() - chrono::Duration::days(2);
    let expected: Vec<_> =
        (0..3).map(|n| (start + chrono::Duration::days(n), 6200, false)).collect();
    assert_eq!(goals, expected);
}

/// A baseline window longer than the default history read before the start: the service reads
/// as far back as the program's settings need.
#[tokio::test]
async fn a_long_baseline_window_reads_history_far_enough_back() {
    let app = spawn_goals().await;
    let settings = r#"{"baseline": {"window_days": 90}, "strategy": {"kind": "weekly_increment"}}"#;
    let program = program_with(&app, 2, settings).await;
    let days = [(85, 5000), (80, 6000), (75, 7000), (70, 8000)];
    let goals = backfilled(&app, program, &days).await;
    // median (6,000 + 7,000) / 2 = 6,500: week 1's goal
    assert!(goals.iter().all(|g| (g.1, g.2) == (6500, false)), "{goals:?}");
}
