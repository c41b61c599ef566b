//! Helpers for tests that cross real infrastructure: every test gets its own PostgreSQL database
//! and its own Kafka topics on the shared local broker (so tests run in parallel and never see each
//! other's data), and a test that must stop the broker gets a private one.
//!
//! The broker and PostgreSQL addresses come from `KAFKA_BROKERS` and `PG*` (see `scripts/env.sh`).

pub mod log_capture;
pub mod raw_http;
pub mod tools;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fitex_common::database::{self, DatabaseSettings};
use fitex_common::kafka::{self, KafkaSettings, TopicSpec, Topics};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, TopicPartitionList};
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

/// Database settings for a fresh, uniquely named database (not yet created).
pub fn database_settings(name: &str) -> DatabaseSettings {
    DatabaseSettings {
        host: std::env::var("PGHOST").unwrap_or_else(|_| "127.0.0.1".to_string()),
        port: std::env::var("PGPORT").ok().and_then(|p| p.parse().ok()).unwrap_or(5432),
        username: std::env::var("PGUSER").unwrap_or_else(|_| "postgres".to_string()),
        password: SecretString::from(std::env::var("PGPASSWORD").unwrap_or_default()),
        database_name: name.to_string(),
        max_connections: std::num::NonZeroU32::new(5).expect("positive"),
        acquire_timeout: Duration::from_secs(2),
        require_ssl: false,
    }
}

/// Creates a database of the test's own, migrated. Returns its settings and a pool.
pub async fn test_database() -> (DatabaseSettings, PgPool) {
    let name = format!("fitex_test_{}", Uuid::new_v4().simple());
    let settings = database_settings(&name);
    database::create_database_if_missing(&settings, &name)
        .await
        .expect("create the test database (is PostgreSQL up? run scripts/stack-up.sh)");
    let pool = settings.lazy_pool();
    database::migrate(&pool).await.expect("migrate the test database");
    (settings, pool)
}

/// Kafka settings whose topics are unique to this test, created on the broker at `brokers`.
pub async fn test_kafka_on(brokers: &str, partitions: i32) -> KafkaSettings {
    let suffix = Uuid::new_v4().simple().to_string();
    let settings = KafkaSettings {
        brokers: brokers.to_string(),
        topics: Topics::default().with_suffix(&format!("test-{suffix}")),
        message_timeout: Duration::from_secs(10),
        extra: BTreeMap::new(),
        statistics_interval: Duration::from_secs(10),
    };
    let specs: Vec<TopicSpec> =
        settings.topics.all().into_iter().map(|t| TopicSpec { partitions, ..t }).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match kafka::ensure_topics(&settings, &specs).await {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the broker at {brokers}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!(
                "create test topics on {brokers} (is the broker up? run scripts/stack-up.sh): {e}"
            ),
        }
    }
    settings
}

/// Kafka settings with topics of the test's own on the shared local broker.
pub async fn test_kafka() -> KafkaSettings {
    test_kafka_on(&brokers(), 2).await
}

/// A record read back from a topic.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub partition: i32,
    pub offset: i64,
}

/// Reads `topic` from the beginning until `expected` distinct events arrived or `timeout` passed.
///
/// Delivery is at-least-once: a producer retry can make the broker store a record twice (tansu does
/// not deduplicate idempotent producers' retries). Like every consumer, this one keeps the first
/// record of each `event_id` header and drops repeats, so tests count events, not deliveries.
pub fn read_records(
    brokers: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<ReadRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("test-reader-{}", Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("create a test consumer");
    let metadata =
        consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("topic metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), rdkafka::Offset::Beginning)
            .expect("assign partition");
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut records: Vec<ReadRecord> = Vec::new();
    let mut seen_event_ids = std::collections::HashSet::new();
    while records.len() < expected && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let record = ReadRecord {
                    key: message.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    headers: message
                        .headers()
                        .map(|headers| {
                            headers
                                .iter()
                                .map(|h| {
                                    (
                                        h.key.to_string(),
                                        String::from_utf8_lossy(h.value.unwrap_or_default())
                                            .into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    partition: message.partition(),
                    offset: message.offset(),
                };
                let is_new = match record.headers.get("event_id") {
                    Some(id) => seen_event_ids.insert(id.clone()),
                    None => true,
                };
                if is_new {
                    records.push(record);
                } else {
                    eprintln!(
                        "dropped a repeated delivery of event {}",
                        record.headers["event_id"]
                    );
                }
            }
            Some(Err(e)) => eprintln!("test consumer: {e}"),
            None => {}
        }
    }
    records
}

/// `read_records` from async code (the consumer blocks, so it runs on the blocking pool).
pub async fn read_records_async(
    brokers: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<ReadRecord> {
    let (brokers, topic) = (brokers.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || read_records(&brokers, &topic, expected, timeout))
        .await
        .expect("test consumer task")
}

/// A free TCP port on loopback (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The tansu binary installed by `scripts/install-tansu.sh`.
pub fn tansu_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("TANSU_BIN") {
        return PathBuf::from(bin);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_string());
    PathBuf::from(home).join(".cache/fitex-sync/tansu/bin/tansu")
}

/// A broker of the test's own, to kill and restart.
///
/// `start` keeps its data in memory, so a restart comes back empty (recreate the topics).
/// `start_durable` keeps it in sqlite on disk, so a restart after `kill -9` comes back with every
/// acknowledged record (the chaos tests). tansu 0.6's sqlite storage cannot bump an idempotent
/// producer's epoch (an `InitProducerId` with a known id is `todo!()` in tansu-storage `lite.rs`),
/// which librdkafka asks for only after a fatal-ish produce error.
pub struct PrivateBroker {
    pub port: u16,
    storage: tempfile::TempDir,
    durable: bool,
    child: Option<Child>,
}

impl PrivateBroker {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A broker whose records survive `kill -9` and a restart (sqlite storage).
    pub fn start_durable() -> Self {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Self {
        let mut broker = Self {
            port: free_port(),
            storage: tempfile::tempdir().expect("broker storage dir"),
            durable,
            child: None,
        };
        broker.restart();
        broker
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts (or starts again) the broker process and waits until its port accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // The broker runs in its storage directory: the database path is relative to it.
        let storage = if self.durable {
            "sqlite://broker.db".to_owned()
        } else {
            "memory://tansu/".to_owned()
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.storage.path().join("broker.log"))
            .expect("log file");
        let child = Command::new(tansu_bin())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", storage.as_str()])
            .current_dir(self.storage.path())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start {} (run scripts/install-tansu.sh): {e}", tansu_bin().display())
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "private broker did not open port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The broker's own log (to look for panics).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.storage.path().join("broker.log")).unwrap_or_default()
    }

    /// Kills the broker process (SIGKILL: no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self.storage.path().join("broker.log")).unwrap_or_default();
            let tail: Vec<&str> = log
                .lines()
                .filter(|l| !l.contains("UnableToSend") && !l.contains("SendError"))
                .rev()
                .take(40)
                .collect();
            eprintln!("--- private broker log (last lines) ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Polls `condition` every 100 ms until it holds; fails the test after `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The payloads waiting in the outbox (`kafka_outbox`) from `source` for `topic`, oldest first:
/// what that source's relay will publish.
pub async fn outbox_payloads(pool: &PgPool, source: &str, topic: &str) -> Vec<Vec<u8>> {
    sqlx::query_scalar(
        "SELECT payload FROM kafka_outbox WHERE source = $1 AND topic = $2 ORDER BY id",
    )
    .bind(source)
    .bind(topic)
    .fetch_all(pool)
    .await
    .expect("read the outbox")
}
