//! The connection core's reads and writes against a real PostgreSQL database of the test's own:
//! what the portal, `fitexctl` and the load drivers read through it.

use chrono::{Duration, NaiveDate, Utc};
use fitex_common::token_cipher::TokenCipher;
use fitex_common::zone::ParticipantZone;
use fitex_connections::connect::reported_zone;
use fitex_connections::store::{self, NewConnection, SyncStatus, TokenKind};
use fitex_connections::{pending, purge, reports, token_keys};
use fitex_provider::{ProviderId, TokenGrant};
use secrecy::SecretString;
use sqlx::PgPool;

const KEY: &str = "k1:oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE=";

fn cipher() -> TokenCipher {
    TokenCipher::from_config(&[SecretString::from(KEY.to_string())]).unwrap()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Connects `user` at `provider` with a refreshable grant; returns (connection, participant).
async fn connect(
    pool: &PgPool,
    provider: ProviderId,
    user: &str,
    backfill: &[NaiveDate],
) -> (i64, i64) {
    let grant = TokenGrant {
        access_token: SecretString::from(format!("access-{user}")),
        refresh_token: Some(SecretString::from(format!("refresh-{user}"))),
        expires_at: Utc::now() + Duration::hours(8),
        scopes: "activity".into(),
        user_id: user.into(),
    };
    let new = NewConnection {
        provider,
        kind: TokenKind::AuthorizationCode,
        grant: &grant,
        backfill,
        legacy: None,
    };
    let connected = store::connect(pool, &cipher(), new).await.unwrap();
    (connected.id, connected.participant_id)
}

#[tokio::test]
async fn what_operators_and_the_portal_read_of_connections() {
    let (_, pool) = fitex_testkit::test_database().await;
    let (fitbit, alice) = connect(&pool, ProviderId::Fitbit, "ALICE", &[day("2026-12-01")]).await;
    let (google, bob) = connect(&pool, ProviderId::GoogleHealth, "BOB", &[]).await;
    let reason = "Your Google Health access has expired.";
    store::set_status(&pool, google, SyncStatus::ReconnectRequired, reason).await.unwrap();

    let views = store::connection_views(&pool, alice).await.unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!((views[0].id, views[0].provider_id()), (fitbit, Some(ProviderId::Fitbit)));
    assert_eq!(views[0].token_kind.as_deref(), Some("authorization_code"));
    assert!(!views[0].superseded());
    let bob_views = store::connection_views(&pool, bob).await.unwrap();
    assert_eq!(bob_views[0].status_reason.as_deref(), Some(reason));

    assert_eq!(
        store::provider_user_id_of(&pool, bob, ProviderId::GoogleHealth).await.unwrap().as_deref(),
        Some("BOB")
    );
    assert_eq!(store::provider_user_id_of(&pool, bob, ProviderId::Fitbit).await.unwrap(), None);
    assert_eq!(store::participant_of_provider_user(&pool, "ALICE").await.unwrap(), Some(alice));
    assert_eq!(store::participant_of_provider_user(&pool, "NOBODY").await.unwrap(), None);

    let active = store::active_connections(&pool, None).await.unwrap();
    assert_eq!(active, vec![(fitbit, ParticipantZone::UTC)], "only the active one");
    assert!(store::active_connections(&pool, Some("BOB")).await.unwrap().is_empty());
    assert_eq!(
        store::count_by_status(&pool).await.unwrap(),
        vec![("active".to_string(), 1), ("reconnect_required".to_string(), 1)]
    );
    assert_eq!(store::count_with_status(&pool, SyncStatus::ReconnectRequired).await.unwrap(), 1);

    let summary = reports::summary(&pool).await.unwrap();
    assert_eq!((summary.participants, summary.active, summary.reconnect_required), (2, 1, 1));
    assert_eq!((summary.days_pending, summary.days_awaiting_reconnect), (1, 0), "the backfill");
    let listed = reports::participants(&pool).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.provider_user.as_str()).collect::<Vec<_>>(),
        ["ALICE", "BOB"]
    );
    let shown = reports::connection_report(&pool, "ALICE").await.unwrap().expect("ALICE");
    assert_eq!((shown.participant_id, shown.pending, shown.days), (alice, 1, 0));
    assert!(reports::connection_report(&pool, "NOBODY").await.unwrap().is_none());

    assert_eq!(pending::waiting_count(&pool, &[fitbit, google]).await.unwrap(), (1, 0));
    let due = pending::next_due(&pool, 10).await.unwrap();
    assert_eq!(
        (due[0].0.as_str(), due[0].1, due[0].2.as_str()),
        ("ALICE", day("2026-12-01"), "backfill")
    );

    assert!(purge::participant_exists(&pool, alice).await.unwrap());
    let footprint = purge::footprint(&pool, alice).await.unwrap();
    assert_eq!((footprint.days, footprint.goals, footprint.teams), (0, 0, 0));
    purge::purge_participant(&pool, &fitex_common::kafka::Topics::default(), alice).await.unwrap();
    assert!(store::connection_views(&pool, alice).await.unwrap().is_empty());
    assert_eq!(pending::waiting_count(&pool, &[fitbit]).await.unwrap(), (0, 0), "gone with it");
}

#[tokio::test]
async fn key_rotation_rewrites_only_what_it_read_under_the_lock() {
    let (_, pool) = fitex_testkit::test_database().await;
    let (id, _) = connect(&pool, ProviderId::Fitbit, "ROT", &[]).await;
    let per_key = token_keys::tokens_per_key(&pool).await.unwrap();
    let mut per_key: Vec<(String, String, i64)> = per_key
        .into_iter()
        .map(|(column, key, n)| (column, String::from_utf8(key.unwrap()).unwrap(), n))
        .collect();
    per_key.sort();
    assert_eq!(
        per_key,
        [
            ("access_token".to_string(), "k1".to_string(), 1),
            ("refresh_token".into(), "k1".into(), 1)
        ]
    );
    let batch = token_keys::connections_with_tokens(&pool, 0, 10).await.unwrap();
    assert_eq!(batch.len(), 1);
    assert!(token_keys::connections_with_tokens(&pool, id, 10).await.unwrap().is_empty());

    let mut tx = pool.begin().await.unwrap();
    let seen = token_keys::lock_tokens(&mut tx, id).await.unwrap().expect("the row");
    let new_access = b"new-access".to_vec();
    assert!(token_keys::replace_ciphertexts(&mut tx, id, &seen, Some(&new_access), None)
        .await
        .unwrap());
    // What was read is no longer there: a second rewrite from the same reading changes nothing.
    assert!(!token_keys::replace_ciphertexts(&mut tx, id, &seen, Some(&new_access), None)
        .await
        .unwrap());
    tx.commit().await.unwrap();
    let stored = store::connection_by_id(&pool, id).await.unwrap().unwrap();
    assert_eq!(stored.access_token, Some(new_access));
    assert_eq!(stored.refresh_token, seen.2, "the refresh token left as it was");
    assert_eq!(stored.token_version, seen.0, "not a new token: same version");
}

#[tokio::test]
async fn a_time_zone_check_stores_a_known_zone_and_keeps_the_old_one_otherwise() {
    let (_, pool) = fitex_testkit::test_database().await;
    let (connection, _) = connect(&pool, ProviderId::Fitbit, "CAROL", &[]).await;
    let stored = || async { store::connection_by_id(&pool, connection).await.unwrap().unwrap() };
    assert_eq!(stored().await.time_zone, ParticipantZone::UTC, "a new participant is in UTC");
    assert_eq!(stored().await.time_zone_checked_at, None);

    let chicago = reported_zone(ProviderId::Fitbit, "CAROL", "America/Chicago");
    store::record_time_zone_check(&pool, &stored().await, chicago.as_ref()).await.unwrap();
    assert_eq!(stored().await.time_zone.name(), "America/Chicago");

    // A zone we do not know: refused where it arrives; Carol keeps hers, and the check is recorded
    // so the provider is asked again only with tomorrow's check.
    let unknown = reported_zone(ProviderId::Fitbit, "CAROL", "America/Nowhere");
    assert_eq!(unknown, None);
    store::record_time_zone_check(&pool, &stored().await, unknown.as_ref()).await.unwrap();
    let after = stored().await;
    assert_eq!(after.time_zone.name(), "America/Chicago");
    assert!(after.time_zone_checked_at.is_some());

    // A stored name that is not a zone is an error to read, never taken for UTC.
    sqlx::query("UPDATE participants SET time_zone = 'America/Nowhere'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(store::connection_by_id(&pool, connection).await.is_err());
}
