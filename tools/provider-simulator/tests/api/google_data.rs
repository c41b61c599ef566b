//! The Google Health API's data: rollups, the steps data points, settings and identity.

use chrono::NaiveDate;
use fitex_provider_simulator::{CreateUser, DayData, DayRecord, Fault};
use serde_json::{json, Value};

use crate::google_helpers::*;
use crate::helpers::*;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn day(steps: u32, worn_minutes: u32) -> DayData {
    DayData {
        steps,
        distance_km: 6.42,
        sedentary_minutes: 610,
        lightly_active_minutes: 190,
        fairly_active_minutes: 22,
        very_active_minutes: 14,
        worn_minutes,
        resting_heart_rate: Some(60),
    }
}

/// ALICE1 with Google consent, two days of data (the second with hand-entered steps) and a day
/// without wear; her access token.
async fn alice(app: &TestSim) -> String {
    app.create("ALICE1").await;
    app.admin.set_day("ALICE1", date("2026-03-05"), day(8_000, 836)).await.unwrap();
    let manual = DayRecord { day: day(9_000, 836), manual_steps: 1_200 };
    app.admin.set_day_record("ALICE1", date("2026-03-07"), manual).await.unwrap();
    app.admin.set_day("ALICE1", date("2026-03-08"), day(300, 0)).await.unwrap();
    app.admin.google_grant("ALICE1").await.unwrap().access_token
}

fn points(body: &Value) -> &Vec<Value> {
    body["rollupDataPoints"].as_array().unwrap()
}

#[tokio::test]
async fn the_steps_rollup_adds_manual_steps_and_skips_days_without_data() {
    let app = spawn_sim().await;
    let token = alice(&app).await;
    let (status, body) = app.rollup(&token, "steps", "2026-03-04", "2026-03-09").await;
    assert_eq!(status, 200, "{body}");
    let points = points(&body);
    assert_eq!(points.len(), 3);
    assert_eq!(
        points[0],
        json!({"civilStartTime": {"date": {"year": 2026, "month": 3, "day": 5}},
            "civilEndTime": {"date": {"year": 2026, "month": 3, "day": 6}},
            "steps": {"countSum": "8000"}})
    );
    assert_eq!(points[1]["steps"]["countSum"], "10200");
    assert_eq!(points[2]["steps"]["countSum"], "300");
    // The end is exclusive.
    let (_, body) = app.rollup(&token, "steps", "2026-03-05", "2026-03-07").await;
    assert_eq!(body["rollupDataPoints"].as_array().unwrap().len(), 1);
    // The Fitbit side keeps the tracker's steps only.
    let stored = app.admin.day("ALICE1", date("2026-03-07")).await.unwrap().unwrap();
    assert_eq!(stored.steps, 9_000);
}

#[tokio::test]
async fn every_rollup_type_follows_the_day() {
    let app = spawn_sim().await;
    let token = alice(&app).await;
    let rollup = |data_type: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let (status, body) = app.rollup(&token, data_type, "2026-03-07", "2026-03-09").await;
            assert_eq!(status, 200, "{data_type}: {body}");
            body["rollupDataPoints"].as_array().unwrap().clone()
        }
    };
    let distance = rollup("distance").await;
    assert_eq!(distance[0]["distance"], json!({"millimetersSum": "6420000"}));

    let active = rollup("active-minutes").await;
    assert_eq!(
        active[0]["activeMinutes"],
        json!({"activeMinutesRollupByActivityLevel": [
            {"activityLevel": "LIGHT", "activeMinutesSum": "190"},
            {"activityLevel": "MODERATE", "activeMinutesSum": "22"},
            {"activityLevel": "VIGOROUS", "activeMinutesSum": "14"}]})
    );

    let zones = rollup("time-in-heart-rate-zone").await;
    // 2026-03-08 was not worn: no point.
    assert_eq!(zones.len(), 1);
    let zone_list = zones[0]["timeInHeartRateZone"]["timeInHeartRateZones"].as_array().unwrap();
    let names: Vec<&str> = zone_list.iter().map(|z| z["heartRateZone"].as_str().unwrap()).collect();
    assert_eq!(names, ["LIGHT", "MODERATE", "VIGOROUS", "PEAK"]);
    let seconds: u64 = zone_list
        .iter()
        .map(|z| z["duration"].as_str().unwrap().trim_end_matches('s').parse::<u64>().unwrap())
        .sum();
    assert_eq!(seconds, 836 * 60);

    let sedentary = rollup("sedentary-period").await;
    assert_eq!(sedentary[0]["sedentaryPeriod"], json!({"durationSum": "36600s"}));

    let stats = app.admin.stats().await.unwrap();
    for label in [
        "google_rollup_distance",
        "google_rollup_active_minutes",
        "google_rollup_time_in_heart_rate_zone",
        "google_rollup_sedentary_period",
    ] {
        assert_eq!(stats.api_calls_by_endpoint.get(label), Some(&1), "{label}");
    }
    assert_eq!(stats.api_calls_by_user["ALICE1"], 4);
}

#[tokio::test]
async fn rollup_ranges_and_bodies_are_checked() {
    let app = spawn_sim().await;
    let token = alice(&app).await;
    let bad = |(status, body): (u16, Value)| {
        assert_eq!((status, google_status(&body)), (400, "INVALID_ARGUMENT"), "{body}");
        body["error"]["message"].as_str().unwrap().to_string()
    };
    assert_eq!(app.rollup(&token, "steps", "2026-01-01", "2026-04-01").await.0, 200);
    assert!(bad(app.rollup(&token, "steps", "2026-01-01", "2026-04-02").await).contains("90 days"));
    assert_eq!(app.rollup(&token, "active-minutes", "2026-03-01", "2026-03-15").await.0, 200);
    assert!(bad(app.rollup(&token, "active-minutes", "2026-03-01", "2026-03-16").await)
        .contains("14 days"));
    bad(app.rollup(&token, "steps", "2026-03-07", "2026-03-07").await);
    assert!(bad(app.rollup(&token, "heart-rate-variability", "2026-03-07", "2026-03-08").await)
        .contains("not supported"));
    let weekly = json!({"range": {"start": {"date": {"year": 2026, "month": 3, "day": 1}},
        "end": {"date": {"year": 2026, "month": 3, "day": 8}}}, "windowSizeDays": 7});
    let path = "/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp";
    let answer = app.google_send(reqwest::Method::POST, path, &token, Some(weekly)).await;
    assert!(bad(answer).contains("windowSizeDays"));
    let answer = app.google_send(reqwest::Method::POST, path, &token, Some(json!({}))).await;
    assert!(bad(answer).contains("range"));
}

#[tokio::test]
async fn the_steps_list_is_newest_first_with_a_manual_point_and_pages() {
    let app = spawn_sim().await;
    let token = alice(&app).await;
    let filter = r#"steps.interval.civil_start_time >= "2026-03-07" AND steps.interval.civil_start_time < "2026-03-08""#;
    let list = |page_size: &str, page_token: Option<String>| {
        let (app, token) = (&app, token.clone());
        let page_size = page_size.to_string();
        async move {
            let mut query = vec![("filter", filter.to_string()), ("pageSize", page_size)];
            query.extend(page_token.map(|t| ("pageToken", t)));
            let response = app
                .http
                .get(app.url("/v4/users/me/dataTypes/steps/dataPoints"))
                .query(&query)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, all) = list("", None).await;
    assert_eq!(status, 200, "{all}");
    assert!(all.get("nextPageToken").is_none());
    let points = all["dataPoints"].as_array().unwrap();
    let count = |p: &Value| p["steps"]["count"].as_str().unwrap().parse::<u32>().unwrap();
    let method = |p: &Value| p["dataSource"]["recordingMethod"].as_str().unwrap().to_string();
    let passive: u32 = points.iter().filter(|p| method(p) == "PASSIVELY_MEASURED").map(count).sum();
    assert_eq!(passive, 9_000);
    let manual: Vec<&Value> = points.iter().filter(|p| method(p) == "MANUAL").collect();
    assert_eq!(manual.len(), 1);
    assert_eq!(count(manual[0]), 1_200);
    assert_eq!(manual[0]["dataSource"]["platform"], "FITBIT");
    let starts: Vec<&str> =
        points.iter().map(|p| p["steps"]["interval"]["startTime"].as_str().unwrap()).collect();
    let mut newest_first = starts.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(starts, newest_first);
    let interval = &points[0]["steps"]["interval"];
    assert_eq!(interval["startUtcOffset"], "-18000s");
    assert_eq!(interval["civilStartTime"]["date"], json!({"year": 2026, "month": 3, "day": 7}));

    // Pages of 5 give the same points in the same order.
    let mut paged = Vec::new();
    let mut token_text = None;
    loop {
        let (status, page) = list("5", token_text).await;
        assert_eq!(status, 200, "{page}");
        let items = page["dataPoints"].as_array().unwrap();
        assert!(items.len() <= 5);
        paged.extend(items.iter().cloned());
        match page["nextPageToken"].as_str() {
            Some(next) => token_text = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(&paged, points);
    let (status, body) = list("5", Some("bogus".into())).await;
    assert_eq!((status, google_status(&body)), (400, "INVALID_ARGUMENT"));
}

#[tokio::test]
async fn an_unparseable_filter_is_400() {
    let app = spawn_sim().await;
    let token = alice(&app).await;
    let response = app
        .http
        .get(app.url("/v4/users/me/dataTypes/steps/dataPoints"))
        .query(&[("filter", "steps.start > yesterday")])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(google_status(&body), "INVALID_ARGUMENT");
    assert!(body["error"]["message"].as_str().unwrap().contains("filter"));
}

#[tokio::test]
async fn settings_and_identity_and_the_users_own_id_in_the_path() {
    let app = spawn_sim().await;
    let token = alice(&app).await;
    let (status, settings) = app.google_get("/v4/users/me/settings", &token).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["name"], "users/me/settings");
    assert_eq!(settings["timeZone"], "America/New_York");
    let offset = settings["utcOffset"].as_str().unwrap();
    assert!(offset == "-18000s" || offset == "-14400s", "{offset}");

    let (status, identity) = app.google_get("/v4/users/me/identity", &token).await;
    assert_eq!(status, 200);
    let health_user_id = identity["healthUserId"].as_str().unwrap().to_string();
    assert_eq!(
        identity,
        json!({"name": "users/me/identity", "healthUserId": health_user_id, "legacyUserId": "ALICE1"})
    );
    assert_ne!(health_user_id, "ALICE1");

    let own = format!("/v4/users/{health_user_id}/identity");
    let (status, body) = app.google_get(&own, &token).await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], format!("users/{health_user_id}/identity"));
    let (status, body) = app.google_get("/v4/users/ALICE1/identity", &token).await;
    assert_eq!((status, google_status(&body)), (403, "PERMISSION_DENIED"));

    let stats = app.admin.stats().await.unwrap();
    assert_eq!(stats.api_calls_by_endpoint["google_settings"], 1);
    assert_eq!(stats.api_calls_by_endpoint["google_identity"], 3);
}

#[tokio::test]
async fn a_google_only_person_has_no_legacy_id_and_no_fitbit_account() {
    let app = spawn_sim().await;
    let request = CreateUser {
        user_id: Some("NEWBIE".into()),
        timezone: "America/Chicago".into(),
        ..CreateUser::default()
    };
    let tokens = app.admin.create_google_only_user(request).await.unwrap();
    assert_eq!(tokens.user_id, "NEWBIE");
    assert_eq!(tokens.timezone, "America/Chicago");
    let (status, identity) = app.google_get("/v4/users/me/identity", &tokens.access_token).await;
    assert_eq!(status, 200);
    assert_eq!(
        identity,
        json!({"name": "users/me/identity", "healthUserId": tokens.health_user_id})
    );
    let (_, settings) = app.google_get("/v4/users/me/settings", &tokens.access_token).await;
    assert_eq!(settings["timeZone"], "America/Chicago");

    // No Fitbit sign-in for them.
    let response = app
        .http
        .get(app.url("/oauth2/authorize"))
        .query(&[
            ("client_id", "SIMCLIENT"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "activity"),
            ("sim_user", "NEWBIE"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(app.admin.issue_implicit_token("NEWBIE", 86_400).await.is_err());
}

#[tokio::test]
async fn a_missing_scope_is_403_and_faults_apply() {
    let app = spawn_sim().await;
    app.create("ALICE1").await;
    let activity_only = app.admin.google_grant_scopes("ALICE1", &[ACTIVITY_SCOPE]).await.unwrap();
    let (status, body) = app.google_get("/v4/users/me/settings", &activity_only.access_token).await;
    assert_eq!((status, google_status(&body)), (403, "PERMISSION_DENIED"));
    assert_eq!(body["error"]["message"], "Request had insufficient authentication scopes.");
    let settings_only = app.admin.google_grant_scopes("ALICE1", &[SETTINGS_SCOPE]).await.unwrap();
    let (status, _) =
        app.rollup(&settings_only.access_token, "steps", "2026-03-01", "2026-03-02").await;
    assert_eq!(status, 403);

    app.admin.set_fault(Fault::status(503, 1).for_user("ALICE1")).await.unwrap();
    let (status, body) =
        app.rollup(&activity_only.access_token, "steps", "2026-03-01", "2026-03-02").await;
    assert_eq!((status, google_status(&body)), (503, "UNAVAILABLE"));
    let (status, _) =
        app.rollup(&activity_only.access_token, "steps", "2026-03-01", "2026-03-02").await;
    assert_eq!(status, 200);
    assert_eq!(app.admin.stats().await.unwrap().faults_served, 1);
}

#[tokio::test]
async fn a_403_names_its_reason_and_the_project_can_be_refused_of_each_kind() {
    use fitex_google_health::api::{classify_forbidden, parse_error_body, Forbidden};
    use fitex_provider_simulator::ProjectRefusal;

    let app = spawn_sim().await;
    let token = alice(&app).await;
    let settings_only = app.admin.google_grant_scopes("ALICE1", &[SETTINGS_SCOPE]).await.unwrap();
    let (status, body) =
        app.rollup(&settings_only.access_token, "steps", "2026-03-05", "2026-03-06").await;
    assert_eq!(status, 403);
    let info = &body["error"]["details"][0];
    assert_eq!(info["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
    assert_eq!(info["reason"], "ACCESS_TOKEN_SCOPE_INSUFFICIENT");
    // What the fetcher reads from it: the participant's own scope problem.
    let read = |body: &Value| classify_forbidden(&parse_error_body(body.to_string().as_bytes()));
    assert_eq!(read(&body), Forbidden::MissingScope);

    for (refusal, reason) in [
        (ProjectRefusal::ServiceDisabled, "SERVICE_DISABLED"),
        (ProjectRefusal::BillingDisabled, "BILLING_DISABLED"),
        (ProjectRefusal::RateLimitExceeded, "RATE_LIMIT_EXCEEDED"),
        (ProjectRefusal::ResourceQuotaExceeded, "RESOURCE_QUOTA_EXCEEDED"),
    ] {
        app.admin.google_refuse_project(Some(refusal)).await.unwrap();
        let (status, body) = app.rollup(&token, "steps", "2026-03-05", "2026-03-06").await;
        assert_eq!((status, google_status(&body)), (403, "PERMISSION_DENIED"), "{body}");
        assert_eq!(body["error"]["details"][0]["reason"], reason);
        assert_eq!(body["error"]["details"][0]["domain"], "googleapis.com");
        // Even a token without the scope is refused for the project first.
        let (_, other) = app.google_get("/v4/users/me/identity", &settings_only.access_token).await;
        assert_eq!(other["error"]["details"][0]["reason"], reason);
        // What the fetcher reads from it: the project's problem, not the participant's.
        assert_eq!(read(&body), Forbidden::Project(reason));
    }
    app.admin.google_refuse_project(None).await.unwrap();
    let (status, body) = app.rollup(&token, "steps", "2026-03-05", "2026-03-06").await;
    assert_eq!(status, 200, "{body}");
}
