//! The Kafka outbox: records a service accepted but could not hand to the broker in time are
//! committed to PostgreSQL (`kafka_outbox`) and published later by a relay, which deletes what the
//! broker acknowledged. Several replicas may relay at once: rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so each is published by one of them.
//!
//! Ordering: a relayed record can land after a newer record that went straight to the broker.
//! Consumers treat events as "something changed, fetch the current state", so order does not matter
//! for correctness; `event_id` lets them drop duplicates.

use std::time::Duration;

use futures::future::join_all;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientContext;

use crate::kafka::{RecoveringProducer, SendFailure};
use rdkafka::util::Timeout;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::shutdown::Shutdown;
use crate::trace_context::TraceParent;

/// The outbox source whose records the fetcher's relay publishes: the activity topic's events,
/// wherever they were written (the fetcher's syncs, a purge's tombstones, a logged activity).
pub const ACTIVITY_SOURCE: &str = "fetcher";

/// A record ready for Kafka: what the producer sends and what the outbox stores.
///
/// An empty payload is a tombstone (sent with no value): every event on our topics is a protobuf
/// message with at least an `event_id`, so it is never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecord {
    pub event_id: Uuid,
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl OutgoingRecord {
    /// An event for `topic` under `key`, with the headers every event carries: its id, the span
    /// it was made in (`traceparent`) and its payload's schema (`content-type`).
    pub fn event(
        topic: &str,
        key: String,
        event_id: Uuid,
        payload: Vec<u8>,
        content_type: &str,
        span: &TraceParent,
    ) -> Self {
        OutgoingRecord {
            event_id,
            topic: topic.to_string(),
            key,
            payload,
            headers: vec![
                ("event_id".into(), event_id.to_string()),
                ("traceparent".into(), span.header_value()),
                ("content-type".into(), content_type.into()),
            ],
        }
    }

    /// A tombstone for `key` on `topic`: downstream consumers forget what they hold under the key
    /// (and a compacted topic drops it). It carries an `event_id` header like every record.
    pub fn tombstone(topic: &str, key: String) -> Self {
        let event_id = Uuid::now_v7();
        OutgoingRecord {
            event_id,
            topic: topic.to_string(),
            key,
            payload: Vec::new(),
            headers: vec![("event_id".into(), event_id.to_string())],
        }
    }

    pub fn is_tombstone(&self) -> bool {
        self.payload.is_empty()
    }

    fn kafka_headers(&self) -> OwnedHeaders {
        self.headers
            .iter()
            .fold(OwnedHeaders::new_with_capacity(self.headers.len()), |h, (k, v)| {
                h.insert(Header { key: k, value: Some(v.as_bytes()) })
            })
    }

    /// Sends the record and waits for the broker's acknowledgement, at most `deadline`.
    pub async fn send<C: ClientContext + 'static>(
        &self,
        producer: &FutureProducer<C>,
        deadline: Duration,
    ) -> Result<(), SendFailure> {
        let record = FutureRecord::to(&self.topic).key(&self.key).headers(self.kafka_headers());
        let record = if self.is_tombstone() { record } else { record.payload(&self.payload) };
        match tokio::time::timeout(deadline, producer.send(record, Timeout::After(deadline))).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((error, _))) => Err(SendFailure::Refused(error)),
            Err(_) => Err(SendFailure::NoAcknowledgement(deadline)),
        }
    }
}

/// Sends every record concurrently through `producer`; returns the indices of those the broker
/// did not acknowledge, with why. After a failure the producer is replaced if it is broken.
pub async fn send_all(
    producer: &RecoveringProducer,
    records: &[OutgoingRecord],
    deadline: Duration,
) -> Vec<(usize, SendFailure)> {
    let current = producer.get();
    let results = join_all(records.iter().map(|r| r.send(&current, deadline))).await;
    let failures: Vec<(usize, SendFailure)> = results
        .into_iter()
        .enumerate()
        .filter_map(|(index, result)| result.err().map(|e| (index, e)))
        .collect();
    match failures.first() {
        Some((_, failure)) => {
            producer.record_failure(failure);
        }
        None => producer.record_success(),
    }
    failures
}

/// Commits `records` to the outbox in one transaction (an event already there is kept once).
pub async fn insert(
    pool: &PgPool,
    source: &str,
    records: &[&OutgoingRecord],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    insert_in(&mut tx, source, records).await?;
    tx.commit().await
}

/// Adds `records` to the outbox inside the caller's transaction (the transactional-outbox form).
pub async fn insert_in(
    tx: &mut Transaction<'_, Postgres>,
    source: &str,
    records: &[&OutgoingRecord],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    // One statement for the lot: a batch's events cost one round trip, not one each. The rows
    // keep the records' order (the relay publishes by id).
    let event_ids: Vec<Uuid> = records.iter().map(|r| r.event_id).collect();
    let topics: Vec<&str> = records.iter().map(|r| r.topic.as_str()).collect();
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    let payloads: Vec<&[u8]> = records.iter().map(|r| r.payload.as_slice()).collect();
    let headers: Vec<serde_json::Value> = records
        .iter()
        .map(|record| {
            serde_json::Value::Object(
                record
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            )
        })
        .collect();
    sqlx::query(
        "INSERT INTO kafka_outbox (event_id, source, topic, record_key, payload, headers)
         SELECT event_id, $1, topic, record_key, payload, headers
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bytea[], $6::jsonb[])
             WITH ORDINALITY AS r(event_id, topic, record_key, payload, headers, position)
         ORDER BY position
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(source)
    .bind(&event_ids)
    .bind(&topics)
    .bind(&keys)
    .bind(&payloads)
    .bind(&headers)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    event_id: Uuid,
    topic: String,
    record_key: String,
    payload: Vec<u8>,
    headers: serde_json::Value,
}

impl OutboxRow {
    fn into_record(self) -> (i64, OutgoingRecord) {
        let headers = match self.headers {
            serde_json::Value::Object(map) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                .collect(),
            _ => Vec::new(),
        };
        let record = OutgoingRecord {
            event_id: self.event_id,
            topic: self.topic,
            key: self.record_key,
            payload: self.payload,
            headers,
        };
        (self.id, record)
    }
}

/// What one relay pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayPass {
    pub published: usize,
    pub failed: usize,
}

/// Publishes up to `batch_size` outbox records of `source`; deletes the acknowledged ones and
/// records the error on the others (they stay for the next pass).
pub async fn relay_once(
    pool: &PgPool,
    producer: &RecoveringProducer,
    source: &str,
    batch_size: i64,
    deadline: Duration,
) -> Result<RelayPass, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT id, event_id, topic, record_key, payload, headers FROM kafka_outbox
         WHERE source = $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(source)
    .bind(batch_size)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(RelayPass::default());
    }
    let (ids, records): (Vec<i64>, Vec<OutgoingRecord>) =
        rows.into_iter().map(OutboxRow::into_record).unzip();
    let failures = send_all(producer, &records, deadline).await;
    let failed_ids: Vec<i64> = failures.iter().map(|(index, _)| ids[*index]).collect();
    let published: Vec<i64> = ids.iter().copied().filter(|id| !failed_ids.contains(id)).collect();
    sqlx::query("DELETE FROM kafka_outbox WHERE id = ANY($1)")
        .bind(&published)
        .execute(&mut *tx)
        .await?;
    if let Some((_, error)) = failures.first() {
        sqlx::query(
            "UPDATE kafka_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1)",
        )
        .bind(&failed_ids)
        .bind(error.to_string())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(RelayPass { published: published.len(), failed: failed_ids.len() })
}

/// Records waiting in the outbox for `source`.
pub async fn depth(pool: &PgPool, source: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM kafka_outbox WHERE source = $1")
        .bind(source)
        .fetch_one(pool)
        .await
}

/// What waits in the outbox for one source (`fitexctl outbox status`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SourceBacklog {
    pub source: String,
    pub waiting: i64,
    /// When the oldest waiting record was added.
    pub oldest: Option<chrono::DateTime<chrono::Utc>>,
    /// The error of the newest record whose publication failed, if any did.
    pub last_error: Option<String>,
}

/// What waits in the outbox, per source (in source order); sources with nothing waiting are absent.
pub async fn backlog(pool: &PgPool) -> Result<Vec<SourceBacklog>, sqlx::Error> {
    sqlx::query_as(
        "SELECT source, count(*) AS waiting, min(created_at) AS oldest,
                (array_agg(last_error ORDER BY id DESC) FILTER (WHERE last_error IS NOT NULL))[1]
                    AS last_error
         FROM kafka_outbox GROUP BY source ORDER BY source",
    )
    .fetch_all(pool)
    .await
}

/// How the relay runs.
#[derive(Clone)]
pub struct RelaySettings {
    pub source: &'static str,
    /// Time between passes when nothing wakes the relay.
    pub interval: Duration,
    pub batch_size: i64,
    /// How long a pass waits for the broker's acknowledgements.
    pub deadline: Duration,
    /// Wakes the relay at once (after a transaction added records).
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

/// How often the relay exports the outbox's depth.
const DEPTH_EVERY: Duration = Duration::from_secs(1);

/// The relay loop: a pass every `interval` or when woken (at once again while passes come back
/// full), until `shutdown`. Exports `fitex_outbox_depth` and `fitex_outbox_relayed_total`.
pub async fn run_relay(
    pool: PgPool,
    producer: RecoveringProducer,
    settings: RelaySettings,
    shutdown: Shutdown,
) {
    let RelaySettings { source, interval, batch_size, deadline, wake } = settings;
    let depth_gauge = metrics::gauge!("fitex_outbox_depth", "source" => source);
    let relayed = metrics::counter!("fitex_outbox_relayed_total", "source" => source);
    let mut last_depth = None;
    loop {
        match relay_once(&pool, &producer, source, batch_size, deadline).await {
            Ok(pass) => {
                relayed.increment(pass.published as u64);
                if pass.published > 0 {
                    tracing::info!(
                        source,
                        published = pass.published,
                        failed = pass.failed,
                        "outbox relayed"
                    );
                }
                if pass.failed == 0 && pass.published as i64 == batch_size {
                    continue;
                }
            }
            Err(error) => tracing::warn!(source, %error, "outbox relay pass failed"),
        }
        // Counting the table reads every row (and the dead ones the relay leaves behind): at most
        // once a second, not after every pass (under load, hundreds a minute).
        if last_depth.is_none_or(|at: std::time::Instant| at.elapsed() >= DEPTH_EVERY) {
            last_depth = Some(std::time::Instant::now());
            if let Ok(n) = depth(&pool, source).await {
                depth_gauge.set(n as f64);
            }
        }
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(interval) => {}
            _ = wake.notified() => {}
        }
    }
}
