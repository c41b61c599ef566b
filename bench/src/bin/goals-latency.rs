//! Load driver for `bench/goals.sh`: a program with `teams` teams of `team_size` members, 21 days
//! of stored history each; then one activity-day event per participant (today's steps), published
//! at `rate` events/s as the fetcher would, while the goal and team-progress topics are read. Prints
//! the latency from each event's publication to the first goal event for its participant (p50/p99),
//! and the recomputation throughput. Reads the database and topics from the configuration
//! (`FITEX__…` variables), as the goals service does.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Parser;
use fitex_common::kafka::KafkaSettings;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_proto::{ActivityDayChanged, GoalChanged, Message as _};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::Message;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100)]
    teams: usize,
    #[arg(long, default_value_t = 10)]
    team_size: usize,
    /// Events published per second.
    #[arg(long, default_value_t = 200)]
    rate: u32,
}

#[derive(Deserialize)]
struct Settings {
    database: fitex_common::database::DatabaseSettings,
    kafka: KafkaSettings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings: Settings = fitex_common::config::load().context("configuration")?;
    let pool = settings.database.lazy_pool();
    let today = Utc::now().date_naive();
    let start = today - chrono::Duration::days(20);
    let program: i64 = sqlx::query_scalar(
        "INSERT INTO programs (name, start_date, weeks, unit, goal_settings, mile_rules)
         VALUES ($1, $2, 8, 'fitex_miles', '{}'::jsonb, '{}'::jsonb) RETURNING id",
    )
    .bind(format!("bench {}", Uuid::new_v4()))
    .bind(start)
    .fetch_one(&pool)
    .await?;
    let mut participants = Vec::new();
    for t in 0..args.teams {
        let team: i64 =
            sqlx::query_scalar("INSERT INTO teams (program_id, name) VALUES ($1, $2) RETURNING id")
                .bind(program)
                .bind(format!("team {t}"))
                .fetch_one(&pool)
                .await?;
        for _ in 0..args.team_size {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO participants (time_zone) VALUES ('UTC') RETURNING id",
            )
            .fetch_one(&pool)
            .await?;
            sqlx::query(
                "INSERT INTO team_members (team_id, participant_id, joined_on) VALUES ($1, $2, $3)",
            )
            .bind(team)
            .bind(id)
            .bind(start)
            .execute(&pool)
            .await?;
            sqlx::query(
                "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
                     lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes, source, fetched_at)
                 SELECT $1, d::date, 4000 + (random() * 6000)::int, 4.0, 600, 200, 15, 10, 800, 'fitbit', now()
                 FROM generate_series($2::date, $3::date, interval '1 day') AS d",
            )
            .bind(id)
            .bind(start)
            .bind(today)
            .execute(&pool)
            .await?;
            participants.push(id);
        }
    }
    eprintln!("{} participants in {} teams seeded", participants.len(), args.teams);

    let consumer: StreamConsumer = settings
        .kafka
        .consumer_config(&format!("bench-goals-reader-{}", Uuid::new_v4().simple()), "bench")
        .set("auto.offset.reset", "latest")
        .create()?;
    consumer.subscribe(&[settings.kafka.topics.goals.as_str()])?;
    // Wait for the reader's assignment before publishing.
    let ready_by = Instant::now() + Duration::from_secs(20);
    while consumer.assignment().map(|a| a.count()).unwrap_or(0) == 0 && Instant::now() < ready_by {
        let _ = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await;
    }

    let producer = settings.kafka.recovering_producer("bench-goals")?;
    let sent_at: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let started = Instant::now();
    let date = today.format("%Y-%m-%d").to_string();
    let publisher = {
        let (participants, producer, topic) =
            (participants.clone(), producer.clone(), settings.kafka.topics.activity_days.clone());
        let (sent_at, date) = (sent_at.clone(), date.clone());
        tokio::spawn(async move {
            let mut next = Instant::now();
            for id in participants {
                tokio::time::sleep_until(next.into()).await;
                next += interval;
                let event_id = Uuid::now_v7();
                let event = ActivityDayChanged {
                    event_id: event_id.to_string(),
                    participant_id: id,
                    date: date.clone(),
                    time_zone: "UTC".into(),
                    steps: 8000,
                    ..Default::default()
                };
                let record = OutgoingRecord {
                    event_id,
                    topic: topic.clone(),
                    key: id.to_string(),
                    payload: event.encode_to_vec(),
                    headers: vec![("event_id".into(), event_id.to_string())],
                };
                sent_at.lock().unwrap().insert(id, Instant::now());
                let failures =
                    outbox::send_all(&producer, &[record], Duration::from_secs(10)).await;
                assert!(failures.is_empty(), "publish failed");
            }
        })
    };
    let expected = participants.len();
    let deadline =
        Instant::now() + Duration::from_secs(60 + expected as u64 / u64::from(args.rate.max(1)));
    let mut latencies: Vec<Duration> = Vec::new();
    let mut seen = HashSet::new();
    while seen.len() < expected && Instant::now() < deadline {
        let Ok(Ok(message)) =
            tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await
        else {
            continue;
        };
        let Ok(event) = GoalChanged::decode(message.payload().unwrap_or_default()) else {
            continue;
        };
        if event.effective_date != date || !seen.insert(event.participant_id) {
            continue;
        }
        if let Some(sent) = sent_at.lock().unwrap().get(&event.participant_id) {
            latencies.push(Instant::now().saturating_duration_since(*sent));
        }
    }
    publisher.await?;
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "RESULT participants={expected} goal_events={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} seconds={elapsed:.1} per_second={:.1}",
        seen.len(),
        pct(0.5),
        pct(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        seen.len() as f64 / elapsed
    );
    Ok(())
}
