//! Signed change notifications to Google subscribers, and the signing keys' rotation.

use chrono::NaiveDate;
use fitex_google_health::signature::key_id;
use fitex_google_health::{parse_change_notices, parse_keyset, verify, SignatureError};
use fitex_provider_simulator::{
    DayData, GooglePush, NotificationForm, RawNotification, SignatureKey, SimulatorConfig,
};
use serde_json::Value;

use crate::google_helpers::*;
use crate::helpers::*;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn day() -> DayData {
    DayData { steps: 7_500, worn_minutes: 800, ..DayData::default() }
}

/// A simulator with a verified AUTOMATIC subscriber `fitex-steps` at a correct endpoint.
async fn subscribed(config: SimulatorConfig) -> (TestSim, Endpoint) {
    let app = spawn_with(config).await;
    let endpoint = spawn_endpoint(Behaviour::Correct).await;
    let token = app.project_token().await;
    let (status, body) =
        app.create_subscriber(&token, "fitex-steps", &endpoint.url, "AUTOMATIC").await;
    assert_eq!(status, 200, "{body}");
    endpoint.clear();
    (app, endpoint)
}

async fn keyset(app: &TestSim) -> fitex_google_health::Keyset {
    parse_keyset(&app.admin.google_keyset_json().await.unwrap()).unwrap()
}

#[tokio::test]
async fn setting_a_day_notifies_consenting_users_signed_and_authorized() {
    let (app, endpoint) = subscribed(SimulatorConfig::default()).await;
    app.create("ALICE1").await;
    app.create("BOB001").await;
    let alice = app.admin.google_grant("ALICE1").await.unwrap();

    let record = fitex_provider_simulator::DayRecord { day: day(), manual_steps: 0 };
    let answer = app.admin.set_day_record("ALICE1", date("2026-03-07"), record).await.unwrap();
    assert!(answer.deliveries.is_empty(), "no Fitbit subscriber URL is configured here");
    assert_eq!(answer.google_deliveries.len(), 1);
    assert_eq!(answer.google_deliveries[0].status, Some(204));
    assert_eq!(answer.google_deliveries[0].subscriber_id, "fitex-steps");
    assert_eq!(answer.google_deliveries[0].health_user_id, alice.health_user_id);

    let posts = endpoint.notifications();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.content_type.as_deref(), Some("application/json"));
    assert_eq!(post.authorization.as_deref(), Some(ENDPOINT_SECRET));
    assert_eq!(verify(&keyset(&app).await, &post.body, post.signature.as_deref()), Ok(()));
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    let data = &body["data"];
    assert_eq!(data["version"], "1");
    assert_eq!(data["clientProvidedSubscriptionName"], "fitex-steps");
    assert_eq!(data["healthUserId"], alice.health_user_id.as_str());
    assert_eq!(data["operation"], "UPSERT");
    assert_eq!(data["dataType"], "steps");
    let interval = &data["intervals"][0];
    // New York, standard time on 7 March 2026.
    assert_eq!(interval["physicalTimeInterval"]["startTime"], "2026-03-07T22:29:00Z");
    assert_eq!(interval["civilIso8601TimeInterval"]["startTime"], "2026-03-07T17:29:00");
    let notices = parse_change_notices(&post.body).unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].date, Some(date("2026-03-07")));
    assert_eq!(notices[0].owner_id, alice.health_user_id);

    // Bob never consented to Google: nothing for him.
    let answer = app.admin.set_day_record("BOB001", date("2026-03-07"), record).await.unwrap();
    assert!(answer.google_deliveries.is_empty());
    assert_eq!(endpoint.notifications().len(), 1);
    // Nor for Alice once she withdraws.
    app.admin.google_revoke("ALICE1").await.unwrap();
    assert!(app
        .admin
        .set_day_record("ALICE1", date("2026-03-08"), record)
        .await
        .unwrap()
        .google_deliveries
        .is_empty());
    assert_eq!(app.admin.stats().await.unwrap().google_notification_posts, 1);
    endpoint.handle.stop(true).await;
}

#[tokio::test]
async fn manual_subscribers_hear_only_of_subscribed_users() {
    let app = spawn_sim().await;
    let endpoint = spawn_endpoint(Behaviour::Correct).await;
    let token = app.project_token().await;
    assert_eq!(app.create_subscriber(&token, "manual-sub", &endpoint.url, "MANUAL").await.0, 200);
    app.create("ALICE1").await;
    app.create("BOB001").await;
    let alice = app.admin.google_grant("ALICE1").await.unwrap();
    app.admin.google_grant("BOB001").await.unwrap();
    let body = serde_json::json!({"user": format!("users/{}", alice.health_user_id),
        "dataTypes": ["steps"]});
    let path = "/v4/projects/fitex-sim/subscribers/manual-sub/subscriptions";
    assert_eq!(app.google_send(reqwest::Method::POST, path, &token, Some(body)).await.0, 200);
    endpoint.clear();

    let alice_push =
        app.admin.google_push(GooglePush::steps("ALICE1", date("2026-03-07"))).await.unwrap();
    assert_eq!(alice_push.len(), 1);
    let bob_push =
        app.admin.google_push(GooglePush::steps("BOB001", date("2026-03-07"))).await.unwrap();
    assert!(bob_push.is_empty());
    assert_eq!(endpoint.notifications().len(), 1);
    endpoint.handle.stop(true).await;
}

#[tokio::test]
async fn without_send_authorization_only_the_signature_comes() {
    let (app, endpoint) = subscribed(SimulatorConfig {
        google_send_authorization: false,
        ..SimulatorConfig::default()
    })
    .await;
    app.create("ALICE1").await;
    app.admin.google_grant("ALICE1").await.unwrap();
    app.admin.set_day("ALICE1", date("2026-03-07"), day()).await.unwrap();
    let posts = endpoint.notifications();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].authorization, None);
    assert!(verify(&keyset(&app).await, &posts[0].body, posts[0].signature.as_deref()).is_ok());
    endpoint.handle.stop(true).await;
}

#[tokio::test]
async fn an_interval_across_midnight_names_two_civil_dates_and_duplicates_repeat() {
    let (app, endpoint) = subscribed(SimulatorConfig::default()).await;
    app.create("ALICE1").await;
    app.admin.google_grant("ALICE1").await.unwrap();
    let push = GooglePush {
        operation: "DELETE".into(),
        crosses_midnight: true,
        duplicates: 2,
        ..GooglePush::steps("ALICE1", date("2026-03-07"))
    };
    let deliveries = app.admin.google_push(push).await.unwrap();
    assert_eq!(deliveries.iter().map(|d| d.status).collect::<Vec<_>>(), [Some(204); 3]);
    let posts = endpoint.notifications();
    assert_eq!(posts.len(), 3);
    assert!(posts.iter().all(|p| p.body == posts[0].body));
    let notices = parse_change_notices(&posts[0].body).unwrap();
    let dates: Vec<_> = notices.iter().map(|n| n.date).collect();
    assert_eq!(dates, [Some(date("2026-03-07")), Some(date("2026-03-08"))]);
    assert!(notices.iter().all(|n| n.operation == "DELETE"));
    let body: Value = serde_json::from_slice(&posts[0].body).unwrap();
    let interval = &body["data"]["intervals"][0]["civilIso8601TimeInterval"];
    assert_eq!(interval["startTime"], "2026-03-07T23:58:00");
    assert_eq!(interval["endTime"], "2026-03-08T00:03:00");
    endpoint.handle.stop(true).await;
}

#[tokio::test]
async fn rotated_keys_sign_new_notifications_and_retired_ones_leave_the_keyset() {
    let (app, endpoint) = subscribed(SimulatorConfig::default()).await;
    app.create("ALICE1").await;
    app.admin.google_grant("ALICE1").await.unwrap();
    let first = app.admin.google_keys().await.unwrap();
    assert_eq!(first.key_ids, vec![first.primary_key_id]);

    let rotated = app.admin.google_rotate_keys().await.unwrap();
    assert_ne!(rotated.primary_key_id, first.primary_key_id);
    assert_eq!(rotated.key_ids, vec![rotated.primary_key_id, first.primary_key_id]);
    let keys = keyset(&app).await;
    assert_eq!(keys.len(), 2);
    assert!(keys.contains_key(&first.primary_key_id) && keys.contains_key(&rotated.primary_key_id));
    app.admin.google_push(GooglePush::steps("ALICE1", date("2026-03-07"))).await.unwrap();
    let post = endpoint.notifications().pop().unwrap();
    let signature = post.signature.as_deref().unwrap();
    assert_eq!(key_id(signature), Ok(rotated.primary_key_id));
    assert_eq!(verify(&keys, &post.body, Some(signature)), Ok(()));

    let retired = app.admin.google_retire_keys().await.unwrap();
    assert_eq!(retired.key_ids, vec![rotated.primary_key_id]);
    let keys = keyset(&app).await;
    assert_eq!(keys.keys().copied().collect::<Vec<_>>(), vec![rotated.primary_key_id]);
    assert_eq!(verify(&keys, &post.body, Some(signature)), Ok(()));
    endpoint.handle.stop(true).await;
}

#[tokio::test]
async fn raw_notifications_carry_the_signature_asked_for() {
    let app = spawn_sim().await;
    let endpoint = spawn_endpoint(Behaviour::Always(204)).await;
    let keys = keyset(&app).await;
    let send = |signature_key: SignatureKey| RawNotification {
        url: endpoint.url.clone(),
        body: r#"{"data":{"healthUserId":"x","dataType":"steps"}}"#.to_string(),
        signature_key,
        authorization: Some("Bearer whatever".into()),
    };
    for (signature_key, expected) in [
        (SignatureKey::Primary, Ok(())),
        (SignatureKey::Wrong, Err(SignatureError::BadSignature)),
        (SignatureKey::None, Err(SignatureError::Missing)),
    ] {
        let delivery = app.admin.google_raw_notification(send(signature_key)).await.unwrap();
        assert_eq!(delivery.status, Some(204));
        let post = endpoint.received().pop().unwrap();
        assert_eq!(post.authorization.as_deref(), Some("Bearer whatever"));
        assert_eq!(verify(&keys, &post.body, post.signature.as_deref()), expected);
    }
    app.admin.google_raw_notification(send(SignatureKey::Unknown)).await.unwrap();
    let post = endpoint.received().pop().unwrap();
    assert!(matches!(
        verify(&keys, &post.body, post.signature.as_deref()),
        Err(SignatureError::UnknownKeyId(_))
    ));
    endpoint.handle.stop(true).await;
}

#[tokio::test]
async fn the_keyset_is_published_as_google_publishes_it() {
    let app = spawn_sim().await;
    let json: Value = serde_json::from_str(&app.admin.google_keyset_json().await.unwrap()).unwrap();
    let key = &json["key"][0];
    assert_eq!(key["keyData"]["typeUrl"], "type.googleapis.com/google.crypto.tink.EcdsaPublicKey");
    assert_eq!(key["keyData"]["keyMaterialType"], "ASYMMETRIC_PUBLIC");
    assert_eq!(
        (key["status"].as_str(), key["outputPrefixType"].as_str()),
        (Some("ENABLED"), Some("TINK"))
    );
    let value = key["keyData"]["value"].as_str().unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value).unwrap();
    // As Google's live keys: no version field, then EcdsaParams SHA-256 (3), P-256 (2), DER (2),
    // then x and y of 33 bytes each (a leading zero).
    assert_eq!(bytes[..8], [0x12, 0x06, 0x08, 0x03, 0x10, 0x02, 0x18, 0x02]);
    assert_eq!(bytes[8..11], [0x1a, 0x21, 0x00]);
    assert_eq!(bytes.len(), 8 + 35 + 35);
    let keys = keyset(&app).await;
    assert_eq!(keys.values().next().unwrap().encoding, fitex_google_health::SignatureEncoding::Der);
}

#[tokio::test]
async fn bodies_come_as_one_object_or_as_an_array() {
    let (app, endpoint) = subscribed(SimulatorConfig::default()).await;
    app.create("ALICE1").await;
    let alice = app.admin.google_grant("ALICE1").await.unwrap();
    let keys = keyset(&app).await;
    let two_days = |form| GooglePush {
        more_dates: vec![date("2026-03-09")],
        form,
        ..GooglePush::steps("ALICE1", date("2026-03-07"))
    };

    // Google's documented form: one object, the changed days as its intervals.
    app.admin.google_push(two_days(None)).await.unwrap();
    let object = endpoint.notifications().pop().unwrap();
    let body: Value = serde_json::from_slice(&object.body).unwrap();
    assert!(body.is_object());
    assert_eq!(body["data"]["intervals"].as_array().unwrap().len(), 2);

    // As live deliveries are reported: an array, one notification per changed day.
    app.admin.google_push(two_days(Some(NotificationForm::Array))).await.unwrap();
    let array = endpoint.notifications().pop().unwrap();
    assert_eq!(verify(&keys, &array.body, array.signature.as_deref()), Ok(()));
    let body: Value = serde_json::from_slice(&array.body).unwrap();
    let elements = body.as_array().expect("a JSON array");
    assert_eq!(elements.len(), 2);
    assert!(elements.iter().all(|n| n["data"]["healthUserId"] == alice.health_user_id.as_str()));
    for post in [&object, &array] {
        let dates: Vec<_> =
            parse_change_notices(&post.body).unwrap().iter().map(|n| n.date).collect();
        assert_eq!(dates, [Some(date("2026-03-07")), Some(date("2026-03-09"))]);
    }
    endpoint.handle.stop(true).await;

    // The simulator's default form applies to the notifications a changed day sends.
    let (app, endpoint) = subscribed(SimulatorConfig {
        google_notification_form: NotificationForm::Array,
        ..SimulatorConfig::default()
    })
    .await;
    app.create("BOB001").await;
    app.admin.google_grant("BOB001").await.unwrap();
    let record = fitex_provider_simulator::DayRecord { day: day(), manual_steps: 0 };
    app.admin.set_day_record("BOB001", date("2026-03-07"), record).await.unwrap();
    let post = endpoint.notifications().pop().unwrap();
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
    endpoint.handle.stop(true).await;
}
