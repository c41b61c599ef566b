//! What operators read of the outbox (`outbox::backlog`) and how a dead letter's replay is claimed
//! once (`dead_letter::claim_replay`), on a database of the test's own.

use fitex_common::dead_letter::{self, Replay};
use fitex_common::outbox::{self, OutgoingRecord, SourceBacklog};
use fitex_testkit::test_database;
use uuid::Uuid;

fn record(topic: &str, key: &str) -> OutgoingRecord {
    OutgoingRecord {
        event_id: Uuid::now_v7(),
        topic: topic.into(),
        key: key.into(),
        payload: b"event".to_vec(),
        headers: vec![],
    }
}

#[tokio::test]
async fn the_backlog_counts_each_sources_waiting_records_with_the_newest_error() {
    let (_, pool) = test_database().await;
    assert_eq!(outbox::backlog(&pool).await.unwrap(), vec![]);

    let (first, second, third) = (record("a", "1"), record("a", "2"), record("a", "3"));
    outbox::insert(&pool, "subscriber", &[&first, &second, &third]).await.unwrap();
    outbox::insert(&pool, "goals", &[&record("g", "7")]).await.unwrap();
    for (event, error) in [(&first, "older failure"), (&second, "newer failure")] {
        sqlx::query("UPDATE kafka_outbox SET attempts = 1, last_error = $2 WHERE event_id = $1")
            .bind(event.event_id)
            .bind(error)
            .execute(&pool)
            .await
            .unwrap();
    }
    let oldest: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT min(created_at) FROM kafka_outbox WHERE source = 'subscriber'")
            .fetch_one(&pool)
            .await
            .unwrap();

    let backlog = outbox::backlog(&pool).await.unwrap();
    assert_eq!(backlog.len(), 2, "{backlog:?}");
    assert_eq!((backlog[0].source.as_str(), backlog[0].waiting), ("goals", 1));
    assert_eq!(backlog[0].last_error, None);
    assert_eq!(
        backlog[1],
        SourceBacklog {
            source: "subscriber".into(),
            waiting: 3,
            oldest: Some(oldest),
            last_error: Some("newer failure".into()),
        }
    );
}

#[tokio::test]
async fn a_dead_letter_is_claimed_for_replay_once_and_not_at_all_when_rolled_back() {
    let (_, pool) = test_database().await;
    let replay = Replay {
        dead_letter_topic: "fitex.dead-letters.v1",
        partition: 0,
        offset: 41,
        event_id: "event-1",
        replayed_to: "fitex.activity-days.v1",
    };

    // A replay whose record the broker did not take is rolled back: it can run again.
    let mut failed = pool.begin().await.unwrap();
    assert!(dead_letter::claim_replay(&mut failed, &replay).await.unwrap());
    failed.rollback().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    assert!(dead_letter::claim_replay(&mut tx, &replay).await.unwrap());
    tx.commit().await.unwrap();

    let mut again = pool.begin().await.unwrap();
    assert!(!dead_letter::claim_replay(&mut again, &replay).await.unwrap(), "replayed once");
    let next = Replay { offset: 42, event_id: "event-2", ..replay };
    assert!(dead_letter::claim_replay(&mut again, &next).await.unwrap(), "another letter");
    again.commit().await.unwrap();

    let stored: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT record_offset, event_id, replayed_to FROM dlq_replays ORDER BY record_offset",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        vec![
            (41, "event-1".into(), "fitex.activity-days.v1".into()),
            (42, "event-2".into(), "fitex.activity-days.v1".into()),
        ]
    );
}
