//! Closing a season through PostgreSQL: two replicas closing at once close it once, with one
//! `SeasonClosed` in the outbox; the snapshot is what `team_progress` held at the close; an
//! operator's correction changes only the snapshot, re-ranks it and is written to the audit log,
//! which keeps every row as written.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::trace_context::TraceParent;
use fitex_goals::{CorrectionNote, GoalSettings, Guideline, MileRules, Strategy, TeamWeek};
use fitex_goals_store::programs::{self, NewProgram};
use fitex_goals_store::recompute::{Change, DataSource};
use fitex_goals_store::season_close::{
    self, CloseOutcome, Correction, CorrectionError, CLOSED_BY_OPERATOR, CLOSED_BY_SERVICE,
};
use fitex_goals_store::{audit, store, GoalsEngine};
use fitex_testkit::test_database;
use sqlx::PgPool;

/// A two-week season that ended `ended_days_ago` days ago (every goal 7,000 steps) with teams
/// North (9,000 steps a day) and South (4,000), its goals and team weeks computed. Returns
/// (program, north, south).
async fn season(pool: &PgPool, name: &str, ended_days_ago: i64) -> (i64, i64, i64) {
    let start = Utc::now().date_naive() - Duration::days(13 + ended_days_ago);
    let settings = GoalSettings {
        strategy: Strategy::Guideline(Guideline::Fixed { steps: 7_000 }),
        ..GoalSettings::default()
    };
    let new = NewProgram {
        name,
        start_date: start,
        weeks: 2,
        unit: "steps",
        goal_settings: &settings,
        mile_rules: &MileRules::default(),
    };
    let program = programs::create_program(pool, &new).await.unwrap();
    let north = programs::create_team(pool, program, "North").await.unwrap();
    let south = programs::create_team(pool, program, "South").await.unwrap();
    let mut changes = BTreeMap::new();
    for (team, steps) in [(north, 9_000), (south, 4_000)] {
        let member: i64 =
            sqlx::query_scalar("INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id")
                .fetch_one(pool)
                .await
                .unwrap();
        programs::add_member(pool, team, member, start).await.unwrap();
        let days: Vec<NaiveDate> = (0..14).map(|n| start + Duration::days(n)).collect();
        store_days(pool, member, &days, steps).await;
        let trace = TraceParent::new_root();
        changes.insert(member, Change { from: start, trace, source: DataSource::Device });
    }
    engine(pool).recompute_batch(&changes).await.unwrap();
    (program, north, south)
}

async fn store_days(pool: &PgPool, participant: i64, days: &[NaiveDate], steps: i32) {
    sqlx::query(
        "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
             lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
             source, fetched_at)
         SELECT $1, d, $3, $3 * 0.0007, 600, 200, 0, 0, 800, 'fitbit', now()
         FROM unnest($2::date[]) AS d
         ON CONFLICT (participant_id, day) DO UPDATE SET steps = EXCLUDED.steps",
    )
    .bind(participant)
    .bind(days)
    .bind(steps)
    .execute(pool)
    .await
    .unwrap();
}

fn engine(pool: &PgPool) -> GoalsEngine {
    GoalsEngine { pool: pool.clone(), topics: Topics::default(), relay_wake: Default::default() }
}

async fn frozen_weeks(pool: &PgPool, program: i64) -> Vec<(i64, i32, f64, f64)> {
    sqlx::query_as(
        "SELECT team_id, week, progress, percent_of_goal FROM season_final_team_weeks
         WHERE program_id = $1 ORDER BY team_id, week",
    )
    .bind(program)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn season_events_in_outbox(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM kafka_outbox WHERE topic = $1")
        .bind(&Topics::default().seasons)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn ranks(board: &season_close::Leaderboard) -> Vec<(String, u32)> {
    board.standings.iter().map(|s| (s.name.clone(), s.entry.rank)).collect()
}

#[tokio::test]
async fn two_replicas_closing_at_once_close_a_season_once() {
    let (_, pool) = test_database().await;
    let (program, north, south) = season(&pool, "Closed season", 20).await;
    let (running, ..) = season(&pool, "Running season", -5).await;
    let live: Vec<(i64, i32, f64, f64)> = sqlx::query_as(
        "SELECT team_id, week, progress, percent_of_goal FROM team_progress
         WHERE team_id = ANY($1) ORDER BY team_id, week",
    )
    .bind([north, south])
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(live.len(), 4, "two weeks of two teams");

    let now = Utc::now();
    let (first, second) = (engine(&pool), engine(&pool));
    let (a, b) = tokio::join!(first.close_due_seasons(now), second.close_due_seasons(now));
    let closed: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(closed.len(), 1, "closed once: {closed:?}");
    let closure = &closed[0];
    assert_eq!((closure.program_id, closure.leaderboard_week), (program, 2));
    assert_eq!(closure.closed_by, CLOSED_BY_SERVICE);
    assert_eq!(season_events_in_outbox(&pool).await, 1, "one SeasonClosed");
    assert_eq!(
        frozen_weeks(&pool, program).await,
        live,
        "the snapshot is team_progress at the close"
    );
    let board = season_close::leaderboard(&pool, program, None).await.unwrap();
    assert!(board.is_final);
    assert_eq!(ranks(&board), [("North".to_string(), 1), ("South".to_string(), 2)]);

    // Again: already closed; the running season is not due before its grace deadline.
    let again = first.close_season(program, Utc::now(), CLOSED_BY_OPERATOR).await.unwrap();
    assert_eq!(again, Some(CloseOutcome::AlreadyClosed(closure.clone())));
    let not_due = first.close_season(running, Utc::now(), CLOSED_BY_OPERATOR).await.unwrap();
    let deadline = store::program(&pool, running).await.unwrap().unwrap().program.grace_deadline();
    assert_eq!(not_due, Some(CloseOutcome::NotDue { deadline }));
    assert!(first.close_season(999_999, Utc::now(), CLOSED_BY_OPERATOR).await.unwrap().is_none());
    assert_eq!(season_events_in_outbox(&pool).await, 1);
    assert!(!season_close::leaderboard(&pool, running, None).await.unwrap().is_final);
}

#[tokio::test]
async fn a_correction_changes_only_the_snapshot_and_is_audited() {
    let (_, pool) = test_database().await;
    let (program, _, south) = season(&pool, "Corrected season", 20).await;
    let note = CorrectionNote::new("maria", "South's tracker sync was lost for week 2").unwrap();
    let correction = Correction {
        program_id: program,
        team_id: south,
        week: None,
        progress: 70_000.0,
        note: &note,
    };

    let refused = season_close::correct(&pool, &correction).await.unwrap_err();
    assert!(matches!(refused, CorrectionError::NotClosed), "{refused}");
    assert!(audit::list(&pool, None).await.unwrap().is_empty(), "nothing recorded");

    engine(&pool).close_due_seasons(Utc::now()).await.unwrap();
    let live_before = store::team_weeks(&pool, south).await.unwrap();
    let corrected = season_close::correct(&pool, &correction).await.unwrap();
    assert_eq!((corrected.before.progress, corrected.after.progress), (28_000.0, 70_000.0));
    assert_eq!((corrected.rank_before, corrected.rank_after), (Some(2), Some(1)));
    assert!((corrected.after.percent_of_goal - 100.0 * 70_000.0 / 49_000.0).abs() < 1e-9);

    // The snapshot changed and was re-ranked; team_progress did not.
    let board = season_close::leaderboard(&pool, program, None).await.unwrap();
    assert_eq!(ranks(&board), [("South".to_string(), 1), ("North".to_string(), 2)]);
    let weeks = season_close::team_weeks(&pool, south).await.unwrap();
    let week_two: Vec<&TeamWeek> = weeks.weeks.iter().filter(|w| w.week == 2).collect();
    assert!(weeks.is_final && week_two[0].progress == 70_000.0, "{weeks:?}");
    assert_eq!(store::team_weeks(&pool, south).await.unwrap(), live_before);

    // Who, when, what and why.
    let log = audit::list(&pool, Some(program)).await.unwrap();
    assert_eq!(log.len(), 1);
    let entry = &log[0];
    assert_eq!((entry.id, entry.actor.as_str()), (corrected.audit_id, "maria"));
    assert_eq!(entry.action, season_close::CORRECTION_ACTION);
    assert_eq!(entry.program_name.as_deref(), Some("Corrected season"));
    assert_eq!(entry.subject, format!("team South (id {south}), week 2"));
    assert_eq!(entry.old_value["progress"], 28_000.0);
    assert_eq!(
        (entry.old_value["final_rank"].as_u64(), entry.new_value["final_rank"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(entry.new_value["progress"], 70_000.0);
    assert_eq!(entry.reason, "South's tracker sync was lost for week 2");
    assert!((Utc::now() - entry.at).num_seconds() < 60);
    assert!(audit::list(&pool, Some(program + 1)).await.unwrap().is_empty());

    // A week the season does not have is refused, and nothing is recorded for it.
    let week_nine = Correction { week: Some(9), ..correction.clone() };
    let refused = season_close::correct(&pool, &week_nine).await.unwrap_err();
    assert!(matches!(refused, CorrectionError::NoFrozenWeek { week: 9, .. }), "{refused}");
    let negative = Correction { progress: -1.0, ..correction.clone() };
    assert!(matches!(
        season_close::correct(&pool, &negative).await.unwrap_err(),
        CorrectionError::Refused(_)
    ));
    assert_eq!(audit::list(&pool, None).await.unwrap().len(), 1);

    // The log keeps what was written: no update, no delete.
    for statement in ["UPDATE audit_log SET reason = 'tidied'", "DELETE FROM audit_log"] {
        let error = sqlx::query(statement).execute(&pool).await.unwrap_err();
        assert!(error.to_string().contains("cannot be changed or deleted"), "{statement}: {error}");
    }
    assert_eq!(audit::list(&pool, None).await.unwrap(), log);
}
