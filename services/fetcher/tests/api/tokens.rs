use std::time::Duration;

use chrono::Utc;
use fitex_connections::store::{self, TokenKind};
use fitex_provider::TokenGrant;
use secrecy::{ExposeSecret, SecretString};

use crate::helpers::*;

#[tokio::test]
async fn two_replicas_racing_to_refresh_one_token_refresh_it_once() {
    let app = spawn_fetcher().await;
    // The stored access token is due for a refresh.
    let expired = Utc::now() - chrono::Duration::minutes(1);
    let connection = app.connect_user_expiring("RACE01", Some(expired)).await;
    let seen = store::connection_by_id(&app.pool, connection).await.unwrap().unwrap();
    let (a, b) = (app.fetcher().await, app.fetcher().await);
    let (token_a, token_b) = tokio::join!(
        a.connections.usable_access_token(&seen),
        b.connections.usable_access_token(&seen)
    );
    let (token_a, token_b) = (token_a.unwrap().unwrap(), token_b.unwrap().unwrap());
    assert_eq!(
        token_a.expose_secret(),
        token_b.expose_secret(),
        "the loser uses the winner's token"
    );
    let stats = app.sim().stats().await.unwrap();
    assert_eq!(stats.token_refreshes, 1, "exactly one refresh");
    assert_eq!(stats.refresh_failures, 0, "no invalid_grant");
    let after = store::connection_by_id(&app.pool, connection).await.unwrap().unwrap();
    assert_eq!(after.token_version, seen.token_version + 1);
    assert!(after.access_expires_at.unwrap() > Utc::now() + chrono::Duration::hours(7));
}

#[tokio::test]
async fn a_refused_token_means_reconnect_required_no_retry_storm_and_missed_days_after_reconnecting(
) {
    let app = spawn_fetcher().await;
    let connection = app.connect_user("GONE01").await;
    let participant = app.participant_of(connection).await;
    app.sim().set_day("GONE01", day("2026-11-20"), day_data(6000, 700)).await.unwrap();
    app.sim().set_day("GONE01", day("2026-11-21"), day_data(7000, 700)).await.unwrap();
    app.sim().revoke("GONE01").await.unwrap();

    app.notify("GONE01", &[day("2026-11-20")], "activities").await;
    wait_for("reconnect required", Duration::from_secs(20), || async {
        app.status(connection).await.0 == "reconnect_required"
    })
    .await;
    let (_, reason) = app.status(connection).await;
    let reason = reason.unwrap();
    assert!(reason.contains("Fitbit access has expired or was revoked"), "{reason}");
    assert!(reason.contains("Reconnect"), "the remedy is named: {reason}");
    let stats = app.sim().stats().await.unwrap();
    assert_eq!(stats.refresh_failures, 1, "one refresh attempt, then no more");

    // More notifications: no calls to the provider, the days wait.
    let calls = app.sim().stats().await.unwrap().api_calls;
    app.notify("GONE01", &[day("2026-11-21")], "activities").await;
    wait_for("the second day to wait", Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pending_fetches WHERE connection_id = $1",
        )
        .bind(connection)
        .fetch_one(&app.pool)
        .await
        .unwrap()
            == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.sim().stats().await.unwrap().api_calls, calls, "no retry storm");
    assert!(app.stored_steps(participant).await.is_empty());

    // The participant pastes a new long-lived token: the missed days are fetched.
    let token = app.sim().issue_implicit_token("GONE01", 2_592_000).await.unwrap();
    let claims = fitex_fitbit::read_access_token_claims(&token).unwrap();
    let grant = TokenGrant {
        access_token: SecretString::from(token),
        refresh_token: None,
        expires_at: claims.expires_at,
        scopes: claims.scopes.join(" "),
        user_id: "GONE01".into(),
    };
    store::connect(
        &app.pool,
        &app.cipher,
        store::NewConnection {
            provider: fitex_provider::ProviderId::Fitbit,
            kind: TokenKind::Implicit,
            grant: &grant,
            backfill: &[],
            legacy: None,
        },
    )
    .await
    .unwrap();
    wait_for("the missed days", Duration::from_secs(20), || async {
        app.stored_steps(participant).await.len() == 2
    })
    .await;
    assert_eq!(app.status(connection).await.0, "active");
}

#[tokio::test]
async fn tokens_are_encrypted_at_rest() {
    let app = spawn_fetcher().await;
    let tokens = app
        .sim()
        .create_user(fitex_provider_simulator::CreateUser {
            user_id: Some("CRYPT1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let grant = TokenGrant {
        access_token: SecretString::from(tokens.access_token.clone()),
        refresh_token: Some(SecretString::from(tokens.refresh_token.clone())),
        expires_at: Utc::now() + chrono::Duration::hours(8),
        scopes: tokens.scope,
        user_id: "CRYPT1".into(),
    };
    let connection = store::connect(
        &app.pool,
        &app.cipher,
        store::NewConnection {
            provider: fitex_provider::ProviderId::Fitbit,
            kind: TokenKind::AuthorizationCode,
            grant: &grant,
            backfill: &[],
            legacy: None,
        },
    )
    .await
    .unwrap()
    .id;
    let stored = store::connection_by_id(&app.pool, connection).await.unwrap().unwrap();
    let (access, refresh) = (stored.access_token.unwrap(), stored.refresh_token.unwrap());
    let dump = format!("{}{}", String::from_utf8_lossy(&access), String::from_utf8_lossy(&refresh));
    assert!(!dump.contains(&tokens.access_token[..20]), "access token stored in plaintext");
    assert!(!dump.contains(&tokens.refresh_token), "refresh token stored in plaintext");
    let readable = app.cipher.decrypt(&access, &store::access_context(connection)).unwrap();
    assert_eq!(readable.expose_secret(), tokens.access_token);
}
