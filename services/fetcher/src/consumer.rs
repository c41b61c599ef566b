//! Consuming notifications (and their retries) in batches: decode, coalesce per user, sync users
//! concurrently, send transient failures to the retry topic and hopeless ones to the dead-letter
//! topic, then — only when all of that is durable — commit the batch's offsets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use fitex_common::consume::{self, ConsumedRecord as Record};
use fitex_common::kafka::RecoveringProducer;
use fitex_common::kafka_stats::StatsConsumer;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_common::shutdown::Shutdown;
use fitex_common::trace_context::TraceParent;
use fitex_connections::connect::backfill_dates;
use fitex_connections::pending::{self, WaitingTraces};
use fitex_connections::{store, SyncError};
use fitex_proto::{Message as _, ProviderNotification};
use fitex_provider::ProviderId;
use futures::StreamExt;
use rdkafka::consumer::Consumer;
use uuid::Uuid;

use crate::coalesce::{coalesce, Change, ChangeKind, UserWork};
use crate::sync::{Fetcher, SyncOutcome};

/// Header names on retry records.
pub const ATTEMPT_HEADER: &str = "attempt";
pub const NOT_BEFORE_HEADER: &str = "not_before_ms";

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("could not hand failed events to the retry or dead-letter topic: {0}")]
    Handoff(String),
}

/// How many attempts a record has had (0 on the notifications topic).
fn attempt(record: &Record) -> u32 {
    record.headers.get(ATTEMPT_HEADER).and_then(|a| a.parse().ok()).unwrap_or(0)
}

/// When a retry record is due (0: now).
fn not_before_ms(record: &Record) -> i64 {
    record.headers.get(NOT_BEFORE_HEADER).and_then(|a| a.parse().ok()).unwrap_or(0)
}

/// Exports `fitex_fetcher_consumer_lag{topic}` (records not yet consumed on the partitions this
/// consumer holds) and `fitex_dead_letters` (records in the dead-letter topic). Blocking: run it
/// off the async threads. The lag counts to the greater of the listed and the fetched high
/// watermark (`kafka::high_watermark`: tansu's listed one can trail the last record).
pub fn report_lag(consumer: &StatsConsumer, dead_letter_topic: &str) {
    let timeout = Duration::from_secs(2);
    let Ok(assignment) = consumer.assignment() else { return };
    let Ok(positions) = consumer.position() else { return };
    let mut lag_by_topic: HashMap<String, i64> = HashMap::new();
    for element in assignment.elements() {
        let Some(high) = fitex_common::kafka::high_watermark(
            consumer,
            element.topic(),
            element.partition(),
            timeout,
        ) else {
            continue;
        };
        let position = positions
            .find_partition(element.topic(), element.partition())
            .and_then(|p| p.offset().to_raw())
            .filter(|o| *o >= 0);
        let committed_or_low = position.unwrap_or(high);
        *lag_by_topic.entry(element.topic().to_string()).or_default() +=
            (high - committed_or_low).max(0);
    }
    for (topic, lag) in lag_by_topic {
        metrics::gauge!("fitex_fetcher_consumer_lag", "topic" => topic).set(lag as f64);
    }
    if let Ok(metadata) = consumer.fetch_metadata(Some(dead_letter_topic), timeout) {
        let depth: i64 = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .filter_map(|p| consumer.fetch_watermarks(dead_letter_topic, p.id(), timeout).ok())
            .map(|(low, high)| high - low)
            .sum();
        metrics::gauge!("fitex_dead_letters", "topic" => dead_letter_topic.to_string())
            .set(depth as f64);
    }
}

/// Reports lag every `interval` until `shutdown`.
pub async fn run_lag_reporter(
    consumer: Arc<StatsConsumer>,
    dead_letter_topic: String,
    interval: Duration,
    shutdown: Shutdown,
) {
    loop {
        let (consumer, topic) = (consumer.clone(), dead_letter_topic.clone());
        let _ = tokio::task::spawn_blocking(move || report_lag(&consumer, &topic)).await;
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Runs until `shutdown`: each batch is processed and its offsets committed.
pub async fn run(
    fetcher: Arc<Fetcher>,
    producer: RecoveringProducer,
    consumer: Arc<StatsConsumer>,
    shutdown: Shutdown,
) -> Result<(), ConsumeError> {
    let window = fetcher.settings.batch_window;
    loop {
        let batch = tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            batch = consume::collect_batch(&consumer, fetcher.settings.batch_max.get(), window) => batch?,
        };
        // Retry records wait for their time (the topic is in roughly due order).
        let due = batch.iter().map(not_before_ms).max().unwrap_or(0);
        let wait_ms = due - Utc::now().timestamp_millis();
        if wait_ms > 0 {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(wait_ms as u64)) => {}
            }
        }
        let started = Instant::now();
        process_batch(&fetcher, &producer, &batch).await?;
        // The chaos tests kill a replica exactly here: stored, but the offsets not committed.
        fitex_common::crash_point::crash_point("fetcher.after_db_commit");
        consume::commit_batch(&consumer, &batch);
        metrics::histogram!("fitex_fetcher_batch_seconds").record(started.elapsed().as_secs_f64());
    }
}

/// Processes one batch; returns only when every record is stored, deferred, or handed to the
/// retry or dead-letter topic.
async fn process_batch(
    fetcher: &Fetcher,
    producer: &RecoveringProducer,
    batch: &[Record],
) -> Result<(), ConsumeError> {
    let mut handoff: Vec<OutgoingRecord> = Vec::new();
    let mut changes = Vec::new();
    let mut records_by_user: HashMap<(ProviderId, String), Vec<&Record>> = HashMap::new();
    for record in batch {
        match ProviderNotification::decode(record.payload()).map(Change::from_event) {
            Ok(Ok(mut change)) => {
                // The header holds the payload's `traceparent`; it is read when the payload has none.
                change.trace = change.trace.or_else(|| {
                    record.headers.get("traceparent").and_then(|h| TraceParent::parse(h))
                });
                if change.kind == ChangeKind::Ignored {
                    metrics::counter!("fitex_fetcher_notifications_total", "outcome" => "ignored")
                        .increment(1);
                }
                let user = (change.provider, change.user_id.clone());
                records_by_user.entry(user).or_default().push(record);
                changes.push(change);
            }
            Ok(Err(reason)) => {
                // An unknown provider or kind, or an unreadable change: never guessed at.
                metrics::counter!("fitex_fetcher_notifications_total", "outcome" => "unreadable")
                    .increment(1);
                handoff.push(dead_letter(fetcher, record, &reason, attempt(record)));
            }
            Err(error) => {
                metrics::counter!("fitex_fetcher_notifications_total", "outcome" => "undecodable")
                    .increment(1);
                handoff.push(dead_letter(
                    fetcher,
                    record,
                    &format!("undecodable payload: {error}"),
                    attempt(record),
                ));
            }
        }
    }
    metrics::counter!("fitex_fetcher_notifications_total", "outcome" => "received")
        .increment(changes.len() as u64);
    let work = coalesce(changes);
    // The batch's users are looked up together: one query per provider, not one per user. A
    // failed lookup fails every user of the batch like a failed sync would (retried).
    let mut connections: HashMap<(ProviderId, String), store::Connection> = HashMap::new();
    let mut lookup_failed: Option<SyncError> = None;
    for provider in ProviderId::ALL {
        let users: Vec<&str> =
            work.keys().filter(|(p, _)| *p == provider).map(|(_, u)| u.as_str()).collect();
        if users.is_empty() {
            continue;
        }
        match store::find_connections(&fetcher.connections.pool, provider, &users).await {
            Ok(found) => {
                connections.extend(found.into_iter().map(|(user, c)| ((provider, user), c)))
            }
            Err(error) => lookup_failed = Some(error.into()),
        }
    }
    let concurrency = fetcher.settings.concurrency.get();
    let lookup_failed = &lookup_failed;
    let connections = &connections;
    let results: Vec<((ProviderId, String), Result<(), SyncError>)> = futures::stream::iter(work)
        .map(|(user, work)| async move {
            let result = match lookup_failed {
                Some(error) => Err(error.clone()),
                None => sync_work(fetcher, &user, connections.get(&user), &work).await,
            };
            (user, result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let policy = fetcher.settings.retry_policy();
    for (user, result) in results {
        let Err(error) = result else { continue };
        let records = records_by_user.get(&user).map(Vec::as_slice).unwrap_or_default();
        for record in records {
            let attempts = attempt(record) + 1;
            match &error {
                SyncError::Transient(reason) if !policy.exhausted(attempts) => {
                    handoff.push(retry(fetcher, record, attempts, reason));
                }
                SyncError::Transient(reason) => handoff.push(dead_letter(
                    fetcher,
                    record,
                    &format!("gave up after {attempts} attempts: {reason}"),
                    attempts,
                )),
                SyncError::Permanent(reason) => {
                    handoff.push(dead_letter(fetcher, record, reason, attempts))
                }
            }
        }
    }
    if handoff.is_empty() {
        return Ok(());
    }
    let failures = outbox::send_all(producer, &handoff, Duration::from_secs(10)).await;
    match failures.first() {
        None => Ok(()),
        Some((_, failure)) => Err(ConsumeError::Handoff(failure.to_string())),
    }
}

async fn sync_work(
    fetcher: &Fetcher,
    (_, user_id): &(ProviderId, String),
    connection: Option<&store::Connection>,
    work: &UserWork,
) -> Result<(), SyncError> {
    let Some(connection) = connection else {
        metrics::counter!("fitex_fetcher_notifications_total", "outcome" => "unknown_user")
            .increment(work.notifications as u64);
        tracing::info!(user = %user_id, "notification for a user with no connection; ignored");
        return Ok(());
    };
    if (work.deleted || work.revoked) && fetcher.destructive_notice(connection, work).await? {
        fetcher.relay_wake.notify_one();
        return Ok(());
    }
    let mut dated: Vec<(NaiveDate, i64)> = work
        .dates
        .iter()
        .map(|d| (*d, work.latest_received_ms.get(d).copied().unwrap_or(0)))
        .collect();
    if work.recent {
        // A change on an unnamed date: the participant's yesterday and today.
        for date in backfill_dates(&connection.time_zone, 1, Utc::now())
            .into_iter()
            .chain(std::iter::once(connection.time_zone.today(Utc::now())))
        {
            if !work.dates.contains(&date) {
                dated.push((date, 0));
            }
        }
    }
    // The user's fetch and each notified day continue their earliest notification's trace.
    let traces = work.traces();
    let plan =
        fetcher.settle.lock().expect("settle lock").plan(connection.id, &dated, Instant::now());
    metrics::counter!("fitex_fetcher_notifications_total", "outcome" => "already_fetched")
        .increment(plan.covered.len() as u64);
    let deferrals = plan.later.iter().map(|later| (later, "settling"));
    for ((date, due), reason) in deferrals.chain(plan.confirm.iter().map(|c| (c, "confirming"))) {
        let wait = due.saturating_duration_since(Instant::now());
        let not_before = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        let traced: Option<&dyn WaitingTraces> = Some(&traces);
        let pool = &fetcher.connections.pool;
        pending::defer(pool, connection.id, &[*date], reason, not_before, traced).await?;
        metrics::counter!("fitex_fetcher_deferred_total", "reason" => reason).increment(1);
    }
    let mut dates = plan.fetch_now;
    if !fetcher.settings.quiet.is_zero() && !dates.is_empty() {
        let quiet = chrono::Duration::from_std(fetcher.settings.quiet).unwrap_or_default();
        let max_wait =
            chrono::Duration::from_std(fetcher.settings.quiet_max).unwrap_or_default().max(quiet);
        pending::debounce(
            &fetcher.connections.pool,
            connection.id,
            &dates,
            quiet,
            max_wait,
            &traces,
        )
        .await?;
        metrics::counter!("fitex_fetcher_deferred_total", "reason" => "quiet")
            .increment(dates.len() as u64);
        dates.clear();
    }
    let outcome = fetcher.sync_user(connection, &dates, &work.latest_received_ms, &traces).await;
    let label = match &outcome {
        Ok(SyncOutcome::Stored { .. }) => "stored",
        Ok(SyncOutcome::Deferred(_)) => "deferred",
        Ok(SyncOutcome::ReconnectRequired(_)) => "reconnect_required",
        Ok(SyncOutcome::Nothing) => "nothing",
        Err(SyncError::Transient(_)) => "transient_error",
        Err(SyncError::Permanent(_)) => "permanent_error",
    };
    metrics::counter!("fitex_fetcher_user_syncs_total", "outcome" => label).increment(1);
    outcome.map(|_| ())
}

fn retry(fetcher: &Fetcher, record: &Record, attempts: u32, reason: &str) -> OutgoingRecord {
    let delay = fetcher.settings.retry_policy().delay(attempts, rand::random::<f64>());
    let not_before = Utc::now().timestamp_millis() + delay.as_millis() as i64;
    let mut headers: Vec<(String, String)> = record
        .headers
        .iter()
        .filter(|(k, _)| {
            k.as_str() != ATTEMPT_HEADER
                && k.as_str() != NOT_BEFORE_HEADER
                && k.as_str() != "last_error"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.push((ATTEMPT_HEADER.into(), attempts.to_string()));
    headers.push((NOT_BEFORE_HEADER.into(), not_before.to_string()));
    headers.push(("last_error".into(), reason.chars().take(500).collect()));
    metrics::counter!("fitex_fetcher_retries_total").increment(1);
    tracing::info!(key = %record.key(), attempts, ?delay, %reason, "retrying later");
    OutgoingRecord {
        event_id: Uuid::now_v7(),
        topic: fetcher.topics.fetch_retries.clone(),
        key: record.key(),
        payload: record.payload().to_vec(),
        headers,
    }
}

fn dead_letter(fetcher: &Fetcher, record: &Record, reason: &str, attempts: u32) -> OutgoingRecord {
    metrics::counter!("fitex_fetcher_dead_lettered_total").increment(1);
    fitex_common::dead_letter::dead_letter_for(
        &fetcher.topics.dead_letters,
        record,
        reason,
        attempts,
    )
}
