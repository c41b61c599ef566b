//! Load driver for `bench/fetcher.sh`: N simulator users connected (no backfill) into the bench
//! database, then, over `seconds`, their syncs — each `set_day` makes the simulator push one signed
//! notification to the subscriber — in realistic bursts:
//!
//! - most users sync one day once, at a random moment of the run;
//! - some sync the same day 2–5 times within a few seconds (a notification each: duplicates);
//! - some sync several dates at once (a notification per date, back to back).
//!
//! Then waits (bounded) until every changed user-day is in `activity_days` with its latest steps,
//! and prints one `RESULT key=value …` line: notifications, changed user-days, provider data calls
//! (simulator stats), calls per changed user-day against the naive one call per notification,
//! throughput, and the latency from each user-day's last change to its row's `fetched_at`.
//!
//! Configuration (database, token keys) is read like the services': `config/` + `FITEX__…`.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Parser;
use fitex_bench::percentile;
use fitex_common::token_cipher::TokenCipher;
use fitex_connections::store::{self, TokenKind};
use fitex_connections::{pending, reports, ConnectionsSettings};
use fitex_provider::TokenGrant;
use fitex_provider_simulator::{CreateUser, DayData, SimulatorClient};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use tokio::sync::{Mutex, Semaphore};

#[derive(Parser)]
struct Args {
    /// The simulator's base URL (loopback only).
    #[arg(long)]
    sim_url: String,
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Length of the load: every sync starts within it.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Longest wait, after the load, for every changed user-day to be stored.
    #[arg(long, default_value_t = 120)]
    wait_secs: u64,
    /// Share of users that sync the same day 2–5 times within a few seconds.
    #[arg(long, default_value_t = 0.15)]
    burst_share: f64,
    /// Bursts repeat the same data (Fitbit's duplicate notifications) instead of a new step count
    /// each time.
    #[arg(long)]
    duplicate_bursts: bool,
    /// Share of users that sync several dates at once.
    #[arg(long, default_value_t = 0.15)]
    multi_share: f64,
    /// Simulator requests (day changes) in flight at most.
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Single,
    Burst,
    Multi,
}

/// One day change at `at_ms` after the load starts.
#[derive(Debug, Clone)]
struct Change {
    at_ms: u64,
    date: NaiveDate,
    steps: u32,
}

#[derive(Default)]
struct Tally {
    notifications: u64,
    failed_deliveries: u64,
    failed_changes: u64,
    /// (user, date) → (time of the last change, its steps).
    last: BTreeMap<(String, NaiveDate), (DateTime<Utc>, i32)>,
    first_change: Option<DateTime<Utc>>,
    last_change: Option<DateTime<Utc>>,
}

fn day_data(steps: u32) -> DayData {
    DayData {
        steps,
        distance_km: steps as f64 * 0.00075,
        sedentary_minutes: 600,
        lightly_active_minutes: 180 + steps / 200,
        fairly_active_minutes: steps / 1000,
        very_active_minutes: steps / 1500,
        worn_minutes: 900,
        resting_heart_rate: Some(60),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.sim_url.starts_with("http://127.0.0.1:"),
        "the simulator must be on loopback (http://127.0.0.1:PORT)"
    );
    anyhow::ensure!(args.seconds >= 10, "at least 10 seconds");
    let settings: ConnectionsSettings =
        fitex_common::config::load().context("loading configuration")?;
    let cipher = TokenCipher::from_config(&settings.tokens.encryption_keys)?;
    let pool = settings.database.lazy_pool();
    let sim = SimulatorClient::new(&args.sim_url);
    let zones = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"];

    // --- users, connected without backfill ------------------------------------------------------
    let setup = std::time::Instant::now();
    let users: Vec<String> = futures::stream::iter(0..args.users)
        .map(|i| {
            let (sim, pool, cipher) = (sim.clone(), pool.clone(), &cipher);
            async move {
                let request = CreateUser {
                    timezone: zones[i % zones.len()].to_string(),
                    ..CreateUser::default()
                };
                let tokens = sim.create_user(request).await.context("create simulator user")?;
                let grant = TokenGrant {
                    access_token: SecretString::from(tokens.access_token),
                    refresh_token: Some(SecretString::from(tokens.refresh_token)),
                    expires_at: Utc::now() + chrono::Duration::seconds(tokens.expires_in as i64),
                    scopes: tokens.scope,
                    user_id: tokens.user_id.clone(),
                };
                let new = store::NewConnection {
                    provider: fitex_provider::ProviderId::Fitbit,
                    kind: TokenKind::AuthorizationCode,
                    grant: &grant,
                    backfill: &[],
                    legacy: None,
                };
                store::connect(&pool, cipher, new).await.context("connect")?;
                anyhow::Ok(tokens.user_id)
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    sim.reset_stats().await?;
    eprintln!(
        "{} users created and connected in {:.1}s",
        users.len(),
        setup.elapsed().as_secs_f64()
    );

    // --- the plan -----------------------------------------------------------------------------
    let mut rng = StdRng::seed_from_u64(args.seed);
    let today = Utc::now().date_naive();
    let span_ms = args.seconds * 1000;
    let mut shapes = BTreeMap::<&str, usize>::new();
    let plans: Vec<(String, Vec<Change>)> = users
        .iter()
        .map(|user| {
            let draw: f64 = rng.random();
            let shape = if draw < args.burst_share {
                Shape::Burst
            } else if draw < args.burst_share + args.multi_share {
                Shape::Multi
            } else {
                Shape::Single
            };
            let base: u32 = rng.random_range(2_000..14_000);
            let mut changes = Vec::new();
            match shape {
                Shape::Single => {
                    let date = today - chrono::Duration::days(rng.random_range(0..2));
                    let at_ms = rng.random_range(0..span_ms - 1000);
                    changes.push(Change { at_ms, date, steps: base });
                }
                Shape::Burst => {
                    // 2–5 syncs of the same day, 0.3–1.5 s apart (at most 6 s in all).
                    let date = today - chrono::Duration::days(rng.random_range(0..2));
                    let mut at_ms = rng.random_range(0..span_ms - 7000);
                    let count = rng.random_range(2..=5);
                    for k in 0..count {
                        let steps = if args.duplicate_bursts { base } else { base + 150 * k };
                        changes.push(Change { at_ms, date, steps });
                        at_ms += rng.random_range(300..1500);
                    }
                }
                Shape::Multi => {
                    // 2–3 recent dates at once (a sync after a few days away).
                    let count = rng.random_range(2..=3);
                    let at_ms = rng.random_range(0..span_ms - 1000);
                    for back in (0..count).rev() {
                        let date = today - chrono::Duration::days(back);
                        changes.push(Change { at_ms, date, steps: base + 37 * back as u32 });
                    }
                }
            }
            *shapes
                .entry(match shape {
                    Shape::Single => "single",
                    Shape::Burst => "burst",
                    Shape::Multi => "multi",
                })
                .or_default() += 1;
            (user.clone(), changes)
        })
        .collect();

    // --- the load -----------------------------------------------------------------------------
    let tally = Arc::new(Mutex::new(Tally::default()));
    let permits = Arc::new(Semaphore::new(args.in_flight.max(1)));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(plans.len());
    for (user, changes) in plans {
        let (sim, tally, permits) = (sim.clone(), tally.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            for change in changes {
                tokio::time::sleep_until(start + Duration::from_millis(change.at_ms)).await;
                let _permit = permits.acquire().await.expect("semaphore");
                let changed_at = Utc::now();
                let sent = tokio::time::timeout(
                    Duration::from_secs(15),
                    sim.set_day(&user, change.date, day_data(change.steps)),
                )
                .await;
                let mut tally = tally.lock().await;
                match sent {
                    Ok(Ok(deliveries)) => {
                        tally.notifications += deliveries.len() as u64;
                        tally.failed_deliveries += deliveries
                            .iter()
                            .filter(|d| !d.status.is_some_and(|s| (200..300).contains(&s)))
                            .count() as u64;
                        tally.first_change =
                            Some(tally.first_change.map_or(changed_at, |t| t.min(changed_at)));
                        tally.last_change =
                            Some(tally.last_change.map_or(changed_at, |t| t.max(changed_at)));
                        tally
                            .last
                            .insert((user.clone(), change.date), (changed_at, change.steps as i32));
                    }
                    Ok(Err(error)) => {
                        eprintln!("set_day {user} {}: {error}", change.date);
                        tally.failed_changes += 1;
                    }
                    Err(_) => {
                        eprintln!("set_day {user} {}: timed out", change.date);
                        tally.failed_changes += 1;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let load_s = start.elapsed().as_secs_f64();
    let tally = Arc::try_unwrap(tally).ok().expect("tasks done").into_inner();
    eprintln!(
        "load done in {load_s:.1}s: {} notifications ({} failed deliveries), {} changed user-days",
        tally.notifications,
        tally.failed_deliveries,
        tally.last.len()
    );

    // --- wait until every changed user-day is stored with its latest steps ---------------------
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait_secs);
    let mut stored: BTreeMap<(String, NaiveDate), (i32, DateTime<Utc>)>;
    loop {
        let rows = reports::stored_days_by_provider_user(&pool).await?;
        stored = rows.into_iter().map(|(u, d, s, f)| ((u, d), (s, f))).collect();
        let done = tally
            .last
            .iter()
            .all(|(key, (_, steps))| stored.get(key).is_some_and(|(s, _)| s == steps));
        if done || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let waited_s = start.elapsed().as_secs_f64() - load_s;

    // --- figures ------------------------------------------------------------------------------
    let mut latencies = Vec::new();
    let mut missing = Vec::new();
    let mut last_fetched: Option<DateTime<Utc>> = None;
    for (key, (changed_at, steps)) in &tally.last {
        match stored.get(key) {
            Some((s, fetched_at)) if s == steps => {
                latencies.push(
                    (*fetched_at - *changed_at).num_microseconds().unwrap_or(0) as f64 / 1000.0,
                );
                last_fetched = Some(last_fetched.map_or(*fetched_at, |t| t.max(*fetched_at)));
            }
            other => missing.push((key.clone(), *steps, other.map(|(s, _)| *s))),
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    for ((user, date), want, have) in missing.iter().take(20) {
        eprintln!("MISSING {user} {date}: want steps {want}, stored {have:?}");
    }
    if !missing.is_empty() {
        for (user, day, reason, not_before) in pending::next_due(&pool, 20).await? {
            eprintln!("PENDING {user} {day}: {reason} until {not_before}");
        }
        let statuses = store::count_by_status(&pool).await?;
        eprintln!("connection statuses: {statuses:?}");
    }

    let stats = sim.stats().await?;
    let profile_calls = stats.api_calls_by_endpoint.get("profile").copied().unwrap_or(0);
    let subscription_calls = stats.api_calls_by_endpoint.get("subscriptions").copied().unwrap_or(0);
    let (data_calls, by_endpoint) = fitex_bench::provider_calls(&stats);
    let changed = tally.last.len() as f64;
    let calls_per_day = data_calls as f64 / changed;
    let naive = tally.notifications as f64 / changed;
    let stored_days = latencies.len();
    let (throughput, drain_s) = match (last_fetched, tally.first_change, tally.last_change) {
        (Some(end), Some(first), Some(last)) => (
            stored_days as f64 / ((end - first).num_milliseconds() as f64 / 1000.0).max(0.001),
            (end - last).num_milliseconds() as f64 / 1000.0,
        ),
        _ => (0.0, f64::NAN),
    };
    println!(
        "RESULT users={} single_users={} burst_users={} multi_users={} notifications={} \
         failed_deliveries={} failed_changes={} changed_user_days={} stored={} missing={} \
         data_calls={} profile_calls={} subscription_calls={} calls_per_day={:.3} \
         naive_calls_per_day={:.3} ratio={:.3} throughput={:.2} p50_ms={:.0} p99_ms={:.0} \
         max_ms={:.0} load_s={:.1} drain_s={:.1} waited_s={:.1} rate_limited={} \
         token_refreshes={} notification_posts={} calls_by_endpoint={}",
        users.len(),
        shapes.get("single").copied().unwrap_or(0),
        shapes.get("burst").copied().unwrap_or(0),
        shapes.get("multi").copied().unwrap_or(0),
        tally.notifications,
        tally.failed_deliveries,
        tally.failed_changes,
        tally.last.len(),
        stored_days,
        missing.len(),
        data_calls,
        profile_calls,
        subscription_calls,
        calls_per_day,
        naive,
        calls_per_day / naive,
        throughput,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        load_s,
        drain_s,
        waited_s,
        stats.rate_limited,
        stats.token_refreshes,
        stats.notification_posts,
        by_endpoint,
    );
    Ok(())
}
