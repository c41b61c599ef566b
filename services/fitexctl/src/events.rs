//! `fitexctl events tail`: reading the provider notifications on the notifications topic.

use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use fitex_common::kafka::KafkaSettings;
use fitex_proto::{Message, ProviderNotification};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message as _};
use rdkafka::TopicPartitionList;

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Print the provider notifications on the notifications topic, from the beginning.
    Tail {
        /// Stop after this many events.
        #[arg(long, default_value_t = 20)]
        count: usize,
        /// Stop after this many seconds without reaching `count`.
        #[arg(long, default_value_t = 10)]
        timeout_s: u64,
    },
}

pub fn run(kafka: &KafkaSettings, command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Tail { count, timeout_s } => {
            tail(kafka, count, Duration::from_secs(timeout_s))
        }
    }
}

fn tail(kafka: &KafkaSettings, count: usize, timeout: Duration) -> anyhow::Result<()> {
    let topic = &kafka.topics.notifications;
    let consumer: BaseConsumer = kafka
        .consumer_config(&format!("fitexctl-tail-{}", std::process::id()), "fitexctl")
        .create()
        .context("creating a consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("reading metadata of {topic} from {}", kafka.brokers))?;
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment.add_partition_offset(topic, partition.id(), rdkafka::Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let deadline = std::time::Instant::now() + timeout;
    let mut seen = 0;
    while seen < count && std::time::Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message?;
        let event = ProviderNotification::decode(message.payload().unwrap_or_default())
            .context("decoding a ProviderNotification")?;
        let traceparent = message
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "traceparent").and_then(|h| h.value))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        seen += 1;
        println!(
            "[p{} @{}] key={} {} date={} subscription={} event={} traceparent={}",
            message.partition(),
            message.offset(),
            message.key().map(String::from_utf8_lossy).unwrap_or_default(),
            event.collection_type,
            if event.date.is_empty() { "-" } else { &event.date },
            event.subscription_id,
            event.event_id,
            traceparent,
        );
    }
    println!("{seen} event(s) read from {topic}");
    Ok(())
}
