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
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use clap::Parser;
use fitex_bench::percentile;
use fitex_common::kafka::KafkaSettings;
use fitex_provider_simulator::{DayData, Delivery, Notification, SimulatorClient};
use fitex_proto::{
    ActivityDayChanged, GoalChanged, Message as _, ProviderNotification, TeamProgressChanged,
    Timestamp,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Deserialize;
use tokio::sync::Semaphore;

#[derive(Parser)]
struct Args {
    /// The simulator's base URL (loopback only).
    #[arg(long)]
    sim_url: String,
    /// Length of the load: every sync starts within it.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    min_syncs: usize,
    #[arg(long, default_value_t = 6)]
    max_syncs: usize,
    /// Least time between two syncs of one participant (a real day's syncs are minutes apart;
    /// the fetcher's settle window, 3 s, is not compressed with the day).
    #[arg(long, default_value_t = 5000)]
    min_gap_ms: u64,
    /// Share of syncs whose notification Fitbit sends again (1–2 identical POSTs).
    #[arg(long, default_value_t = 0.3)]
    duplicate_share: f64,
    /// Share of participants whose first sync also carries yesterday.
    #[arg(long, default_value_t = 0.2)]
    multi_share: f64,
    /// Of those, the share that also carries the day before yesterday.
    #[arg(long, default_value_t = 0.25)]
    three_day_share: f64,
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

struct Participant {
    user: String,
    id: i64,
    team: i64,
    zone: Tz,
    /// Their usual steps (median of the stored history).
    usual: f64,
}

/// One sync: the dates it changes (oldest first, today last), each with its new steps.
struct Sync {
    at_ms: u64,
    who: usize,
    dates: Vec<(NaiveDate, u32)>,
    /// Identical POSTs of today's notification sent again after `duplicate_delay_ms`.
    duplicates: usize,
    duplicate_delay_ms: u64,
}

/// A sent change: the notification for (participant, date) that carries `steps`.
#[derive(Clone)]
struct Change {
    who: usize,
    date: NaiveDate,
    steps: u32,
    sent_ms: f64,
    dates_in_sync: usize,
}

#[derive(Default)]
struct Tally {
    changes: Vec<Change>,
    posts: u64,
    posts_ok: u64,
    duplicate_posts: u64,
    failed_requests: u64,
    /// Milliseconds from sending a notification POST to the subscriber's answer, per POST (as
    /// the simulator's admin call returns it, so the simulator's own work is included).
    post_ms: Vec<f64>,
    post_sent_ms: Vec<f64>,
    dispatch_lag_ms: f64,
}

impl Tally {
    /// The simulator's POSTs for one admin call, sent at `sent` and answered `took` ms later in
    /// all (each POST is counted at its share).
    fn record_posts(&mut self, deliveries: &[Delivery], sent: f64, took: f64) {
        self.posts += deliveries.len() as u64;
        self.posts_ok +=
            deliveries.iter().filter(|d| d.status.is_some_and(|s| (200..300).contains(&s))).count()
                as u64;
        for _ in deliveries {
            self.post_ms.push(took / deliveries.len() as f64);
            self.post_sent_ms.push(sent);
        }
    }
}

#[derive(Default)]
struct Seen {
    /// (owner, date) → its notifications.
    notifications: HashMap<(String, String), Vec<SeenNotification>>,
    notification_count: u64,
    activities: Vec<Activity>,
    /// trace id → (first arrival, kind) of goal events carrying it.
    goal_by_trace: HashMap<String, (f64, &'static str)>,
    /// team id → (computed_at, arrival) of its team-progress events.
    team_events_by_team: HashMap<i64, Vec<(f64, f64)>>,
    goal_events: u64,
    team_events: u64,
    /// Arrival minus `computed_at` (relay and consumer delay), per goal event.
    relay_ms: Vec<f64>,
    last_event_ms: f64,
}

struct SeenNotification {
    /// The subscriber's `received_at`.
    accepted_ms: f64,
    recv_ms: f64,
    trace: String,
}

struct Activity {
    participant: i64,
    date: NaiveDate,
    steps: i32,
    trace: String,
    offset: i64,
    recv_ms: f64,
    fetched_ms: f64,
    /// The record's timestamp: when the fetcher's relay produced it, after the day's commit.
    produced_ms: f64,
}

fn now_ms() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1000.0
}

fn ts_ms(t: &Option<Timestamp>) -> f64 {
    t.as_ref().map_or(0.0, |t| t.seconds as f64 * 1000.0 + f64::from(t.nanos) / 1e6)
}

/// The trace id (32 hex digits) of a `traceparent`.
fn trace_id(traceparent: &str) -> String {
    traceparent.split('-').nth(1).unwrap_or_default().to_string()
}

fn day_data(steps: u32) -> DayData {
    fitex_provider_simulator::cohort::day_from_steps(steps, 900, Some(62), 0.00075)
}

/// Follows the four topics from their current ends on a thread of its own.
fn start_reader(
    settings: &Settings,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let topics = &settings.kafka.topics;
    let (notifications, activity, goals, team) = (
        topics.notifications.clone(),
        topics.activity_days.clone(),
        topics.goals.clone(),
        topics.team_progress.clone(),
    );
    let consumer: BaseConsumer = settings
        .kafka
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

/// When each change was answered: (notification on Kafka, activity event on Kafka, goal event).
struct Answer {
    notification_ms: Option<f64>,
    accepted_ms: Option<f64>,
    activity_ms: Option<f64>,
    fetched_ms: Option<f64>,
    goal_ms: Option<f64>,
    goal_kind: &'static str,
    /// Answered by the goal event of the notification's own trace.
    by_trace: bool,
}

fn answer(change: &Change, participants: &[Participant], seen: &Seen, index: &Index) -> Answer {
    let p = &participants[change.who];
    let date = change.date.format("%Y-%m-%d").to_string();
    let notification = seen
        .notifications
        .get(&(p.user.clone(), date))
        .and_then(|list| list.iter().find(|n| n.accepted_ms >= change.sent_ms - 1.0));
    let mut result = Answer {
        notification_ms: notification.map(|n| n.recv_ms),
        accepted_ms: notification.map(|n| n.accepted_ms),
        activity_ms: None,
        fetched_ms: None,
        goal_ms: None,
        goal_kind: "",
        by_trace: false,
    };
    // By trace id alone: the activity event of the notification's trace that stored the change,
    // and the goal event of that trace.
    let own = notification.map(|n| &n.trace).filter(|t| !t.is_empty()).and_then(|trace| {
        let activity =
            index.by_trace.get(trace)?.iter().map(|i| &seen.activities[*i]).find(|a| {
                a.participant == p.id
                    && a.date == change.date
                    && i64::from(a.steps) >= i64::from(change.steps)
            })?;
        Some((activity, seen.goal_by_trace.get(trace)?))
    });
    if let Some((activity, (at, kind))) = own {
        result.activity_ms = Some(activity.recv_ms);
        result.fetched_ms = Some(activity.fetched_ms);
        result.goal_ms = Some(*at);
        result.goal_kind = kind;
        result.by_trace = true;
        return result;
    }
    // The first activity event (in the participant's partition order) carrying these steps or
    // more: the day's steps only grow within a run.
    let Some(first) = index.by_day.get(&(p.id, change.date)).and_then(|list| {
        list.iter()
            .map(|i| &seen.activities[*i])
            .find(|a| i64::from(a.steps) >= i64::from(change.steps))
    }) else {
        return result;
    };
    result.activity_ms = Some(first.recv_ms);
    result.fetched_ms = Some(first.fetched_ms);
    if let Some(later) = index.by_participant.get(&p.id) {
        for a in later.iter().map(|i| &seen.activities[*i]).filter(|a| a.offset >= first.offset) {
            if let Some((at, kind)) = seen.goal_by_trace.get(&a.trace) {
                if result.goal_ms.is_none_or(|g| *at < g) {
                    result.goal_ms = Some(*at);
                    result.goal_kind = kind;
                }
            }
        }
    }
    // After the participant's own events, so that an event of both kinds keeps its own label.
    if let Some(events) = seen.team_events_by_team.get(&p.team) {
        for (computed, at) in events {
            if *computed >= first.produced_ms && result.goal_ms.is_none_or(|g| *at < g) {
                result.goal_ms = Some(*at);
                result.goal_kind = "teammate";
            }
        }
    }
    result
}

#[derive(Default)]
struct Index {
    by_day: HashMap<(i64, NaiveDate), Vec<usize>>,
    by_participant: HashMap<i64, Vec<usize>>,
    by_trace: HashMap<String, Vec<usize>>,
}

fn index(seen: &Seen) -> Index {
    let mut order: Vec<usize> = (0..seen.activities.len()).collect();
    order.sort_by_key(|i| seen.activities[*i].offset);
    let mut index = Index::default();
    for i in order {
        let a = &seen.activities[i];
        index.by_day.entry((a.participant, a.date)).or_default().push(i);
        index.by_participant.entry(a.participant).or_default().push(i);
        index.by_trace.entry(a.trace.clone()).or_default().push(i);
    }
    index
}

fn plan(
    args: &Args,
    participants: &[Participant],
    stored: &HashMap<(i64, NaiveDate), u32>,
    start: DateTime<Utc>,
) -> (Vec<Sync>, BTreeMap<&'static str, usize>) {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let span = args.seconds * 1000;
    let mut syncs = Vec::new();
    let mut shapes = BTreeMap::new();
    // The latest steps planned per (participant, date): each change raises them.
    let mut current: HashMap<(usize, NaiveDate), u32> = HashMap::new();
    for (who, p) in participants.iter().enumerate() {
        let count = rng.random_range(args.min_syncs..=args.max_syncs.max(args.min_syncs));
        // Order statistics of `count` uniform moments over what the gaps leave, then the gaps.
        let room = span.saturating_sub(args.min_gap_ms * (count as u64 - 1)).max(1);
        let mut moments: Vec<u64> = (0..count).map(|_| rng.random_range(0..room)).collect();
        moments.sort_unstable();
        let final_steps = (p.usual * rng.random_range(0.7..1.3)).max(1500.0);
        let multi = rng.random_bool(args.multi_share);
        let three = multi && rng.random_bool(args.three_day_share);
        *shapes.entry("participants").or_default() += 1;
        if multi {
            *shapes
                .entry(if three { "three_day_first_syncs" } else { "two_day_first_syncs" })
                .or_default() += 1;
        }
        for (k, moment) in moments.into_iter().enumerate() {
            let at_ms = moment + k as u64 * args.min_gap_ms;
            let when = start + chrono::Duration::milliseconds(at_ms as i64);
            let today = when.with_timezone(&p.zone).date_naive();
            let mut dates = Vec::new();
            let back = if k == 0 && multi {
                if three {
                    2
                } else {
                    1
                }
            } else {
                0
            };
            for b in (1..=back).rev() {
                let date = today - chrono::Duration::days(b);
                let cur = current
                    .get(&(who, date))
                    .copied()
                    .or_else(|| stored.get(&(p.id, date)).copied())
                    .unwrap_or(0);
                let steps = cur + rng.random_range(200..2500);
                current.insert((who, date), steps);
                dates.push((date, steps));
            }
            // A day that already has steps (synced before the run) gets the rest of its day: a
            // third of a usual day more by the last sync.
            let base = stored.get(&(p.id, today)).copied().unwrap_or(0);
            let rest = if base == 0 { final_steps } else { final_steps * 0.3 };
            let cur = current.get(&(who, today)).copied().unwrap_or(base);
            let target = base + (rest * (k + 1) as f64 / count as f64) as u32;
            let steps = target.max(cur + rng.random_range(30..300));
            current.insert((who, today), steps);
            dates.push((today, steps));
            let duplicates = if rng.random_bool(args.duplicate_share) {
                if rng.random_bool(0.3) {
                    2
                } else {
                    1
                }
            } else {
                0
            };
            *shapes.entry("syncs").or_default() += 1;
            if duplicates > 0 {
                *shapes.entry("duplicated_syncs").or_default() += 1;
            }
            syncs.push(Sync {
                at_ms,
                who,
                dates,
                duplicates,
                duplicate_delay_ms: rng.random_range(100..2000),
            });
        }
    }
    syncs.sort_by_key(|s| s.at_ms);
    (syncs, shapes)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.sim_url.starts_with("http://127.0.0.1:"),
        "the simulator must be on loopback (http://127.0.0.1:PORT)"
    );
    anyhow::ensure!(args.min_syncs >= 1 && args.seconds >= 10, "at least one sync and 10 seconds");
    anyhow::ensure!(
        args.min_gap_ms * (args.max_syncs as u64) < args.seconds * 1000,
        "{} syncs {} ms apart do not fit in {} s",
        args.max_syncs,
        args.min_gap_ms,
        args.seconds
    );
    let settings: Settings = fitex_common::config::load().context("configuration")?;
    let pool = settings.database.lazy_pool();
    let sim = SimulatorClient::new(&args.sim_url);

    let rows: Vec<(String, i64, i64, String, Option<f64>)> = sqlx::query_as(
        "SELECT c.provider_user_id, c.participant_id,
                (SELECT min(m.team_id) FROM team_members m WHERE m.participant_id = c.participant_id),
                p.time_zone,
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a.steps) FROM activity_days a
                 WHERE a.participant_id = c.participant_id)
         FROM provider_connections c JOIN participants p ON p.id = c.participant_id
         WHERE c.sync_status = 'active' AND c.provider = 'fitbit'
           AND EXISTS (SELECT 1 FROM team_members m WHERE m.participant_id = c.participant_id)
         ORDER BY c.participant_id",
    )
    .fetch_all(&pool)
    .await?;
    anyhow::ensure!(!rows.is_empty(), "no connected team members in the database");
    let participants: Vec<Participant> = rows
        .into_iter()
        .map(|(user, id, team, zone, usual)| Participant {
            user,
            id,
            team,
            zone: zone.parse().unwrap_or(Tz::UTC),
            usual: usual.unwrap_or(6500.0),
        })
        .collect();
    let stored: HashMap<(i64, NaiveDate), u32> = sqlx::query_as::<_, (i64, NaiveDate, i32)>(
        "SELECT participant_id, day, steps FROM activity_days WHERE day >= current_date - 5",
    )
    .fetch_all(&pool)
    .await?
    .into_iter()
    .map(|(p, d, s)| ((p, d), s.max(0) as u32))
    .collect();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = start_reader(&settings, seen.clone(), stop.clone())?;
    sim.reset_stats().await?;

    let start_wall = Utc::now() + chrono::Duration::milliseconds(500);
    let (syncs, shapes) = plan(&args, &participants, &stored, start_wall);
    let participants = Arc::new(participants);
    eprintln!(
        "{} participants, {} syncs planned over {} s ({shapes:?})",
        participants.len(),
        syncs.len(),
        args.seconds
    );

    // --- the load -----------------------------------------------------------------------------
    let tally = Arc::new(Mutex::new(Tally::default()));
    let permits = Arc::new(Semaphore::new(args.in_flight.max(1)));
    let start = tokio::time::Instant::now() + Duration::from_millis(500);
    let load_start_ms = start_wall.timestamp_micros() as f64 / 1000.0;
    let mut tasks = Vec::with_capacity(syncs.len());
    for sync in syncs {
        let due = start + Duration::from_millis(sync.at_ms);
        tokio::time::sleep_until(due).await;
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        let lag = tokio::time::Instant::now().saturating_duration_since(due).as_secs_f64() * 1000.0;
        let (sim, tally, participants, permits) =
            (sim.clone(), tally.clone(), participants.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let user = participants[sync.who].user.clone();
            let count = sync.dates.len();
            {
                let mut t = tally.lock().unwrap();
                t.dispatch_lag_ms = t.dispatch_lag_ms.max(lag);
            }
            for (date, steps) in &sync.dates {
                let sent = now_ms();
                let result = tokio::time::timeout(
                    Duration::from_secs(15),
                    sim.set_day(&user, *date, day_data(*steps)),
                )
                .await;
                let took = now_ms() - sent;
                let mut t = tally.lock().unwrap();
                match result {
                    Ok(Ok(deliveries)) => {
                        t.record_posts(&deliveries, sent, took);
                        t.changes.push(Change {
                            who: sync.who,
                            date: *date,
                            steps: *steps,
                            sent_ms: sent,
                            dates_in_sync: count,
                        });
                    }
                    Ok(Err(error)) => {
                        eprintln!("set_day {user} {date}: {error}");
                        t.failed_requests += 1;
                    }
                    Err(_) => {
                        eprintln!("set_day {user} {date}: timed out");
                        t.failed_requests += 1;
                    }
                }
            }
            drop(permit);
            if sync.duplicates > 0 {
                tokio::time::sleep(Duration::from_millis(sync.duplicate_delay_ms)).await;
                let _permit = permits.acquire().await.expect("semaphore");
                let today = sync.dates.last().expect("a sync changes today").0;
                let notification = Notification::activities(&user, today, &user);
                let sent = now_ms();
                let result = sim.push_notifications(vec![notification], sync.duplicates - 1).await;
                let took = now_ms() - sent;
                let mut t = tally.lock().unwrap();
                match result {
                    Ok(deliveries) => {
                        t.duplicate_posts += deliveries.len() as u64;
                        t.record_posts(&deliveries, sent, took);
                    }
                    Err(error) => {
                        eprintln!("duplicate for {user}: {error}");
                        t.failed_requests += 1;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let load_end_ms = now_ms();
    let load_s = (load_end_ms - load_start_ms) / 1000.0;
    let mut tally = Arc::try_unwrap(tally).ok().expect("tasks done").into_inner().unwrap();
    eprintln!(
        "load done in {load_s:.1}s: {} notification POSTs ({} not 2xx), {} changes",
        tally.posts,
        tally.posts - tally.posts_ok,
        tally.changes.len()
    );

    // --- wait for the last goal events ---------------------------------------------------------
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait_secs);
    loop {
        let (answered, quiet_for) = {
            let seen = seen.lock().unwrap();
            let index = index(&seen);
            let answered = tally
                .changes
                .iter()
                .filter(|c| answer(c, &participants, &seen, &index).goal_ms.is_some())
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
    let waited_s = (now_ms() - load_end_ms) / 1000.0;
    stop.store(true, Ordering::Relaxed);
    reader.join().map_err(|_| anyhow::anyhow!("the topic reader panicked"))?;
    let seen = Arc::try_unwrap(seen).ok().expect("reader stopped").into_inner().unwrap();
    let index = index(&seen);

    // --- figures ------------------------------------------------------------------------------
    tally.changes.sort_by(|a, b| a.sent_ms.total_cmp(&b.sent_ms));
    let mut points = std::io::BufWriter::new(std::fs::File::create(&args.points)?);
    writeln!(
        points,
        "sent_s,goal_s,latency_ms,accepted_ms,notification_ms,activity_ms,fetched_ms,kind,dates"
    )?;
    let (mut e2e, mut on_topic, mut accepted, mut stored_stage, mut goals_stage, mut fetch_stage) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut not_stored, mut no_goal_event) = (0usize, 0usize);
    let (mut by_team, mut by_teammate, mut by_trace) = (0usize, 0usize, 0usize);
    let mut last_goal_ms: f64 = 0.0;
    for change in &tally.changes {
        let a = answer(change, &participants, &seen, &index);
        let rel = |t: Option<f64>| t.map_or(f64::NAN, |t| t - change.sent_ms);
        if let Some(n) = a.notification_ms {
            on_topic.push(n - change.sent_ms);
        }
        if let Some(r) = a.accepted_ms {
            accepted.push(r - change.sent_ms);
        }
        match (a.activity_ms, a.goal_ms) {
            (None, _) => not_stored += 1,
            (Some(_), None) => no_goal_event += 1,
            (Some(act), Some(goal)) => {
                e2e.push(goal - change.sent_ms);
                stored_stage.push(act - change.sent_ms);
                goals_stage.push(goal - act);
                if let Some(n) = a.notification_ms {
                    fetch_stage.push(act - n);
                }
                match a.goal_kind {
                    "team" => by_team += 1,
                    "teammate" => by_teammate += 1,
                    _ => {}
                }
                by_trace += usize::from(a.by_trace);
                last_goal_ms = last_goal_ms.max(goal);
                writeln!(
                    points,
                    "{:.3},{:.3},{:.1},{:.1},{:.1},{:.1},{:.1},{},{}",
                    (change.sent_ms - load_start_ms) / 1000.0,
                    (goal - load_start_ms) / 1000.0,
                    goal - change.sent_ms,
                    rel(a.accepted_ms),
                    rel(a.notification_ms),
                    rel(a.activity_ms),
                    rel(a.fetched_ms),
                    a.goal_kind,
                    change.dates_in_sync
                )?;
            }
        }
    }
    points.flush()?;
    for v in [
        &mut e2e,
        &mut on_topic,
        &mut accepted,
        &mut stored_stage,
        &mut goals_stage,
        &mut fetch_stage,
    ] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    let mut post_ms = tally.post_ms.clone();
    post_ms.sort_by(|a, b| a.total_cmp(b));
    let mut relay_ms = seen.relay_ms.clone();
    relay_ms.sort_by(|a, b| a.total_cmp(b));
    // Notifications per second, by the second they were sent in.
    let mut per_second: BTreeMap<i64, u64> = BTreeMap::new();
    for sent in &tally.post_sent_ms {
        *per_second.entry(((sent - load_start_ms) / 1000.0).floor() as i64).or_default() += 1;
    }
    let peak_rate = per_second.values().copied().max().unwrap_or(0);
    let first_sent = tally.post_sent_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let last_sent = tally.post_sent_ms.iter().copied().fold(0.0, f64::max);
    let send_span_s = ((last_sent - first_sent) / 1000.0).max(1.0);
    let changed_days: std::collections::HashSet<(usize, NaiveDate)> =
        tally.changes.iter().map(|c| (c.who, c.date)).collect();
    let stats = sim.stats().await?;
    let calls = |kind: &str| stats.api_calls_by_endpoint.get(kind).copied().unwrap_or(0);
    let (data_calls, by_endpoint) = fitex_bench::provider_calls(&stats);
    let shapes = shapes.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(",");
    let p = |v: &[f64], q: f64| percentile(v, q);
    println!(
        "RESULT participants={} syncs_shape={shapes} changes={} changed_user_days={} posts={} posts_ok={} \
         duplicate_posts={} failed_requests={} notifications_on_topic={} load_s={load_s:.1} \
         send_span_s={send_span_s:.1} accepted_per_s={:.1} peak_per_s={peak_rate} \
         post_p50_ms={:.2} post_p99_ms={:.2} dispatch_lag_ms={:.0} \
         data_calls={data_calls} profile_calls={} calls_by_endpoint={by_endpoint} rate_limited={} \
         calls_per_day={:.3} naive_calls_per_day={:.3} \
         answered={} answered_by_trace={by_trace} answered_by_team_event={by_team} answered_by_teammate_event={by_teammate} not_stored={not_stored} no_goal_event={no_goal_event} \
         e2e_p50_ms={:.0} e2e_p90_ms={:.0} e2e_p99_ms={:.0} e2e_max_ms={:.0} \
         accepted_p50_ms={:.1} accepted_p99_ms={:.1} \
         notification_p50_ms={:.0} notification_p99_ms={:.0} stored_p50_ms={:.0} stored_p99_ms={:.0} \
         fetch_stage_p50_ms={:.0} fetch_stage_p99_ms={:.0} goals_stage_p50_ms={:.0} goals_stage_p99_ms={:.0} \
         relay_p50_ms={:.0} relay_p99_ms={:.0} \
         activity_events={} goal_events={} team_events={} waited_s={waited_s:.1} \
         drain_s={:.1} load_start_ms={load_start_ms:.0}",
        participants.len(),
        tally.changes.len(),
        changed_days.len(),
        tally.posts,
        tally.posts_ok,
        tally.duplicate_posts,
        tally.failed_requests,
        seen.notification_count,
        tally.posts_ok as f64 / send_span_s,
        p(&post_ms, 0.5),
        p(&post_ms, 0.99),
        tally.dispatch_lag_ms,
        calls("profile"),
        stats.rate_limited,
        data_calls as f64 / changed_days.len().max(1) as f64,
        tally.posts_ok as f64 / changed_days.len().max(1) as f64,
        e2e.len(),
        p(&e2e, 0.5),
        p(&e2e, 0.9),
        p(&e2e, 0.99),
        e2e.last().copied().unwrap_or(f64::NAN),
        p(&accepted, 0.5),
        p(&accepted, 0.99),
        p(&on_topic, 0.5),
        p(&on_topic, 0.99),
        p(&stored_stage, 0.5),
        p(&stored_stage, 0.99),
        p(&fetch_stage, 0.5),
        p(&fetch_stage, 0.99),
        p(&goals_stage, 0.5),
        p(&goals_stage, 0.99),
        p(&relay_ms, 0.5),
        p(&relay_ms, 0.99),
        seen.activities.len(),
        seen.goal_events,
        seen.team_events,
        if last_goal_ms > 0.0 { (last_goal_ms - last_sent) / 1000.0 } else { f64::NAN },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv =
            vec!["pipeline-load", "--sim-url", "http://127.0.0.1:1", "--points", "p.csv"];
        argv.extend_from_slice(extra);
        Args::parse_from(argv)
    }

    fn participant(id: i64, team: i64, zone: Tz) -> Participant {
        Participant { user: format!("U{id}"), id, team, zone, usual: 8000.0 }
    }

    #[test]
    fn each_participants_syncs_are_spaced_and_only_raise_their_days() {
        let args = args(&["--seconds", "60", "--multi-share", "0.5"]);
        let zones = [Tz::UTC, Tz::America__New_York, Tz::Pacific__Auckland];
        let participants: Vec<Participant> =
            (0..200).map(|i| participant(i, i / 8, zones[i as usize % 3])).collect();
        let start = "2026-11-30T23:59:30Z".parse::<DateTime<Utc>>().unwrap();
        let today_utc = start.date_naive();
        let stored = HashMap::from([((0, today_utc), 5_000u32)]);
        let (syncs, shapes) = plan(&args, &participants, &stored, start);
        assert_eq!(shapes["participants"], 200);
        assert_eq!(shapes["syncs"], syncs.len());
        assert!(shapes.get("two_day_first_syncs").copied().unwrap_or(0) > 0);
        assert!(syncs.windows(2).all(|w| w[0].at_ms <= w[1].at_ms), "in time order");
        let mut last: HashMap<usize, u64> = HashMap::new();
        let mut steps: HashMap<(usize, NaiveDate), u32> = HashMap::new();
        let mut per_participant: HashMap<usize, usize> = HashMap::new();
        for sync in &syncs {
            assert!(sync.at_ms < 60_000);
            if let Some(previous) = last.insert(sync.who, sync.at_ms) {
                assert!(sync.at_ms - previous >= args.min_gap_ms, "syncs of one person 5 s apart");
            }
            *per_participant.entry(sync.who).or_default() += 1;
            // The last date is the participant's local today at the sync (this run crosses UTC
            // midnight, so some syncs are on the next day).
            let when = start + chrono::Duration::milliseconds(sync.at_ms as i64);
            let today = when.with_timezone(&participants[sync.who].zone).date_naive();
            assert_eq!(sync.dates.last().unwrap().0, today);
            assert!(sync.dates.windows(2).all(|w| w[0].0 < w[1].0), "oldest date first");
            for (date, value) in &sync.dates {
                let before = steps.insert((sync.who, *date), *value);
                assert!(before.is_none_or(|b| b < *value), "a change always raises the day");
            }
        }
        assert!(per_participant.values().all(|n| (3..=6).contains(n)));
        // A day stored before the run only grows from its stored steps.
        if let Some(first) =
            syncs.iter().find(|s| s.who == 0 && s.dates.iter().any(|d| d.0 == today_utc))
        {
            assert!(first.dates.iter().find(|d| d.0 == today_utc).unwrap().1 > 5_000);
        }
    }

    fn activity(
        participant: i64,
        steps: i32,
        trace: &str,
        offset: i64,
        produced_ms: f64,
    ) -> Activity {
        Activity {
            participant,
            date: "2026-11-30".parse().unwrap(),
            steps,
            trace: trace.into(),
            offset,
            recv_ms: produced_ms + 5.0,
            fetched_ms: produced_ms - 20.0,
            produced_ms,
        }
    }

    fn change(steps: u32) -> Change {
        Change {
            who: 0,
            date: "2026-11-30".parse().unwrap(),
            steps,
            sent_ms: 1_000.0,
            dates_in_sync: 1,
        }
    }

    #[test]
    fn a_change_is_answered_by_its_own_recomputation_from_the_first_event_that_stored_it() {
        let people = [participant(7, 70, Tz::UTC)];
        let mut seen = Seen::default();
        seen.activities.push(activity(7, 900, "t-old", 1, 1_100.0));
        seen.activities.push(activity(7, 1_200, "t-new", 2, 1_300.0));
        seen.goal_by_trace.insert("t-old".into(), (1_150.0, "goal"));
        seen.goal_by_trace.insert("t-new".into(), (1_500.0, "team"));
        let index = index(&seen);
        let answer = answer(&change(1_200), &people, &seen, &index);
        assert_eq!(answer.activity_ms, Some(1_305.0));
        assert_eq!(
            (answer.goal_ms, answer.goal_kind),
            (Some(1_500.0), "team"),
            "not the older event's"
        );
        let too_many = answer_for(&change(5_000), &people, &seen);
        assert_eq!((too_many.activity_ms, too_many.goal_ms), (None, None), "never stored");
    }

    fn answer_for(change: &Change, people: &[Participant], seen: &Seen) -> Answer {
        answer(change, people, seen, &index(seen))
    }

    #[test]
    fn a_change_is_answered_by_its_notifications_trace_when_the_hops_join() {
        let people = [participant(7, 70, Tz::UTC)];
        let mut seen = Seen::default();
        let key = ("U7".to_string(), "2026-11-30".to_string());
        seen.notifications.insert(
            key.clone(),
            vec![SeenNotification {
                accepted_ms: 1_010.0,
                recv_ms: 1_020.0,
                trace: "t-own".into(),
            }],
        );
        seen.activities.push(activity(7, 1_200, "t-own", 2, 1_300.0));
        // A teammate's team event computed after the change was produced comes first, but the
        // change's own trace answers it.
        seen.team_events_by_team.insert(70, vec![(1_350.0, 1_400.0)]);
        seen.goal_by_trace.insert("t-own".into(), (1_500.0, "team"));
        let answer = answer_for(&change(1_200), &people, &seen);
        assert_eq!(
            (answer.goal_ms, answer.goal_kind, answer.by_trace),
            (Some(1_500.0), "team", true)
        );
        assert_eq!((answer.notification_ms, answer.activity_ms), (Some(1_020.0), Some(1_305.0)));
        // Its trace reached no goal event (or stored fewer steps): the rule without traces.
        seen.goal_by_trace.clear();
        let answer = answer_for(&change(1_200), &people, &seen);
        assert_eq!(
            (answer.goal_ms, answer.goal_kind, answer.by_trace),
            (Some(1_400.0), "teammate", false)
        );
        seen.goal_by_trace.insert("t-own".into(), (1_500.0, "team"));
        assert!(
            !answer_for(&change(1_300), &people, &seen).by_trace,
            "the event stored fewer steps"
        );
    }

    #[test]
    fn a_teammates_team_event_counts_only_when_computed_after_the_change_was_produced() {
        let people = [participant(7, 70, Tz::UTC)];
        let mut seen = Seen::default();
        seen.activities.push(activity(7, 1_200, "t-own", 1, 1_300.0));
        // Computed before the change reached Kafka: it may not have read it.
        seen.team_events_by_team.insert(70, vec![(1_290.0, 1_310.0)]);
        assert_eq!(answer_for(&change(1_200), &people, &seen).goal_ms, None);
        // Another team's event never counts; this team's later one does, before the own event.
        seen.team_events_by_team.insert(71, vec![(1_301.0, 1_320.0)]);
        seen.team_events_by_team.get_mut(&70).unwrap().push((1_350.0, 1_400.0));
        seen.goal_by_trace.insert("t-own".into(), (1_600.0, "goal"));
        let answer = answer_for(&change(1_200), &people, &seen);
        assert_eq!((answer.goal_ms, answer.goal_kind), (Some(1_400.0), "teammate"));
        // The participant's own team event, also an event of their team, keeps its own label.
        seen.goal_by_trace.insert("t-own".into(), (1_400.0, "team"));
        let answer = answer_for(&change(1_200), &people, &seen);
        assert_eq!((answer.goal_ms, answer.goal_kind), (Some(1_400.0), "team"));
    }
}
