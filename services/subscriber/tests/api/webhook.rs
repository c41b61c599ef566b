use std::time::Duration;

use fitex_common::trace_context::TraceParent;
use fitex_proto::{Message, Provider, ProviderNotification};
use secrecy::SecretString;

use crate::helpers::*;

#[tokio::test]
async fn verification_handshake_answers_204_to_the_right_code_and_404_otherwise() {
    let app = spawn_app().await;
    let right = app.get(&format!("/webhooks/fitbit?verify={VERIFICATION_CODE}")).await;
    assert_eq!(right.status().as_u16(), 204);
    let wrong = app.get("/webhooks/fitbit?verify=wrong-code").await;
    assert_eq!(wrong.status().as_u16(), 404);
    let prefix = app.get("/webhooks/fitbit?verify=verify-me").await;
    assert_eq!(prefix.status().as_u16(), 404);
    let missing = app.get("/webhooks/fitbit").await;
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test]
async fn the_reference_notification_is_published_keyed_by_user_with_a_protobuf_payload() {
    let app = spawn_app().await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = app
        .client
        .post(app.webhook_url())
        .header("Content-Type", "application/json")
        .header("X-Fitbit-Signature", SIG_1)
        .header("traceparent", traceparent)
        .body(BODY_1)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);

    let records = app.records(1, Duration::from_secs(15)).await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.key.as_deref(), Some("184X36"));
    let event = ProviderNotification::decode(record.payload.as_slice()).unwrap();
    assert_eq!(event.provider, Provider::Fitbit as i32);
    assert_eq!(event.collection_type, "activities");
    assert_eq!(event.owner_id, "184X36");
    assert_eq!(event.owner_type, "user");
    assert_eq!(event.date, "2010-03-01");
    assert_eq!(event.subscription_id, "2345");
    assert!(event.received_at.unwrap().seconds > 1_700_000_000);
    // The event id and trace context travel in headers too, and the trace continues the caller's.
    assert_eq!(record.headers["event_id"], event.event_id);
    let sent = TraceParent::parse(&record.headers["traceparent"]).expect("valid traceparent");
    assert_eq!(sent.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(event.trace_context.unwrap().traceparent, record.headers["traceparent"]);
    assert!(record.headers["content-type"].contains("fitex.v1.ProviderNotification"));
}

#[tokio::test]
async fn one_record_per_notification_for_several_users() {
    let app = spawn_app().await;
    let response = app.post_notification(BODY_2, Some(SIG_2)).await;
    assert_eq!(response.status().as_u16(), 204);
    let records = app.records(3, Duration::from_secs(15)).await;
    let mut seen: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            let e = ProviderNotification::decode(r.payload.as_slice()).unwrap();
            assert_eq!(r.key.as_deref(), Some(e.owner_id.as_str()));
            (e.owner_id, e.collection_type)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("22AAAA".to_string(), "userRevokedAccess".to_string()),
            ("B4TZHW".to_string(), "activities".to_string()),
            ("B4TZHW".to_string(), "sleep".to_string()),
        ]
    );
}

#[tokio::test]
async fn bad_requests_get_their_documented_status_and_publish_nothing() {
    let app = spawn_app().await;
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(BODY_1).unwrap())
            .unwrap();
    let not_an_array = r#"{"collectionType":"activities","ownerId":"184X36"}"#;
    let too_large = format!(
        "[{}]",
        vec![r#"{"collectionType":"activities","date":"2026-11-20","ownerId":"BIGBODY","ownerType":"user"}"#; 60].join(",")
    );
    assert!(too_large.len() > 4_096);
    let cases: Vec<(&str, String, Option<String>, u16)> = vec![
        ("no signature header", BODY_1.to_string(), None, 404),
        (
            "signed with another secret",
            BODY_1.to_string(),
            Some(fitex_fitbit::sign("another-secret", BODY_1.as_bytes())),
            404,
        ),
        (
            "key without the trailing &",
            BODY_1.to_string(),
            Some("CNWtkhNxmfS0ccytNVRxqQ9rb3Q=".to_string()),
            404,
        ),
        ("body re-serialised after signing", pretty.clone(), Some(SIG_1.to_string()), 404),
        ("garbage signature", BODY_1.to_string(), Some("%%%".to_string()), 404),
        (
            "signed, but not JSON",
            "not json".to_string(),
            Some(fitex_fitbit::sign(SECRET, b"not json")),
            400,
        ),
        (
            "signed, but not an array",
            not_an_array.to_string(),
            Some(fitex_fitbit::sign(SECRET, not_an_array.as_bytes())),
            400,
        ),
        (
            "signed, but too large",
            too_large.clone(),
            Some(fitex_fitbit::sign(SECRET, too_large.as_bytes())),
            413,
        ),
    ];
    for (name, body, signature, status) in &cases {
        let response = app.post_notification(body, signature.as_deref()).await;
        assert_eq!(response.status().as_u16(), *status, "{name}");
        if *status == 400 {
            let error: serde_json::Value = response.json().await.unwrap();
            assert!(
                error["error"].as_str().unwrap().contains("not a JSON array"),
                "{name}: {error}"
            );
        }
    }
    // A good request after the bad ones: it must be the only record on the topic.
    let sentinel = r#"[{"collectionType":"activities","date":"2026-11-20","ownerId":"SENTINEL","ownerType":"user"}]"#;
    assert_eq!(app.post_signed(sentinel).await.status().as_u16(), 204);
    let records = app.records(2, Duration::from_secs(6)).await;
    assert_eq!(records.len(), 1, "only the sentinel was published");
    assert_eq!(records[0].key.as_deref(), Some("SENTINEL"));

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for reason in [
        "signature_missing",
        "signature_mismatch",
        "signature_malformed",
        "invalid_body",
        "body_too_large",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("fitex_subscriber_requests_rejected_total")
                    && l.contains(reason)),
            "no rejection metric for {reason}"
        );
    }
}

#[tokio::test]
async fn both_the_old_and_the_new_secret_are_accepted_during_rotation() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database);
    let new_secret = "rotated-secret-5e6f7a8b9c0d1e2f";
    settings.fitbit.client_secrets =
        vec![SecretString::from(new_secret), SecretString::from(SECRET)];
    let app = spawn_with(settings).await;

    let old = app.post_notification(BODY_1, Some(SIG_1)).await;
    assert_eq!(old.status().as_u16(), 204);
    let body = r#"[{"collectionType":"activities","date":"2026-11-21","ownerId":"NEWKEY","ownerType":"user"}]"#;
    let new =
        app.post_notification(body, Some(&fitex_fitbit::sign(new_secret, body.as_bytes()))).await;
    assert_eq!(new.status().as_u16(), 204);
    let retired = app
        .post_notification(body, Some(&fitex_fitbit::sign("retired-secret", body.as_bytes())))
        .await;
    assert_eq!(retired.status().as_u16(), 404);

    let mut keys: Vec<_> =
        app.records(2, Duration::from_secs(15)).await.into_iter().filter_map(|r| r.key).collect();
    keys.sort();
    assert_eq!(keys, vec!["184X36".to_string(), "NEWKEY".to_string()]);
}

#[tokio::test]
async fn health_readiness_and_metrics_endpoints_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["kafka"], "ok");
    assert_eq!(body["checks"]["database"], "ok");

    assert_eq!(app.post_signed(BODY_1).await.status().as_u16(), 204);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("fitex_subscriber_notifications_accepted_total"), "{metrics}");
    assert!(metrics.contains("fitex_subscriber_publish_seconds"), "{metrics}");
    assert_eq!(app.get("/nowhere").await.status().as_u16(), 404);
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token() {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database);
    settings.telemetry.metrics_token = Some(SecretString::from("scrape-token-1234"));
    let app = spawn_with(settings).await;
    assert_eq!(app.get("/metrics").await.status().as_u16(), 401);
    let scraped = app
        .client
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth("scrape-token-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status().as_u16(), 200);
    assert_eq!(app.get("/healthz").await.status().as_u16(), 200, "health stays open");
}
