use chrono::NaiveDate;
use fitex_provider_simulator::DayData;

use crate::helpers::*;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

const DAY: DayData = DayData {
    steps: 8_123,
    distance_km: 6.09,
    sedentary_minutes: 560,
    lightly_active_minutes: 230,
    fairly_active_minutes: 21,
    very_active_minutes: 17,
    worn_minutes: 828,
    resting_heart_rate: Some(62),
};

#[tokio::test]
async fn the_daily_summary_carries_the_days_data_and_zeros_without_data() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    app.admin.set_day("ALICE1", date("2026-11-20"), DAY).await.unwrap();
    assert_eq!(app.admin.day("ALICE1", date("2026-11-20")).await.unwrap(), Some(DAY));
    assert_eq!(app.admin.day("ALICE1", date("2026-11-19")).await.unwrap(), None);

    let (status, body) =
        app.get_json("/1/user/-/activities/date/2026-11-20.json", &tokens.access_token).await;
    assert_eq!(status, 200);
    let summary = &body["summary"];
    assert_eq!(summary["steps"], 8_123);
    assert_eq!(summary["distances"][0], serde_json::json!({"activity": "total", "distance": 6.09}));
    assert_eq!(summary["sedentaryMinutes"], 560);
    assert_eq!(summary["lightlyActiveMinutes"], 230);
    assert_eq!(summary["fairlyActiveMinutes"], 21);
    assert_eq!(summary["veryActiveMinutes"], 17);
    assert_eq!(summary["restingHeartRate"], 62);
    assert_eq!(body["goals"]["steps"], 10_000);
    assert_eq!(body["activities"], serde_json::json!([]));

    let (status, empty) =
        app.get_json("/1/user/ALICE1/activities/date/2026-11-19.json", &tokens.access_token).await;
    assert_eq!(status, 200);
    assert_eq!(empty["summary"]["steps"], 0);
    assert_eq!(empty["summary"]["veryActiveMinutes"], 0);

    let (status, body) =
        app.get_json("/1/user/-/activities/date/20-11-2026.json", &tokens.access_token).await;
    assert_eq!((status, error_type(&body)), (400, "validation"));
}

#[tokio::test]
async fn the_steps_series_lists_every_date_with_string_values() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    app.admin.set_day("ALICE1", date("2026-11-18"), DAY).await.unwrap();
    let (status, body) = app
        .get_json(
            "/1/user/-/activities/steps/date/2026-11-17/2026-11-19.json",
            &tokens.access_token,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({"activities-steps": [
            {"dateTime": "2026-11-17", "value": "0"},
            {"dateTime": "2026-11-18", "value": "8123"},
            {"dateTime": "2026-11-19", "value": "0"},
        ]})
    );
    let (status, body) = app
        .get_json("/1/user/-/activities/steps/date/2026-11-19/7d.json", &tokens.access_token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["activities-steps"].as_array().unwrap().len(), 7);
    assert_eq!(body["activities-steps"][6]["dateTime"], "2026-11-19");

    let (status, body) = app
        .get_json(
            "/1/user/-/activities/steps/date/2020-01-01/2026-11-19.json",
            &tokens.access_token,
        )
        .await;
    assert_eq!((status, error_type(&body)), (400, "validation"));
}

#[tokio::test]
async fn heart_intraday_has_one_entry_per_worn_minute() {
    let app = spawn_sim().await;
    let tokens = app.create("ALICE1").await;
    app.admin.set_day("ALICE1", date("2026-11-20"), DAY).await.unwrap();
    let (status, body) = app
        .get_json("/1/user/-/activities/heart/date/2026-11-20/1d/1min.json", &tokens.access_token)
        .await;
    assert_eq!(status, 200);
    let intraday = &body["activities-heart-intraday"];
    let dataset = intraday["dataset"].as_array().unwrap();
    assert_eq!(dataset.len(), 828);
    assert_eq!(intraday["datasetInterval"], 1);
    assert_eq!(intraday["datasetType"], "minute");
    assert!(dataset.iter().all(|e| e["time"].as_str().unwrap().len() == 8 && e["value"].is_u64()));
    assert_eq!(body["activities-heart"][0]["value"]["restingHeartRate"], 62);

    let (_, empty) = app
        .get_json("/1/user/-/activities/heart/date/2026-11-19/1d/1min.json", &tokens.access_token)
        .await;
    assert_eq!(empty["activities-heart-intraday"]["dataset"], serde_json::json!([]));
}

#[tokio::test]
async fn the_profile_gives_the_time_zone_and_its_offset() {
    let app = spawn_sim().await;
    let create = fitex_provider_simulator::CreateUser {
        user_id: Some("PHX001".into()),
        timezone: "America/Phoenix".into(),
        scopes: vec!["profile".into()],
        ..Default::default()
    };
    let tokens = app.admin.create_user(create).await.unwrap();
    let (status, body) = app.get_json("/1/user/-/profile.json", &tokens.access_token).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"]["encodedId"], "PHX001");
    assert_eq!(body["user"]["timezone"], "America/Phoenix");
    assert_eq!(body["user"]["offsetFromUTCMillis"], -7 * 3_600_000);

    let unsupported = fitex_provider_simulator::CreateUser {
        timezone: "Mars/Base".into(),
        ..fitex_provider_simulator::CreateUser::default()
    };
    assert!(app.admin.create_user(unsupported).await.is_err());
}
