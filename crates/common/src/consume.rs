//! Batch consumption shared by the consumers: wait for a record, gather more for a short window,
//! and — once the batch's effects are durable — commit the offsets after it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

/// One consumed record, detached from the consumer, with its headers decoded.
pub struct ConsumedRecord {
    pub message: OwnedMessage,
    pub headers: BTreeMap<String, String>,
}

impl ConsumedRecord {
    pub fn new(message: OwnedMessage) -> Self {
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self { message, headers }
    }

    pub fn key(&self) -> String {
        self.message.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default()
    }

    pub fn payload(&self) -> &[u8] {
        self.message.payload().unwrap_or_default()
    }

    pub fn topic(&self) -> &str {
        self.message.topic()
    }
}

/// Waits for the first record, then gathers more until `max` records or `window` has passed.
pub async fn collect_batch(
    consumer: &StreamConsumer,
    max: usize,
    window: Duration,
) -> Result<Vec<ConsumedRecord>, KafkaError> {
    let first = consumer.recv().await?.detach();
    let mut batch = vec![ConsumedRecord::new(first)];
    let deadline = tokio::time::Instant::now() + window;
    while batch.len() < max {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => batch.push(ConsumedRecord::new(message.detach())),
            Ok(Err(error)) => return Err(error),
            Err(_) => break,
        }
    }
    Ok(batch)
}

/// Commits, per partition, the offset after the last record of `batch`.
pub fn commit_batch(consumer: &StreamConsumer, batch: &[ConsumedRecord]) -> Result<(), KafkaError> {
    let mut next: HashMap<(String, i32), i64> = HashMap::new();
    for record in batch {
        let key = (record.message.topic().to_string(), record.message.partition());
        let offset = record.message.offset() + 1;
        next.entry(key).and_modify(|o| *o = (*o).max(offset)).or_insert(offset);
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        list.add_partition_offset(&topic, partition, Offset::Offset(offset))?;
    }
    consumer.commit(&list, CommitMode::Sync)
}
