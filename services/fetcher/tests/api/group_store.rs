//! Concurrent syncs are stored a group per transaction (`store::store_group`, queued through
//! `group_commit::GroupCommit`), with every guarantee a sync had alone: its days, events,
//! connection update and pending clear commit together; a deleted connection gets nothing; an
//! older fetch never overwrites a newer one; a failed group fails every sync in it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::outbox::OutgoingRecord;
use fitex_common::token_cipher::TokenCipher;
use fitex_common::trace_context::TraceParent;
use fitex_connections::{pending, store as connections};
use fitex_fetcher::group_commit::{GroupCommit, GroupWriter};
use fitex_fetcher::store::{self, FetchedDay, StoreRequest, Stored};
use fitex_provider::{DayActivity, ProviderId, RateBudget, TokenGrant};
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{day, wait_for};

const KEY: &str = "k1:oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=";

/// A connected user; returns (connection, participant).
async fn connect(pool: &PgPool, user: &str) -> (i64, i64) {
    let cipher = TokenCipher::from_config(&[SecretString::from(KEY.to_string())]).unwrap();
    let grant = TokenGrant {
        access_token: SecretString::from(format!("access-{user}")),
        refresh_token: Some(SecretString::from(format!("refresh-{user}"))),
        expires_at: Utc::now() + chrono::Duration::hours(8),
        scopes: "activity".into(),
        user_id: user.into(),
    };
    let new = connections::NewConnection {
        provider: ProviderId::Fitbit,
        kind: connections::TokenKind::AuthorizationCode,
        grant: &grant,
        backfill: &[],
        legacy: None,
    };
    let connected = connections::connect(pool, &cipher, new).await.unwrap();
    (connected.id, connected.participant_id)
}

fn steps_on(date: NaiveDate, steps: i32) -> DayActivity {
    DayActivity { steps, no_data: false, ..DayActivity::no_data(date) }
}

/// A sync of `connection` that read `days` in a fetch that started at `fetch_started`.
fn request(
    (connection_id, participant_id): (i64, i64),
    days: &[DayActivity],
    fetch_started: DateTime<Utc>,
) -> StoreRequest {
    let days = days
        .iter()
        .map(|activity| FetchedDay {
            activity: activity.clone(),
            event: OutgoingRecord::event(
                "activity-days",
                participant_id.to_string(),
                Uuid::now_v7(),
                activity.steps.to_be_bytes().to_vec(),
                "application/x-test",
                &TraceParent::new_root(),
            ),
        })
        .collect::<Vec<_>>();
    StoreRequest {
        connection_id,
        participant_id,
        provider: ProviderId::Fitbit,
        dates: days.iter().map(|d| d.activity.date).collect(),
        days,
        budget: None,
        fetch_started,
        fetched_at: Utc::now(),
    }
}

/// Per participant and day, the stored steps.
async fn stored_days(pool: &PgPool) -> Vec<(i64, NaiveDate, i32)> {
    sqlx::query_as("SELECT participant_id, day, steps FROM activity_days ORDER BY 1, 2")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The outbox's event ids, in the order they were added.
async fn outbox_events(pool: &PgPool) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT event_id FROM kafka_outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn pending_days(pool: &PgPool, connection_id: i64) -> Vec<NaiveDate> {
    sqlx::query_scalar("SELECT day FROM pending_fetches WHERE connection_id = $1 ORDER BY day")
        .bind(connection_id)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn synced(pool: &PgPool, connection_id: i64) -> (bool, Option<i32>) {
    sqlx::query_as(
        "SELECT last_sync_at IS NOT NULL, rate_remaining FROM provider_connections WHERE id = $1",
    )
    .bind(connection_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn event_ids(request: &StoreRequest) -> Vec<Uuid> {
    request.days.iter().map(|d| d.event.event_id).collect()
}

#[tokio::test]
async fn a_group_with_a_deleted_connection_stores_the_others_and_nothing_of_the_deleted_one() {
    let (_, pool) = fitex_testkit::test_database().await;
    let (alice, bob, carol) =
        (connect(&pool, "ALICE").await, connect(&pool, "BOB").await, connect(&pool, "CAROL").await);
    let (monday, tuesday) = (day("2026-11-30"), day("2026-12-01"));
    for (connection, _) in [alice, bob, carol] {
        let mut tx = pool.begin().await.unwrap();
        pending::add(&mut tx, connection, &[monday, tuesday], "backfill", Utc::now(), None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let started = Utc::now();
    let mut requests = vec![
        request(alice, &[steps_on(monday, 1000)], started),
        request(bob, &[steps_on(monday, 2000), steps_on(tuesday, 2100)], started),
        request(carol, &[steps_on(monday, 3000), steps_on(tuesday, 3100)], started),
    ];
    let budget = RateBudget { limit: 150, remaining: 140, resets_at: Utc::now() };
    requests[2].budget = Some(budget);
    // Bob was deleted while his fetch was under way.
    sqlx::query("DELETE FROM participants WHERE id = $1").bind(bob.1).execute(&pool).await.unwrap();

    let stored = store::store_group(&pool, &requests).await.unwrap();

    assert_eq!(
        stored,
        vec![Stored::Days { changed: 1 }, Stored::ConnectionGone, Stored::Days { changed: 2 }]
    );
    assert_eq!(
        stored_days(&pool).await,
        vec![(alice.1, monday, 1000), (carol.1, monday, 3000), (carol.1, tuesday, 3100)],
        "nothing of Bob's"
    );
    assert_eq!(
        outbox_events(&pool).await,
        [event_ids(&requests[0]), event_ids(&requests[2])].concat()
    );
    assert_eq!(pending_days(&pool, alice.0).await, vec![tuesday], "only the fetched day cleared");
    assert!(pending_days(&pool, carol.0).await.is_empty());
    assert_eq!(synced(&pool, alice.0).await, (true, None));
    assert_eq!(synced(&pool, carol.0).await, (true, Some(140)), "each its own budget");

    // Stored again, unchanged: nothing to publish, and the deleted one still gets nothing.
    let again: Vec<StoreRequest> = requests
        .iter()
        .map(|r| {
            let days: Vec<DayActivity> = r.days.iter().map(|d| d.activity.clone()).collect();
            request((r.connection_id, r.participant_id), &days, Utc::now())
        })
        .collect();
    let stored = store::store_group(&pool, &again).await.unwrap();
    assert_eq!(
        stored,
        vec![Stored::Days { changed: 0 }, Stored::ConnectionGone, Stored::Days { changed: 0 }]
    );
    assert_eq!(outbox_events(&pool).await.len(), 3);
}

#[tokio::test]
async fn two_syncs_of_one_user_day_in_one_group_keep_the_newer_fetch() {
    let (_, pool) = fitex_testkit::test_database().await;
    let (alice, bob) = (connect(&pool, "ALICE").await, connect(&pool, "BOB").await);
    let (monday, tuesday) = (day("2026-11-30"), day("2026-12-01"));
    let older_start = Utc::now();
    let newer_start = older_start + chrono::Duration::milliseconds(5);
    // Alice's newer fetch is queued first, Bob's last: the order in the group does not matter,
    // the start does.
    let requests = vec![
        request(alice, &[steps_on(monday, 5000)], newer_start),
        request(bob, &[steps_on(monday, 700)], older_start),
        request(alice, &[steps_on(monday, 4000), steps_on(tuesday, 4100)], older_start),
        request(bob, &[steps_on(monday, 800)], newer_start),
    ];

    let stored = store::store_group(&pool, &requests).await.unwrap();

    assert_eq!(
        stored,
        vec![
            Stored::Days { changed: 1 },
            Stored::Days { changed: 0 },
            // Its Monday lost to the newer fetch; its Tuesday, read by no other, is stored.
            Stored::Days { changed: 1 },
            Stored::Days { changed: 1 },
        ]
    );
    assert_eq!(
        stored_days(&pool).await,
        vec![(alice.1, monday, 5000), (alice.1, tuesday, 4100), (bob.1, monday, 800)]
    );
    let published = outbox_events(&pool).await;
    let expected =
        [event_ids(&requests[0]), vec![event_ids(&requests[2])[1]], event_ids(&requests[3])];
    assert_eq!(published, expected.concat(), "no event for the older Mondays");

    // A later group with an older fetch of that day stores and publishes nothing for it.
    let stale = vec![request(alice, &[steps_on(monday, 4500)], older_start)];
    assert_eq!(store::store_group(&pool, &stale).await.unwrap(), vec![Stored::Days { changed: 0 }]);
    assert_eq!(stored_days(&pool).await[0], (alice.1, monday, 5000));
    assert_eq!(outbox_events(&pool).await.len(), published.len());
}

#[tokio::test]
async fn a_failed_group_transaction_reports_an_error_to_every_waiter() {
    let (_, pool) = fitex_testkit::test_database().await;
    let users =
        [connect(&pool, "ALICE").await, connect(&pool, "BOB").await, connect(&pool, "CAROL").await];
    let monday = day("2026-11-30");
    for (connection, _) in users {
        let mut tx = pool.begin().await.unwrap();
        pending::add(&mut tx, connection, &[monday], "backfill", Utc::now(), None).await.unwrap();
        tx.commit().await.unwrap();
    }
    // The outbox refuses every row: the group fails after its days were upserted.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'the outbox refuses this row'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON kafka_outbox FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let writer_pool = pool.clone();
    let write: GroupWriter<StoreRequest, Stored> = Arc::new(move |group| {
        let pool = writer_pool.clone();
        Box::pin(async move { Ok(store::store_group(&pool, &group).await?) })
    });
    let queue = Arc::new(GroupCommit::new(store::MAX_GROUP_SYNCS, write));

    // Alice's connection is held by another transaction, so her group waits and the others
    // queue behind it, to go in the next group together.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM provider_connections WHERE id = $1 FOR UPDATE")
        .bind(users[0].0)
        .execute(&mut *holder)
        .await
        .unwrap();
    let started = Utc::now();
    let submit = |user, steps| {
        let queue = queue.clone();
        let request = request(user, &[steps_on(monday, steps)], started);
        tokio::spawn(async move { queue.submit(request).await })
    };
    let first = submit(users[0], 1000);
    wait_for("the first group to wait for the lock", Duration::from_secs(10), || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        waiting > 0
    })
    .await;
    let others = [submit(users[1], 2000), submit(users[2], 3000)];
    tokio::time::sleep(Duration::from_millis(200)).await;
    holder.rollback().await.unwrap();

    let mut answers = vec![first.await.unwrap()];
    for other in others {
        answers.push(other.await.unwrap());
    }
    for answer in &answers {
        let error = answer.as_ref().expect_err("every sync of a failed group fails");
        assert!(
            matches!(error, fitex_connections::SyncError::Transient(reason) if reason.contains("the outbox refuses this row")),
            "a transient error, retried as before: {error}"
        );
    }
    assert!(stored_days(&pool).await.is_empty(), "the days rolled back with the outbox");
    for (connection, _) in users {
        assert_eq!(synced(&pool, connection).await, (false, None));
        assert_eq!(pending_days(&pool, connection).await, vec![monday], "still waiting");
    }
}
