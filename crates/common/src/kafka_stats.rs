//! librdkafka's statistics as metrics: the Kafka clients are created with [`KafkaStats`] as their
//! context, and every `kafka.statistics_interval_ms` librdkafka hands it a JSON report (its
//! `STATISTICS.md`), which rdkafka parses into [`Statistics`]. What an operator asks of a client —
//! how deep is its queue, how slow is each broker, does it fail to talk to one — is exported, per
//! client (`client` = its `client.id`, `role` = producer or consumer):
//!
//! - `fitex_kafka_queue_messages`, `fitex_kafka_queue_bytes`: records waiting in the client's
//!   queues, to be sent or acknowledged (`msg_cnt`, `msg_size`);
//! - `fitex_kafka_broker_rtt_seconds{broker}`: the mean round-trip time of requests to the broker
//!   over the last interval (`rtt.avg`);
//! - `fitex_kafka_broker_errors_total{broker,kind}`: transmit errors (`kind="tx"`, `txerrs`),
//!   receive errors (`"rx"`, `rxerrs`) and requests that timed out (`"timeout"`,
//!   `req_timeouts`).
//!
//! Consumer lag is exported by the consumers themselves (`fitex_fetcher_consumer_lag`).

use std::collections::HashMap;
use std::sync::Mutex;

use metrics::Label;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::producer::FutureProducer;
use rdkafka::{ClientContext, Statistics};

/// A producer whose statistics are exported.
pub type StatsProducer = FutureProducer<KafkaStats>;

/// A consumer whose statistics are exported.
pub type StatsConsumer = StreamConsumer<KafkaStats>;

/// A producer from `config` whose statistics (if `config` turns them on) are exported.
pub fn producer(config: &ClientConfig) -> KafkaResult<StatsProducer> {
    config.create_with_context(KafkaStats::default())
}

/// The context of a client whose statistics are exported as metrics.
#[derive(Default)]
pub struct KafkaStats {
    /// Each broker's error totals at the last report, to count what is new since.
    errors: Mutex<HashMap<String, ErrorTotals>>,
}

impl ClientContext for KafkaStats {
    fn stats(&self, statistics: Statistics) {
        let figures = ClientFigures::from(&statistics);
        let mut seen = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        figures.export(&mut seen);
    }
}

impl ConsumerContext for KafkaStats {}

/// Cumulative error counts of one broker connection, as librdkafka reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorTotals {
    pub tx: u64,
    pub rx: u64,
    pub timeouts: u64,
}

/// What is exported of one broker connection.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerFigures {
    /// librdkafka's name for it: `host:port/nodeid` (or `/bootstrap`).
    pub broker: String,
    /// Mean round trip over the last interval; none when no request went out in it.
    pub rtt_seconds: Option<f64>,
    pub errors: ErrorTotals,
}

/// What is exported of one statistics report.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFigures {
    pub client: String,
    pub role: String,
    pub queue_messages: u64,
    pub queue_bytes: u64,
    pub brokers: Vec<BrokerFigures>,
}

impl From<&Statistics> for ClientFigures {
    fn from(stats: &Statistics) -> Self {
        let mut brokers: Vec<BrokerFigures> = stats
            .brokers
            .values()
            // A logical broker (the group coordinator) is another name for a real one.
            .filter(|b| b.source != "logical")
            .map(|b| BrokerFigures {
                broker: b.name.clone(),
                rtt_seconds: b.rtt.as_ref().filter(|w| w.cnt > 0).map(|w| w.avg as f64 / 1e6),
                errors: ErrorTotals { tx: b.txerrs, rx: b.rxerrs, timeouts: b.req_timeouts },
            })
            .collect();
        brokers.sort_by(|a, b| a.broker.cmp(&b.broker));
        Self {
            client: stats.client_id.clone(),
            role: stats.client_type.clone(),
            queue_messages: stats.msg_cnt,
            queue_bytes: stats.msg_size,
            brokers,
        }
    }
}

impl ClientFigures {
    /// Sets the gauges and adds to the error counters what is new since `seen` (each broker's
    /// totals at the previous report of the same client), which it then updates.
    pub fn export(&self, seen: &mut HashMap<String, ErrorTotals>) {
        let client =
            [Label::new("client", self.client.clone()), Label::new("role", self.role.clone())];
        metrics::gauge!("fitex_kafka_queue_messages", client.to_vec())
            .set(self.queue_messages as f64);
        metrics::gauge!("fitex_kafka_queue_bytes", client.to_vec()).set(self.queue_bytes as f64);
        for broker in &self.brokers {
            let mut labels = client.to_vec();
            labels.push(Label::new("broker", broker.broker.clone()));
            if let Some(rtt) = broker.rtt_seconds {
                metrics::gauge!("fitex_kafka_broker_rtt_seconds", labels.clone()).set(rtt);
            }
            let before = seen.insert(broker.broker.clone(), broker.errors).unwrap_or_default();
            for (kind, now, then) in [
                ("tx", broker.errors.tx, before.tx),
                ("rx", broker.errors.rx, before.rx),
                ("timeout", broker.errors.timeouts, before.timeouts),
            ] {
                let mut labels = labels.clone();
                labels.push(Label::new("kind", kind));
                metrics::counter!("fitex_kafka_broker_errors_total", labels)
                    .increment(now.saturating_sub(then));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports librdkafka 2.12.1 (the bundled one) wrote against the development broker: a producer
    /// holding 30 records for a topic that does not exist, and a consumer in a group.
    const PRODUCER: &str = include_str!("../tests/fixtures/librdkafka-statistics-producer.json");
    const CONSUMER: &str = include_str!("../tests/fixtures/librdkafka-statistics-consumer.json");

    fn parse(json: &str) -> Statistics {
        serde_json::from_str(json).expect("rdkafka reads librdkafka's statistics")
    }

    #[test]
    fn a_producer_report_gives_its_queue_and_its_brokers_round_trip() {
        let figures = ClientFigures::from(&parse(PRODUCER));
        assert_eq!(
            figures,
            ClientFigures {
                client: "fitex-capture".into(),
                role: "producer".into(),
                queue_messages: 30,
                queue_bytes: 30,
                brokers: vec![BrokerFigures {
                    broker: "127.0.0.1:9092/111".into(),
                    rtt_seconds: Some(0.000_509),
                    errors: ErrorTotals::default(),
                }],
            }
        );
    }

    #[test]
    fn a_consumer_report_leaves_out_the_logical_coordinator_and_idle_round_trips() {
        let figures = ClientFigures::from(&parse(CONSUMER));
        assert_eq!((figures.role.as_str(), figures.queue_messages), ("consumer", 0));
        let brokers: Vec<&str> = figures.brokers.iter().map(|b| b.broker.as_str()).collect();
        assert_eq!(brokers, ["127.0.0.1:9092/111"], "GroupCoordinator is the same broker");
        assert_eq!(figures.brokers[0].rtt_seconds, Some(0.009_154));
        let mut idle = parse(CONSUMER);
        for broker in idle.brokers.values_mut() {
            if let Some(rtt) = broker.rtt.as_mut() {
                rtt.cnt = 0;
                rtt.avg = 0;
            }
        }
        assert_eq!(
            ClientFigures::from(&idle).brokers[0].rtt_seconds,
            None,
            "no request, no figure"
        );
    }

    #[test]
    fn the_metrics_are_exported_and_errors_counted_once() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let mut stats = parse(PRODUCER);
        let mut seen = HashMap::new();
        let mut report = |tx: u64, rx: u64, timeouts: u64| {
            for broker in stats.brokers.values_mut() {
                (broker.txerrs, broker.rxerrs, broker.req_timeouts) = (tx, rx, timeouts);
            }
            let figures = ClientFigures::from(&stats);
            metrics::with_local_recorder(&recorder, || figures.export(&mut seen));
        };
        report(2, 1, 0);
        report(5, 1, 1);
        let text = handle.render();
        let line = |name: &str, extra: &str| {
            let labels = format!("client=\"fitex-capture\",role=\"producer\"{extra}");
            let prefix = format!("{name}{{{labels}}} ");
            let found = text.lines().find_map(|l| l.strip_prefix(prefix.as_str()));
            found.unwrap_or_else(|| panic!("{prefix} in\n{text}")).to_string()
        };
        assert_eq!(line("fitex_kafka_queue_messages", ""), "30");
        let broker = ",broker=\"127.0.0.1:9092/111\"";
        assert_eq!(line("fitex_kafka_broker_rtt_seconds", broker), "0.000509");
        let errors = |kind: &str| {
            line("fitex_kafka_broker_errors_total", &format!("{broker},kind=\"{kind}\""))
        };
        assert_eq!(
            (errors("tx"), errors("rx"), errors("timeout")),
            ("5".into(), "1".into(), "1".into())
        );
    }
}
