//! The Google Health API's per-user quota per minute (shortened here so the test need not wait).

use std::time::Duration;

use fitex_provider_simulator::SimulatorConfig;
use serde_json::json;

use crate::helpers::*;

const IDENTITY: &str = "/v4/users/me/identity";

#[tokio::test]
async fn the_quota_is_per_user_and_recovers_after_the_window() {
    let app = spawn_with(SimulatorConfig {
        google_rate_limit_per_minute: 3,
        google_rate_limit_window: Duration::from_secs(2),
        ..SimulatorConfig::default()
    })
    .await;
    app.create("ALICE1").await;
    app.create("BOB001").await;
    let alice = app.admin.google_grant("ALICE1").await.unwrap().access_token;
    let bob = app.admin.google_grant("BOB001").await.unwrap().access_token;
    for _ in 0..3 {
        assert_eq!(app.google_get(IDENTITY, &alice).await.0, 200);
    }
    let response = app.get(IDENTITY, &alice).await;
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!(429));
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Quota exceeded"));
    // Another user is unaffected.
    assert_eq!(app.google_get(IDENTITY, &bob).await.0, 200);

    let stats = app.admin.stats().await.unwrap();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.api_calls_by_user["ALICE1"], 3);
    assert_eq!(stats.api_calls_by_user["BOB001"], 1);

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(app.google_get(IDENTITY, &alice).await.0, 200);
}

#[tokio::test]
async fn refused_google_calls_are_in_the_all_in_count() {
    let app = spawn_with(SimulatorConfig {
        google_rate_limit_per_minute: 1,
        google_rate_limit_window: Duration::from_secs(60),
        ..SimulatorConfig::default()
    })
    .await;
    app.create("ALICE1").await;
    let alice = app.admin.google_grant("ALICE1").await.unwrap();
    assert_eq!(app.google_get(IDENTITY, &alice.access_token).await.0, 200);
    assert_eq!(app.google_get(IDENTITY, &alice.access_token).await.0, 429);
    assert_eq!(app.google_get(IDENTITY, "not-a-token").await.0, 401);
    assert_eq!(app.google_refresh(&alice.refresh_token).await.0, 200);

    let stats = app.admin.stats().await.unwrap();
    assert_eq!(stats.all_in_calls_by_kind["google_identity"], 3, "{stats:?}");
    assert_eq!(stats.all_in_calls_by_kind["google_token"], 1, "{stats:?}");
    let statuses: Vec<(&str, u64)> =
        stats.all_in_calls_by_status.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(statuses, [("200", 2), ("401", 1), ("429", 1)], "{stats:?}");
    assert_eq!(stats.api_calls_by_endpoint["google_identity"], 1, "admitted calls alone");
}
