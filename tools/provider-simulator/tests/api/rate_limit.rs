use std::time::Duration;

use fitex_provider_simulator::SimulatorConfig;

use crate::helpers::*;

const PATH: &str = "/1/user/-/activities/date/2026-11-20.json";

#[tokio::test]
async fn every_call_reports_the_budget_and_the_call_after_it_is_429() {
    let app = spawn_with(SimulatorConfig { rate_limit_per_hour: 3, ..Default::default() }).await;
    let tokens = app.create("ALICE1").await;
    let bob = app.create("BOB001").await;
    for expected_remaining in ["2", "1", "0"] {
        let response = app.get(PATH, &tokens.access_token).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(header(&response, "fitbit-rate-limit-limit"), "3");
        assert_eq!(header(&response, "fitbit-rate-limit-remaining"), expected_remaining);
        let reset: u64 = header(&response, "fitbit-rate-limit-reset").parse().unwrap();
        assert!((1..=3_600).contains(&reset), "reset {reset}");
    }
    let response = app.get(PATH, &tokens.access_token).await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(header(&response, "fitbit-rate-limit-remaining"), "0");
    assert_eq!(header(&response, "fitbit-rate-limit-limit"), "3");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"errors": [{"errorType": "system", "fieldName": "n/a",
            "message": "Too Many Requests"}], "success": false})
    );
    // The budget is per user.
    assert_eq!(app.get(PATH, &bob.access_token).await.status().as_u16(), 200);
    let stats = app.admin.stats().await.unwrap();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.api_calls_by_user["ALICE1"], 3);
    assert_eq!(stats.api_calls_by_user["BOB001"], 1);
    assert_eq!(stats.api_calls_by_endpoint["activities_day"], 4);
}

#[tokio::test]
async fn oauth_calls_do_not_spend_the_budget() {
    let app = spawn_with(SimulatorConfig { rate_limit_per_hour: 2, ..Default::default() }).await;
    let tokens = app.create("ALICE1").await;
    let (status, fresh) = app.refresh(&tokens.refresh_token).await;
    assert_eq!(status, 200);
    let response = app.get(PATH, fresh["access_token"].as_str().unwrap()).await;
    assert_eq!(header(&response, "fitbit-rate-limit-remaining"), "1");
}

#[tokio::test]
async fn the_window_really_resets_after_the_set_seconds() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    app.admin.set_rate_limit("ALICE1", 0, 2).await.unwrap();
    let response = app.get(PATH, &tokens.access_token).await;
    assert_eq!(response.status().as_u16(), 429);
    let reset: u64 = header(&response, "fitbit-rate-limit-reset").parse().unwrap();
    assert!((1..=2).contains(&reset), "reset {reset}");

    tokio::time::sleep(Duration::from_secs(reset) + Duration::from_millis(100)).await;
    let response = app.get(PATH, &tokens.access_token).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "fitbit-rate-limit-remaining"), "149");
}

#[tokio::test]
async fn the_all_in_count_has_every_call_with_its_status_refused_and_oauth_ones_too() {
    let app = spawn_with(SimulatorConfig { rate_limit_per_hour: 4, ..Default::default() }).await;
    let tokens = app.create("ALICE1").await;
    let token = &tokens.access_token;
    let subscribe = |path: &'static str| {
        app.http.post(app.url(path)).bearer_auth(token).header("Content-Length", "0").send()
    };
    let unsubscribe = |path: &'static str| app.http.delete(app.url(path)).bearer_auth(token).send();
    let sub = "/1/user/-/activities/apiSubscriptions/alice-act.json";
    assert_eq!(subscribe(sub).await.unwrap().status().as_u16(), 201);
    assert_eq!(unsubscribe(sub).await.unwrap().status().as_u16(), 204);
    assert_eq!(app.get("/1/user/-/profile.json", token).await.status().as_u16(), 200);
    assert_eq!(app.get(PATH, token).await.status().as_u16(), 200);
    assert_eq!(app.get(PATH, token).await.status().as_u16(), 429, "the budget of 4 is spent");
    assert_eq!(app.get(PATH, "not-a-token").await.status().as_u16(), 401);
    let (status, _) = app.refresh(&tokens.refresh_token).await;
    assert_eq!(status, 200);
    let (status, _) = app.refresh(&tokens.refresh_token).await;
    assert_eq!(status, 400, "a rotated refresh token is refused");

    let stats = app.admin.stats().await.unwrap();
    let kinds: Vec<(&str, u64)> =
        stats.all_in_calls_by_kind.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(
        kinds,
        [("activities_day", 3), ("oauth2_token", 2), ("profile", 1), ("subscriptions", 2)],
        "{stats:?}"
    );
    let statuses: Vec<(&str, u64)> =
        stats.all_in_calls_by_status.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(
        statuses,
        [("200", 3), ("201", 1), ("204", 1), ("400", 1), ("401", 1), ("429", 1)],
        "{stats:?}"
    );
    // The admitted calls alone, as before.
    assert_eq!(stats.api_calls, 4);
    assert_eq!(stats.api_calls_by_endpoint["activities_day"], 1);
}
