//! The Google Health webhook through real HTTP, a real broker and PostgreSQL, with Google's
//! public keyset served by a local HTTP server the test controls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use fitex_google_health::{keyset_json, sign};
use fitex_proto::{Message, Provider, ProviderNotification};
use p256::ecdsa::SigningKey;
use secrecy::SecretString;

use crate::helpers::*;

const ENDPOINT_SECRET: &str = "Bearer 5b1f0c9e-google-endpoint-secret";
const OLD_ENDPOINT_SECRET: &str = "Bearer retiring-endpoint-secret";
const PATH: &str = "/webhooks/google-health";

/// Serves a keyset the test can change, counting fetches (Google's gstatic URL in production).
struct KeysetServer {
    url: String,
    json: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl KeysetServer {
    async fn start(keys: &[(u32, &SigningKey)]) -> Self {
        let json = Arc::new(Mutex::new(keyset_of(keys)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (json.clone(), fetches.clone());
        let server = HttpServer::new(move || {
            let (served, counted) = (served.clone(), counted.clone());
            App::new().route(
                "/keyset.json",
                web::get().to(move || {
                    let (served, counted) = (served.clone(), counted.clone());
                    async move {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let body = served.lock().unwrap().clone();
                        HttpResponse::Ok().content_type("application/json").body(body)
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        KeysetServer { url: format!("http://127.0.0.1:{port}/keyset.json"), json, fetches, handle }
    }

    fn publish(&self, keys: &[(u32, &SigningKey)]) {
        *self.json.lock().unwrap() = keyset_of(keys);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn keyset_of(keys: &[(u32, &SigningKey)]) -> String {
    let keys: Vec<_> = keys.iter().map(|(id, k)| (*id, *k.verifying_key())).collect();
    keyset_json(&keys)
}

fn key() -> SigningKey {
    SigningKey::random(&mut rand_core::OsRng)
}

struct GoogleApp {
    app: TestApp,
    keys: KeysetServer,
}

async fn spawn_google(keys: &[(u32, &SigningKey)], refetch_interval_s: u64) -> GoogleApp {
    let keyset = KeysetServer::start(keys).await;
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database);
    let google = settings.google_health.as_mut().expect("base.toml configures Google Health");
    google.endpoint_secrets =
        vec![SecretString::from(ENDPOINT_SECRET), SecretString::from(OLD_ENDPOINT_SECRET)];
    google.keyset_url = keyset.url.clone();
    google.keyset_refetch_interval_s = refetch_interval_s;
    let app = spawn_with(settings).await;
    // The start-up fetch warms the cache.
    wait_for("the keyset warm-up fetch", Duration::from_secs(10), || async {
        keyset.fetches() >= 1
    })
    .await;
    GoogleApp { app, keys: keyset }
}

fn interval(start: (u32, u32, u32), end: (u32, u32, u32)) -> serde_json::Value {
    let at = |(day, hours, minutes): (u32, u32, u32)| serde_json::json!({"date":{"year":2026,"month":11,"day":day},"time":{"hours":hours,"minutes":minutes}});
    serde_json::json!({
        "physicalTimeInterval":{"startTime":"2026-11-28T04:58:00Z","endTime":"2026-11-28T05:03:00Z"},
        "civilDateTimeInterval":{"startDateTime":at(start),"endDateTime":at(end)},
        "civilIso8601TimeInterval":{"startTime":"2026-11-27T23:58:00","endTime":"2026-11-28T00:03:00"}
    })
}

fn notification(user: &str, operation: &str, intervals: Vec<serde_json::Value>) -> String {
    serde_json::json!({"data":{"version":"1","clientProvidedSubscriptionName":"fitex-sync",
        "healthUserId":user,"operation":operation,"dataType":"steps","intervals":intervals}})
    .to_string()
}

impl GoogleApp {
    fn url(&self) -> String {
        format!("{}{PATH}", self.app.base_url)
    }

    async fn post(&self, body: &str, headers: &[(&str, String)]) -> u16 {
        let mut request = self
            .app
            .client
            .post(self.url())
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.expect("POST").status().as_u16()
    }

    async fn post_signed(&self, key: &SigningKey, key_id: u32, body: &str) -> u16 {
        self.post(body, &[("X-Healthapi-Signature", sign(key, key_id, body.as_bytes()))]).await
    }

    async fn nothing_published(&self) -> bool {
        self.app.records(1, Duration::from_secs(2)).await.is_empty()
    }
}

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
