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
///
/// A broker that is away (a restart, a network blip) shows up here as a consumption error; the
/// consumer reconnects by itself, so such errors are waited out — and a batch already begun is
/// returned as it is, never dropped (its records were taken from the consumer: dropping them and
/// committing later offsets would skip them).
pub async fn collect_batch(
    consumer: &StreamConsumer,
    max: usize,
    window: Duration,
) -> Result<Vec<ConsumedRecord>, KafkaError> {
    let first = loop {
        match consumer.recv().await {
            Ok(message) => break message.detach(),
            Err(error) if is_transient(&error) => {
                metrics::counter!("fitex_consumer_errors_total", "kind" => "transient")
                    .increment(1);
                tracing::warn!(%error, "the broker is unavailable; waiting for it");
                tokio::time::sleep(TRANSIENT_PAUSE).await;
            }
            Err(error) => return Err(error),
        }
    };
    let mut batch = vec![ConsumedRecord::new(first)];
    let deadline = tokio::time::Instant::now() + window;
    while batch.len() < max {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(message)) => batch.push(ConsumedRecord::new(message.detach())),
            Ok(Err(error)) if is_transient(&error) => {
                tracing::warn!(%error, "consumption error mid-batch; processing what arrived");
                break;
            }
            Ok(Err(error)) => return Err(error),
            Err(_) => break,
        }
    }
    Ok(batch)
}

/// How long to wait after a transient consumption error before asking again.
const TRANSIENT_PAUSE: Duration = Duration::from_millis(500);

/// Errors the consumer recovers from by itself (broker down, transport failures, rebalances).
fn is_transient(error: &KafkaError) -> bool {
    matches!(error, KafkaError::MessageConsumption(_) | KafkaError::PartitionEOF(_))
}

/// Commits, per partition, the offset after the last record of `batch`, after the batch's
/// effects are durable. A commit that fails (the broker away, a rebalance) is not fatal: the next
/// batch's commit covers these offsets too, and if none comes the records are delivered again —
/// at least once, and every consumer is idempotent.
pub fn commit_batch(consumer: &StreamConsumer, batch: &[ConsumedRecord]) {
    if let Err(error) = try_commit_batch(consumer, batch) {
        metrics::counter!("fitex_consumer_errors_total", "kind" => "commit").increment(1);
        tracing::warn!(%error, records = batch.len(), "offset commit failed; later commits cover it");
    }
}

fn try_commit_batch(consumer: &StreamConsumer, batch: &[ConsumedRecord]) -> Result<(), KafkaError> {
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
