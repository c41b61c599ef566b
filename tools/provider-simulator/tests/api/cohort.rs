use fitex_provider_simulator::SimulatorConfig;

use crate::helpers::*;

fn cohort_config(seed: u64) -> SimulatorConfig {
    SimulatorConfig { seed, cohort_size: 4, cohort_days: 14, ..Default::default() }
}

/// Every cohort user's 14-day steps series, read through the API with the cohort's tokens.
async fn series(app: &TestSim) -> Vec<serde_json::Value> {
    let yesterday = chrono::Utc::now().date_naive() - chrono::TimeDelta::days(1);
    let mut all = Vec::new();
    for user in app.admin.cohort().await.unwrap() {
        let path = format!("/1/user/-/activities/steps/date/{yesterday}/14d.json");
        // 14d is not a Fitbit period; use an explicit range instead.
        assert_eq!(app.get(&path, &user.access_token).await.status().as_u16(), 400);
        let first = yesterday - chrono::TimeDelta::days(13);
        let path = format!("/1/user/-/activities/steps/date/{first}/{yesterday}.json");
        let (status, body) = app.get_json(&path, &user.access_token).await;
        assert_eq!(status, 200);
        all.push(body);
    }
    all
}

#[tokio::test]
async fn the_same_seed_serves_the_same_cohort_and_another_seed_does_not() {
    let a = spawn_with(cohort_config(42)).await;
    let b = spawn_with(cohort_config(42)).await;
    let c = spawn_with(cohort_config(7)).await;
    let users = a.admin.cohort().await.unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["SIM0001", "SIM0002", "SIM0003", "SIM0004"]);
    assert!(users.iter().all(|u| u.scope.contains("activity") && u.expires_in == 28_800));

    let series_a = series(&a).await;
    assert_eq!(series_a, series(&b).await);
    assert_ne!(series_a, series(&c).await);
    let steps: Vec<u64> = series_a
        .iter()
        .flat_map(|s| s["activities-steps"].as_array().unwrap().clone())
        .map(|e| e["value"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(steps.len(), 4 * 14);
    assert!(steps.iter().filter(|s| **s > 0).count() > 40, "mostly days with data");
}

#[tokio::test]
async fn the_cohort_hands_out_the_latest_tokens_after_a_refresh() {
    let app = spawn_with(cohort_config(42)).await;
    let before = app.admin.cohort().await.unwrap();
    let (status, _) = app.refresh(&before[0].refresh_token).await;
    assert_eq!(status, 200);
    let after = app.admin.cohort().await.unwrap();
    assert_ne!(after[0].refresh_token, before[0].refresh_token);
    assert_eq!(after[1], before[1]);
    assert_eq!(app.refresh(&after[0].refresh_token).await.0, 200);
}
