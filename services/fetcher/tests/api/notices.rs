//! Destructive notices (Fitbit's `deleteUser` and `userRevokedAccess`) are confirmed with the
//! provider before anything is destroyed: a forged or replayed one, while our access still works,
//! changes nothing; a genuine one soft-deletes (purged after the delay) or disconnects; a
//! revocation accepted before the participant last connected does not end the new connection.

use std::time::Duration;

use chrono::Utc;
use fitex_connections::store;
use fitex_provider::TokenGrant;
use fitex_provider_simulator::{Simulator, SimulatorConfig};
use secrecy::SecretString;

use crate::helpers::*;

/// A fetcher that purges soft-deleted participants one second after their deletion.
async fn spawn_fast_purging_fetcher() -> TestFetcher {
    let sim = Simulator::spawn(SimulatorConfig::default()).await.unwrap();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database, &sim);
    use_simulated_google(&mut settings, &sim);
    settings.fetcher.purge_after = Duration::from_secs(1);
    settings.fetcher.purge_check = Duration::from_secs(1);
    spawn_with(settings, sim, pool).await
}

async fn deletion_state(app: &TestFetcher, participant: i64) -> Option<(bool, bool)> {
    sqlx::query_as::<_, (bool, bool)>(
        "SELECT deleted_at IS NOT NULL, purge_after IS NOT NULL FROM participants WHERE id = $1",
    )
    .bind(participant)
    .fetch_optional(&app.pool)
    .await
    .unwrap()
}

async fn connections_of(app: &TestFetcher, participant: i64) -> i64 {
    store::connection_views(&app.pool, participant).await.unwrap().len() as i64
}

async fn notices_counted(app: &TestFetcher, outcome: &str) -> bool {
    app.metrics().await.lines().any(|l| {
        l.starts_with("fitex_fetcher_destructive_notices_total")
            && l.contains(&format!("outcome=\"{outcome}\""))
    })
}

async fn stored_day_of(app: &TestFetcher, user: &str, steps: u32) -> (i64, i64) {
    let connection = app.connect_user(user).await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day(user, day("2026-11-20"), day_data(steps, 800)).await.unwrap();
    app.notify(user, &[day("2026-11-20")], "activities").await;
    wait_for("the day to be stored", Duration::from_secs(20), || async {
        !app.stored_steps(participant).await.is_empty()
    })
    .await;
    (connection, participant)
}

#[tokio::test]
async fn a_forged_or_replayed_delete_while_our_access_works_deletes_nothing() {
    let app = spawn_fast_purging_fetcher().await;
    let (connection, participant) = stored_day_of(&app, "FORGED1", 4_000).await;

    app.notify("FORGED1", &[day("2026-11-20")], "deleteUser").await;
    wait_for("the notice to be judged", Duration::from_secs(20), || async {
        notices_counted(&app, "access_still_works").await
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await; // past the purge delay and check
    assert_eq!(deletion_state(&app, participant).await, Some((false, false)), "not deleted");
    assert_eq!(app.status(connection).await.0, "active");
    assert_eq!(app.stored_steps(participant).await.len(), 1, "their days are all there");
}

#[tokio::test]
async fn a_genuine_delete_soft_deletes_then_purges_after_the_delay() {
    let app = spawn_fast_purging_fetcher().await;
    let (connection, participant) = stored_day_of(&app, "GONE001", 4_000).await;
    // The account really is gone: the provider refuses our grant.
    app.sim().revoke("GONE001").await.unwrap();

    app.notify("GONE001", &[day("2026-11-20")], "deleteUser").await;
    wait_for("the participant to be soft-deleted", Duration::from_secs(20), || async {
        deletion_state(&app, participant).await.is_some_and(|(deleted, _)| deleted)
    })
    .await;
    // Then, after the delay, the fetcher's half of the purge: connection and days gone.
    wait_for("the purge", Duration::from_secs(20), || async {
        connections_of(&app, participant).await == 0
    })
    .await;
    assert!(app.stored_steps(participant).await.is_empty(), "their days are purged");
    assert_eq!(deletion_state(&app, participant).await, Some((true, false)), "being purged");
    let records =
        app.topic_records(&app.kafka.topics.activity_days, 10, Duration::from_secs(5)).await;
    let key = participant.to_string();
    assert_eq!(
        records.iter().filter(|r| r.key.as_deref() == Some(&key) && r.payload.is_empty()).count(),
        1,
        "one tombstone for downstream consumers"
    );
    assert!(notices_counted(&app, "soft_deleted").await);
    let _ = connection;
}

#[tokio::test]
async fn a_genuine_revocation_disconnects_and_an_old_one_does_not_end_a_new_connection() {
    let app = spawn_fetcher().await;
    let (connection, _) = stored_day_of(&app, "REVOKE2", 4_000).await;
    let accepted_before_reconnecting = Utc::now();

    // A replay of the revocation while our access works: nothing happens.
    app.notify("REVOKE2", &[day("2026-11-20")], "userRevokedAccess").await;
    wait_for("the replay to be judged", Duration::from_secs(20), || async {
        notices_counted(&app, "access_still_works").await
    })
    .await;
    assert_eq!(app.status(connection).await.0, "active");

    // The participant revokes for real, then connects again.
    app.sim().revoke("REVOKE2").await.unwrap();
    app.notify("REVOKE2", &[day("2026-11-20")], "userRevokedAccess").await;
    wait_for("the revocation to disconnect them", Duration::from_secs(20), || async {
        app.status(connection).await.0 == "disconnected"
    })
    .await;
    let token = app.sim().issue_implicit_token("REVOKE2", 30 * 86_400).await.unwrap();
    let grant = TokenGrant {
        access_token: SecretString::from(token),
        refresh_token: None,
        expires_at: Utc::now() + chrono::Duration::days(30),
        scopes: "activity heartrate profile settings".into(),
        user_id: "REVOKE2".into(),
    };
    let new = store::NewConnection {
        provider: fitex_provider::ProviderId::Fitbit,
        kind: store::TokenKind::Implicit,
        grant: &grant,
        backfill: &[],
        legacy: None,
    };
    let again = store::connect(&app.pool, &app.cipher, new).await.unwrap().id;
    assert_eq!(again, connection, "the same connection, connected again");
    assert_eq!(app.status(connection).await.0, "active");

    // That old revocation, delivered late (say from the retry topic), predates the new connection.
    app.notify_accepted_at(
        "REVOKE2",
        &[day("2026-11-20")],
        "userRevokedAccess",
        accepted_before_reconnecting,
    )
    .await;
    wait_for("the old notice to be judged", Duration::from_secs(20), || async {
        notices_counted(&app, "older_than_connection").await
    })
    .await;
    assert_eq!(app.status(connection).await.0, "active", "the new connection stays");
}
