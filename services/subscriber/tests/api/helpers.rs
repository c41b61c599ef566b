use std::time::Duration;

use fitex_common::kafka::KafkaSettings;
use fitex_subscriber::{Application, Settings};
use fitex_testkit::ReadRecord;
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
    settings.subscriber.publish_deadline_ms = 1_000;
    settings.subscriber.relay_interval_ms = 200;
    settings.subscriber.max_body_bytes = 4_096;
    settings.subscriber.shutdown_timeout_s = 5;
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
