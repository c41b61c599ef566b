//! Several loops (a replica's consumers and pending loop) and several replicas can fetch one
//! participant-day at once. A slow, older fetch that answers last must store nothing and publish
//! nothing: the newest value stays, with exactly one event for it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_common::trace_context::TraceParent;
use fitex_connections::{pending, store};
use fitex_fetcher::sync::SyncOutcome;
use fitex_proto::{ActivityDayChanged, Message};
use fitex_provider_simulator::Fault;

use crate::helpers::*;

/// The steps of every activity event published for `participant` on `date`, in order.
async fn published_steps(
    app: &TestFetcher,
    participant: i64,
    date: NaiveDate,
    at_least: usize,
) -> Vec<i32> {
    // Ask for one more than expected: a surplus event has time to show up.
    let records = app
        .topic_records(&app.kafka.topics.activity_days, at_least + 1, Duration::from_secs(4))
        .await;
    let mut events: Vec<ActivityDayChanged> = records
        .iter()
        .map(|r| ActivityDayChanged::decode(r.payload.as_slice()).expect("an activity event"))
        .filter(|e| e.participant_id == participant && e.date == date.to_string())
        .collect();
    events.sort_by_key(|e| e.fetched_at.map(|t| (t.seconds, t.nanos)));
    events.iter().map(|e| e.steps).collect()
}

async fn refused_stale_writes(app: &TestFetcher) -> u64 {
    app.metrics()
        .await
        .lines()
        .find(|l| l.starts_with("fitex_fetcher_stale_writes_refused_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test]
async fn within_one_replica_an_older_fetch_answering_last_stores_and_publishes_nothing() {
    let app = spawn_fetcher().await;
    let connection_id = app.connect_user("STALE01").await;
    let participant = app.participant_of(connection_id).await;
    let date = day("2026-11-20");
    // One replica's core, as its notifications consumer, retry consumer and pending loop share it.
    let fetcher = app.fetcher().await;
    app.sim().set_day("STALE01", date, day_data(3000, 800)).await.unwrap();
    let connection = store::connection_by_id(&app.pool, connection_id).await.unwrap().unwrap();
    fetcher
        .sync_user(&connection, &[date], &BTreeMap::new(), &TraceParent::new_root().into())
        .await
        .unwrap();
    // Read again: the time zone is now checked, so the next calls are data calls only.
    let connection = store::connection_by_id(&app.pool, connection_id).await.unwrap().unwrap();

    // The older fetch reads 4,000 steps, and its answer is held back on the way.
    app.sim().set_day("STALE01", date, day_data(4000, 800)).await.unwrap();
    app.sim().set_fault(Fault::answered_late(2_000, 1).for_user("STALE01")).await.unwrap();
    let (dates, older_trace) = ([date], TraceParent::new_root().into());
    let not_notified = BTreeMap::new();
    let older = fetcher.sync_user(&connection, &dates, &not_notified, &older_trace);
    let newer = async {
        wait_for("the older request to arrive", Duration::from_secs(10), || async {
            app.data_calls().await >= 2
        })
        .await;
        // The participant walks on; a newer fetch reads 5,000 and answers at once.
        app.sim().set_day("STALE01", date, day_data(5000, 800)).await.unwrap();
        fetcher
            .sync_user(&connection, &[date], &BTreeMap::new(), &TraceParent::new_root().into())
            .await
    };
    let (older, newer) = tokio::join!(older, newer);

    assert!(matches!(newer.unwrap(), SyncOutcome::Stored { changed: 1, .. }));
    assert!(
        matches!(older.unwrap(), SyncOutcome::Stored { changed: 0, .. }),
        "the older answer changed nothing"
    );
    assert_eq!(app.stored_steps(participant).await.get(&date), Some(&5000), "newest value kept");
    assert_eq!(
        published_steps(&app, participant, date, 2).await,
        vec![3000, 5000],
        "one event per stored change; none for the stale answer"
    );
}

#[tokio::test]
async fn across_two_replicas_an_older_fetch_answering_last_stores_and_publishes_nothing() {
    // Replica 1: the running fetcher (its consumer takes the notification).
    let app = spawn_fetcher().await;
    let connection_id = app.connect_user("STALE02").await;
    let participant = app.participant_of(connection_id).await;
    let date = day("2026-11-21");
    app.sim().set_day("STALE02", date, day_data(3000, 800)).await.unwrap();
    app.notify("STALE02", &[date], "activities").await;
    wait_for("the first value to be stored", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.get(&date) == Some(&3000)
    })
    .await;
    let calls_before = app.data_calls().await;

    // Replica 1 fetches 4,000 steps; its answer is held back on the way.
    app.sim().set_day("STALE02", date, day_data(4000, 800)).await.unwrap();
    app.sim().set_fault(Fault::answered_late(3_000, 1).for_user("STALE02")).await.unwrap();
    app.notify("STALE02", &[date], "activities").await;
    wait_for("replica 1's request to arrive", Duration::from_secs(20), || async {
        app.data_calls().await > calls_before
    })
    .await;

    // Replica 2, a separate process sharing the database, fetches the same day later (its pending
    // loop, e.g. a catch-up) and reads the newer 5,000 steps.
    app.sim().set_day("STALE02", date, day_data(5000, 800)).await.unwrap();
    let replica_two = app.fetcher().await;
    pending::defer(&app.pool, connection_id, &[date], "catch_up", Utc::now(), None).await.unwrap();
    fitex_fetcher::pending::run_once(&replica_two, 10).await.unwrap();
    assert_eq!(app.stored_steps(participant).await.get(&date), Some(&5000));

    // Replica 1's late answer arrives and is refused.
    wait_for("replica 1's late answer to be refused", Duration::from_secs(20), || async {
        refused_stale_writes(&app).await >= 1
    })
    .await;
    assert_eq!(app.stored_steps(participant).await.get(&date), Some(&5000), "newest value kept");
    assert_eq!(
        published_steps(&app, participant, date, 2).await,
        vec![3000, 5000],
        "one event per stored change; none for the stale answer"
    );
}
