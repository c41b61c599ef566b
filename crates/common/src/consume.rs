//! Batch consumption shared by the consumers: wait for a record, gather more for a short window,
//! and — once the batch's effects are durable — commit the offsets after it. The consumers are
//! `KafkaSettings::stats_consumer`s, so their librdkafka statistics are exported (`kafka_stats`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka_stats::StatsConsumer;

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
///
/// While no record comes, the member checks every `IDLE_CHECK_EVERY` that the group did not leave
/// it without partitions while records wait (`IdleMember`).
pub async fn collect_batch(
    consumer: &StatsConsumer,
    max: usize,
    window: Duration,
) -> Result<Vec<ConsumedRecord>, KafkaError> {
    let mut idle = IdleMember::default();
    let first = loop {
        let Ok(received) = tokio::time::timeout(IDLE_CHECK_EVERY, consumer.recv()).await else {
            // `recv` is cancellation-safe: nothing was taken from the consumer.
            off_the_async_threads(|| idle.check(consumer));
            continue;
        };
        match received {
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

/// How long `collect_batch` waits for a record before it checks on the member (`IdleMember`).
const IDLE_CHECK_EVERY: Duration = Duration::from_secs(10);

/// A member that holds no partition while records of its topics wait, uncommitted, and do not
/// move: then it leaves the group and joins again, so that the coordinator assigns every
/// partition anew.
///
/// Seen with tansu 0.6, the development and CI broker (docs/reliability.md): when a replica is
/// killed and its replacement joins before the dead member's session has expired, the
/// coordinator can complete the next generation from the replacement's `SyncGroup` — sent as a
/// follower, so without assignments — once the dead leader expires: the group is stable with
/// nothing assigned to anyone, the member's heartbeats succeed, and no rebalance ever follows.
/// Apache Kafka does not do that, but a member cannot tell a broken generation from a slow one,
/// so the rule holds for any broker: no partitions, and the same records waiting uncommitted at
/// two checks `IDLE_CHECK_EVERY` apart. (With more members than partitions an idle member may so
/// start an extra rebalance while another member is held up for that long on a record; delivery
/// stays at least once.)
#[derive(Default)]
struct IdleMember {
    /// The partitions with records after the group's committed offset at the last check, with
    /// that offset.
    waiting: Option<BTreeMap<(String, i32), i64>>,
}

impl IdleMember {
    /// Returns whether the member left the group to join it again.
    fn check(&mut self, consumer: &StatsConsumer) -> bool {
        let assigned = consumer.assignment().map_or(true, |a| a.count() > 0);
        let Ok(subscription) = consumer.subscription() else { return false };
        let topics: BTreeSet<String> =
            subscription.elements().iter().map(|e| e.topic().to_string()).collect();
        let waiting = if assigned { Some(BTreeMap::new()) } else { uncommitted(consumer, &topics) };
        if !self.should_rejoin(assigned, waiting) {
            return false;
        }
        metrics::counter!("fitex_consumer_rejoins_total").increment(1);
        tracing::warn!(
            ?topics,
            "no partitions assigned while records wait uncommitted; leaving the group to join it again"
        );
        consumer.unsubscribe();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        if let Err(error) = consumer.subscribe(&topics) {
            tracing::error!(%error, "could not subscribe again");
        }
        true
    }

    /// The rule, given this check's view (`waiting`: None when the broker did not answer); the
    /// view is kept for the next check.
    fn should_rejoin(
        &mut self,
        assigned: bool,
        waiting: Option<BTreeMap<(String, i32), i64>>,
    ) -> bool {
        let Some(waiting) = waiting else { return false };
        if assigned || waiting.is_empty() {
            self.waiting = None;
            return false;
        }
        if self.waiting.as_ref() == Some(&waiting) {
            self.waiting = None;
            return true;
        }
        self.waiting = Some(waiting);
        false
    }
}

/// The partitions of `topics` with records after the group's committed offset (or, with none
/// committed, after the log start), with that offset. None when the broker did not answer.
fn uncommitted(
    consumer: &StatsConsumer,
    topics: &BTreeSet<String>,
) -> Option<BTreeMap<(String, i32), i64>> {
    let timeout = Duration::from_secs(5);
    let mut list = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), timeout).ok()?;
        for partition in metadata.topics().first()?.partitions() {
            list.add_partition(topic, partition.id());
        }
    }
    let committed = consumer.committed_offsets(list, timeout).ok()?;
    let mut waiting = BTreeMap::new();
    for element in committed.elements() {
        let (topic, partition) = (element.topic(), element.partition());
        let (low, listed) = consumer.fetch_watermarks(topic, partition, timeout).ok()?;
        let fetched = crate::kafka::fetched_high_watermark(consumer.client(), topic, partition);
        let high = listed.max(fetched.unwrap_or(listed));
        let done = match element.offset() {
            Offset::Offset(offset) => offset.max(low),
            _ => low,
        };
        if high > done {
            waiting.insert((topic.to_string(), partition), done);
        }
    }
    Some(waiting)
}

/// Runs blocking librdkafka calls without stalling the other tasks of a multi-threaded runtime
/// (inline on a current-thread runtime, as in tests).
fn off_the_async_threads<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Errors the consumer recovers from by itself (broker down, transport failures, rebalances).
fn is_transient(error: &KafkaError) -> bool {
    matches!(error, KafkaError::MessageConsumption(_) | KafkaError::PartitionEOF(_))
}

/// Commits, per partition, the offset after the last record of `batch`, after the batch's
/// effects are durable. A commit that fails (the broker away, a rebalance) is not fatal: the next
/// batch's commit covers these offsets too, and if none comes the records are delivered again —
/// at least once, and every consumer is idempotent.
pub fn commit_batch(consumer: &StatsConsumer, batch: &[ConsumedRecord]) {
    if let Err(error) = try_commit_batch(consumer, batch) {
        metrics::counter!("fitex_consumer_errors_total", "kind" => "commit").increment(1);
        tracing::warn!(%error, records = batch.len(), "offset commit failed; later commits cover it");
    }
}

fn try_commit_batch(consumer: &StatsConsumer, batch: &[ConsumedRecord]) -> Result<(), KafkaError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(offsets: &[(i32, i64)]) -> Option<BTreeMap<(String, i32), i64>> {
        Some(offsets.iter().map(|&(p, o)| (("t".to_string(), p), o)).collect())
    }

    #[test]
    fn an_idle_member_rejoins_only_when_the_same_records_wait_twice() {
        let mut idle = IdleMember::default();
        // Partitions assigned: never.
        assert!(!idle.should_rejoin(true, waiting(&[(0, 3)])));
        assert!(!idle.should_rejoin(true, waiting(&[(0, 3)])));
        // None assigned, records waiting: the first sighting only remembers them.
        assert!(!idle.should_rejoin(false, waiting(&[(0, 3), (1, 0)])));
        // They moved (someone commits): no.
        assert!(!idle.should_rejoin(false, waiting(&[(0, 5), (1, 0)])));
        // The same again: rejoin, and start over.
        assert!(idle.should_rejoin(false, waiting(&[(0, 5), (1, 0)])));
        assert!(!idle.should_rejoin(false, waiting(&[(0, 5), (1, 0)])));
        // Nothing waiting, or no answer from the broker: no.
        assert!(!idle.should_rejoin(false, waiting(&[])));
        assert!(!idle.should_rejoin(false, waiting(&[])));
        assert!(!idle.should_rejoin(false, None));
    }
}
