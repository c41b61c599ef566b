//! Reading topics back to their last readable record, and consumer-group lag measured against
//! that record — not against the broker's high watermark alone.
//!
//! Why not the watermark: tansu 0.6 answers a `ListOffsets` (latest) request — what
//! `fetch_watermarks` asks — with its own idea of the log end, and with memory storage that is the
//! base offset of the partition's newest record batch plus one: a partition whose last batch held
//! 21 records reports a high watermark 20 below the offset of its last readable record (seen on
//! the demo's goals topic: 945 records read, 785 by the watermarks). A lag computed from that
//! watermark alone is too small (even 0 while records wait), and a reader that stops at it misses
//! records. So here the end of a partition is the greatest of: the listed high watermark, the high
//! watermark in the broker's fetch responses (what the consumer itself was told), and the offset
//! after the last record actually read — read until the consumer reports the end of every
//! partition and nothing more arrives for a quiet moment.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// One record read back.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// What is known of one partition's end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionEnd {
    /// Where reading started (a committed offset, or the log start).
    pub start: i64,
    /// The high watermark a `ListOffsets` request returned.
    pub listed_high: i64,
    /// The high watermark of the broker's fetch responses (none before a fetch came back).
    pub fetched_high: Option<i64>,
    /// The offset of the last record read (none when nothing was read).
    pub last_read: Option<i64>,
}

impl PartitionEnd {
    /// The offset after the partition's last record, as far as anything shows it.
    pub fn log_end(&self) -> i64 {
        let read_end = self.last_read.map_or(self.start, |last| last + 1);
        self.listed_high.max(self.fetched_high.unwrap_or(0)).max(read_end)
    }

    /// Says so when the listed high watermark trails the last readable record.
    pub fn trailing_watermark(&self) -> Option<i64> {
        let read_end = self.last_read.map(|last| last + 1)?;
        (read_end > self.listed_high).then_some(read_end - self.listed_high)
    }
}

/// A topic read back: its records in (partition, offset) order and each partition's end.
#[derive(Debug, Clone, Default)]
pub struct ReadBack {
    pub records: Vec<Record>,
    pub ends: BTreeMap<i32, PartitionEnd>,
    /// Whether every partition was read to its end (else the timeout ran out).
    pub complete: bool,
}

impl ReadBack {
    /// Partitions whose listed watermark trailed their last readable record.
    pub fn watermark_notes(&self, topic: &str) -> Vec<String> {
        self.ends
            .iter()
            .filter_map(|(p, end)| {
                end.trailing_watermark().map(|behind| {
                    format!(
                        "{topic} p{p}: listed high watermark {} is {behind} below the last readable record + 1 ({})",
                        end.listed_high,
                        end.log_end()
                    )
                })
            })
            .collect()
    }
}

/// Nothing new for this long after every partition reported its end: the read is over.
const QUIET: Duration = Duration::from_millis(300);

fn reader(brokers: &str, group: &str) -> Result<BaseConsumer, String> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        // An empty fetch comes back at once rather than after librdkafka's default 500 ms.
        .set("fetch.wait.max.ms", "20")
        .create()
        .map_err(|e| format!("a reader consumer: {e}"))
}

fn partitions(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>, String> {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("metadata of {topic}: {e}"))?;
    let topic_metadata =
        metadata.topics().first().ok_or_else(|| format!("no metadata for {topic}"))?;
    let ids: Vec<i32> = topic_metadata.partitions().iter().map(|p| p.id()).collect();
    if ids.is_empty() {
        return Err(format!("{topic} has no partitions"));
    }
    Ok(ids)
}

fn listed_watermarks(consumer: &BaseConsumer, topic: &str, partition: i32) -> (i64, i64) {
    for _ in 0..3 {
        if let Ok(marks) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(5)) {
            return marks;
        }
    }
    (0, 0)
}

/// Reads `topic` from `from` (per partition; the log start where absent) to the last readable
/// record of every partition. Blocking.
pub fn read_topic(
    brokers: &str,
    topic: &str,
    from: &BTreeMap<i32, i64>,
    timeout: Duration,
) -> Result<ReadBack, String> {
    let consumer = reader(brokers, &format!("chaos-readback-{}", uuid::Uuid::new_v4().simple()))?;
    read_with(&consumer, topic, from, timeout)
}

fn read_with(
    consumer: &BaseConsumer,
    topic: &str,
    from: &BTreeMap<i32, i64>,
    timeout: Duration,
) -> Result<ReadBack, String> {
    let ids = partitions(consumer, topic)?;
    let mut ends: BTreeMap<i32, PartitionEnd> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for &p in &ids {
        let (low, high) = listed_watermarks(consumer, topic, p);
        let start = from.get(&p).copied().filter(|o| *o >= 0);
        let offset = start.map_or(Offset::Beginning, Offset::Offset);
        assignment.add_partition_offset(topic, p, offset).map_err(|e| e.to_string())?;
        ends.insert(
            p,
            PartitionEnd { start: start.unwrap_or(low), listed_high: high, ..Default::default() },
        );
    }
    consumer.assign(&assignment).map_err(|e| format!("assign {topic}: {e}"))?;
    let mut records = Vec::new();
    let mut at_end: BTreeSet<i32> = BTreeSet::new();
    let mut last_activity = Instant::now();
    let deadline = Instant::now() + timeout;
    let mut complete = false;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let p = message.partition();
                at_end.remove(&p);
                last_activity = Instant::now();
                if let Some(end) = ends.get_mut(&p) {
                    end.last_read =
                        Some(end.last_read.map_or(message.offset(), |o| o.max(message.offset())));
                }
                records.push(Record {
                    partition: p,
                    offset: message.offset(),
                    key: message
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default(),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    headers: message
                        .headers()
                        .map(|h| {
                            h.iter()
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
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
                last_activity = Instant::now();
            }
            Some(Err(_)) => {}
            None => {
                // Every partition said "end", nothing came since, and nothing the listed
                // watermark promises is missing: the read is whole.
                let promised = ends.values().all(|e| {
                    e.last_read.map_or(e.start, |last| last + 1) >= e.listed_high
                        || e.listed_high <= e.start
                });
                if at_end.len() == ids.len() && last_activity.elapsed() >= QUIET && promised {
                    complete = true;
                    break;
                }
            }
        }
    }
    for (&p, end) in ends.iter_mut() {
        end.fetched_high = fitex_common::kafka::fetched_high_watermark(consumer.client(), topic, p);
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    Ok(ReadBack { records, ends, complete })
}

/// One partition of a consumer group's lag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionLag {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset (none: nothing committed).
    pub committed: Option<i64>,
    pub listed_high: i64,
    pub fetched_high: Option<i64>,
    /// The offset after the last readable record.
    pub log_end: i64,
    pub lag: i64,
}

/// How many records of one partition the group has not committed: up to the partition's real end
/// (see the module documentation), from the committed offset or, with none, the log start.
pub fn partition_lag(committed: Option<i64>, end: &PartitionEnd) -> i64 {
    let done = committed.filter(|c| *c >= 0).unwrap_or(end.start);
    (end.log_end() - done).max(0)
}

/// Every partition of `topic` with the group's committed offset and lag. Blocking.
pub fn group_lag(brokers: &str, group: &str, topic: &str) -> Result<Vec<PartitionLag>, String> {
    // A consumer in the group that never subscribes: it reads the committed offsets without
    // joining (no rebalance), and reads the partitions from there with `assign`.
    let consumer = reader(brokers, group)?;
    let ids = partitions(&consumer, topic)?;
    let mut list = TopicPartitionList::new();
    for &p in &ids {
        list.add_partition(topic, p);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .map_err(|e| format!("committed offsets of {group}: {e}"))?;
    let mut from = BTreeMap::new();
    for element in committed.elements() {
        if let Offset::Offset(offset) = element.offset() {
            from.insert(element.partition(), offset);
        }
    }
    // From the committed offsets (cheap: only what is left). tansu's memory storage serves no
    // record to a fetch that starts inside a record batch, so a committed offset there reads
    // nothing: then the partitions are read from their start.
    let mut read = read_with(&consumer, topic, &from, Duration::from_secs(5))?;
    if !read.complete {
        let whole = reader(brokers, &format!("chaos-readback-{}", uuid::Uuid::new_v4().simple()))?;
        read = read_with(&whole, topic, &BTreeMap::new(), Duration::from_secs(20))?;
    }
    if !read.complete {
        return Err(format!("{topic} could not be read to its end for {group}"));
    }
    Ok(read
        .ends
        .iter()
        .map(|(&p, end)| {
            let committed = from.get(&p).copied();
            PartitionLag {
                group: group.to_owned(),
                topic: topic.to_owned(),
                partition: p,
                committed,
                listed_high: end.listed_high,
                fetched_high: end.fetched_high,
                log_end: end.log_end(),
                lag: partition_lag(committed, end),
            }
        })
        .collect())
}

/// Decodes a consumer-protocol assignment (version, then topics with partition lists).
pub fn decode_assignment(bytes: &[u8]) -> String {
    fn i16_at(b: &[u8], at: &mut usize) -> Option<i16> {
        let v = i16::from_be_bytes(b.get(*at..*at + 2)?.try_into().ok()?);
        *at += 2;
        Some(v)
    }
    fn i32_at(b: &[u8], at: &mut usize) -> Option<i32> {
        let v = i32::from_be_bytes(b.get(*at..*at + 4)?.try_into().ok()?);
        *at += 4;
        Some(v)
    }
    let decode = || -> Option<String> {
        let mut at = 0;
        let _version = i16_at(bytes, &mut at)?;
        let topics = i32_at(bytes, &mut at)?;
        let mut parts = Vec::new();
        for _ in 0..topics.max(0) {
            let len = i16_at(bytes, &mut at)?.max(0) as usize;
            let name = String::from_utf8_lossy(bytes.get(at..at + len)?).into_owned();
            at += len;
            let n = i32_at(bytes, &mut at)?;
            let mut ps = Vec::new();
            for _ in 0..n.max(0) {
                ps.push(i32_at(bytes, &mut at)?);
            }
            parts.push(format!("{name} {ps:?}"));
        }
        Some(parts.join("; "))
    };
    if bytes.is_empty() {
        return "(nothing)".into();
    }
    decode().unwrap_or_else(|| format!("({} undecodable bytes)", bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(start: i64, listed: i64, fetched: Option<i64>, last: Option<i64>) -> PartitionEnd {
        PartitionEnd { start, listed_high: listed, fetched_high: fetched, last_read: last }
    }

    #[test]
    fn a_watermark_trailing_the_last_record_does_not_hide_lag() {
        // The demo's goals topic: the last batch held 21 records, the listed watermark is its
        // base offset + 1. Committed at 100, records to offset 120 readable.
        let e = end(100, 101, None, Some(120));
        assert_eq!(e.log_end(), 121);
        assert_eq!(partition_lag(Some(100), &e), 21);
        assert_eq!(e.trailing_watermark(), Some(20));
        // A consumer past the listed watermark with nothing more to read has no lag.
        let e = end(121, 101, Some(121), None);
        assert_eq!(partition_lag(Some(121), &e), 0);
    }

    #[test]
    fn the_greatest_end_wins_and_nothing_committed_counts_from_the_log_start() {
        assert_eq!(end(0, 10, Some(12), Some(8)).log_end(), 12);
        assert_eq!(end(0, 10, None, None).log_end(), 10);
        assert_eq!(partition_lag(None, &end(3, 10, None, Some(9))), 7);
        assert_eq!(partition_lag(Some(10), &end(10, 10, Some(10), None)), 0);
        assert_eq!(end(0, 10, None, Some(9)).trailing_watermark(), None);
    }

    #[test]
    fn assignments_are_decoded() {
        let mut b = vec![0, 0, 0, 0, 0, 1, 0, 3];
        b.extend(b"abc");
        b.extend([0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 5]);
        assert_eq!(decode_assignment(&b), "abc [1, 5]");
        assert_eq!(decode_assignment(&[0, 1]), "(2 undecodable bytes)");
    }
}
