use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use fitex_common::kafka::KafkaSettings;
use fitex_google_health::{keyset_json, sign};
use fitex_subscriber::{Application, Settings};
use fitex_testkit::ReadRecord;
use p256::ecdsa::SigningKey;
use secrecy::SecretString;
use sqlx::PgPool;

pub const SECRET: &str = "123ab4567c890d123e4567f8abcdef9a";
pub const VERIFICATION_CODE: &str = "verify-me-4c1d";
pub const BODY_1: &str = r#"[{"collectionType":"activities","date":"2010-03-01","ownerId":"184X36","ownerType":"user","subscriptionId":"2345"}]"#;
pub const SIG_1: &str = "e6OUUBQCnrnhuvS7PvLRUOmF0TU=";
pub const BODY_2: &str = r#"[{"collectionType":"activities","date":"2026-11-20","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-activities"},{"collectionType":"sleep","date":"2026-11-20","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-sleep"},{"collectionType":"userRevokedAccess","date":"2026-11-21","ownerId":"22AAAA","ownerType":"user","subscriptionId":"22AAAA-all"}]"#;
pub const SIG_2: &str = "ICvwjbW1XJVBkumtLtIJp3vODM4=";

pub struct TestApp {
    pub base_url: String,
    pub kafka: KafkaSettings,
    pub pool: PgPool,
    pub handle: actix_web::dev::ServerHandle,
    pub stopped: tokio::task::JoinHandle<std::io::Result<()>>,
    pub client: reqwest::Client,
}

/// Settings from `config/base.toml` with the test's own database, topics and secrets.
pub fn settings_for(
    kafka: KafkaSettings,
    database: fitex_common::database::DatabaseSettings,
) -> Settings {
    let dir = fitex_common::config::config_dir().expect("config dir");
    let mut settings: Settings =
        fitex_common::config::load_from(&dir, "test").expect("load config");
    settings.database = database;
    settings.kafka = kafka;
    settings.subscriber.port = 0;
    settings.subscriber.publish_deadline = Duration::from_millis(1_000);
    settings.subscriber.relay_interval = Duration::from_millis(200);
    settings.subscriber.max_body_bytes = std::num::NonZeroUsize::new(4_096).unwrap();
    settings.subscriber.shutdown_timeout = Duration::from_secs(5);
    settings.fitbit.client_secrets = vec![SecretString::from(SECRET)];
    settings.fitbit.verification_code = SecretString::from(VERIFICATION_CODE);
    settings
}

/// Starts the subscriber with its own database and topics on the shared broker.
pub async fn spawn_app() -> TestApp {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    spawn_with(settings_for(kafka, database)).await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    let kafka = settings.kafka.clone();
    let pool = settings.database.lazy_pool();
    let app = Application::build(settings).await.expect("build the subscriber");
    let base_url = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let stopped = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    TestApp { base_url, kafka, pool, handle, stopped, client }
}

impl TestApp {
    pub fn webhook_url(&self) -> String {
        format!("{}/webhooks/fitbit", self.base_url)
    }

    pub async fn post_notification(
        &self,
        body: &str,
        signature: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.webhook_url())
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(signature) = signature {
            request = request.header("X-Fitbit-Signature", signature);
        }
        request.send().await.expect("POST notification")
    }

    /// Signs `body` with the test secret and posts it.
    pub async fn post_signed(&self, body: &str) -> reqwest::Response {
        let signature = fitex_fitbit::sign(SECRET, body.as_bytes());
        self.post_notification(body, Some(&signature)).await
    }

    /// Reads the notifications topic until `expected` records or `timeout`.
    pub async fn records(&self, expected: usize, timeout: Duration) -> Vec<ReadRecord> {
        fitex_testkit::read_records_async(
            &self.kafka.brokers,
            &self.kafka.topics.notifications,
            expected,
            timeout,
        )
        .await
    }

    pub async fn outbox_depth(&self) -> i64 {
        fitex_common::outbox::depth(&self.pool, "subscriber").await.expect("outbox depth")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base_url)).send().await.expect("GET")
    }
}

pub use fitex_testkit::wait_for;

impl TestApp {
    /// `host:port` for raw TCP clients.
    pub fn address(&self) -> String {
        self.base_url.trim_start_matches("http://").to_string()
    }

    /// Any method, path, headers (any bytes) and body; the status.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, Vec<u8>)],
        body: Vec<u8>,
    ) -> u16 {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let request = self.client.request(method, format!("{}{path}", self.base_url));
        with_raw_headers(request, headers)
            .body(body)
            .send()
            .await
            .expect("a response")
            .status()
            .as_u16()
    }

    /// The value of one series of `/metrics` (0 when absent), e.g.
    /// `metric("fitex_subscriber_requests_rejected_total", &["provider=\"fitbit\"", …])`.
    pub async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let text = self.get("/metrics").await.text().await.expect("metrics text");
        metric_value(&text, name, labels)
    }
}

/// The value of the series of `name` carrying every one of `labels` (0 when absent).
pub fn metric_value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub use fitex_testkit::raw_http::{
    expect_idle_keep_alive_closed, expect_silent_closed, expect_timed_out, raw_closed, raw_send,
    raw_status, with_raw_headers, Headers,
};

// Google Health: a keyset server the test controls, signed notifications.

pub const ENDPOINT_SECRET: &str = "Bearer 5b1f0c9e-google-endpoint-secret";
pub const OLD_ENDPOINT_SECRET: &str = "Bearer retiring-endpoint-secret";
pub const GOOGLE_PATH: &str = "/webhooks/google-health";

/// Serves a keyset the test can change, counting fetches (Google's gstatic URL in production).
pub struct KeysetServer {
    pub url: String,
    json: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
    pub handle: actix_web::dev::ServerHandle,
}

impl KeysetServer {
    pub async fn start(keys: &[(u32, &SigningKey)]) -> Self {
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

    pub fn publish(&self, keys: &[(u32, &SigningKey)]) {
        *self.json.lock().unwrap() = keyset_of(keys);
    }

    /// Serves exactly this keyset text.
    pub fn publish_json(&self, json: String) {
        *self.json.lock().unwrap() = json;
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn keyset_of(keys: &[(u32, &SigningKey)]) -> String {
    let keys: Vec<_> = keys.iter().map(|(id, k)| (*id, *k.verifying_key())).collect();
    keyset_json(&keys)
}

pub fn key() -> SigningKey {
    SigningKey::random(&mut rand_core::OsRng)
}

pub struct GoogleApp {
    pub app: TestApp,
    pub keys: KeysetServer,
}

pub async fn spawn_google(keys: &[(u32, &SigningKey)], refetch_interval_s: u64) -> GoogleApp {
    spawn_google_with(keys, refetch_interval_s, |_| {}).await
}

/// The subscriber with Google Health pointed at a local keyset server serving `keys`, with
/// `adjust` applied to its settings last.
pub async fn spawn_google_with(
    keys: &[(u32, &SigningKey)],
    refetch_interval_s: u64,
    adjust: impl FnOnce(&mut Settings),
) -> GoogleApp {
    let keyset = KeysetServer::start(keys).await;
    let kafka = fitex_testkit::test_kafka().await;
    let (database, _) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka, database);
    let google = settings.google_health.as_mut().expect("base.toml configures Google Health");
    google.endpoint_secrets =
        vec![SecretString::from(ENDPOINT_SECRET), SecretString::from(OLD_ENDPOINT_SECRET)];
    google.keyset_url = keyset.url.clone();
    google.keyset_refetch_interval = Duration::from_secs(refetch_interval_s);
    adjust(&mut settings);
    let app = spawn_with(settings).await;
    // The start-up fetch warms the cache.
    wait_for("the keyset warm-up fetch", Duration::from_secs(10), || async {
        keyset.fetches() >= 1
    })
    .await;
    GoogleApp { app, keys: keyset }
}

pub fn interval(start: (u32, u32, u32), end: (u32, u32, u32)) -> serde_json::Value {
    let at = |(day, hours, minutes): (u32, u32, u32)| serde_json::json!({"date":{"year":2026,"month":11,"day":day},"time":{"hours":hours,"minutes":minutes}});
    serde_json::json!({
        "physicalTimeInterval":{"startTime":"2026-11-28T04:58:00Z","endTime":"2026-11-28T05:03:00Z"},
        "civilDateTimeInterval":{"startDateTime":at(start),"endDateTime":at(end)},
        "civilIso8601TimeInterval":{"startTime":"2026-11-27T23:58:00","endTime":"2026-11-28T00:03:00"}
    })
}

pub fn notification(user: &str, operation: &str, intervals: Vec<serde_json::Value>) -> String {
    serde_json::json!({"data":{"version":"1","clientProvidedSubscriptionName":"fitex-sync",
        "healthUserId":user,"operation":operation,"dataType":"steps","intervals":intervals}})
    .to_string()
}

impl GoogleApp {
    pub fn url(&self) -> String {
        format!("{}{GOOGLE_PATH}", self.app.base_url)
    }

    pub async fn post(&self, body: &str, headers: &[(&str, String)]) -> u16 {
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

    pub async fn post_signed(&self, key: &SigningKey, key_id: u32, body: &str) -> u16 {
        self.post(body, &[("X-Healthapi-Signature", sign(key, key_id, body.as_bytes()))]).await
    }

    pub async fn nothing_published(&self) -> bool {
        self.app.records(1, Duration::from_secs(2)).await.is_empty()
    }
}
