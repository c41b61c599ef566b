//! Baseline for `bench/pipeline.sh`: a raw rdkafka producer and consumer on the same broker, with
//! the services' own client settings (idempotent `acks=all` producer with `linger.ms=2` and lz4;
//! consumer with `fetch.wait.max.ms=100`). Records of `payload_bytes` are produced at `rate` per
//! second for `seconds`, each carrying its send time; a consumer that follows the topic from its end
//! measures produce → consume latency. Prints records, latency p50/p99/max, and this process's own
//! CPU time (clock ticks, from /proc/self/stat) and peak resident memory (VmHWM, kB).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fitex_bench::percentile;
use fitex_common::kafka::{ensure_topics, KafkaSettings, TopicSpec};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Deserialize;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    topic: String,
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Records produced per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    #[arg(long, default_value_t = 200)]
    payload_bytes: usize,
}

#[derive(Deserialize)]
struct Settings {
    kafka: KafkaSettings,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// (utime + stime in clock ticks, VmHWM in kB) of this process.
pub fn own_usage() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let hwm = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ticks, hwm)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings: Settings = fitex_common::config::load().context("configuration")?;
    ensure_topics(&settings.kafka, &[TopicSpec { name: args.topic.clone(), partitions: 8 }])
        .await
        .context("creating the topic")?;
    let consumer: BaseConsumer = settings
        .kafka
        .consumer_config(&format!("bench-kafka-latency-{}", uuid::Uuid::new_v4().simple()), "bench")
        .create()?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(&args.topic), timeout)?;
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        let (_, high) = consumer.fetch_watermarks(&args.topic, partition.id(), timeout)?;
        assignment.add_partition_offset(&args.topic, partition.id(), Offset::Offset(high))?;
    }
    consumer.assign(&assignment)?;
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (latencies, stop) = (latencies.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) else { continue };
                let received = now_us();
                let payload = message.payload().unwrap_or_default();
                if payload.len() >= 8 {
                    let sent = i64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                    latencies.lock().unwrap().push((received - sent) as f64 / 1000.0);
                }
            }
        })
    };

    let producer = settings.kafka.producer("bench-kafka-latency")?;
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let total = args.seconds * u64::from(args.rate);
    let mut next = tokio::time::Instant::now();
    let mut acks = Vec::new();
    for i in 0..total {
        tokio::time::sleep_until(next).await;
        next += interval;
        let producer = producer.clone();
        let topic = args.topic.clone();
        let mut payload = vec![b'x'; args.payload_bytes.max(8)];
        payload[..8].copy_from_slice(&now_us().to_le_bytes());
        acks.push(tokio::spawn(async move {
            let key = format!("USER{:05}", i % 10_000);
            producer
                .send(FutureRecord::to(&topic).key(&key).payload(&payload), Timeout::Never)
                .await
                .map(|_| ())
                .map_err(|(e, _)| e)
        }));
    }
    let mut failed = 0;
    for ack in acks {
        if ack.await?.is_err() {
            failed += 1;
        }
    }
    // Let the last records arrive.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while (latencies.lock().unwrap().len() as u64) < total - failed
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().map_err(|_| anyhow::anyhow!("reader panicked"))?;
    let mut all = latencies.lock().unwrap().clone();
    all.sort_by(|a, b| a.total_cmp(b));
    let (ticks, hwm_kb) = own_usage();
    println!(
        "RESULT records={} received={} failed={failed} rate={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} cpu_ticks={ticks} hwm_kb={hwm_kb}",
        total,
        all.len(),
        args.rate,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN),
    );
    Ok(())
}
