//! Baseline for `bench/pipeline.sh`: a plain SQL upsert loop on the same PostgreSQL, through the
//! same driver (sqlx) and pool settings as the services. Each row is one `INSERT … ON CONFLICT DO
//! UPDATE` of an activity-day-shaped row, committed on its own (autocommit, so one WAL flush per
//! row, as each of the pipeline's transactions has), into a scratch copy of `activity_days` in the
//! configured database, dropped afterwards. `concurrency` loops run side by side. Prints rows,
//! rows/s and the per-row latency p50/p99/max.
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use fitex_bench::percentile;
use futures::StreamExt;
use serde::Deserialize;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
}

#[derive(Deserialize)]
struct Settings {
    database: fitex_common::database::DatabaseSettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings: Settings = fitex_common::config::load().context("configuration")?;
    let pool = settings.database.lazy_pool();
    let table = format!("bench_upsert_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE TABLE {table} (LIKE activity_days INCLUDING ALL)"))
        .execute(&pool)
        .await
        .context("creating the scratch table")?;
    let sql = format!(
        "INSERT INTO {table} (participant_id, day, steps, distance_km, sedentary_minutes,
             lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes, source, fetched_at)
         VALUES ($1, current_date - $2::int, $3, $3 * 0.00075, 600, 200, 15, 10, 900, 'fitbit', now())
         ON CONFLICT (participant_id, day) DO UPDATE SET steps = EXCLUDED.steps,
             distance_km = EXCLUDED.distance_km, fetched_at = EXCLUDED.fetched_at"
    );
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let loops: Vec<Vec<f64>> = futures::stream::iter(0..args.concurrency.max(1))
        .map(|worker| {
            let (pool, sql) = (pool.clone(), sql.clone());
            async move {
                let mut latencies = Vec::new();
                let mut i: i64 = 0;
                while Instant::now() < end {
                    let row = Instant::now();
                    sqlx::query(&sql)
                        .bind(worker as i64 * 1_000_000 + i % 1000)
                        .bind((i / 1000 % 28) as i32)
                        .bind(4000 + (i % 9000) as i32)
                        .execute(&pool)
                        .await?;
                    latencies.push(row.elapsed().as_secs_f64() * 1000.0);
                    i += 1;
                }
                anyhow::Ok(latencies)
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let elapsed = started.elapsed().as_secs_f64();
    sqlx::query(&format!("DROP TABLE {table}")).execute(&pool).await?;
    let mut all: Vec<f64> = loops.into_iter().flatten().collect();
    all.sort_by(|a, b| a.total_cmp(b));
    println!(
        "RESULT rows={} concurrency={} rows_per_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        all.len(),
        args.concurrency,
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
