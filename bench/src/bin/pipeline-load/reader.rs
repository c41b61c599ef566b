//! Reading the pipeline's outputs: the notifications, activity-days, goals and team-progress
//! topics, followed from their ends while the load runs, gathered into [`Seen`] for `join`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use fitex_common::kafka::KafkaSettings;
use fitex_proto::{
    ActivityDayChanged, GoalChanged, Message as _, ProviderNotification, TeamProgressChanged,
    Timestamp,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::clock::now_ms;

/// What the reader saw of the pipeline's outputs.
#[derive(Default)]
pub struct Seen {
    /// (owner, date) → its notifications.
    pub notifications: HashMap<(String, String), Vec<SeenNotification>>,
    pub notification_count: u64,
    pub activities: Vec<Activity>,
    /// trace id → (first arrival, kind) of goal events carrying it.
    pub goal_by_trace: HashMap<String, (f64, &'static str)>,
    /// team id → (computed_at, arrival) of its team-progress events.
    pub team_events_by_team: HashMap<i64, Vec<(f64, f64)>>,
    pub goal_events: u64,
    pub team_events: u64,
    /// Arrival minus `computed_at` (relay and consumer delay), per goal event.
    pub relay_ms: Vec<f64>,
    pub last_event_ms: f64,
}

/// A notification as it reached its topic.
pub struct SeenNotification {
    /// The subscriber's `received_at`.
    pub accepted_ms: f64,
    pub recv_ms: f64,
    pub trace: String,
}

/// An activity event as it reached its topic.
pub struct Activity {
    pub participant: i64,
    pub date: NaiveDate,
    pub steps: i32,
    pub trace: String,
    pub offset: i64,
    pub recv_ms: f64,
    pub fetched_ms: f64,
    /// The record's timestamp: when the fetcher's relay produced it, after the day's commit.
    pub produced_ms: f64,
}

fn ts_ms(t: &Option<Timestamp>) -> f64 {
    t.as_ref().map_or(0.0, |t| t.seconds as f64 * 1000.0 + f64::from(t.nanos) / 1e6)
}

/// The trace id (32 hex digits) of a `traceparent`.
fn trace_id(traceparent: &str) -> String {
    traceparent.split('-').nth(1).unwrap_or_default().to_string()
}

/// Follows the four topics from their current ends on a thread of its own.
pub fn start(
    kafka: &KafkaSettings,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let topics = &kafka.topics;
    let (notifications, activity, goals, team) = (
        topics.notifications.clone(),
        topics.activity_days.clone(),
        topics.goals.clone(),
        topics.team_progress.clone(),
    );
    let consumer: BaseConsumer = kafka
        .consumer_config(&format!("bench-pipeline-{}", uuid::Uuid::new_v4().simple()), "bench")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    let timeout = Duration::from_secs(10);
    for topic in [&notifications, &activity, &goals, &team] {
        let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
        for partition in metadata.topics()[0].partitions() {
            let (_, high) = consumer.fetch_watermarks(topic, partition.id(), timeout)?;
            assignment.add_partition_offset(topic, partition.id(), Offset::Offset(high))?;
        }
    }
    anyhow::ensure!(assignment.count() > 0, "no partitions to follow");
    consumer.assign(&assignment)?;
    Ok(std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) else { continue };
            let recv = now_ms();
            let payload = message.payload().unwrap_or_default();
            let mut seen = seen.lock().unwrap();
            let topic = message.topic();
            if topic == notifications {
                if let Ok(n) = ProviderNotification::decode(payload) {
                    seen.notification_count += 1;
                    let trace =
                        trace_id(&n.trace_context.map(|t| t.traceparent).unwrap_or_default());
                    let accepted_ms = ts_ms(&n.received_at);
                    seen.notifications
                        .entry((n.owner_id, n.date))
                        .or_default()
                        .push(SeenNotification { accepted_ms, recv_ms: recv, trace });
                }
                continue;
            }
            seen.last_event_ms = recv;
            if topic == activity {
                if let Ok(a) = ActivityDayChanged::decode(payload) {
                    let Ok(date) = a.date.parse() else { continue };
                    seen.activities.push(Activity {
                        participant: a.participant_id,
                        date,
                        steps: a.steps,
                        trace: trace_id(
                            &a.trace_context.map(|t| t.traceparent).unwrap_or_default(),
                        ),
                        offset: message.offset(),
                        recv_ms: recv,
                        fetched_ms: ts_ms(&a.fetched_at),
                        produced_ms: message.timestamp().to_millis().map_or(recv, |t| t as f64),
                    });
                }
            } else {
                let decoded = if topic == goals {
                    GoalChanged::decode(payload).ok().map(|g| {
                        (g.trace_context.map(|t| t.traceparent), ts_ms(&g.computed_at), "goal")
                    })
                } else if topic == team {
                    TeamProgressChanged::decode(payload).ok().map(|g| {
                        let computed = ts_ms(&g.computed_at);
                        seen.team_events_by_team
                            .entry(g.team_id)
                            .or_default()
                            .push((computed, recv));
                        (g.trace_context.map(|t| t.traceparent), computed, "team")
                    })
                } else {
                    None
                };
                let Some((traceparent, computed, kind)) = decoded else { continue };
                if kind == "goal" {
                    seen.goal_events += 1;
                } else {
                    seen.team_events += 1;
                }
                seen.relay_ms.push(recv - computed);
                seen.goal_by_trace
                    .entry(trace_id(&traceparent.unwrap_or_default()))
                    .or_insert((recv, kind));
            }
        }
    }))
}
