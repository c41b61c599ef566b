//! The Google Health webhook through real HTTP, a real broker and PostgreSQL, with Google's
//! public keyset served by a local HTTP server the test controls (`helpers::KeysetServer`).

use std::time::Duration;

use fitex_google_health::sign;
use fitex_proto::{Message, Provider, ProviderNotification};

use crate::helpers::*;

#[tokio::test]
async fn the_verification_handshake_answers_201_with_the_secret_and_401_otherwise() {
    let g = spawn_google(&[(1, &key())], 300).await;
    let verification = r#"{"type": "verification"}"#;
    assert_eq!(g.post(verification, &[("Authorization", ENDPOINT_SECRET.into())]).await, 201);
    // While rotating, the previous secret is still accepted.
    assert_eq!(g.post(verification, &[("Authorization", OLD_ENDPOINT_SECRET.into())]).await, 201);
    assert_eq!(g.post(verification, &[]).await, 401);
    assert_eq!(g.post(verification, &[("Authorization", "Bearer guess".into())]).await, 401);
    assert_eq!(
        g.post(verification, &[("Authorization", format!("{ENDPOINT_SECRET}0"))]).await,
        401,
        "the secret is compared exactly"
    );
    assert!(g.nothing_published().await);
    let metrics = g.app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("fitex_subscriber_verifications_total"), "{metrics}");
}

#[tokio::test]
async fn a_signed_notification_becomes_one_event_per_user_day_keyed_by_user() {
    let k = key();
    let g = spawn_google(&[(77, &k)], 300).await;
    let body = notification("health-user-1", "DELETE", vec![interval((27, 23, 58), (28, 0, 3))]);
    for header in ["X-Healthapi-Signature", "GOOGLE-HEALTH-API-SIGNATURE"] {
        let status = g
            .post(
                &body,
                &[
                    (header, sign(&k, 77, body.as_bytes())),
                    ("Authorization", ENDPOINT_SECRET.into()),
                ],
            )
            .await;
        assert_eq!(status, 204, "{header}");
    }
    let records = g.app.records(4, Duration::from_secs(15)).await;
    assert_eq!(records.len(), 4, "two civil dates, twice");
    let mut dates: Vec<String> = Vec::new();
    for record in &records {
        assert_eq!(record.key.as_deref(), Some("health-user-1"));
        assert_eq!(record.headers["provider"], "google_health");
        let event = ProviderNotification::decode(record.payload.as_slice()).unwrap();
        assert_eq!(event.provider, Provider::GoogleHealth as i32);
        assert_eq!(event.collection_type, "steps");
        assert_eq!(event.operation, "DELETE");
        assert_eq!(event.subscription_id, "fitex-sync");
        dates.push(event.date);
    }
    dates.sort();
    assert_eq!(dates, ["2026-11-27", "2026-11-27", "2026-11-28", "2026-11-28"]);
}

#[tokio::test]
async fn forged_altered_and_unauthenticated_notifications_are_refused_and_not_published() {
    let k = key();
    let g = spawn_google(&[(5, &k)], 300).await;
    let body = notification("victim", "UPSERT", vec![interval((28, 10, 0), (28, 10, 5))]);
    let signature = sign(&k, 5, body.as_bytes());

    // No signature at all.
    assert_eq!(g.post(&body, &[]).await, 401);
    // Signed by someone else's key under Google's key id.
    assert_eq!(g.post_signed(&key(), 5, &body).await, 403);
    // A key id Google never published.
    assert_eq!(g.post_signed(&key(), 999, &body).await, 403);
    // One byte of the body changed after signing.
    let mut flipped = body.clone().into_bytes();
    let at = flipped.iter().position(|b| *b == b'v').unwrap();
    flipped[at] = b'V';
    let flipped = String::from_utf8(flipped).unwrap();
    assert_eq!(g.post(&flipped, &[("X-Healthapi-Signature", signature.clone())]).await, 403);
    // The same JSON re-serialised (as a reformatting proxy would) is not the signed bytes.
    let reserialized =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&body).unwrap())
            .unwrap();
    assert_ne!(reserialized, body);
    assert_eq!(g.post(&reserialized, &[("X-Healthapi-Signature", signature.clone())]).await, 403);
    // A valid signature with a wrong Authorization.
    let wrong_auth =
        [("X-Healthapi-Signature", signature.clone()), ("Authorization", "Bearer nope".into())];
    assert_eq!(g.post(&body, &wrong_auth).await, 403);
    // Garbage where the signature goes.
    assert_eq!(g.post(&body, &[("X-Healthapi-Signature", "not base64!".into())]).await, 403);

    assert!(g.nothing_published().await);
    let metrics = g.app.get("/metrics").await.text().await.unwrap();
    for reason in
        ["signature_missing", "signature_invalid", "unknown_key_id", "authorization_mismatch"]
    {
        assert!(
            metrics.lines().any(|l| l.contains("google_health") && l.contains(reason)),
            "no {reason} reject counted:\n{metrics}"
        );
    }
    // And the genuine one still goes through.
    assert_eq!(g.post(&body, &[("X-Healthapi-Signature", signature)]).await, 204);
    assert_eq!(g.app.records(1, Duration::from_secs(15)).await.len(), 1);
}

#[tokio::test]
async fn keys_rotate_without_downtime() {
    let (old, new) = (key(), key());
    let g = spawn_google(&[(1, &old)], 1).await;
    let body = notification("rotating-user", "UPSERT", vec![interval((28, 8, 0), (28, 8, 5))]);
    assert_eq!(g.post_signed(&old, 1, &body).await, 204);

    // Google publishes the new key beside the old one, then signs with it.
    g.keys.publish(&[(2, &new), (1, &old)]);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(g.post_signed(&new, 2, &body).await, 204, "unknown key id → keyset refetched");
    assert_eq!(g.post_signed(&old, 1, &body).await, 204, "in-flight retries with the old key");

    // Later the old key is retired; the next unknown key id refetches the keyset.
    g.keys.publish(&[(2, &new)]);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(g.post_signed(&key(), 3, &body).await, 403);
    assert_eq!(g.post_signed(&old, 1, &body).await, 403, "the retired key is no longer trusted");
    assert_eq!(g.post_signed(&new, 2, &body).await, 204);
    assert_eq!(g.app.records(4, Duration::from_secs(15)).await.len(), 4);
}

#[tokio::test]
async fn a_flood_of_unknown_key_ids_fetches_the_keyset_at_most_once_per_interval() {
    let k = key();
    let g = spawn_google(&[(1, &k)], 300).await;
    let before = g.keys.fetches();
    let body = notification("flooded", "UPSERT", vec![interval((28, 9, 0), (28, 9, 5))]);
    let stranger = key();
    let statuses =
        futures::future::join_all((0..200u32).map(|i| g.post_signed(&stranger, 10_000 + i, &body)))
            .await;
    assert!(statuses.iter().all(|s| *s == 403), "{statuses:?}");
    assert!(g.keys.fetches() - before <= 1, "{} fetches", g.keys.fetches() - before);
    // Good traffic is unaffected.
    assert_eq!(g.post_signed(&k, 1, &body).await, 204);
    assert_eq!(g.app.records(1, Duration::from_secs(15)).await.len(), 1);
    g.keys.handle.stop(false).await;
}

#[tokio::test]
async fn a_key_that_cannot_be_read_is_skipped_counted_and_the_others_still_verify() {
    let (old, new) = (key(), key());
    let g = spawn_google(&[(1, &old)], 1).await;
    // Google rotates in key 2 beside key 1, and the keyset also carries keys we cannot read: one
    // with P-384 params, one that is not base64, one entry that is not a key at all.
    let mut keyset: serde_json::Value = serde_json::from_str(&fitex_google_health::keyset_json(&[
        (2, *new.verifying_key()),
        (1, *old.verifying_key()),
    ]))
    .unwrap();
    let unreadable = |key_id: u32, value: &str| {
        serde_json::json!({"keyData": {"typeUrl":
            "type.googleapis.com/google.crypto.tink.EcdsaPublicKey", "value": value,
            "keyMaterialType": "ASYMMETRIC_PUBLIC"}, "status": "ENABLED", "keyId": key_id,
            "outputPrefixType": "TINK"})
    };
    let keys = keyset["key"].as_array_mut().unwrap();
    keys.push(unreadable(
        3,
        "EgYIAxADGAIaIQBDWg3kaiabjtrVXbSSbcn6e3QqiCLD+B4GuhC/Z1C6miIhACarm0VQv9WjNZG/AB0itXCIGFW5ddInmBFUjK/8w0v3",
    ));
    keys.push(unreadable(4, "not base64!"));
    keys.push(serde_json::json!({"keyId": "five"}));
    g.keys.publish_json(keyset.to_string());
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let body = notification("rotating-user", "UPSERT", vec![interval((28, 8, 0), (28, 8, 5))]);
    assert_eq!(g.post_signed(&new, 2, &body).await, 204, "the new key was read");
    assert_eq!(g.post_signed(&old, 1, &body).await, 204, "the old key still is");
    assert_eq!(g.app.records(2, Duration::from_secs(15)).await.len(), 2);
    for (reason, count) in [("unsupported_params", 1.0), ("base64", 1.0), ("malformed_entry", 1.0)]
    {
        assert_eq!(
            g.app.metric("fitex_google_keyset_keys_skipped_total", &[reason]).await,
            count,
            "{reason}"
        );
    }
}

/// The simulator plays Google: it verifies the real subscriber's endpoint, publishes its keyset
/// as Google does (DER keys, params `08 03 10 02 18 02`) and sends signed notifications, one
/// JSON object or a JSON array of them.
#[tokio::test]
async fn googles_object_and_array_bodies_arrive_end_to_end() {
    use fitex_google_health::subscribers::{
        CreatePolicy, OperationOutcome, ProjectSubscribers, SubscriberConfig,
    };
    use fitex_provider_simulator::{
        CreateUser, GooglePush, NotificationForm, Simulator, SimulatorConfig,
    };
    use secrecy::SecretString;

    let sim = Simulator::spawn(SimulatorConfig::default()).await.unwrap();
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database);
    let google = settings.google_health.as_mut().expect("base.toml configures Google Health");
    google.endpoint_secrets = vec![SecretString::from(ENDPOINT_SECRET)];
    google.keyset_url =
        format!("{}/googlehealthapi/webhooks/webhooks_public_keyset.json", sim.base_url());
    let app = spawn_with(settings).await;

    let token = sim.client().google_project_token().await.unwrap().access_token;
    let project = ProjectSubscribers::new(
        &sim.base_url(),
        "fitex-sim",
        SecretString::from(token),
        Duration::from_secs(10),
    )
    .unwrap();
    let configs = [SubscriberConfig {
        data_types: vec!["steps".into()],
        subscription_create_policy: CreatePolicy::Automatic,
    }];
    let endpoint = format!("{}{GOOGLE_PATH}", app.base_url);
    let created = project
        .create("fitex-sync", &endpoint, &SecretString::from(ENDPOINT_SECRET), &configs)
        .await
        .expect("Google verified the endpoint");
    assert!(matches!(created, OperationOutcome::Done(Some(_))), "{created:?}");

    let user = CreateUser { user_id: Some("ARRAY1".into()), ..CreateUser::default() };
    sim.client().create_user(user).await.unwrap();
    let person = sim.client().google_grant("ARRAY1").await.unwrap();
    let date = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
    for (form, days) in [
        (NotificationForm::Object, ["2026-11-20", "2026-11-22"]),
        (NotificationForm::Array, ["2026-11-24", "2026-11-26"]),
    ] {
        let push = GooglePush {
            more_dates: vec![date(days[1])],
            form: Some(form),
            ..GooglePush::steps("ARRAY1", date(days[0]))
        };
        let deliveries = sim.client().google_push(push).await.unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].status, Some(204), "{form:?}: {deliveries:?}");
    }
    let records = app.records(4, Duration::from_secs(15)).await;
    let mut dates: Vec<String> = records
        .iter()
        .map(|r| ProviderNotification::decode(r.payload.as_slice()).unwrap())
        .inspect(|event| assert_eq!(event.owner_id, person.health_user_id))
        .map(|event| event.date)
        .collect();
    dates.sort();
    assert_eq!(dates, ["2026-11-20", "2026-11-22", "2026-11-24", "2026-11-26"]);
    sim.stop().await;
}
