//! A batch of changes is recomputed in one transaction: it must store exactly what recomputing the
//! same participants one at a time stores, and publish each changed team week once.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::trace_context::TraceParent;
use fitex_goals::{GoalSettings, MileRules};
use fitex_goals_store::programs::{self, NewProgram};
use fitex_goals_store::recompute::{Change, DataSource};
use fitex_goals_store::{GoalsEngine, Recomputed};
use fitex_testkit::test_database;
use sqlx::PgPool;

/// Two teams (three members and two) in a two-week program that started nine days ago, every
/// member with history from before the start; returns the participants in id order.
async fn season(pool: &PgPool) -> Vec<i64> {
    let today = Utc::now().date_naive();
    let start = today - Duration::days(9);
    let new = NewProgram {
        name: "Winter season",
        start_date: start,
        weeks: 2,
        unit: "steps",
        goal_settings: &GoalSettings::default(),
        mile_rules: &MileRules::default(),
    };
    let program = programs::create_program(pool, &new).await.unwrap();
    let walkers = programs::create_team(pool, program, "Walkers").await.unwrap();
    let striders = programs::create_team(pool, program, "Striders").await.unwrap();
    let mut participants = Vec::new();
    for (index, team) in [walkers, walkers, walkers, striders, striders].into_iter().enumerate() {
        let id: i64 =
            sqlx::query_scalar("INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id")
                .fetch_one(pool)
                .await
                .unwrap();
        programs::add_member(pool, team, id, start).await.unwrap();
        for offset in 0..=28 {
            let day: NaiveDate = today - Duration::days(offset);
            // Different walkers, and days that differ, so goals and totals differ too.
            let steps =
                4_000 + 900 * index as i32 + 137 * ((offset * (index as i64 + 3)) % 11) as i32;
            sqlx::query(
                "INSERT INTO activity_days (participant_id, day, steps, distance_km,
                     sedentary_minutes, lightly_active_minutes, fairly_active_minutes,
                     very_active_minutes, worn_minutes, source, fetched_at)
                 VALUES ($1, $2, $3, $4, 600, 200, 20, 10, 900, 'fitbit', now())",
            )
            .bind(id)
            .bind(day)
            .bind(steps)
            .bind(f64::from(steps) * 0.0007)
            .execute(pool)
            .await
            .unwrap();
        }
        participants.push(id);
    }
    participants
}

fn engine(pool: &PgPool) -> GoalsEngine {
    GoalsEngine { pool: pool.clone(), topics: Topics::default(), relay_wake: Default::default() }
}

/// Goal history and team progress as a reader sees them, and the events queued per topic.
async fn stored(pool: &PgPool) -> (Vec<String>, Vec<String>, BTreeMap<String, i64>) {
    let goals: Vec<String> = sqlx::query_scalar(
        "SELECT participant_id || ' ' || effective_date || ' ' || steps || ' ' || strategy
                || ' ' || provisional || ' ' || inputs::text || ' ' || explanation
         FROM goal_history ORDER BY participant_id, effective_date",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let teams: Vec<String> = sqlx::query_scalar(
        "SELECT t.name || ' week ' || tp.week || ': ' || tp.goal || ' ' || tp.progress || ' '
                || tp.members || ' ' || tp.members_meeting_goal
         FROM team_progress tp JOIN teams t ON t.id = tp.team_id ORDER BY t.name, tp.week",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let events: Vec<(String, i64)> =
        sqlx::query_as("SELECT topic, count(*) FROM kafka_outbox GROUP BY topic")
            .fetch_all(pool)
            .await
            .unwrap();
    (goals, teams, events.into_iter().collect())
}

fn from_start(participants: &[i64]) -> BTreeMap<i64, Change> {
    let start = Utc::now().date_naive() - Duration::days(9);
    let trace = TraceParent::new_root();
    participants
        .iter()
        .map(|p| (*p, Change { from: start, trace, source: DataSource::Device }))
        .collect()
}

#[tokio::test]
async fn a_batch_stores_what_one_at_a_time_stores_and_publishes_each_team_week_once() {
    let topics = Topics::default();
    let (_, batched) = test_database().await;
    let (_, one_by_one) = test_database().await;
    let participants = season(&batched).await;
    assert_eq!(season(&one_by_one).await, participants, "the same ids in both databases");

    let done = engine(&batched).recompute_batch(&from_start(&participants)).await.unwrap();
    let mut singly = Recomputed::default();
    for participant in &participants {
        let start = Utc::now().date_naive() - Duration::days(9);
        let one = engine(&one_by_one)
            .recompute(*participant, start, &TraceParent::new_root())
            .await
            .unwrap();
        singly.goals_changed += one.goals_changed;
        singly.team_weeks_changed += one.team_weeks_changed;
    }

    let (goals, teams, events) = stored(&batched).await;
    let (goals_singly, teams_singly, events_singly) = stored(&one_by_one).await;
    assert_eq!(goals.len(), 5 * 10, "a goal per member per day from the start through today");
    assert_eq!(goals, goals_singly);
    assert_eq!(teams.len(), 4, "two teams, two weeks: {teams:?}");
    assert_eq!(teams, teams_singly);
    assert_eq!(done.goals_changed, singly.goals_changed);
    assert_eq!(events[&topics.goals], events_singly[&topics.goals]);
    // One at a time, each member's recomputation moves their team's weeks again.
    assert_eq!((done.team_weeks_changed, events[&topics.team_progress]), (4, 4));
    assert!(events_singly[&topics.team_progress] > 4, "{events_singly:?}");

    // The same batch again changes nothing and publishes nothing.
    let again = engine(&batched).recompute_batch(&from_start(&participants)).await.unwrap();
    assert_eq!(again, Recomputed::default());
    assert_eq!(stored(&batched).await.2, events);
}

#[tokio::test]
async fn a_batch_skips_whom_it_cannot_recompute_and_stores_the_rest() {
    let (_, pool) = test_database().await;
    let participants = season(&pool).await;
    // One deleted (hidden until the purge) and one unknown id beside a real member.
    sqlx::query("UPDATE participants SET deleted_at = now() WHERE id = $1")
        .bind(participants[1])
        .execute(&pool)
        .await
        .unwrap();
    let batch = from_start(&[participants[0], participants[1], 999_999]);
    let done = engine(&pool).recompute_batch(&batch).await.unwrap();
    assert_eq!(done.goals_changed, 10);
    let with_goals: Vec<i64> =
        sqlx::query_scalar("SELECT DISTINCT participant_id FROM goal_history")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(with_goals, vec![participants[0]]);
}
