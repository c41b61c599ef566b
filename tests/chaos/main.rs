//! No-loss accounting under faults: the simulator's cohort drives the real pipeline while one
//! fault at a time is injected; afterwards every user-day the simulator changed must be stored
//! exactly once with its latest values, every goal must match a from-scratch recomputation,
//! nothing may be left in the outbox and every dead letter must say why.
//!
//! These tests restart PostgreSQL and kill processes, so they run alone:
//! `scripts/chaos.sh` (CI runs a short form). `CHAOS_USERS`, `CHAOS_ROUNDS` size a run;
//! `CHAOS_REPORT=file` collects one JSON line per scenario (docs/reliability.md).

mod harness;

use std::time::Duration;

use fitex_fitbit_simulator::Fault;
use harness::{Pipeline, Role, Size};

const SETTLE: Duration = Duration::from_secs(120);

#[tokio::test]
#[ignore = "chaos: run alone, with scripts/chaos.sh"]
async fn no_fault_baseline() {
    let size = Size::from_env();
    let mut p = Pipeline::start(&size, 1).await;
    p.drive(size.rounds * 2).await;
    p.account("baseline (no fault)", SETTLE).await.assert_no_loss(|| p.logs());
}

#[tokio::test]
#[ignore = "chaos: run alone, with scripts/chaos.sh"]
async fn broker_killed_and_restarted_mid_load() {
    let size = Size::from_env();
    let mut p = Pipeline::start(&size, 2).await;
    p.drive(size.rounds).await;
    p.broker.kill();
    // While the broker is gone the subscriber still answers 204: the outbox holds the records.
    p.drive(size.rounds).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    p.broker.restart();
    p.drive(size.rounds).await;
    let report = p.account("broker kill -9 and restart", SETTLE).await;
    assert!(!p.broker.log().contains("panicked"), "the broker panicked");
    report.assert_no_loss(|| p.logs());
}

#[tokio::test]
#[ignore = "chaos: run alone, with scripts/chaos.sh"]
async fn postgres_restarted_mid_load() {
    let size = Size::from_env();
    let mut p = Pipeline::start(&size, 3).await;
    p.drive(size.rounds).await;
    p.restart_postgres();
    p.drive(size.rounds).await;
    p.restart_postgres();
    p.drive(size.rounds).await;
    p.account("PostgreSQL restarted twice", SETTLE).await.assert_no_loss(|| p.logs());
}

#[tokio::test]
#[ignore = "chaos: run alone, with scripts/chaos.sh"]
async fn replicas_killed_between_the_database_commit_and_the_offset_commit() {
    let size = Size::from_env();
    let mut p = Pipeline::start(&size, 4).await;
    // A second replica of each, armed to abort right after its first batch is stored and before
    // its offsets are committed; the first ones are then stopped so the armed ones get the work.
    let crash = fitex_common::crash_point::CRASH_AT_VAR;
    p.add_service(Role::Fetcher, &[(crash, "fetcher.after_db_commit:1".into())]).await;
    p.add_service(Role::Goals, &[(crash, "goals.after_db_commit:1".into())]).await;
    let first_fetcher = p.replicas(Role::Fetcher)[0];
    let first_goals = p.replicas(Role::Goals)[0];
    p.retire(first_fetcher);
    p.retire(first_goals);
    p.drive(size.rounds * 2).await;
    let report = p.account("fetcher and goals killed between commits", SETTLE).await;
    assert!(report.restarts >= 2, "both armed replicas crashed and came back: {report:?}");
    report.assert_no_loss(|| p.logs());
}

#[tokio::test]
#[ignore = "chaos: run alone, with scripts/chaos.sh"]
async fn provider_errors_and_slow_answers() {
    let size = Size::from_env();
    let mut p = Pipeline::start(&size, 5).await;
    p.drive(size.rounds).await;
    p.provider_fault(Fault::status(503, 25)).await;
    p.drive(size.rounds).await;
    p.provider_fault(Fault::delay(1_500, 20)).await;
    p.provider_fault(Fault::status(500, 10)).await;
    p.drive(size.rounds).await;
    p.account("provider 5xx bursts and slow answers", SETTLE).await.assert_no_loss(|| p.logs());
}

#[tokio::test]
#[ignore = "chaos: run alone, with scripts/chaos.sh"]
async fn duplicated_and_reordered_notifications() {
    let size = Size::from_env();
    let mut p = Pipeline::start(&size, 6).await;
    p.drive(size.rounds).await;
    // Old days notified again, each repeated, interleaved with new changes of the same days.
    p.repeat_notifications(size.rounds / 2, 4).await;
    p.drive(size.rounds).await;
    p.repeat_notifications(size.rounds / 2, 2).await;
    p.account("duplicated and reordered notifications", SETTLE).await.assert_no_loss(|| p.logs());
}

#[tokio::test]
#[ignore = "chaos: run alone, with scripts/chaos.sh"]
async fn consumer_groups_rebalance_while_busy() {
    let size = Size::from_env();
    let mut p = Pipeline::start(&size, 7).await;
    p.drive(size.rounds).await;
    p.add_service(Role::Fetcher, &[]).await;
    p.add_service(Role::Goals, &[]).await;
    p.drive(size.rounds).await;
    let (first_fetcher, first_goals) = (p.replicas(Role::Fetcher)[0], p.replicas(Role::Goals)[0]);
    p.retire(first_fetcher);
    p.retire(first_goals);
    p.drive(size.rounds).await;
    let report = p.account("consumer-group rebalances while busy", SETTLE).await;
    report.assert_no_loss(|| p.logs());
}
