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
