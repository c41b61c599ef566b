//! What a goal upsert stores and what it reports for publishing, on a database of the test's own.

use chrono::NaiveDate;
use fitex_goals::{Goal, GoalSettings, MileRules, StrategyKind};
use fitex_goals_store::programs::{self, NewProgram};
use fitex_goals_store::store;
use fitex_testkit::test_database;
use sqlx::PgPool;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn goal(steps: i32, inputs: &[&str]) -> Goal {
    Goal {
        effective_date: date("2026-12-02"),
        steps,
        strategy: StrategyKind::AdaptivePercentile,
        inputs: inputs.iter().map(|d| date(d)).collect(),
        citation: "adams2013".into(),
        provisional: true,
        explanation: format!("Your provisional goal is {steps} steps."),
    }
}

async fn upsert(pool: &PgPool, participant: i64, program: i64, goal: &Goal) -> Vec<Goal> {
    let mut tx = pool.begin().await.unwrap();
    let changed = store::upsert_goals(
        &mut tx,
        participant,
        program,
        std::slice::from_ref(goal),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    changed
}

async fn stored_inputs(pool: &PgPool, participant: i64) -> Vec<NaiveDate> {
    sqlx::query_scalar("SELECT inputs FROM goal_history WHERE participant_id = $1")
        .bind(participant)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn only_a_change_a_reader_can_see_is_reported_for_publishing() {
    let (_, pool) = test_database().await;
    let program = programs::create_program(
        &pool,
        &NewProgram {
            name: "Winter season",
            start_date: date("2026-11-30"),
            weeks: 8,
            unit: "steps",
            goal_settings: &GoalSettings::default(),
            mile_rules: &MileRules::default(),
        },
    )
    .await
    .unwrap();
    let participant: i64 =
        sqlx::query_scalar("INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();

    let first = goal(9460, &["2026-11-28"]);
    assert_eq!(upsert(&pool, participant, program, &first).await, vec![first.clone()], "new goal");
    assert!(upsert(&pool, participant, program, &first).await.is_empty(), "the same goal again");

    // One more valid day leaves the goal where it was: stored, not published.
    let more_inputs = goal(9460, &["2026-11-28", "2026-11-29"]);
    assert!(upsert(&pool, participant, program, &more_inputs).await.is_empty());
    assert_eq!(stored_inputs(&pool, participant).await, more_inputs.inputs);

    // A new value is published, and so is a changed explanation or citation alone.
    let higher = goal(9800, &["2026-11-28", "2026-11-29"]);
    assert_eq!(upsert(&pool, participant, program, &higher).await, vec![higher.clone()]);
    let cited = Goal { citation: "tudor-locke2011".into(), ..higher.clone() };
    assert_eq!(upsert(&pool, participant, program, &cited).await, vec![cited.clone()]);
    let final_goal = Goal { provisional: false, ..cited };
    assert_eq!(upsert(&pool, participant, program, &final_goal).await, vec![final_goal]);
}
