//! Baseline: a raw rdkafka producer (idempotent, acks=all, as the subscriber's) sending records of
//! the subscriber's size to the same broker, `concurrency` in flight each awaiting its
//! acknowledgement like one webhook request would. Prints records/s and p50/p99 ack latency.
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fitex_common::kafka::{KafkaSettings, Topics};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    #[arg(long)]
    topic: String,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Records in flight at once (match wrk's connection count).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value_t = 200)]
    payload_bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = KafkaSettings {
        brokers: args.brokers.clone(),
        topics: Topics::default(),
        message_timeout: Duration::from_secs(30),
        extra: Default::default(),
        // A bare client: no statistics.
        statistics_interval: Duration::ZERO,
    };
    let producer = settings.producer("bench-raw-producer")?;
    let payload = Arc::new(vec![b'x'; args.payload_bytes]);
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let (producer, payload, topic) = (producer.clone(), payload.clone(), args.topic.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while Instant::now() < end {
                let key = format!("USER{:04}", (worker as u64 * 7919 + i) % 1000);
                let started = Instant::now();
                producer
                    .send(
                        FutureRecord::to(&topic).key(&key).payload(payload.as_slice()),
                        Timeout::Never,
                    )
                    .await
                    .map_err(|(e, _)| e)
                    .expect("delivery");
                latencies.push(started.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64().max(args.seconds as f64);
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "records={} rate={:.0}/s p50_ms={:.2} p99_ms={:.2}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}
