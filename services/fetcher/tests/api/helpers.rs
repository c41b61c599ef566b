use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_common::kafka::KafkaSettings;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_common::token_cipher::TokenCipher;
use fitex_connections::providers;
use fitex_connections::store::{self, TokenKind};
use fitex_fetcher::{Application, Settings};
use fitex_proto::{Message, Provider, ProviderNotification};
use fitex_provider::{ProviderId, TokenGrant};
use fitex_provider_simulator::{
    CreateUser, DayData, Simulator, SimulatorClient, SimulatorConfig, SimulatorHandle,
};
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

#[allow(dead_code, reason = "kept so the fetcher runs for the whole test")]
pub struct TestFetcher {
    pub settings: Settings,
    pub kafka: KafkaSettings,
    pub pool: PgPool,
    pub sim: SimulatorHandle,
    pub cipher: TokenCipher,
    /// The health and metrics port.
    pub port: u16,
    pub handle: actix_web::dev::ServerHandle,
    pub stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
    producer: fitex_common::kafka::RecoveringProducer,
}

pub fn settings_for(
    kafka: KafkaSettings,
    database: fitex_common::database::DatabaseSettings,
    sim: &SimulatorHandle,
) -> Settings {
    let dir = fitex_common::config::config_dir().expect("config dir");
    let mut settings = Settings::load_from(&dir, "test").expect("load config");
    settings.base.database = database;
    settings.kafka = kafka;
    settings.fetcher.port = 0;
    settings.fetcher.group_id = format!("test-fetcher-{}", Uuid::new_v4().simple());
    settings.fetcher.batch_window = Duration::from_millis(300);
    settings.fetcher.settle = Duration::from_millis(2_000);
    // Repeats told within 1 s and confirmed 4 s after the fetch: the tests' own pace.
    settings.fetcher.repeat_window = Duration::from_millis(1_000);
    settings.fetcher.repeat_confirm = Duration::from_millis(4_000);
    settings.fetcher.max_attempts = std::num::NonZeroU32::new(3).unwrap();
    settings.fetcher.retry_base = Duration::from_millis(100);
    settings.fetcher.retry_max = Duration::from_millis(400);
    settings.fetcher.pending_poll = Duration::from_millis(200);
    settings.fetcher.relay_interval = Duration::from_millis(100);
    settings.base.fitbit_api.api_base_url = sim.base_url();
    settings.base.fitbit_api.token_url = format!("{}/oauth2/token", sim.base_url());
    settings.base.fitbit_api.client_id = "SIMCLIENT".into();
    settings.base.fitbit_api.client_secret = SecretString::from("sim-client-secret");
    settings
}

/// Points the Google Health API client at the simulator's Google mode.
pub fn use_simulated_google(settings: &mut Settings, sim: &SimulatorHandle) {
    let base = sim.base_url();
    let google =
        settings.base.google_health_api.as_mut().expect("base.toml configures Google Health");
    google.api_base_url = base.clone();
    google.authorize_url = format!("{base}/google/o/oauth2/v2/auth");
    google.token_url = format!("{base}/google/token");
    google.revoke_url = format!("{base}/google/revoke");
    google.client_id = "sim-google-client.apps.googleusercontent.com".into();
    google.client_secret = SecretString::from("sim-google-client-secret");
}

pub async fn spawn_fetcher() -> TestFetcher {
    spawn_fetcher_on(SimulatorConfig::default()).await
}

/// A fetcher syncing through a simulator configured as given (both Fitbit and Google Health).
pub async fn spawn_fetcher_on(config: SimulatorConfig) -> TestFetcher {
    let sim = Simulator::spawn(config).await.expect("simulator");
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let mut settings = settings_for(kafka.clone(), database, &sim);
    use_simulated_google(&mut settings, &sim);
    spawn_with(settings, sim, pool).await
}

pub async fn spawn_with(settings: Settings, sim: SimulatorHandle, pool: PgPool) -> TestFetcher {
    let kafka = settings.kafka.clone();
    let cipher = TokenCipher::from_config(&settings.base.tokens.encryption_keys).unwrap();
    let producer = kafka.recovering_producer("test-notifier").unwrap();
    let app = Application::build(settings.clone()).await.expect("build the fetcher");
    let handle = app.handle();
    let port = app.port();
    let stopped = tokio::spawn(app.run_until_stopped());
    TestFetcher { settings, kafka, pool, sim, cipher, port, handle, stopped, producer }
}

pub fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

pub fn day_data(steps: u32, worn_minutes: u32) -> DayData {
    DayData {
        steps,
        distance_km: steps as f64 * 0.00075,
        sedentary_minutes: 600,
        lightly_active_minutes: 200,
        fairly_active_minutes: 20,
        very_active_minutes: 10,
        worn_minutes,
        resting_heart_rate: Some(60),
    }
}

impl TestFetcher {
    pub fn sim(&self) -> SimulatorClient {
        self.sim.client()
    }

    /// A simulator user connected through the authorization-code flow (refreshable).
    pub async fn connect_user(&self, user_id: &str) -> i64 {
        self.connect_user_expiring(user_id, None).await
    }

    /// As `connect_user`, with the access token recorded as expiring at `expires_at` (by default
    /// when the simulator says: a past time makes it due for a refresh at its first use).
    pub async fn connect_user_expiring(
        &self,
        user_id: &str,
        expires_at: Option<chrono::DateTime<Utc>>,
    ) -> i64 {
        let tokens = self
            .sim()
            .create_user(CreateUser { user_id: Some(user_id.to_string()), ..CreateUser::default() })
            .await
            .expect("create simulator user");
        let grant = TokenGrant {
            access_token: SecretString::from(tokens.access_token),
            refresh_token: Some(SecretString::from(tokens.refresh_token)),
            expires_at: expires_at.unwrap_or_else(|| {
                Utc::now() + chrono::Duration::seconds(tokens.expires_in as i64)
            }),
            scopes: tokens.scope,
            user_id: tokens.user_id,
        };
        let new = store::NewConnection {
            provider: ProviderId::Fitbit,
            kind: TokenKind::AuthorizationCode,
            grant: &grant,
            backfill: &[],
            legacy: None,
        };
        store::connect(&self.pool, &self.cipher, new).await.expect("connect").id
    }

    /// Publishes notifications as the subscriber would (keyed by user, protobuf payload).
    pub async fn notify(&self, user_id: &str, dates: &[NaiveDate], collection: &str) {
        self.notify_accepted_at(user_id, dates, collection, Utc::now()).await
    }

    /// As `notify`, for notifications the subscriber accepted at `accepted_at`.
    pub async fn notify_accepted_at(
        &self,
        user_id: &str,
        dates: &[NaiveDate],
        collection: &str,
        accepted_at: chrono::DateTime<Utc>,
    ) {
        let records: Vec<OutgoingRecord> = dates
            .iter()
            .map(|date| {
                let event_id = Uuid::now_v7();
                let event = ProviderNotification {
                    event_id: event_id.to_string(),
                    provider: Provider::Fitbit as i32,
                    collection_type: collection.to_string(),
                    owner_id: user_id.to_string(),
                    owner_type: "user".into(),
                    date: date.format("%Y-%m-%d").to_string(),
                    subscription_id: format!("{user_id}-all"),
                    received_at: Some(fitex_proto::Timestamp {
                        seconds: accepted_at.timestamp(),
                        nanos: accepted_at.timestamp_subsec_nanos() as i32,
                    }),
                    trace_context: None,
                    operation: String::new(),
                    // As the subscriber's verifier classifies it.
                    change_kind: fitex_fitbit::notice_kind(collection).to_proto() as i32,
                };
                OutgoingRecord {
                    event_id,
                    topic: self.kafka.topics.notifications.clone(),
                    key: user_id.to_string(),
                    payload: event.encode_to_vec(),
                    headers: vec![("event_id".into(), event_id.to_string())],
                }
            })
            .collect();
        let failures = outbox::send_all(&self.producer, &records, Duration::from_secs(10)).await;
        assert!(
            failures.is_empty(),
            "publish notifications: {:?}",
            failures.first().map(|f| f.1.to_string())
        );
    }

    /// Publishes `event` as it is (keyed by its owner), whatever it says.
    pub async fn publish_notification(&self, event: &ProviderNotification) {
        let event_id = Uuid::now_v7();
        let record = OutgoingRecord {
            event_id,
            topic: self.kafka.topics.notifications.clone(),
            key: event.owner_id.clone(),
            payload: event.encode_to_vec(),
            headers: vec![("event_id".into(), event_id.to_string())],
        };
        let failures = outbox::send_all(&self.producer, &[record], Duration::from_secs(10)).await;
        assert!(failures.is_empty(), "publish a notification");
    }

    /// Publishes Google Health notifications as the subscriber would (one per civil date).
    pub async fn notify_google(&self, health_user_id: &str, dates: &[NaiveDate], operation: &str) {
        let records: Vec<OutgoingRecord> = dates
            .iter()
            .map(|date| {
                let event_id = Uuid::now_v7();
                let now = Utc::now();
                let event = ProviderNotification {
                    event_id: event_id.to_string(),
                    provider: Provider::GoogleHealth as i32,
                    collection_type: "steps".into(),
                    owner_id: health_user_id.to_string(),
                    owner_type: "user".into(),
                    date: date.format("%Y-%m-%d").to_string(),
                    subscription_id: "fitex-sync".into(),
                    received_at: Some(fitex_proto::Timestamp {
                        seconds: now.timestamp(),
                        nanos: now.timestamp_subsec_nanos() as i32,
                    }),
                    trace_context: None,
                    operation: operation.into(),
                    change_kind: fitex_google_health::notice_kind("steps", Some(*date)).to_proto()
                        as i32,
                };
                OutgoingRecord {
                    event_id,
                    topic: self.kafka.topics.notifications.clone(),
                    key: health_user_id.to_string(),
                    payload: event.encode_to_vec(),
                    headers: vec![("event_id".into(), event_id.to_string())],
                }
            })
            .collect();
        let failures = outbox::send_all(&self.producer, &records, Duration::from_secs(10)).await;
        assert!(failures.is_empty(), "publish Google notifications");
    }

    /// A stored day: (steps, manual steps, worn minutes, MVPA minutes, source).
    pub async fn stored_day(
        &self,
        participant_id: i64,
        date: NaiveDate,
    ) -> Option<(i32, Option<i32>, Option<i32>, i32, String)> {
        sqlx::query_as(
            "SELECT steps, manual_steps, worn_minutes, fairly_active_minutes + very_active_minutes,
                    source
             FROM activity_days WHERE participant_id = $1 AND day = $2",
        )
        .bind(participant_id)
        .bind(date)
        .fetch_optional(&self.pool)
        .await
        .unwrap()
    }

    pub async fn stored_steps(&self, participant_id: i64) -> BTreeMap<NaiveDate, i32> {
        sqlx::query_as::<_, (NaiveDate, i32)>(
            "SELECT day, steps FROM activity_days WHERE participant_id = $1 ORDER BY day",
        )
        .bind(participant_id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
    }

    pub async fn participant_of(&self, connection_id: i64) -> i64 {
        store::connection_by_id(&self.pool, connection_id).await.unwrap().unwrap().participant_id
    }

    /// The connection's stored access and refresh token ciphertexts.
    pub async fn stored_tokens(&self, connection_id: i64) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let connection = store::connection_by_id(&self.pool, connection_id)
            .await
            .unwrap()
            .expect("a connection");
        (connection.access_token, connection.refresh_token)
    }

    pub async fn status(&self, connection_id: i64) -> (String, Option<String>) {
        let participant = self.participant_of(connection_id).await;
        let views = store::connection_views(&self.pool, participant).await.unwrap();
        let view = views.into_iter().find(|v| v.id == connection_id).expect("the connection");
        (view.sync_status, view.status_reason)
    }

    pub async fn topic_records(
        &self,
        topic: &str,
        expected: usize,
        timeout: Duration,
    ) -> Vec<fitex_testkit::ReadRecord> {
        fitex_testkit::read_records_async(&self.kafka.brokers, topic, expected, timeout).await
    }

    /// A fetcher core sharing the application's database and simulator (as another replica would).
    pub async fn fetcher(&self) -> fitex_fetcher::sync::Fetcher {
        fetcher_for(&self.settings)
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn data_calls(&self) -> u64 {
        self.sim()
            .stats()
            .await
            .unwrap()
            .api_calls_by_endpoint
            .get("activities_day")
            .copied()
            .unwrap_or(0)
    }
}

/// A fetcher core for `settings`, syncing through the providers they configure.
pub fn fetcher_for(settings: &Settings) -> fitex_fetcher::sync::Fetcher {
    let base = &settings.base;
    let providers =
        providers::configured(&base.fitbit_api, base.google_health_api.as_ref()).unwrap();
    fitex_fetcher::sync::Fetcher::from_settings(settings, providers).unwrap()
}

pub use fitex_testkit::wait_for;
