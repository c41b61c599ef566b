//! A consumer made by `KafkaSettings::stats_consumer` exports its librdkafka statistics while it
//! consumes through `consume::collect_batch`, against the real broker (`KAFKA_BROKERS`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fitex_common::consume;
use fitex_common::kafka::{self, KafkaSettings, TopicSpec, Topics};
use fitex_common::outbox::OutgoingRecord;
use rdkafka::consumer::Consumer;
use uuid::Uuid;

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

/// The value of the sample `name{labels}` in a Prometheus text rendering, if it is there.
fn sample<'a>(text: &'a str, name: &str, labels: &str) -> Option<&'a str> {
    let prefix = format!("{name}{{{labels}");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map(|rest| rest.rsplit_once(' ').map_or(rest, |(_, value)| value))
}

#[tokio::test]
async fn a_consumers_statistics_reach_the_metrics_while_it_consumes() {
    let metrics = fitex_common::metrics::prometheus();
    let run = Uuid::new_v4().simple().to_string();
    let settings = KafkaSettings {
        brokers: brokers(),
        topics: Topics::default().with_suffix(&format!("test-{run}")),
        message_timeout: Duration::from_secs(10),
        extra: BTreeMap::new(),
        // Small, so that reports come while the test waits.
        statistics_interval: Duration::from_millis(100),
    };
    let topic = settings.topics.notifications.clone();
    kafka::ensure_topics(&settings, &[TopicSpec { name: topic.clone(), partitions: 1 }])
        .await
        .expect("create the test topic (is the broker up? run scripts/stack-up.sh)");
    let client = format!("test-stats-consumer-{run}");
    let consumer = settings.stats_consumer(&format!("test-stats-{run}"), &client).unwrap();
    consumer.subscribe(&[topic.as_str()]).unwrap();

    let producer = settings.recovering_producer(&format!("test-stats-producer-{run}")).unwrap();
    let record = OutgoingRecord {
        event_id: Uuid::now_v7(),
        topic: topic.clone(),
        key: "k".into(),
        payload: b"statistics".to_vec(),
        headers: Vec::new(),
    };
    record.send(&producer.get(), Duration::from_secs(10)).await.expect("the broker acknowledges");
    let batch = tokio::time::timeout(
        Duration::from_secs(30),
        consume::collect_batch(&consumer, 10, Duration::from_millis(100)),
    )
    .await
    .expect("the record arrives")
    .unwrap();
    assert_eq!(batch[0].payload(), b"statistics");
    consume::commit_batch(&consumer, &batch);

    // Statistics reach the context while the consumer is polled, as `collect_batch` does while it
    // waits for the next record.
    let labels = format!("client=\"{client}\",role=\"consumer\"");
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let _ = tokio::time::timeout(
            Duration::from_millis(300),
            consume::collect_batch(&consumer, 1, Duration::ZERO),
        )
        .await;
        let text = metrics.render();
        let reported = sample(&text, "fitex_kafka_queue_messages", &labels).is_some()
            && sample(&text, "fitex_kafka_broker_rtt_seconds", &labels).is_some();
        if reported || Instant::now() > deadline {
            break text;
        }
    };
    let ours: Vec<&str> = text.lines().filter(|l| l.contains(&labels)).collect();
    assert_eq!(
        sample(&text, "fitex_kafka_queue_messages", &labels),
        Some("0"),
        "the consumer's queue, in\n{}",
        ours.join("\n")
    );
    let rtt: f64 = sample(&text, "fitex_kafka_broker_rtt_seconds", &labels)
        .unwrap_or_else(|| panic!("a broker round trip for {client}, in\n{}", ours.join("\n")))
        .parse()
        .unwrap();
    assert!(rtt > 0.0 && rtt < 10.0, "round trip {rtt} s");
    assert!(
        ours.iter().any(|l| l.starts_with("fitex_kafka_broker_errors_total{")),
        "the broker error counters, in\n{}",
        ours.join("\n")
    );
}
