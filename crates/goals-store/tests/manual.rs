//! Activity logged by hand, through PostgreSQL: every entry is checked inside the transaction that
//! stores it, announced like a device change in the same transaction, counted in team progress,
//! and never in a goal.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::trace_context::TraceParent;
use fitex_goals::manual::{ActivityKind, EntryProblem, Intensity, ManualEntry};
use fitex_goals::{GoalSettings, MileRules};
use fitex_goals_store::manual::{self, ActivityOutbox, EnteredBy, ManualError, SeasonWindow};
use fitex_goals_store::programs::{self, NewProgram};
use fitex_goals_store::recompute::{Change, DataSource};
use fitex_goals_store::{store, GoalsEngine};
use fitex_proto::{ActivityDayChanged, Message};
use fitex_testkit::test_database;
use sqlx::PgPool;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// A FitEx-miles program that started `started_days_ago` and runs `weeks`, with one team of two
/// participants (UTC) who synced 5,000 steps, 30 active minutes and 900 worn minutes every day of
/// the last 28; returns the program's season window and the participants.
async fn season(pool: &PgPool, started_days_ago: i64, weeks: u32) -> (i64, SeasonWindow, [i64; 2]) {
    let start = today() - Duration::days(started_days_ago);
    let new = NewProgram {
        name: "Spring season",
        start_date: start,
        weeks,
        unit: "fitex_miles",
        goal_settings: &GoalSettings::default(),
        mile_rules: &MileRules::default(),
    };
    let program = programs::create_program(pool, &new).await.unwrap();
    let team = programs::create_team(pool, program, "Paddlers").await.unwrap();
    let mut members = [0; 2];
    for member in &mut members {
        *member =
            sqlx::query_scalar("INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id")
                .fetch_one(pool)
                .await
                .unwrap();
        programs::add_member(pool, team, *member, start).await.unwrap();
        sqlx::query(
            "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
                 lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
                 source, fetched_at)
             SELECT $1, d::date, 5000, 3.5, 600, 200, 20, 10, 900, 'fitbit', now()
             FROM generate_series($2::date - 27, $2::date, interval '1 day') AS d",
        )
        .bind(*member)
        .bind(today())
        .execute(pool)
        .await
        .unwrap();
    }
    let row = store::program(pool, program).await.unwrap().unwrap();
    (program, SeasonWindow::of(&row), members)
}

fn swim(day: NaiveDate, minutes: i32, device_worn: bool) -> ManualEntry {
    ManualEntry {
        day,
        kind: ActivityKind::Swimming,
        minutes,
        intensity: Intensity::Moderate,
        device_worn,
    }
}

fn to_outbox(trace: &TraceParent) -> ActivityOutbox<'_> {
    ActivityOutbox { topic: "fitex.activity-days.v1", trace }
}

/// The activity events waiting in the fetcher's outbox, oldest first.
async fn announced(pool: &PgPool) -> Vec<ActivityDayChanged> {
    fitex_testkit::outbox_payloads(pool, "fetcher", "fitex.activity-days.v1")
        .await
        .iter()
        .map(|p| ActivityDayChanged::decode(p.as_slice()).unwrap())
        .collect()
}

async fn entry_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM manual_activities").fetch_one(pool).await.unwrap()
}

fn refused(result: Result<impl std::fmt::Debug, ManualError>) -> Vec<EntryProblem> {
    match result {
        Err(ManualError::Refused(problems)) => problems,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_entry_is_checked_stored_and_announced_in_one_transaction() {
    let (_, pool) = test_database().await;
    let (_, window, [me, _]) = season(&pool, 9, 2).await;
    let trace = TraceParent::new_root();
    let day = window.start + Duration::days(2);
    let now = Utc::now();

    let id = manual::add(
        &pool,
        to_outbox(&trace),
        me,
        &window,
        &swim(day, 60, false),
        &EnteredBy::Participant,
        now,
    )
    .await
    .unwrap();
    let (source, entered_by): (String, String) =
        sqlx::query_as("SELECT source, entered_by FROM manual_activities WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((source.as_str(), entered_by.as_str()), ("manual", "participant"));
    let events = announced(&pool).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!((event.participant_id, event.date.as_str()), (me, day.to_string().as_str()));
    assert_eq!(event.source, DataSource::Manual as i32);
    assert_eq!(event.entered_by, "participant");
    assert_eq!(event.manual.as_ref().map(|m| m.unworn_moderate_minutes), Some(60));
    assert_eq!((event.steps, event.fairly_active_minutes, event.no_data), (5000, 20, false));
    assert_eq!(
        event.trace_context.as_ref().map(|t| t.traceparent[3..35].to_string()),
        Some(trace.trace_id_hex()),
        "the event continues the request's trace"
    );

    // Refused: nothing stored, nothing announced.
    let tomorrow = today() + Duration::days(1);
    let future = manual::add(
        &pool,
        to_outbox(&trace),
        me,
        &window,
        &swim(tomorrow, 30, false),
        &EnteredBy::Participant,
        now,
    )
    .await;
    assert_eq!(refused(future), vec![EntryProblem::InTheFuture { day: tomorrow }]);
    let before = window.start - Duration::days(1);
    let outside = manual::add(
        &pool,
        to_outbox(&trace),
        me,
        &window,
        &swim(before, 30, false),
        &EnteredBy::Participant,
        now,
    )
    .await;
    assert_eq!(refused(outside)[0].field(), "day");
    let overfull = manual::add(
        &pool,
        to_outbox(&trace),
        me,
        &window,
        &swim(day, 1381, true),
        &EnteredBy::Participant,
        now,
    )
    .await;
    assert_eq!(
        refused(overfull),
        vec![EntryProblem::DayOverfull { day, already: 60, minutes: 1381 }]
    );
    manual::add(
        &pool,
        to_outbox(&trace),
        me,
        &window,
        &swim(day, 1380, true),
        &EnteredBy::Participant,
        now,
    )
    .await
    .expect("exactly 24 hours in all");
    assert_eq!(entry_count(&pool).await, 2);
    assert_eq!(announced(&pool).await.len(), 2);
}

#[tokio::test]
async fn two_entries_of_one_day_cannot_pass_24_hours_together_even_at_once() {
    let (_, pool) = test_database().await;
    let (_, window, [me, _]) = season(&pool, 9, 2).await;
    let trace = TraceParent::new_root();
    let now = Utc::now();
    for offset in 0..5 {
        let day = window.start + Duration::days(offset);
        let entry = swim(day, 800, false);
        let add = || {
            manual::add(&pool, to_outbox(&trace), me, &window, &entry, &EnteredBy::Participant, now)
        };
        let (first, second) = tokio::join!(add(), add());
        let stored = [first.is_ok(), second.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(stored, 1, "day {day}: {first:?} / {second:?}");
    }
    assert_eq!(entry_count(&pool).await, 5);
}

#[tokio::test]
async fn changes_and_deletions_announce_every_day_they_touch_and_only_the_owner_can_make_them() {
    let (_, pool) = test_database().await;
    let (_, window, [me, them]) = season(&pool, 9, 2).await;
    let trace = TraceParent::new_root();
    let now = Utc::now();
    let first = window.start + Duration::days(1);
    let moved_to = window.start + Duration::days(3);
    let id = manual::add(
        &pool,
        to_outbox(&trace),
        me,
        &window,
        &swim(first, 45, false),
        &EnteredBy::Participant,
        now,
    )
    .await
    .unwrap();

    // Someone else's entry: not found, whatever they try.
    let theirs = manual::change(
        &pool,
        to_outbox(&trace),
        them,
        id,
        &window,
        &swim(moved_to, 10, false),
        &EnteredBy::Participant,
        now,
    )
    .await;
    assert!(matches!(theirs, Err(ManualError::NotFound)), "{theirs:?}");
    let theirs =
        manual::delete(&pool, to_outbox(&trace), them, id, &window, &EnteredBy::Participant, now)
            .await;
    assert!(matches!(theirs, Err(ManualError::NotFound)), "{theirs:?}");
    assert!(manual::entry(&pool, them, id).await.unwrap().is_none());
    assert_eq!(announced(&pool).await.len(), 1, "only the addition was announced");

    let cycling = ManualEntry { kind: ActivityKind::Cycling, ..swim(moved_to, 50, true) };
    manual::change(
        &pool,
        to_outbox(&trace),
        me,
        id,
        &window,
        &cycling,
        &EnteredBy::Participant,
        now,
    )
    .await
    .unwrap();
    assert_eq!(manual::entry(&pool, me, id).await.unwrap().map(|e| e.entry), Some(cycling));
    let events = announced(&pool).await;
    let days: Vec<(String, i32)> = events[1..]
        .iter()
        .map(|e| {
            (
                e.date.clone(),
                e.manual
                    .as_ref()
                    .map_or(-1, |m| m.worn_moderate_minutes + m.unworn_moderate_minutes),
            )
        })
        .collect();
    assert_eq!(
        days,
        vec![(first.to_string(), 0), (moved_to.to_string(), 50)],
        "the day it left (now with nothing logged) and the day it moved to"
    );

    manual::delete(&pool, to_outbox(&trace), me, id, &window, &EnteredBy::Participant, now)
        .await
        .unwrap();
    assert_eq!(entry_count(&pool).await, 0);
    let last = announced(&pool).await.pop().unwrap();
    assert_eq!(
        (last.date, last.manual.map(|m| m.worn_moderate_minutes)),
        (moved_to.to_string(), Some(0))
    );
}

#[tokio::test]
async fn after_the_grace_deadline_nothing_is_added_changed_or_deleted() {
    let (_, pool) = test_database().await;
    // Two weeks that ended 56 days ago, with no grace period.
    let (program, _, [me, _]) = season(&pool, 70, 2).await;
    sqlx::query("UPDATE programs SET grace_hours = 0 WHERE id = $1")
        .bind(program)
        .execute(&pool)
        .await
        .unwrap();
    let window = SeasonWindow::of(&store::program(&pool, program).await.unwrap().unwrap());
    let day = window.start + Duration::days(3);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO manual_activities (participant_id, day, kind, minutes, intensity, device_worn,
             entered_by)
         VALUES ($1, $2, 'swimming', 30, 'moderate', false, 'participant') RETURNING id",
    )
    .bind(me)
    .bind(day)
    .fetch_one(&pool)
    .await
    .unwrap();
    let trace = TraceParent::new_root();
    let now = Utc::now();
    let settled = vec![EntryProblem::SeasonSettled { deadline: window.grace_deadline }];
    let added = manual::add(
        &pool,
        to_outbox(&trace),
        me,
        &window,
        &swim(day, 20, false),
        &EnteredBy::Participant,
        now,
    )
    .await;
    assert_eq!(refused(added), settled);
    let changed = manual::change(
        &pool,
        to_outbox(&trace),
        me,
        id,
        &window,
        &swim(day, 20, false),
        &EnteredBy::Participant,
        now,
    )
    .await;
    assert_eq!(refused(changed), settled);
    let deleted =
        manual::delete(&pool, to_outbox(&trace), me, id, &window, &EnteredBy::Participant, now)
            .await;
    assert_eq!(refused(deleted), settled);
    assert_eq!(manual::entry(&pool, me, id).await.unwrap().map(|e| e.entry.minutes), Some(30));
    assert!(announced(&pool).await.is_empty());
}

/// Goal history and each team week's progress.
async fn goals_and_progress(pool: &PgPool) -> (Vec<String>, Vec<(i32, f64)>) {
    let goals: Vec<String> = sqlx::query_scalar(
        "SELECT participant_id || ' ' || effective_date || ' ' || steps || ' ' || inputs::text
         FROM goal_history ORDER BY participant_id, effective_date",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let progress: Vec<(i32, f64)> =
        sqlx::query_as("SELECT week, progress FROM team_progress ORDER BY week")
            .fetch_all(pool)
            .await
            .unwrap();
    (goals, progress)
}

#[tokio::test]
async fn logged_minutes_count_in_team_progress_and_never_in_a_goal() {
    let (_, pool) = test_database().await;
    let (_, window, members) = season(&pool, 9, 2).await;
    let engine = GoalsEngine {
        pool: pool.clone(),
        topics: Topics::default(),
        relay_wake: Default::default(),
    };
    let trace = TraceParent::new_root();
    let recompute = |source| {
        let changes: BTreeMap<i64, Change> =
            members.iter().map(|m| (*m, Change { from: window.start, trace, source })).collect();
        let engine = &engine;
        async move { engine.recompute_batch(&changes).await.unwrap() }
    };
    recompute(DataSource::Device).await;
    let (goals_before, progress_before) = goals_and_progress(&pool).await;
    assert!(!goals_before.is_empty() && progress_before.len() == 2);

    // Week 1: a 60-minute swim without the tracker adds 4 miles; 90 minutes of cycling with it
    // raise that day's 30 active minutes to 90 (5,000 steps = 2.5 miles → 6 miles: + 3.5).
    let week_1 = window.start + Duration::days(1);
    let now = Utc::now();
    let ride =
        ManualEntry { kind: ActivityKind::Cycling, ..swim(week_1 + Duration::days(1), 90, true) };
    for entry in [swim(week_1, 60, false), ride] {
        manual::add(
            &pool,
            to_outbox(&trace),
            members[0],
            &window,
            &entry,
            &EnteredBy::Participant,
            now,
        )
        .await
        .unwrap();
    }
    recompute(DataSource::Manual).await;
    let (goals_after, progress_after) = goals_and_progress(&pool).await;
    assert_eq!(goals_after, goals_before, "no goal moved");
    assert_eq!(progress_after[0].0, 1);
    assert!(
        (progress_after[0].1 - progress_before[0].1 - 7.5).abs() < 1e-9,
        "week 1: {progress_before:?} → {progress_after:?}"
    );
    assert_eq!(progress_after[1], progress_before[1], "week 2 unchanged");
    let team_events: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT payload FROM kafka_outbox WHERE topic = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(&Topics::default().team_progress)
    .fetch_all(&pool)
    .await
    .unwrap();
    let last = fitex_proto::TeamProgressChanged::decode(team_events[0].as_slice()).unwrap();
    assert_eq!(
        last.source,
        DataSource::Manual as i32,
        "the team event names where its change came from"
    );
}
