//! Open-loop HTTP load: POSTs the benchmark's signed Fitbit notifications at a constant arrival
//! rate and measures each request's latency from its scheduled send time, not from when a
//! connection was free to send it. A server stall then counts for every request scheduled during
//! it, as it would for providers calling independently (wrk's closed loop, and a paced closed loop,
//! leave those requests out: coordinated omission).
//!
//! Request `i` is scheduled at `i / rate` seconds; `--connections` keep-alive connections each take
//! the next unsent request, wait for its scheduled time and send it. When every connection is
//! busy, the next request waits, and its wait is part of its latency. Bodies are the
//! "signature<TAB>body" lines of `--bodies` (`bench/lib.sh` `signed_notifications`), in turn, each
//! with its `X-Fitbit-Signature`. Prints a `RESULT` line with the keys of
//! `bench/signed-notifications.lua` plus the offered rate, the maximum latency and the p99 of the
//! start lag (sent after its scheduled time: a busy connection or the driver's own timer, whose
//! resolution is 1 ms).
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use fitex_bench::percentile;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    url: String,
    /// Requests per second, all connections together.
    #[arg(long)]
    rate: f64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// "signature<TAB>body" lines.
    #[arg(long, env = "BENCH_BODIES")]
    bodies: PathBuf,
    /// A request without an answer by then counts as a socket error (its latency is kept).
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
}

/// What one connection saw.
#[derive(Default)]
struct Outcome {
    latencies_ms: Vec<f64>,
    start_lags_ms: Vec<f64>,
    non_2xx: u64,
    socket_errors: u64,
}

fn read_bodies(path: &PathBuf) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
    let bodies: Vec<_> = text
        .lines()
        .map(|line| {
            let (signature, body) = line.split_once('\t').context("a line without a tab")?;
            Ok((signature.to_string(), body.to_string()))
        })
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!bodies.is_empty(), "{path:?} holds no body");
    Ok(bodies)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let bodies = Arc::new(read_bodies(&args.bodies)?);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_millis(args.timeout_ms))
        .build()?;
    let url: Arc<str> = args.url.into();
    let started = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    let next_request = Arc::new(AtomicU64::new(0));
    let rate = args.rate;
    let mut connections = Vec::new();
    for _ in 0..args.connections {
        let (client, bodies, url, next_request) =
            (client.clone(), bodies.clone(), url.clone(), next_request.clone());
        connections.push(tokio::spawn(async move {
            let mut outcome = Outcome::default();
            loop {
                let index = next_request.fetch_add(1, Ordering::Relaxed);
                let scheduled = started + Duration::from_secs_f64(index as f64 / rate);
                if scheduled >= end {
                    break;
                }
                // Behind schedule, send at once: the timer would round even a past time up to its
                // next millisecond tick.
                if scheduled > Instant::now() {
                    tokio::time::sleep_until(scheduled.into()).await;
                }
                outcome.start_lags_ms.push(scheduled.elapsed().as_secs_f64() * 1000.0);
                let (signature, body) = &bodies[index as usize % bodies.len()];
                let answer = client
                    .post(url.as_ref())
                    .header("Content-Type", "application/json")
                    .header("X-Fitbit-Signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
                match answer {
                    Ok(response) => {
                        let status = response.status();
                        // The whole answer, as a client reads it before reusing the connection.
                        match response.bytes().await {
                            Ok(_) if status.is_success() => {}
                            Ok(_) => outcome.non_2xx += 1,
                            Err(_) => outcome.socket_errors += 1,
                        }
                    }
                    Err(_) => outcome.socket_errors += 1,
                }
                outcome.latencies_ms.push(scheduled.elapsed().as_secs_f64() * 1000.0);
            }
            outcome
        }));
    }
    let mut all = Outcome::default();
    for connection in connections {
        let outcome = connection.await?;
        all.latencies_ms.extend(outcome.latencies_ms);
        all.start_lags_ms.extend(outcome.start_lags_ms);
        all.non_2xx += outcome.non_2xx;
        all.socket_errors += outcome.socket_errors;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.latencies_ms.sort_by(f64::total_cmp);
    all.start_lags_ms.sort_by(f64::total_cmp);
    let requests = all.latencies_ms.len();
    println!(
        "RESULT requests={requests} seconds={seconds:.2} rps={:.1} p50_ms={:.2} p99_ms={:.2} \
         max_ms={:.2} non2xx={} socket_errors={} offered_rps={rate:.1} start_lag_p99_ms={:.2}",
        requests as f64 / seconds,
        percentile(&all.latencies_ms, 0.50),
        percentile(&all.latencies_ms, 0.99),
        all.latencies_ms.last().copied().unwrap_or(f64::NAN),
        all.non_2xx,
        all.socket_errors,
        percentile(&all.start_lags_ms, 0.99),
    );
    Ok(())
}
