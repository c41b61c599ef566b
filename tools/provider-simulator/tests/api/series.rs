//! The endpoints the fetcher's range plan reads: heart-rate zones in the daily summary, the
//! activity time series by date range and the heart-rate time series by date range.

use chrono::NaiveDate;
use fitex_provider_simulator::{CreateUser, DayData, Fault, SimulatorConfig};
use serde_json::{json, Value};

use crate::helpers::*;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

const ACTIVE: DayData = DayData {
    steps: 12_480,
    distance_km: 9.36,
    sedentary_minutes: 540,
    lightly_active_minutes: 260,
    fairly_active_minutes: 35,
    very_active_minutes: 48,
    worn_minutes: 883,
    resting_heart_rate: Some(58),
};

const QUIET: DayData = DayData {
    steps: 3_210,
    distance_km: 2.41,
    sedentary_minutes: 800,
    lightly_active_minutes: 120,
    fairly_active_minutes: 0,
    very_active_minutes: 0,
    worn_minutes: 760,
    resting_heart_rate: Some(64),
};

/// Steps but no heart-rate signal: a device without the sensor, or carried rather than worn.
const UNWORN: DayData = DayData {
    steps: 410,
    distance_km: 0.3,
    sedentary_minutes: 1_400,
    lightly_active_minutes: 10,
    fairly_active_minutes: 0,
    very_active_minutes: 0,
    worn_minutes: 0,
    resting_heart_rate: Some(70),
};

const RESOURCES: [&str; 6] = [
    "steps",
    "distance",
    "minutesSedentary",
    "minutesLightlyActive",
    "minutesFairlyActive",
    "minutesVeryActive",
];

fn expected_value(resource: &str, day: &DayData) -> String {
    match resource {
        "steps" => day.steps.to_string(),
        "distance" => day.distance_km.to_string(),
        "minutesSedentary" => day.sedentary_minutes.to_string(),
        "minutesLightlyActive" => day.lightly_active_minutes.to_string(),
        "minutesFairlyActive" => day.fairly_active_minutes.to_string(),
        "minutesVeryActive" => day.very_active_minutes.to_string(),
        other => panic!("unexpected resource {other}"),
    }
}

fn zone_minutes(zones: &Value) -> Vec<u64> {
    zones.as_array().unwrap().iter().map(|z| z["minutes"].as_u64().unwrap()).collect()
}

fn assert_fitbit_zones(zones: &Value, worn_minutes: u32) {
    let zones = zones.as_array().expect("heartRateZones is an array");
    let names: Vec<&str> = zones.iter().map(|z| z["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Out of Range", "Fat Burn", "Cardio", "Peak"]);
    assert_eq!((zones[0]["min"].as_u64(), zones[0]["max"].as_u64()), (Some(30), Some(94)));
    for zone in zones {
        assert!(zone["min"].is_u64() && zone["max"].is_u64() && zone["caloriesOut"].is_number());
    }
    let minutes = zone_minutes(&Value::Array(zones.clone()));
    assert_eq!(minutes.iter().sum::<u64>(), u64::from(worn_minutes));
    assert!(minutes[0] > minutes[1] + minutes[2] + minutes[3], "mostly out of range: {minutes:?}");
}

/// A user with the given scopes (names as in the `scope` parameter).
async fn create_with_scopes(app: &TestSim, id: &str, scopes: &[&str]) -> String {
    let create = CreateUser {
        user_id: Some(id.into()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        ..CreateUser::default()
    };
    app.admin.create_user(create).await.unwrap().access_token
}

async fn set_days(app: &TestSim, user: &str) {
    app.admin.set_day(user, date("2026-11-17"), ACTIVE).await.unwrap();
    app.admin.set_day(user, date("2026-11-18"), QUIET).await.unwrap();
    app.admin.set_day(user, date("2026-11-20"), UNWORN).await.unwrap();
    // 2026-11-19 has no data.
}

#[tokio::test]
async fn the_daily_summary_has_heart_rate_zones_summing_to_the_worn_minutes_only_when_worn() {
    let app = spawn_sim().await;
    let token = app.create("ALICE1").await.access_token;
    set_days(&app, "ALICE1").await;

    let mut fat_burn_and_up = Vec::new();
    for (day, data) in [("2026-11-17", ACTIVE), ("2026-11-18", QUIET)] {
        let path = format!("/1/user/-/activities/date/{day}.json");
        let (status, body) = app.get_json(&path, &token).await;
        assert_eq!(status, 200);
        assert_fitbit_zones(&body["summary"]["heartRateZones"], data.worn_minutes);
        assert_eq!(body["summary"]["restingHeartRate"], data.resting_heart_rate.unwrap());
        let minutes = zone_minutes(&body["summary"]["heartRateZones"]);
        fat_burn_and_up.push(minutes[1] + minutes[2] + minutes[3]);
    }
    assert!(fat_burn_and_up[0] > fat_burn_and_up[1], "more above resting on the active day");

    for day in ["2026-11-20", "2026-11-19"] {
        let path = format!("/1/user/ALICE1/activities/date/{day}.json");
        let (status, body) = app.get_json(&path, &token).await;
        assert_eq!(status, 200);
        assert!(body["summary"].get("heartRateZones").is_none(), "{day}: {body}");
        assert!(body["summary"].get("restingHeartRate").is_none(), "{day}: {body}");
    }
    let (_, unworn) = app.get_json("/1/user/-/activities/date/2026-11-20.json", &token).await;
    assert_eq!(unworn["summary"]["steps"], 410);
}

#[tokio::test]
async fn every_activity_range_resource_lists_every_date_as_strings_matching_the_days() {
    let app = spawn_sim().await;
    let token = app.create("ALICE1").await.access_token;
    set_days(&app, "ALICE1").await;
    let zero = DayData::default();
    let days = [
        ("2026-11-17", ACTIVE),
        ("2026-11-18", QUIET),
        ("2026-11-19", zero),
        ("2026-11-20", UNWORN),
    ];

    for (i, resource) in RESOURCES.into_iter().enumerate() {
        // Both `-` and the token's own user id work.
        let user = if i % 2 == 0 { "-" } else { "ALICE1" };
        let path = format!("/1/user/{user}/activities/{resource}/date/2026-11-17/2026-11-20.json");
        let (status, body) = app.get_json(&path, &token).await;
        assert_eq!(status, 200, "{resource}: {body}");
        let expected: Vec<Value> = days
            .iter()
            .map(|(day, data)| json!({"dateTime": day, "value": expected_value(resource, data)}))
            .collect();
        assert_eq!(body, json!({ format!("activities-{resource}"): expected }), "{resource}");
        let series = body[format!("activities-{resource}")].as_array().unwrap();
        assert!(series.iter().all(|p| p["value"].is_string()));
    }
    let (_, distance) =
        app.get_json("/1/user/-/activities/distance/date/2026-11-17/2026-11-17.json", &token).await;
    assert_eq!(distance["activities-distance"][0]["value"], "9.36");
    let (_, sedentary) =
        app.get_json("/1/user/-/activities/minutesSedentary/date/2026-11-20/7d.json", &token).await;
    let sedentary = sedentary["activities-minutesSedentary"].as_array().unwrap();
    assert_eq!(sedentary.len(), 7);
    assert_eq!(sedentary[6], json!({"dateTime": "2026-11-20", "value": "1400"}));

    // The range limit is 1095 days for every activity resource.
    for resource in RESOURCES {
        let ok = format!("/1/user/-/activities/{resource}/date/2024-01-01/2026-12-30.json");
        assert_eq!(app.get(&ok, &token).await.status().as_u16(), 200, "{resource}");
        let path = format!("/1/user/-/activities/{resource}/date/2024-01-01/2026-12-31.json");
        let (status, body) = app.get_json(&path, &token).await;
        assert_eq!((status, error_type(&body)), (400, "validation"), "{resource}");
    }
    let unknown = "/1/user/-/activities/floorsClimbed/date/2026-11-17/2026-11-20.json";
    assert_eq!(app.get(unknown, &token).await.status().as_u16(), 404);
}

#[tokio::test]
async fn the_heart_range_gives_per_day_zones_summing_to_the_worn_minutes() {
    let app = spawn_sim().await;
    let token = app.create("ALICE1").await.access_token;
    set_days(&app, "ALICE1").await;
    let (status, body) =
        app.get_json("/1/user/-/activities/heart/date/2026-11-16/2026-11-20.json", &token).await;
    assert_eq!(status, 200);
    let days = body["activities-heart"].as_array().unwrap();
    let dates: Vec<&str> = days.iter().map(|d| d["dateTime"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]);
    for day in days {
        assert_eq!(day["value"]["customHeartRateZones"], json!([]));
    }
    assert_fitbit_zones(&days[1]["value"]["heartRateZones"], ACTIVE.worn_minutes);
    assert_eq!(days[1]["value"]["restingHeartRate"], 58);
    assert_fitbit_zones(&days[2]["value"]["heartRateZones"], QUIET.worn_minutes);
    assert_eq!(days[2]["value"]["restingHeartRate"], 64);
    for i in [0, 3, 4] {
        assert_eq!(days[i]["value"]["heartRateZones"], json!([]), "{}", days[i]);
        assert!(days[i]["value"].get("restingHeartRate").is_none(), "{}", days[i]);
    }

    // The same zones as the daily summary.
    let (_, summary) = app.get_json("/1/user/-/activities/date/2026-11-17.json", &token).await;
    assert_eq!(summary["summary"]["heartRateZones"], days[1]["value"]["heartRateZones"]);

    // Up to a year; the intraday endpoint is still there beside it.
    let (status, year) = app
        .get_json("/1/user/ALICE1/activities/heart/date/2024-01-01/2024-12-31.json", &token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(year["activities-heart"].as_array().unwrap().len(), 366);
    let (status, body) =
        app.get_json("/1/user/-/activities/heart/date/2024-01-01/2025-01-01.json", &token).await;
    assert_eq!((status, error_type(&body)), (400, "validation"));
    let (status, body) =
        app.get_json("/1/user/-/activities/heart/date/2026-11-20/2026-11-19.json", &token).await;
    assert_eq!((status, error_type(&body)), (400, "validation"));
    let (status, week) =
        app.get_json("/1/user/-/activities/heart/date/2026-11-20/7d.json", &token).await;
    assert_eq!(status, 200);
    assert_eq!(week["activities-heart"].as_array().unwrap().len(), 7);
    let (status, intraday) =
        app.get_json("/1/user/-/activities/heart/date/2026-11-17/1d/1min.json", &token).await;
    assert_eq!(status, 200);
    let dataset = intraday["activities-heart-intraday"]["dataset"].as_array().unwrap();
    assert_eq!(dataset.len(), ACTIVE.worn_minutes as usize);
}

#[tokio::test]
async fn the_range_endpoints_check_scopes_and_the_path_user() {
    let app = spawn_sim().await;
    let activity_only = create_with_scopes(&app, "ACTONLY", &["activity"]).await;
    let heart_only = create_with_scopes(&app, "HRONLY", &["heartrate"]).await;
    app.create("BOB001").await;

    let heart = "/1/user/-/activities/heart/date/2026-11-17/2026-11-20.json";
    let (status, body) = app.get_json(heart, &activity_only).await;
    assert_eq!((status, error_type(&body)), (403, "insufficient_scope"));
    assert_eq!(app.get(heart, &heart_only).await.status().as_u16(), 200);
    for resource in RESOURCES {
        let path = format!("/1/user/-/activities/{resource}/date/2026-11-17/2026-11-20.json");
        let (status, body) = app.get_json(&path, &heart_only).await;
        assert_eq!((status, error_type(&body)), (403, "insufficient_scope"), "{resource}");
        assert_eq!(app.get(&path, &activity_only).await.status().as_u16(), 200, "{resource}");
        let other = format!("/1/user/BOB001/activities/{resource}/date/2026-11-17/2026-11-20.json");
        let (status, body) = app.get_json(&other, &activity_only).await;
        assert_eq!((status, error_type(&body)), (403, "insufficient_permissions"), "{resource}");
    }
    let (status, body) = app
        .get_json("/1/user/BOB001/activities/heart/date/2026-11-17/2026-11-20.json", &heart_only)
        .await;
    assert_eq!((status, error_type(&body)), (403, "insufficient_permissions"));

    for path in [heart, "/1/user/-/activities/distance/date/2026-11-17/2026-11-20.json"] {
        let (status, body) = app.get_json(path, "not-a-token").await;
        assert_eq!((status, error_type(&body)), (401, "invalid_token"), "{path}");
    }
}

#[tokio::test]
async fn each_range_request_spends_one_call_and_is_counted_by_kind() {
    let app = spawn_with(SimulatorConfig { rate_limit_per_hour: 20, ..Default::default() }).await;
    let token = app.create("ALICE1").await.access_token;
    let mut paths: Vec<String> = RESOURCES
        .iter()
        .map(|r| format!("/1/user/-/activities/{r}/date/2026-01-01/2026-11-20.json"))
        .collect();
    paths.push("/1/user/-/activities/heart/date/2026-01-01/2026-11-20.json".into());
    paths.push("/1/user/-/activities/heart/date/2026-11-20/1d/1min.json".into());
    for (i, path) in paths.iter().enumerate() {
        let response = app.get(path, &token).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(header(&response, "fitbit-rate-limit-limit"), "20");
        assert_eq!(
            header(&response, "fitbit-rate-limit-remaining"),
            (19 - i).to_string(),
            "{path}"
        );
        assert!(header(&response, "fitbit-rate-limit-reset").parse::<u64>().is_ok());
    }
    let stats = app.admin.stats().await.unwrap();
    assert_eq!(stats.api_calls_by_user["ALICE1"], 8);
    assert_eq!(stats.api_calls_by_endpoint["steps_range"], 1);
    assert_eq!(stats.api_calls_by_endpoint["activity_range"], 5);
    assert_eq!(stats.api_calls_by_endpoint["heart_range"], 1);
    assert_eq!(stats.api_calls_by_endpoint["heart_intraday"], 1);

    // Over budget: 429 with the headers, as for every data endpoint.
    app.admin.set_rate_limit("ALICE1", 0, 60).await.unwrap();
    for path in &paths[1..7] {
        let response = app.get(path, &token).await;
        assert_eq!(response.status().as_u16(), 429, "{path}");
        assert_eq!(header(&response, "fitbit-rate-limit-remaining"), "0");
    }
}

#[tokio::test]
async fn injected_faults_apply_to_the_range_endpoints() {
    let app = spawn_sim().await;
    let token = app.create("ALICE1").await.access_token;
    app.admin.set_fault(Fault::status(503, 2)).await.unwrap();
    let heart = "/1/user/-/activities/heart/date/2026-11-17/2026-11-20.json";
    let distance = "/1/user/-/activities/distance/date/2026-11-17/2026-11-20.json";
    let (status, body) = app.get_json(heart, &token).await;
    assert_eq!((status, error_type(&body)), (503, "system"));
    let response = app.get(distance, &token).await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(header(&response, "fitbit-rate-limit-remaining"), "148");
    assert_eq!(app.get(distance, &token).await.status().as_u16(), 200);
    assert_eq!(app.admin.stats().await.unwrap().faults_served, 2);
}
