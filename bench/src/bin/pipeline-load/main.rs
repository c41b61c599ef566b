//! Load driver for `bench/pipeline.sh`: a realistic day of syncs for every connected participant of
//! the bench database, pushed by the Fitbit simulator through subscriber → Kafka → fetcher →
//! PostgreSQL → goals, timed from the notification to the goal event that reflects it.
//!
//! The model (documented in docs/benchmarks.md, "Whole pipeline"):
//!
//! - the run is a day compressed into `seconds`; each participant syncs `min_syncs..=max_syncs`
//!   times (uniform), at moments drawn uniformly over the run with at least `min_gap_ms` between
//!   two syncs of the same participant: the order statistics of a Poisson process (with a dead
//!   time), so the whole cohort's syncs arrive as a Poisson stream;
//! - each sync raises the participant's step count for their local today (their day builds up:
//!   the last sync reaches their usual level); the day's notification is one signed POST;
//! - `multi_share` of participants' first syncs also carry yesterday's late steps (and
//!   `three_day_share` of those the day before too): one notification per date, back to back;
//! - `duplicate_share` of syncs are notified again, 1–2 identical POSTs 0.1–2 s later, as Fitbit's
//!   duplicate notifications are.
//!
//! While the load runs, a reader follows the notifications, activity-days, goals and team-progress
//! topics from their ends. A change (participant, date, steps) is answered by the goal event of its
//! own trace: the trace of its notification continues through the activity event that stored it
//! to the goal events of that recomputation, so the hops join by trace id alone. When they do not
//! (its notification was coalesced with an earlier one of its day, whose trace the fetch continued;
//! or its recomputation published nothing because a teammate's had already counted the change),
//! the change is answered by the first goal event that reflects it, either
//! - a `GoalChanged` or `TeamProgressChanged` whose trace is that of an activity event of the same
//!   participant at or after the first activity event carrying those steps (or more): the goals
//!   service consumes a participant's events in order, so such a recomputation read the change; or
//! - a `TeamProgressChanged` of the participant's team computed after that first activity event
//!   was produced to Kafka (its record timestamp): the fetcher commits the day before its outbox
//!   relay produces the event, and a team week is recomputed from the stored days of every member,
//!   so a teammate's recomputation that late read the change too. (Without this, a change that a
//!   teammate's recomputation already counted leaves its owner's recomputation with nothing new to
//!   publish, and would wait for the owner's next change.)
//!
//! The latency is that goal event's arrival at the reader minus the moment the change's
//! notification was sent.
//!
//! Prints one `RESULT key=value …` line and writes each answered change's timings to `--points`
//! (CSV) for the plot. Configuration (database, Kafka topics) is read like the services': `config/`
//! + `FITEX__…`.
//!
//! The parts: `plan` (what load to make), `driver` (sending it), `reader` (following the
//! pipeline's outputs), `join` (which goal event answered each change) and `report` (the figures).

mod clock;
mod cohort;
mod driver;
mod join;
mod plan;
mod reader;
mod report;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use fitex_common::kafka::KafkaSettings;
use fitex_provider_simulator::SimulatorClient;
use serde::Deserialize;

use crate::clock::now_ms;
use crate::cohort::Participant;
use crate::driver::Tally;
use crate::join::{answer, index};
use crate::plan::LoadShape;
use crate::reader::Seen;

#[derive(Parser)]
struct Args {
    /// The simulator's base URL (loopback only).
    #[arg(long)]
    sim_url: String,
    #[command(flatten)]
    shape: LoadShape,
    /// Simulator requests in flight at most.
    #[arg(long, default_value_t = 128)]
    in_flight: usize,
    /// Longest wait, after the load, for the last changes' goal events.
    #[arg(long, default_value_t = 120)]
    wait_secs: u64,
    /// Stop waiting once no pipeline event has arrived for this long.
    #[arg(long, default_value_t = 15)]
    quiet_secs: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write each answered change's timings (CSV).
    #[arg(long)]
    points: std::path::PathBuf,
}

#[derive(Deserialize)]
struct Settings {
    database: fitex_common::database::DatabaseSettings,
    kafka: KafkaSettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.sim_url.starts_with("http://127.0.0.1:"),
        "the simulator must be on loopback (http://127.0.0.1:PORT)"
    );
    args.shape.check()?;
    let settings: Settings = fitex_common::config::load().context("configuration")?;
    let pool = settings.database.lazy_pool();
    let sim = SimulatorClient::new(&args.sim_url);
    let participants = cohort::connected_team_members(&pool).await?;
    let stored = cohort::recent_steps(&pool).await?;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = reader::start(&settings.kafka, seen.clone(), stop.clone())?;
    sim.reset_stats().await?;

    let start_wall = Utc::now() + chrono::Duration::milliseconds(500);
    let (syncs, shapes) = plan::plan(&args.shape, args.seed, &participants, &stored, start_wall);
    let participants = Arc::new(participants);
    eprintln!(
        "{} participants, {} syncs planned over {} s ({shapes:?})",
        participants.len(),
        syncs.len(),
        args.shape.seconds
    );

    // --- the load -----------------------------------------------------------------------------
    let load_start_ms = start_wall.timestamp_micros() as f64 / 1000.0;
    let mut tally = driver::drive(&sim, &participants, syncs, args.in_flight).await?;
    let load_end_ms = now_ms();
    let load_s = (load_end_ms - load_start_ms) / 1000.0;
    eprintln!(
        "load done in {load_s:.1}s: {} notification POSTs ({} not 2xx), {} changes",
        tally.posts,
        tally.posts - tally.posts_ok,
        tally.changes.len()
    );

    // --- wait for the last goal events ---------------------------------------------------------
    wait_for_answers(&args, &tally, &participants, &seen, load_end_ms).await;
    let waited_s = (now_ms() - load_end_ms) / 1000.0;
    stop.store(true, Ordering::Relaxed);
    reader.join().map_err(|_| anyhow::anyhow!("the topic reader panicked"))?;
    let seen = Arc::try_unwrap(seen).ok().expect("reader stopped").into_inner().unwrap();

    // --- figures ------------------------------------------------------------------------------
    tally.changes.sort_by(|a, b| a.sent_ms.total_cmp(&b.sent_ms));
    // What the database holds now: a change without a goal event may still have been stored.
    let stored_after = cohort::recent_steps(&pool).await?;
    let run = report::Run {
        participants: &participants,
        shapes: &shapes,
        tally: &tally,
        seen: &seen,
        stored_after: &stored_after,
        load_start_ms,
        load_s,
        waited_s,
    };
    let timings = report::write_points(&args.points, run)?;
    let stats = sim.stats().await?;
    println!("{}", report::result_line(run, timings, &stats));
    Ok(())
}

/// Returns once every change has its goal event, or no pipeline event came for `--quiet-secs`,
/// or `--wait-secs` have passed.
async fn wait_for_answers(
    args: &Args,
    tally: &Tally,
    participants: &[Participant],
    seen: &Mutex<Seen>,
    load_end_ms: f64,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait_secs);
    loop {
        let (answered, quiet_for) = {
            let seen = seen.lock().unwrap();
            let index = index(&seen);
            let answered = tally
                .changes
                .iter()
                .filter(|c| answer(c, participants, &seen, &index).goal_ms.is_some())
                .count();
            (answered, (now_ms() - seen.last_event_ms.max(load_end_ms)) / 1000.0)
        };
        if answered == tally.changes.len()
            || quiet_for >= args.quiet_secs as f64
            || tokio::time::Instant::now() >= deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
