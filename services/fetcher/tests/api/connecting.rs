use std::time::Duration;

use chrono::Utc;
use fitex_connections::connect::backfill_dates;
use fitex_connections::store::{self, TokenKind};
use fitex_provider::{ProviderId, RateBudget, TokenGrant};
use fitex_provider_simulator::CreateUser;
use secrecy::SecretString;

use crate::helpers::*;

#[tokio::test]
async fn a_new_connection_backfills_its_last_days_with_range_requests() {
    let app = spawn_fetcher().await;
    let tokens = app
        .sim()
        .create_user(CreateUser {
            user_id: Some("BACK01".into()),
            timezone: "America/Los_Angeles".into(),
            ..CreateUser::default()
        })
        .await
        .unwrap();
    let dates = backfill_dates(&"America/Los_Angeles".parse().unwrap(), 28, Utc::now());
    for (i, date) in dates.iter().enumerate() {
        app.sim().set_day("BACK01", *date, day_data(3000 + i as u32 * 100, 700)).await.unwrap();
    }
    app.sim().reset_stats().await.unwrap();
    let grant = TokenGrant {
        access_token: SecretString::from(tokens.access_token),
        refresh_token: Some(SecretString::from(tokens.refresh_token)),
        expires_at: Utc::now() + chrono::Duration::hours(8),
        scopes: tokens.scope,
        user_id: "BACK01".into(),
    };
    let fetcher = app.fetcher().await;
    let connection = fetcher
        .connections
        .connect(ProviderId::Fitbit, TokenKind::AuthorizationCode, &grant)
        .await
        .unwrap();
    let participant = app.participant_of(connection).await;
    wait_for("28 days backfilled", Duration::from_secs(30), || async {
        app.stored_steps(participant).await.len() == 28
    })
    .await;
    let stored = app.stored_steps(participant).await;
    assert_eq!(stored[&dates[0]], 3000);
    assert_eq!(stored[&dates[27]], 3000 + 27 * 100);
    let stats = app.sim().stats().await.unwrap();
    let data_calls: u64 = stats
        .api_calls_by_endpoint
        .iter()
        .filter(|(k, _)| k.as_str() != "profile")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        data_calls, 7,
        "six activity ranges and one heart-rate range for 28 days: {stats:?}"
    );
    let zone: String = sqlx::query_scalar("SELECT time_zone FROM participants WHERE id = $1")
        .bind(participant)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(zone, "America/Los_Angeles");
}

#[tokio::test]
async fn a_backfill_waits_when_the_rate_budget_cannot_pay_for_it() {
    let app = spawn_fetcher().await;
    let connection = app.connect_user("THRIFT1").await;
    let participant = app.participant_of(connection).await;
    // The provider said two requests are left for the next three seconds.
    let budget = RateBudget {
        limit: 150,
        remaining: 2,
        resets_at: Utc::now() + chrono::Duration::seconds(3),
    };
    store::record_budget(&app.pool, connection, &budget).await.unwrap();
    let dates = backfill_dates(&"UTC".parse().unwrap(), 10, Utc::now());
    for date in &dates {
        app.sim().set_day("THRIFT1", *date, day_data(4000, 700)).await.unwrap();
    }
    app.notify("THRIFT1", &dates, "activities").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.sim().stats().await.unwrap().api_calls, 0, "nothing spent beyond the budget");
    wait_for("the days after the reset", Duration::from_secs(30), || async {
        app.stored_steps(participant).await.len() == 10
    })
    .await;
}

#[tokio::test]
async fn a_pasted_token_is_flagged_days_before_it_expires() {
    let app = spawn_fetcher().await;
    app.sim()
        .create_user(CreateUser { user_id: Some("PASTE01".into()), ..CreateUser::default() })
        .await
        .unwrap();
    let token = app.sim().issue_implicit_token("PASTE01", 86_400).await.unwrap();
    let claims = fitex_fitbit::read_access_token_claims(&token).unwrap();
    let grant = TokenGrant {
        access_token: SecretString::from(token),
        refresh_token: None,
        expires_at: claims.expires_at,
        scopes: claims.scopes.join(" "),
        user_id: "PASTE01".into(),
    };
    let fetcher = app.fetcher().await;
    let connection =
        fetcher.connections.connect(ProviderId::Fitbit, TokenKind::Implicit, &grant).await.unwrap();
    let (status, reason) = app.status(connection).await;
    assert_eq!(status, "active");
    let reason = reason.expect("flagged");
    assert!(reason.contains("Your Fitbit access expires on"), "{reason}");
    assert!(reason.contains("Reconnect before then"), "{reason}");
}
