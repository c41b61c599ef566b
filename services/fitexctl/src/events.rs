//! `fitexctl events tail`: reading the provider notifications on the notifications topic, or —
//! with `--trace` — one change's whole path: every record of one trace on every topic.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use fitex_common::kafka::KafkaSettings;
use fitex_common::trace_context::TraceParent;
use fitex_proto::{
    ActivityDayChanged, DeadLetter, GoalChanged, Message, ProviderNotification, SeasonClosed,
    TeamProgressChanged,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use rdkafka::TopicPartitionList;

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Print the provider notifications on the notifications topic, from the beginning.
    Tail {
        /// Stop after this many events.
        #[arg(long, default_value_t = 20)]
        count: usize,
        /// Stop after this many seconds without reaching `count` (with `--trace`: without
        /// reaching the end of every topic).
        #[arg(long, default_value_t = 10)]
        timeout_s: u64,
        /// Instead, one change's path: every record whose `traceparent` carries this trace id (32
        /// hex digits, or a whole `traceparent`) on the notifications, fetch-retries,
        /// activity-days, goals, team-progress, seasons and dead-letter topics, read to their
        /// ends, in time order.
        #[arg(long, value_name = "TRACE_ID", value_parser = parse_trace_id)]
        trace: Option<String>,
    },
}

pub fn run(kafka: &KafkaSettings, command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Tail { timeout_s, trace: Some(trace_id), .. } => {
            tail_trace(kafka, &trace_id, Duration::from_secs(timeout_s))
        }
        EventsCommand::Tail { count, timeout_s, trace: None } => {
            tail(kafka, count, Duration::from_secs(timeout_s))
        }
    }
}

/// A trace id as `traceparent` writes it (32 lower-case hex digits, not all zero), from itself or
/// from a whole `traceparent`.
fn parse_trace_id(text: &str) -> Result<String, String> {
    let text = text.trim().to_ascii_lowercase();
    let id = if text.contains('-') {
        trace_id_of(&text)
    } else {
        let hex = text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
        (hex && text.bytes().any(|b| b != b'0')).then(|| text.clone())
    };
    id.ok_or_else(|| format!("{text:?} is no trace id (32 hex digits, not all zero)"))
}

/// The trace id of a `traceparent` value, if it is one.
fn trace_id_of(traceparent: &str) -> Option<String> {
    TraceParent::parse(traceparent).map(|p| p.trace_id_hex())
}

fn header<'a>(message: &'a BorrowedMessage<'_>, name: &str) -> Option<&'a str> {
    let headers = message.headers()?;
    let value = headers.iter().find(|h| h.key == name)?.value?;
    std::str::from_utf8(value).ok()
}

/// One record of the trace, as printed.
struct Hop {
    at_ms: i64,
    /// The topic's place in the pipeline, to order records written in the same millisecond.
    stage: usize,
    partition: i32,
    offset: i64,
    line: String,
}

/// Prints every record of trace `trace_id` on the pipeline's topics, in time order.
fn tail_trace(kafka: &KafkaSettings, trace_id: &str, timeout: Duration) -> anyhow::Result<()> {
    let topics = &kafka.topics;
    let stages = [
        &topics.notifications,
        &topics.fetch_retries,
        &topics.activity_days,
        &topics.goals,
        &topics.team_progress,
        &topics.seasons,
        &topics.dead_letters,
    ];
    let deadline = Instant::now() + timeout;
    let mut hops = Vec::new();
    let mut unfinished = Vec::new();
    for (stage, topic) in stages.into_iter().enumerate() {
        let finished = scan_topic(kafka, topic, deadline, |message| {
            let payload = message.payload().unwrap_or_default();
            // A dead letter keeps the failed record's headers in its payload.
            let letter =
                (topic == &topics.dead_letters).then(|| DeadLetter::decode(payload).ok()).flatten();
            let traceparent = match &letter {
                Some(letter) => letter.headers.get("traceparent").map(String::as_str),
                None => header(message, "traceparent"),
            };
            if traceparent.and_then(trace_id_of).as_deref() != Some(trace_id) {
                return;
            }
            let what = describe(kafka, topic, message, payload, letter.as_ref());
            let at_ms = message.timestamp().to_millis().unwrap_or(0);
            let at = DateTime::<Utc>::from_timestamp_millis(at_ms).map_or_else(
                || "-".to_string(),
                |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            );
            let key = message.key().map(String::from_utf8_lossy).unwrap_or_default();
            let event_id = header(message, "event_id").unwrap_or("-");
            hops.push(Hop {
                at_ms,
                stage,
                partition: message.partition(),
                offset: message.offset(),
                line: format!("{at}  {topic}  key={key}  event={event_id}  {what}"),
            });
        })?;
        if !finished {
            unfinished.push(topic.as_str());
        }
    }
    hops.sort_by_key(|h| (h.at_ms, h.stage, h.partition, h.offset));
    for hop in &hops {
        println!("{}", hop.line);
    }
    println!("{} record(s) of trace {trace_id}", hops.len());
    if !unfinished.is_empty() {
        println!(
            "not read to the end within {} s: {}; raise --timeout-s",
            timeout.as_secs(),
            unfinished.join(", ")
        );
    }
    Ok(())
}

/// What a record of `topic` is, in a few words.
fn describe(
    kafka: &KafkaSettings,
    topic: &str,
    message: &BorrowedMessage<'_>,
    payload: &[u8],
    letter: Option<&DeadLetter>,
) -> String {
    let topics = &kafka.topics;
    if let Some(letter) = letter {
        return format!(
            "dead letter from {} after {} attempt(s): {}",
            letter.source_topic, letter.attempts, letter.reason
        );
    }
    let undecodable = |what: &str| format!("undecodable {what}");
    if topic == topics.notifications || topic == topics.fetch_retries {
        let Ok(n) = ProviderNotification::decode(payload) else {
            return undecodable("ProviderNotification");
        };
        let provider = header(message, "provider").map_or_else(String::new, |p| format!(" ({p})"));
        let retry = header(message, "attempt").map_or_else(String::new, |a| format!(", retry {a}"));
        let date = if n.date.is_empty() { "-" } else { &n.date };
        return format!("notification {} {date}{provider}{retry}", n.collection_type);
    }
    if payload.is_empty() {
        return "tombstone".to_string();
    }
    if topic == topics.activity_days {
        let Ok(a) = ActivityDayChanged::decode(payload) else {
            return undecodable("ActivityDayChanged");
        };
        let no_data = if a.no_data { " (no data)" } else { "" };
        return format!(
            "ActivityDayChanged participant {} {}: {} steps{no_data}",
            a.participant_id, a.date, a.steps
        );
    }
    if topic == topics.goals {
        let Ok(g) = GoalChanged::decode(payload) else {
            return undecodable("GoalChanged");
        };
        return format!(
            "GoalChanged participant {} program {} {}: {} steps ({})",
            g.participant_id, g.program_id, g.effective_date, g.steps, g.strategy
        );
    }
    if topic == topics.seasons {
        let Ok(s) = SeasonClosed::decode(payload) else {
            return undecodable("SeasonClosed");
        };
        let leader = s.standings.first().map_or("no team", |t| t.team_name.as_str());
        return format!(
            "SeasonClosed program {} {:?}: week {} final, {} team(s), first {leader}",
            s.program_id,
            s.program_name,
            s.leaderboard_week,
            s.standings.len()
        );
    }
    let Ok(t) = TeamProgressChanged::decode(payload) else {
        return undecodable("TeamProgressChanged");
    };
    format!(
        "TeamProgressChanged team {} program {} week {}: {:.1} of {:.1} {} ({:.0} %)",
        t.team_id, t.program_id, t.week, t.progress, t.goal, t.unit, t.percent_of_goal
    )
}

/// Reads `topic` from the beginning to the end of each partition (as the broker's fetch answers
/// tell it), handing each record to `each`, until `deadline`; returns whether every partition was
/// read to its end.
fn scan_topic(
    kafka: &KafkaSettings,
    topic: &str,
    deadline: Instant,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> anyhow::Result<bool> {
    let mut config =
        kafka.consumer_config(&format!("fitexctl-trace-{}", std::process::id()), "fitexctl");
    let consumer: BaseConsumer =
        config.set("enable.partition.eof", "true").create().context("creating a consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("reading metadata of {topic} from {}", kafka.brokers))?;
    let mut assignment = TopicPartitionList::new();
    let mut open: BTreeSet<i32> = BTreeSet::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment.add_partition_offset(topic, partition.id(), rdkafka::Offset::Beginning)?;
        open.insert(partition.id());
    }
    if open.is_empty() {
        return Ok(true);
    }
    consumer.assign(&assignment)?;
    // A partition is read when librdkafka reports its end (from the fetch answers' high
    // watermark, which tansu reports exactly, unlike its listed one: docs/reliability.md).
    while !open.is_empty() && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(message)) => each(&message),
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                open.remove(&partition);
            }
            Some(Err(error)) => return Err(error).context(format!("reading {topic}")),
        }
    }
    Ok(open.is_empty())
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
    let deadline = Instant::now() + timeout;
    let mut seen = 0;
    while seen < count && Instant::now() < deadline {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_id_is_read_alone_or_from_a_traceparent() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(parse_trace_id(id).as_deref(), Ok(id));
        assert_eq!(parse_trace_id(&id.to_uppercase()).as_deref(), Ok(id));
        let traceparent = format!("00-{id}-00f067aa0ba902b7-01");
        assert_eq!(parse_trace_id(&traceparent).as_deref(), Ok(id));
        for bad in ["", "4bf92f35", "00000000000000000000000000000000", &format!("{id}x")] {
            assert!(parse_trace_id(bad).is_err(), "{bad}");
        }
    }
}
