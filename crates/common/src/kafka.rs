//! Kafka through rdkafka: settings, topic names, producer and consumer builders, topic creation.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
use serde::Deserialize;
use serde_with::{serde_as, DurationMilliSeconds};

use crate::kafka_stats::{KafkaStats, StatsConsumer, StatsProducer};

/// The `[kafka]` section (every key but `extra` in `config/base.toml`).
#[serde_as]
#[derive(Debug, Clone, Deserialize)]
pub struct KafkaSettings {
    /// Comma-separated `host:port` list.
    pub brokers: String,
    pub topics: Topics,
    /// How long a produced record may wait for the broker's acknowledgement before the producer
    /// gives up on it (librdkafka `message.timeout.ms`).
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "message_timeout_ms")]
    pub message_timeout: Duration,
    /// Extra librdkafka properties (for example `security.protocol`), applied last. Absent from
    /// `config/base.toml` (a deployment adds what its brokers need), so none when unset.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// How often the services' clients report librdkafka statistics, exported as metrics
    /// (`kafka_stats`); zero turns them off.
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "statistics_interval_ms")]
    pub statistics_interval: Duration,
}

/// Topic names, in one place (see `docs/architecture.md` for keys and payloads); the services
/// read them from `[kafka.topics]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Topics {
    /// `fitex.v1.ProviderNotification` from the subscriber; key: provider user id.
    pub notifications: String,
    /// `fitex.v1.ProviderNotification` waiting for a retry after a transient provider failure
    /// (headers `attempt`, `not_before`); key: provider user id.
    pub fetch_retries: String,
    /// `fitex.v1.DeadLetter`: what could not be processed, with why.
    pub dead_letters: String,
    /// `fitex.v1.ActivityDayChanged` from the fetcher; key: participant id.
    pub activity_days: String,
    /// `fitex.v1.GoalChanged` from the goals service; key: participant id.
    pub goals: String,
    /// `fitex.v1.TeamProgressChanged` from the goals service; key: team id.
    pub team_progress: String,
    /// `fitex.v1.SeasonClosed` from the goals service, once per closed season; key: program id.
    pub seasons: String,
}

/// The names `config/base.toml` gives — the one place they are written, built into the binary —
/// for tests and tools that make their settings in code (`Topics::default().with_suffix(…)`).
impl Default for Topics {
    fn default() -> Self {
        #[derive(Deserialize)]
        struct Base {
            kafka: BaseKafka,
        }
        #[derive(Deserialize)]
        struct BaseKafka {
            topics: Topics,
        }
        let base = include_str!("../../../config/base.toml");
        let base: Base = ::config::Config::builder()
            .add_source(::config::File::from_str(base, ::config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .expect("config/base.toml names every topic under [kafka.topics]");
        base.kafka.topics
    }
}

impl Topics {
    /// Every topic with its partition count, for `ensure_topics`.
    pub fn all(&self) -> Vec<TopicSpec> {
        vec![
            TopicSpec { name: self.notifications.clone(), partitions: 8 },
            TopicSpec { name: self.fetch_retries.clone(), partitions: 4 },
            TopicSpec { name: self.dead_letters.clone(), partitions: 1 },
            TopicSpec { name: self.activity_days.clone(), partitions: 8 },
            TopicSpec { name: self.goals.clone(), partitions: 8 },
            TopicSpec { name: self.team_progress.clone(), partitions: 4 },
            TopicSpec { name: self.seasons.clone(), partitions: 1 },
        ]
    }

    /// The same topics with `suffix` appended (tests and demo runs keep theirs apart).
    pub fn with_suffix(&self, suffix: &str) -> Self {
        Self {
            notifications: format!("{}.{suffix}", self.notifications),
            fetch_retries: format!("{}.{suffix}", self.fetch_retries),
            dead_letters: format!("{}.{suffix}", self.dead_letters),
            activity_days: format!("{}.{suffix}", self.activity_days),
            goals: format!("{}.{suffix}", self.goals),
            team_progress: format!("{}.{suffix}", self.team_progress),
            seasons: format!("{}.{suffix}", self.seasons),
        }
    }
}

/// The librdkafka property that turns statistics on (`kafka_stats`).
const STATISTICS_INTERVAL_PROPERTY: &str = "statistics.interval.ms";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
}

impl KafkaSettings {
    fn base_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        config
    }

    fn apply_extra(&self, config: &mut ClientConfig) {
        for (key, value) in &self.extra {
            config.set(key, value);
        }
    }

    /// Durable producer: idempotent (no duplicates from its own retries), `acks=all`.
    pub fn producer_config(&self, client_id: &str) -> ClientConfig {
        let mut config = self.base_config();
        config
            .set("client.id", client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", self.message_timeout.as_millis().to_string())
            .set("linger.ms", "2")
            .set("compression.type", "lz4");
        self.apply_extra(&mut config);
        config
    }

    pub fn producer(&self, client_id: &str) -> Result<FutureProducer, KafkaError> {
        self.producer_config(client_id).create()
    }

    /// The services' producer: replaces itself when broken, exports its statistics.
    pub fn recovering_producer(&self, client_id: &str) -> Result<RecoveringProducer, KafkaError> {
        RecoveringProducer::new(self.with_statistics(self.producer_config(client_id)))
    }

    /// Consumer in `group_id` that commits offsets only when told to (after the database commit).
    pub fn consumer_config(&self, group_id: &str, client_id: &str) -> ClientConfig {
        let mut config = self.base_config();
        config
            .set("group.id", group_id)
            .set("client.id", client_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            // Deliver what arrives within 100 ms rather than librdkafka's 500 ms default: the
            // pipeline's latency budget is seconds.
            .set("fetch.wait.max.ms", "100");
        self.apply_extra(&mut config);
        config
    }

    /// `config` with statistics every `statistics_interval_ms` (0: none), unless `kafka.extra`
    /// already set the interval.
    pub fn with_statistics(&self, mut config: ClientConfig) -> ClientConfig {
        let interval_ms = self.statistics_interval.as_millis();
        if interval_ms > 0 && config.get(STATISTICS_INTERVAL_PROPERTY).is_none() {
            config.set(STATISTICS_INTERVAL_PROPERTY, interval_ms.to_string());
        }
        config
    }

    /// A consumer in `group_id` as [`KafkaSettings::consumer_config`] describes it, whose
    /// statistics are exported.
    pub fn stats_consumer(
        &self,
        group_id: &str,
        client_id: &str,
    ) -> Result<StatsConsumer, KafkaError> {
        self.with_statistics(self.consumer_config(group_id, client_id))
            .create_with_context(KafkaStats::default())
    }

    pub fn admin(&self) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
        let mut config = self.base_config();
        self.apply_extra(&mut config);
        config.create()
    }
}

/// Why a record was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum SendFailure {
    #[error("no acknowledgement within {} ms", .0.as_millis())]
    NoAcknowledgement(Duration),
    #[error("{0}")]
    Refused(KafkaError),
}

/// A producer that replaces itself when it is broken.
///
/// An idempotent producer can end up refused for good while the broker itself is fine: fenced after
/// an epoch bump that followed a timed-out record (a librdkafka fatal error), or holding producer
/// state that a restarted broker no longer accepts (librdkafka then retries until each record
/// times out). A fresh producer (new producer id) recovers. Callers report each send's outcome;
/// the producer is replaced at once on a fatal error or a non-transient refusal, and after
/// `REPLACE_AFTER_FAILURES` failed sends in a row otherwise — at most once per
/// `MIN_REPLACEMENT_INTERVAL`, so a long outage costs one new client every few seconds, not a churn.
#[derive(Clone)]
pub struct RecoveringProducer {
    config: ClientConfig,
    state: Arc<RwLock<ProducerState>>,
}

struct ProducerState {
    producer: StatsProducer,
    created: Instant,
    failures_in_a_row: u32,
}

const REPLACE_AFTER_FAILURES: u32 = 3;
const MIN_REPLACEMENT_INTERVAL: Duration = Duration::from_secs(5);

impl RecoveringProducer {
    pub fn new(config: ClientConfig) -> Result<Self, KafkaError> {
        let producer = crate::kafka_stats::producer(&config)?;
        let state = ProducerState { producer, created: Instant::now(), failures_in_a_row: 0 };
        Ok(Self { config, state: Arc::new(RwLock::new(state)) })
    }

    /// The producer to use now (cheap: a handle to a shared client).
    pub fn get(&self) -> StatsProducer {
        self.state.read().unwrap_or_else(|e| e.into_inner()).producer.clone()
    }

    /// A send went through: the producer works.
    pub fn record_success(&self) {
        let failures = self.state.read().unwrap_or_else(|e| e.into_inner()).failures_in_a_row;
        if failures > 0 {
            self.state.write().unwrap_or_else(|e| e.into_inner()).failures_in_a_row = 0;
        }
    }

    /// A send failed with `failure`; replaces the producer when it looks broken. Returns whether
    /// it did.
    pub fn record_failure(&self, failure: &SendFailure) -> bool {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.failures_in_a_row += 1;
        let fatal = state.producer.client().fatal_error();
        let refused = matches!(
            failure,
            SendFailure::Refused(KafkaError::MessageProduction(code)) if !is_transient(*code)
        );
        let broken =
            fatal.is_some() || refused || state.failures_in_a_row >= REPLACE_AFTER_FAILURES;
        if !broken || state.created.elapsed() < MIN_REPLACEMENT_INTERVAL {
            return false;
        }
        match crate::kafka_stats::producer(&self.config) {
            Ok(fresh) => {
                tracing::warn!(
                    ?fatal,
                    %failure,
                    failures_in_a_row = state.failures_in_a_row,
                    "Kafka producer looks broken; replaced it"
                );
                metrics::counter!("fitex_kafka_producer_recreated_total").increment(1);
                *state = ProducerState {
                    producer: fresh,
                    created: Instant::now(),
                    failures_in_a_row: 0,
                };
                true
            }
            Err(error) => {
                tracing::error!(%error, "Kafka producer looks broken and could not be replaced");
                false
            }
        }
    }
}

/// Errors that mean "the broker is away or busy; try again later" rather than "this producer is
/// refused".
fn is_transient(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        code,
        MessageTimedOut
            | QueueFull
            | RequestTimedOut
            | AllBrokersDown
            | BrokerTransportFailure
            | NotLeaderForPartition
            | LeaderNotAvailable
            | NotEnoughReplicas
            | NotEnoughReplicasAfterAppend
            | NetworkException
            | Resolve
            | UnknownTopicOrPartition
            | PurgeQueue
            | PurgeInflight
    )
}

/// Creates the topics that do not exist yet; existing ones are left as they are.
pub async fn ensure_topics(
    settings: &KafkaSettings,
    topics: &[TopicSpec],
) -> Result<(), KafkaError> {
    let admin = settings.admin()?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(|_| {
                    tracing::error!(topic = %name, error = %code, "could not create topic");
                })
            }
        }
    }
    Ok(())
}

/// The high watermark of the last fetch response librdkafka received for the partition (none
/// before one came back). The `rdkafka` crate does not wrap `rd_kafka_get_watermark_offsets`.
#[allow(unsafe_code, reason = "rdkafka does not wrap rd_kafka_get_watermark_offsets")]
pub fn fetched_high_watermark<C: ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: a live client handle, a NUL-terminated topic name and two out-parameters that
    // outlive the call; librdkafka only reads values it cached from fetch responses.
    let error = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            client.native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (error == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some(high)
}

/// A partition's high watermark as far as a consumer can tell: the greater of what a
/// `ListOffsets` request answers (`fetch_watermarks`) and what the last fetch response said.
/// tansu 0.6 with memory storage answers `ListOffsets` with the base offset of the newest record
/// batch plus one — behind the last record by the batch's size minus one — while its fetch
/// responses carry the real high watermark; a lag computed from the listed one alone reads too
/// small.
pub fn high_watermark<C, T>(
    consumer: &T,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Option<i64>
where
    C: rdkafka::consumer::ConsumerContext,
    T: rdkafka::consumer::Consumer<C>,
{
    let listed = consumer.fetch_watermarks(topic, partition, timeout).ok().map(|(_, high)| high);
    let fetched = fetched_high_watermark(consumer.client(), topic, partition);
    listed.into_iter().chain(fetched).max()
}

/// Readiness probe: asks the broker for cluster metadata within `timeout`.
pub async fn ping<C: ClientContext + 'static>(
    producer: &FutureProducer<C>,
    timeout: Duration,
) -> Result<(), KafkaError> {
    let producer = producer.clone();
    tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, timeout).map(|_| ()))
        .await
        .unwrap_or(Err(KafkaError::Canceled))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> KafkaSettings {
        KafkaSettings {
            brokers: "127.0.0.1:1".into(),
            topics: Topics::default(),
            message_timeout: Duration::from_millis(1500),
            extra: BTreeMap::from([("linger.ms".to_string(), "7".to_string())]),
            statistics_interval: Duration::from_secs(10),
        }
    }

    #[test]
    fn producer_is_idempotent_with_acks_all_and_extras_win() {
        let config = settings().producer_config("t");
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("message.timeout.ms"), Some("1500"));
        assert_eq!(config.get("linger.ms"), Some("7"));
    }

    #[test]
    fn consumers_never_commit_on_their_own() {
        let config = settings().consumer_config("g", "c");
        assert_eq!(config.get("enable.auto.commit"), Some("false"));
        assert_eq!(config.get("enable.auto.offset.store"), Some("false"));
    }

    #[test]
    fn statistics_are_turned_on_by_the_setting_unless_extra_set_them() {
        let mut settings = KafkaSettings {
            brokers: "127.0.0.1:1".into(),
            topics: Default::default(),
            message_timeout: Duration::from_secs(1),
            extra: Default::default(),
            statistics_interval: Duration::from_secs(10),
        };
        let on = settings.with_statistics(settings.producer_config("p"));
        assert_eq!(on.get(STATISTICS_INTERVAL_PROPERTY), Some("10000"));
        settings.extra.insert(STATISTICS_INTERVAL_PROPERTY.into(), "0".into());
        let off = settings.with_statistics(settings.producer_config("p"));
        assert_eq!(off.get(STATISTICS_INTERVAL_PROPERTY), Some("0"), "extra wins");
        settings.extra.clear();
        settings.statistics_interval = Duration::ZERO;
        assert_eq!(
            settings
                .with_statistics(settings.consumer_config("g", "c"))
                .get(STATISTICS_INTERVAL_PROPERTY),
            None
        );
    }

    #[test]
    fn the_default_topics_are_those_base_toml_configures() {
        #[derive(Deserialize)]
        struct Kafka {
            kafka: KafkaSettings,
        }
        let base = crate::config::config_dir().unwrap().join("base.toml");
        let configured: Kafka = ::config::Config::builder()
            .add_source(::config::File::from(base))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(configured.kafka.topics, Topics::default());
    }
}
