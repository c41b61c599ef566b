use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_common::kafka::KafkaSettings;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_goals_service::{Application, Settings};
use fitex_proto::{ActivityDayChanged, Message};
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

pub const TOKEN: &str = "goals-test-token";

#[allow(dead_code, reason = "kept so the service runs for the whole test")]
pub struct TestGoals {
    pub kafka: KafkaSettings,
    pub pool: PgPool,
    pub base_url: String,
    pub handle: actix_web::dev::ServerHandle,
    pub stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
    producer: fitex_common::kafka::RecoveringProducer,
    pub client: reqwest::Client,
}

pub async fn spawn_goals() -> TestGoals {
    spawn_goals_with(|_| {}).await
}

/// The goals service with `adjust` applied to its test settings last.
pub async fn spawn_goals_with(adjust: impl FnOnce(&mut Settings)) -> TestGoals {
    let kafka = fitex_testkit::test_kafka().await;
    let (database, pool) = fitex_testkit::test_database().await;
    let dir = fitex_common::config::config_dir().unwrap();
    let mut settings: Settings = fitex_common::config::load_from(&dir, "test").unwrap();
    settings.database = database;
    settings.kafka = kafka.clone();
    settings.goals.port = 0;
    settings.goals.group_id = format!("test-goals-{}", Uuid::new_v4().simple());
    settings.goals.relay_interval = Duration::from_millis(100);
    settings.goals.api_token = SecretString::from(TOKEN);
    adjust(&mut settings);
    let app = Application::build(settings).await.unwrap();
    let base_url = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let stopped = tokio::spawn(app.run_until_stopped());
    let producer = kafka.recovering_producer("test-activity").unwrap();
    TestGoals { kafka, pool, base_url, handle, stopped, producer, client: reqwest::Client::new() }
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

impl TestGoals {
    /// A program that started `days_ago` days ago with the default (adaptive) strategy, in steps.
    pub async fn program(&self, name: &str, days_ago: i64, unit: &str) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO programs (name, start_date, weeks, unit, goal_settings, mile_rules)
             VALUES ($1, $2, 8, $3, '{}'::jsonb, '{}'::jsonb) RETURNING id",
        )
        .bind(name)
        .bind(today() - chrono::Duration::days(days_ago))
        .bind(unit)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    pub async fn team(&self, program: i64, name: &str) -> i64 {
        sqlx::query_scalar("INSERT INTO teams (program_id, name) VALUES ($1, $2) RETURNING id")
            .bind(program)
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// A participant (UTC) in `team` since `joined`.
    pub async fn member(&self, team: i64, joined: NaiveDate) -> i64 {
        let id: i64 =
            sqlx::query_scalar("INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id")
                .fetch_one(&self.pool)
                .await
                .unwrap();
        sqlx::query(
            "INSERT INTO team_members (team_id, participant_id, joined_on) VALUES ($1, $2, $3)",
        )
        .bind(team)
        .bind(id)
        .bind(joined)
        .execute(&self.pool)
        .await
        .unwrap();
        id
    }

    /// Stores a worn day as the fetcher would.
    pub async fn store_day(&self, participant: i64, date: NaiveDate, steps: i32) {
        sqlx::query(
            "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
                 lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes, source, fetched_at)
             VALUES ($1, $2, $3, $4, 600, 200, 10, 5, 800, 'fitbit', now())
             ON CONFLICT (participant_id, day) DO UPDATE SET steps = EXCLUDED.steps",
        )
        .bind(participant)
        .bind(date)
        .bind(steps)
        .bind(steps as f64 * 0.00075)
        .execute(&self.pool)
        .await
        .unwrap();
    }

    /// Publishes an activity-day event as the fetcher would.
    pub async fn publish_day(&self, participant: i64, date: NaiveDate, steps: i32) {
        let event_id = Uuid::now_v7();
        let event = ActivityDayChanged {
            event_id: event_id.to_string(),
            participant_id: participant,
            date: date.format("%Y-%m-%d").to_string(),
            time_zone: "UTC".into(),
            steps,
            ..Default::default()
        };
        let record = OutgoingRecord {
            event_id,
            topic: self.kafka.topics.activity_days.clone(),
            key: participant.to_string(),
            payload: event.encode_to_vec(),
            headers: vec![("event_id".into(), event_id.to_string())],
        };
        let failures = outbox::send_all(&self.producer, &[record], Duration::from_secs(10)).await;
        assert!(failures.is_empty());
    }

    pub async fn goal_rows(&self, participant: i64) -> Vec<(NaiveDate, i32, bool)> {
        sqlx::query_as("SELECT effective_date, steps, provisional FROM goal_history WHERE participant_id = $1 ORDER BY effective_date")
            .bind(participant)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    pub async fn records(
        &self,
        topic: &str,
        expected: usize,
        timeout: Duration,
    ) -> Vec<fitex_testkit::ReadRecord> {
        fitex_testkit::read_records_async(&self.kafka.brokers, topic, expected, timeout).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base_url)).bearer_auth(TOKEN).send().await.unwrap()
    }
}

pub use fitex_testkit::wait_for;

impl TestGoals {
    /// `host:port` for raw TCP clients.
    pub fn address(&self) -> String {
        self.base_url.trim_start_matches("http://").to_string()
    }

    /// Any method, path and headers (any bytes), with the bearer token; the status.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, Vec<u8>)]) -> u16 {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, format!("{}{path}", self.base_url));
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization")) {
            request = request.bearer_auth(TOKEN);
        }
        with_raw_headers(request, headers).send().await.expect("a response").status().as_u16()
    }
}

pub use fitex_testkit::raw_http::{
    expect_idle_keep_alive_closed, expect_silent_closed, expect_timed_out, raw_closed, raw_send,
    raw_status, with_raw_headers, Headers,
};
