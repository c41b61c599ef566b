//! Consuming activity-day events in batches: one recomputation per participant per batch, from
//! the earliest changed date; offsets committed after every recomputation committed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use fitex_common::consume;
use fitex_common::shutdown::Shutdown;
use fitex_common::trace_context::TraceParent;
use fitex_proto::{ActivityDayChanged, Message};
use futures::StreamExt;
use rdkafka::consumer::StreamConsumer;

use crate::recompute::GoalsEngine;

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The earliest changed date per participant, with the trace of its event.
pub fn earliest_changes(events: &[ActivityDayChanged]) -> BTreeMap<i64, (NaiveDate, String)> {
    let mut earliest: BTreeMap<i64, (NaiveDate, String)> = BTreeMap::new();
    for event in events {
        let Ok(date) = event.date.parse::<NaiveDate>() else { continue };
        let traceparent =
            event.trace_context.as_ref().map(|t| t.traceparent.clone()).unwrap_or_default();
        earliest
            .entry(event.participant_id)
            .and_modify(|(d, t)| {
                if date < *d {
                    *d = date;
                    *t = traceparent.clone();
                }
            })
            .or_insert((date, traceparent));
    }
    earliest
}

pub async fn run(
    engine: Arc<GoalsEngine>,
    consumer: StreamConsumer,
    batch_max: usize,
    window: Duration,
    concurrency: usize,
    shutdown: Shutdown,
) -> Result<(), ConsumeError> {
    loop {
        let batch = tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            batch = consume::collect_batch(&consumer, batch_max.max(1), window) => batch?,
        };
        let started = Instant::now();
        let mut events = Vec::with_capacity(batch.len());
        for record in &batch {
            match ActivityDayChanged::decode(record.payload()) {
                Ok(event) => events.push(event),
                Err(error) => {
                    metrics::counter!("fitex_goals_events_total", "outcome" => "undecodable")
                        .increment(1);
                    tracing::error!(key = %record.key(), %error, "undecodable activity event skipped");
                }
            }
        }
        let results: Vec<Result<(), sqlx::Error>> =
            futures::stream::iter(earliest_changes(&events))
                .map(|(participant, (date, traceparent))| {
                    let engine = engine.clone();
                    async move {
                        let trace = TraceParent::continue_or_start(Some(&traceparent));
                        let outcome = engine.recompute(participant, date, &trace).await?;
                        tracing::info!(participant, from = %date, goals_changed = outcome.goals_changed,
                            team_weeks_changed = outcome.team_weeks_changed, trace_id = %trace.trace_id_hex(), "recomputed");
                        Ok(())
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        // A database failure leaves the batch uncommitted: the process exits and the records are
        // delivered again (recomputation is idempotent).
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        // The chaos tests kill a replica exactly here: stored, but the offsets not committed.
        fitex_common::crash_point::crash_point("goals.after_db_commit");
        consume::commit_batch(&consumer, &batch);
        metrics::counter!("fitex_goals_events_total", "outcome" => "processed")
            .increment(events.len() as u64);
        metrics::histogram!("fitex_goals_batch_seconds").record(started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(participant: i64, date: &str) -> ActivityDayChanged {
        ActivityDayChanged { participant_id: participant, date: date.into(), ..Default::default() }
    }

    #[test]
    fn one_recomputation_per_participant_from_the_earliest_date() {
        let earliest = earliest_changes(&[
            event(1, "2026-11-20"),
            event(2, "2026-11-22"),
            event(1, "2026-11-18"),
            event(1, "2026-11-21"),
            event(3, "not a date"),
        ]);
        assert_eq!(earliest.len(), 2);
        assert_eq!(earliest[&1].0.to_string(), "2026-11-18");
        assert_eq!(earliest[&2].0.to_string(), "2026-11-22");
    }
}
