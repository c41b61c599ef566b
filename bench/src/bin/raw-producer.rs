//! Baseline: the subscriber's Kafka publishing without its HTTP server, on the same broker.
//!
//! Each record is the one the subscriber makes for a benchmark notification: the signed bodies of
//! `--bodies` (`bench/lib.sh` `signed_notifications`, one notification each) are verified and read
//! once at start by `fitex_fitbit::FitbitWebhook` with the subscriber's `fitbit.client_secrets`,
//! and per send a `fitex.v1.ProviderNotification` is built from one of them as the subscriber's
//! `webhook::to_record` (called here) builds it (fresh event id, receive time and child span; keyed by the Fitbit
//! user id; headers `event_id`, `traceparent`, `content-type`, `provider`). The producer is the
//! subscriber's: `KafkaSettings::recovering_producer` from the subscriber's own settings (loaded as
//! `fitex-subscriber` loads them, statistics included) with the message timeout set to
//! `subscriber.publish_deadline_ms`, sending through `outbox::send_all` as the subscriber's
//! publisher does. `--concurrency` records are in flight, each awaiting its acknowledgement like
//! one webhook request. Closed loop unless `--rate` is given: then sends follow a constant schedule
//! and each latency counts from its scheduled send time, so a stall counts for every record that
//! waits behind it. Prints records/s, p50/p99/max acknowledgement latency, records not
//! acknowledged within the deadline, a record's payload size and the producer's librdkafka
//! settings.
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use fitex_bench::percentile;
use fitex_common::outbox;
use fitex_common::trace_context::TraceParent;
use fitex_provider::{ChangeNotice, ProviderId, WebhookVerifier};
use fitex_subscriber::webhook::to_record;

const CLIENT_ID: &str = "bench-raw-producer";

#[derive(Parser)]
struct Args {
    /// The broker list; default: the subscriber's `kafka.brokers`.
    #[arg(long)]
    brokers: Option<String>,
    /// Default: the subscriber's `kafka.topics.notifications`.
    #[arg(long)]
    topic: Option<String>,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Records in flight at once (match the HTTP load's connection count).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// "signature<TAB>body" lines, as the HTTP load sends them.
    #[arg(long, env = "BENCH_BODIES")]
    bodies: PathBuf,
    /// Records per second on a constant schedule (open loop); default: as fast as acknowledged.
    #[arg(long)]
    rate: Option<f64>,
    /// Ignored: records are the subscriber's own (about 190 bytes of protobuf). Accepted so that
    /// older invocations (bench/pipeline.sh) still run.
    #[arg(long, hide = true)]
    payload_bytes: Option<usize>,
}

/// The notices the subscriber would read from `path`'s signed bodies, through its own verifier.
async fn read_notices(
    path: &PathBuf,
    verifier: &fitex_fitbit::FitbitWebhook,
) -> anyhow::Result<Vec<ChangeNotice>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
    let mut notices = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let (signature, body) =
            line.split_once('\t').with_context(|| format!("line {}: no tab", number + 1))?;
        let signature = signature.as_bytes().to_vec();
        let header = move |name: &str| {
            name.eq_ignore_ascii_case("X-Fitbit-Signature").then(|| signature.clone())
        };
        let parsed = verifier
            .verify_and_parse(&header, body.as_bytes())
            .await
            .with_context(|| format!("line {}: the subscriber would refuse it", number + 1))?;
        notices.extend(parsed);
    }
    anyhow::ensure!(!notices.is_empty(), "{path:?} holds no notification");
    Ok(notices)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.payload_bytes.is_some() {
        eprintln!("raw-producer: --payload-bytes is ignored; records are the subscriber's own");
    }
    let settings: fitex_subscriber::Settings =
        fitex_common::config::load().context("the subscriber's configuration")?;
    let verifier =
        fitex_fitbit::FitbitWebhook { client_secrets: settings.fitbit.client_secrets.clone() };
    let notices = Arc::new(read_notices(&args.bodies, &verifier).await?);

    // As `fitex_subscriber::startup` builds its producer.
    let mut kafka = settings.kafka.clone();
    if let Some(brokers) = &args.brokers {
        kafka.brokers = brokers.clone();
    }
    let deadline = settings.subscriber.publish_deadline;
    kafka.message_timeout = deadline;
    let producer = kafka.recovering_producer(CLIENT_ID)?;
    // The librdkafka settings `recovering_producer` gives the client, for the report.
    let client_settings = kafka
        .with_statistics(kafka.producer_config(CLIENT_ID))
        .config_map()
        .into_iter()
        .filter(|(key, _)| !matches!(*key, "bootstrap.servers" | "client.id"))
        .map(|(key, value)| format!("{key}:{value}"))
        .collect::<Vec<_>>()
        .join(",");
    let topic: Arc<str> = args.topic.unwrap_or(settings.kafka.topics.notifications).into();
    // One acknowledged record before the clock starts: the producer id and the topic's metadata
    // are fetched once per client, and the subscriber has them when it is measured.
    let first = to_record(&notices[0], ProviderId::Fitbit, &topic, TraceParent::new_root(), "");
    if let Some((_, failure)) =
        outbox::send_all(&producer, std::slice::from_ref(&first), deadline).await.first()
    {
        anyhow::bail!("the broker did not acknowledge a first record: {failure}");
    }
    let record_bytes = first.payload.len();

    let started = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    let next_slot = Arc::new(AtomicU64::new(0));
    let rate = args.rate;
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (producer, notices, topic, next_slot) =
            (producer.clone(), notices.clone(), topic.clone(), next_slot.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut unacknowledged) = (Vec::new(), 0u64);
            loop {
                let slot = next_slot.fetch_add(1, Ordering::Relaxed);
                let scheduled = match rate {
                    Some(rate) => started + Duration::from_secs_f64(slot as f64 / rate),
                    None => Instant::now(),
                };
                if scheduled >= end {
                    break;
                }
                // Only a future time is slept to: the timer would round even a past one up to its
                // next millisecond tick.
                if scheduled > Instant::now() {
                    tokio::time::sleep_until(scheduled.into()).await;
                }
                // Each record is a new request's: its own trace, event id and receive time.
                let span = TraceParent::continue_or_start(None).child();
                let notice = &notices[slot as usize % notices.len()];
                let record = to_record(notice, ProviderId::Fitbit, &topic, span, "");
                let failures =
                    outbox::send_all(&producer, std::slice::from_ref(&record), deadline).await;
                unacknowledged += failures.len() as u64;
                latencies.push(scheduled.elapsed().as_secs_f64() * 1000.0);
            }
            (latencies, unacknowledged)
        }));
    }
    let (mut all, mut unacknowledged) = (Vec::new(), 0);
    for task in tasks {
        let (latencies, failed) = task.await?;
        all.extend(latencies);
        unacknowledged += failed;
    }
    let elapsed = started.elapsed().as_secs_f64().max(args.seconds as f64);
    all.sort_by(f64::total_cmp);
    // bench/pipeline.sh and bench/subscriber.sh read `rate=`, `p50_ms=` and `p99_ms=`.
    println!(
        "records={} rate={:.0}/s p50_ms={:.2} p99_ms={:.2} max_ms={:.2} unacknowledged={} \
         record_bytes={} producer_settings={}",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN),
        unacknowledged,
        record_bytes,
        client_settings
    );
    Ok(())
}
