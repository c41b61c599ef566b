//! The whole pipeline as processes — simulator, subscriber, fetcher and goals replicas — on a
//! broker of its own (sqlite storage: it survives `kill -9`) and a database of its own, with a
//! supervisor that restarts a crashed service (as Kubernetes would), a load driver that remembers
//! every change it made at the simulator, and the accounting check (`Pipeline::account`; the
//! invariants and the self-test that proves each check can fail are in docs/reliability.md).
//!
//! `CHAOS_DEBUG=1` makes the services log their Kafka consumer-group traffic (librdkafka `cgrp`)
//! and the broker its group coordinator, for the diagnosis written when a consumer group does not
//! catch up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use fitex_common::kafka::KafkaSettings;
use fitex_e2e::{
    connect_simulated_fitbit_user, infrastructure_env, test_token_cipher, Fitexctl, ServiceProcess,
};
use fitex_proto::{
    ActivityDayChanged, DeadLetter, GoalChanged, Message, ProviderNotification, TeamProgressChanged,
};
use fitex_provider_simulator::{
    CreateUser, DayData, Notification, Simulator, SimulatorConfig, SimulatorHandle,
};
use fitex_testkit::PrivateBroker;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;

use crate::events::{
    self, Counts, DayValues as EventDay, Event, Finding, GoalValues, Kind, Stream, TeamValues,
};
use crate::readback::{self, PartitionLag, ReadBack, Record};

/// What the accounting compares of a day: steps, fairly and very active minutes, worn minutes.
type DayValues = (i32, i32, i32, Option<i32>);

pub const WEBHOOK_SECRET: &str = "chaos-fitbit-client-secret-0123456789";

/// How big a run is: `CHAOS_USERS` participants, `CHAOS_ROUNDS` changes per phase.
pub struct Size {
    pub users: usize,
    pub rounds: usize,
}

impl Size {
    pub fn from_env() -> Self {
        let read = |name: &str, default: usize| {
            std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
        };
        Size { users: read("CHAOS_USERS", 16), rounds: read("CHAOS_ROUNDS", 40) }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Role {
    Subscriber,
    Fetcher,
    Goals,
}

struct Service {
    role: Role,
    name: &'static str,
    env: Vec<(&'static str, String)>,
    process: ServiceProcess,
    port: u16,
    /// Deliberately stopped: not restarted by the supervisor.
    retired: bool,
}

pub struct Pipeline {
    pub broker: PrivateBroker,
    pub kafka: KafkaSettings,
    pub pool: PgPool,
    pub sim: SimulatorHandle,
    pub ctl: Fitexctl,
    common: Vec<(&'static str, String)>,
    services: Vec<Service>,
    subscriber_port: u16,
    pub users: Vec<String>,
    pub participants: BTreeMap<String, i64>,
    pub program: String,
    /// Every change made at the simulator: its latest value per user-day.
    pub expected: BTreeMap<(String, NaiveDate), DayData>,
    /// Notifications the simulator delivered (2xx from the subscriber) and those it could not.
    pub delivered: usize,
    pub undelivered: usize,
    pub restarts: usize,
    /// The logs of processes that died and were replaced: role, name, log.
    dead_logs: Vec<(Role, String, String)>,
    /// What happened to the services, with the time into the run.
    pub timeline: Vec<String>,
    rng: rand::rngs::StdRng,
    started: Instant,
}

fn day_data(rng: &mut impl Rng) -> DayData {
    let steps = rng.random_range(800..16_000);
    DayData {
        steps,
        distance_km: steps as f64 * 0.00075,
        sedentary_minutes: 600,
        lightly_active_minutes: rng.random_range(60..300),
        fairly_active_minutes: rng.random_range(0..45),
        very_active_minutes: rng.random_range(0..40),
        worn_minutes: rng.random_range(300..1_000),
        resting_heart_rate: Some(60),
    }
}

impl Pipeline {
    /// Starts everything and connects `size.users` participants in one team of a season.
    pub async fn start(size: &Size, seed: u64) -> Self {
        let broker = PrivateBroker::start_durable();
        let kafka = fitex_testkit::test_kafka_on(&broker.address(), 4).await;
        let (database, pool) = fitex_testkit::test_database().await;
        let subscriber_port = fitex_testkit::free_port();
        let sim = Simulator::spawn(SimulatorConfig {
            client_secret: WEBHOOK_SECRET.into(),
            subscriber_url: Some(format!("http://127.0.0.1:{subscriber_port}/webhooks/fitbit")),
            rate_limit_per_hour: 1_000_000,
            ..SimulatorConfig::default()
        })
        .await
        .expect("simulator");
        let base = sim.base_url();
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut common = infrastructure_env(&kafka, &database);
        common.extend([
            ("FITEX__FITBIT__CLIENT_SECRETS", WEBHOOK_SECRET.to_string()),
            ("FITEX__FITBIT_API__API_BASE_URL", base.clone()),
            ("FITEX__FITBIT_API__TOKEN_URL", format!("{base}/oauth2/token")),
            ("FITEX__FITBIT_API__CLIENT_ID", "SIMCLIENT".to_string()),
            ("FITEX__FITBIT_API__CLIENT_SECRET", "sim-client-secret".to_string()),
            ("FITEX__FETCHER__GROUP_ID", format!("chaos-fetcher-{run}")),
            ("FITEX__FETCHER__RETRY_BASE_MS", "300".to_string()),
            ("FITEX__FETCHER__RETRY_MAX_MS", "3000".to_string()),
            ("FITEX__FETCHER__MAX_ATTEMPTS", "10".to_string()),
            ("FITEX__FETCHER__CATCH_UP_AFTER_S", "0".to_string()),
            ("FITEX__GOALS__GROUP_ID", format!("chaos-goals-{run}")),
            ("FITEX__TELEMETRY__LOG_FILTER", "info,rdkafka=warn,sqlx=warn".to_string()),
        ]);
        if std::env::var_os("CHAOS_DEBUG").is_some() {
            common.extend([
                ("RUST_LOG", "info,librdkafka=debug,sqlx=warn".to_string()),
                ("FITEX__KAFKA__EXTRA__DEBUG", "cgrp".to_string()),
            ]);
        }
        let mut pipeline = Pipeline {
            broker,
            kafka,
            pool,
            ctl: Fitexctl { env: common.clone() },
            sim,
            common,
            services: Vec::new(),
            subscriber_port,
            users: Vec::new(),
            participants: BTreeMap::new(),
            program: String::new(),
            expected: BTreeMap::new(),
            delivered: 0,
            undelivered: 0,
            restarts: 0,
            dead_logs: Vec::new(),
            timeline: Vec::new(),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            started: Instant::now(),
        };
        pipeline.add_service(Role::Subscriber, &[]).await;
        pipeline.add_service(Role::Fetcher, &[]).await;
        pipeline.add_service(Role::Goals, &[]).await;
        pipeline.connect_cohort(size.users).await;
        pipeline
    }

    /// Starts one more replica of `role` (with extra environment, e.g. an armed crash point).
    pub async fn add_service(&mut self, role: Role, extra: &[(&'static str, String)]) -> usize {
        let (name, port_var) = match role {
            Role::Subscriber => ("fitex-subscriber", "FITEX__SUBSCRIBER__PORT"),
            Role::Fetcher => ("fitex-fetcher", "FITEX__FETCHER__PORT"),
            Role::Goals => ("fitex-goals", "FITEX__GOALS__PORT"),
        };
        let port = if role == Role::Subscriber {
            self.subscriber_port
        } else {
            fitex_testkit::free_port()
        };
        let mut env = self.common.clone();
        env.push((port_var, port.to_string()));
        env.extend(extra.iter().cloned());
        let process = ServiceProcess::start(name, &env);
        process.wait_healthy(&format!("http://127.0.0.1:{port}/healthz")).await;
        let note = format!("started {name} #{} pid {}", self.services.len(), process.pid());
        self.note(note);
        self.services.push(Service { role, name, env, process, port, retired: false });
        self.services.len() - 1
    }

    /// Adds a line to the timeline.
    pub fn note(&mut self, what: String) {
        self.timeline.push(format!("{:8.1} s  {what}", self.started.elapsed().as_secs_f64()));
    }

    /// Restarts every service that has died (a crash point, a database failure) — without the
    /// crash point that killed it — as an orchestrator would.
    pub async fn supervise(&mut self) {
        let started = self.started;
        for (i, service) in self.services.iter_mut().enumerate().filter(|(_, s)| !s.retired) {
            if service.process.has_exited() {
                let old = service.process.pid();
                self.dead_logs.push((
                    service.role,
                    format!("{} #{i} pid {old} (exited)", service.name),
                    service.process.logs(),
                ));
                service.env.retain(|(k, _)| *k != fitex_common::crash_point::CRASH_AT_VAR);
                service.process = ServiceProcess::start(service.name, &service.env);
                service
                    .process
                    .wait_healthy(&format!("http://127.0.0.1:{}/healthz", service.port))
                    .await;
                self.restarts += 1;
                self.timeline.push(format!(
                    "{:8.1} s  {} #{i} pid {old} had exited; restarted as pid {}",
                    started.elapsed().as_secs_f64(),
                    service.name,
                    service.process.pid()
                ));
            }
        }
    }

    /// Stops a replica gracefully (SIGTERM): its partitions move to the others.
    pub fn retire(&mut self, index: usize) {
        let service = &mut self.services[index];
        service.retired = true;
        let clean = service.process.terminate(Duration::from_secs(20));
        let note = format!(
            "retired {} #{index} pid {} (SIGTERM; exited cleanly: {clean})",
            service.name,
            service.process.pid()
        );
        self.note(note);
    }

    /// Indexes of the live replicas of `role`.
    pub fn replicas(&self, role: Role) -> Vec<usize> {
        (0..self.services.len())
            .filter(|&i| self.services[i].role == role && !self.services[i].retired)
            .collect()
    }

    pub fn logs(&self) -> String {
        let mut logs: Vec<String> = self.services.iter().map(|s| s.process.logs()).collect();
        logs.extend(self.dead_logs.iter().map(|(_, name, log)| format!("--- {name} ---\n{log}")));
        logs.join("\n")
    }

    async fn connect_cohort(&mut self, users: usize) {
        let cipher = test_token_cipher();
        let client = self.sim.client();
        for i in 1..=users {
            let user = format!("CHAOS{i:03}");
            let create = CreateUser {
                user_id: Some(user.clone()),
                timezone: "UTC".into(),
                ..CreateUser::default()
            };
            let connected =
                connect_simulated_fitbit_user(&self.pool, &client, &cipher, create).await;
            self.participants.insert(user.clone(), connected.participant_id);
            self.users.push(user);
        }
        let created = self.ctl.ok(&[
            "programs",
            "create",
            "--name",
            "Chaos season",
            "--started-days-ago",
            "6",
            "--unit",
            "steps",
        ]);
        self.program = created.split_whitespace().nth(1).unwrap().to_owned();
        let team = self.ctl.ok(&["teams", "create", "--program", &self.program, "--name", "Chaos"]);
        let team = team.split_whitespace().nth(1).unwrap().to_owned();
        let from = (Utc::now().date_naive() - chrono::Duration::days(6)).to_string();
        for user in &self.users {
            self.ctl.ok(&["teams", "add", "--team", &team, "--user", user, "--from", &from]);
        }
    }

    /// One of the last four days (UTC, the cohort's zone).
    fn some_day(&mut self) -> NaiveDate {
        Utc::now().date_naive() - chrono::Duration::days(self.rng.random_range(0..4))
    }

    /// `rounds` syncs: a random participant's random recent day changes at the simulator, which
    /// notifies the subscriber (signed). Every change is remembered.
    pub async fn drive(&mut self, rounds: usize) {
        for _ in 0..rounds {
            let user = self.users[self.rng.random_range(0..self.users.len())].clone();
            let date = self.some_day();
            let day = day_data(&mut self.rng);
            self.set_day(&user, date, day).await;
            self.supervise().await;
        }
    }

    /// One change for every participant (yesterday), so that each has synced at least once: a
    /// member who never synced has no goals yet, while a recomputation gives them a provisional
    /// one — a difference the goals check would report (docs/reliability.md).
    pub async fn sync_every_participant(&mut self) {
        let yesterday = Utc::now().date_naive() - chrono::Duration::days(1);
        for user in self.users.clone() {
            let day = day_data(&mut self.rng);
            self.set_day(&user, yesterday, day).await;
        }
    }

    pub async fn set_day(&mut self, user: &str, date: NaiveDate, day: DayData) {
        let deliveries = self.sim.client().set_day(user, date, day).await.expect("simulator");
        self.expected.insert((user.to_owned(), date), day);
        self.count(&deliveries);
    }

    fn count(&mut self, deliveries: &[fitex_provider_simulator::Delivery]) {
        for delivery in deliveries {
            match delivery.status {
                Some(status) if (200..300).contains(&status) => self.delivered += 1,
                _ => self.undelivered += 1,
            }
        }
    }

    /// Notifications for days that did not change: repeats, and older dates after newer ones.
    pub async fn repeat_notifications(&mut self, count: usize, duplicates: usize) {
        let known: Vec<(String, NaiveDate)> = self.expected.keys().cloned().collect();
        for _ in 0..count {
            let (user, date) = known[self.rng.random_range(0..known.len())].clone();
            let notification = Notification::activities(&user, date, &format!("{user}-all"));
            let deliveries = self
                .sim
                .client()
                .push_notifications(vec![notification], duplicates)
                .await
                .expect("simulator");
            self.count(&deliveries);
        }
    }

    /// A provider-side problem the simulator plays for the next calls.
    pub async fn provider_fault(&self, fault: fitex_provider_simulator::Fault) {
        self.sim.client().set_fault(fault).await.expect("simulator");
    }

    /// Restarts PostgreSQL (every connection of every service is cut).
    pub fn restart_postgres(&self) {
        let version = std::fs::read_dir("/etc/postgresql")
            .expect("PostgreSQL's configuration")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
            .expect("a PostgreSQL cluster");
        let status = std::process::Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "restart"])
            .status()
            .expect("pg_ctlcluster");
        assert!(status.success(), "PostgreSQL did not restart");
    }

    /// Waits until every change the simulator made is stored, then checks everything (the
    /// invariants of docs/reliability.md, "No loss under faults").
    pub async fn account(&mut self, scenario: &str, settle: Duration) -> Report {
        self.account_within(scenario, settle, QUIESCE).await
    }

    /// `account`, waiting at most `quiesce` for the consumers to commit everything and the outbox
    /// to empty (the self-test breaks those on purpose and need not wait long).
    pub async fn account_within(
        &mut self,
        scenario: &str,
        settle: Duration,
        quiesce: Duration,
    ) -> Report {
        // 1. Every change stored with its latest values.
        let deadline = Instant::now() + settle;
        let mut mismatches;
        loop {
            self.supervise().await;
            mismatches = self.mismatches().await;
            if mismatches.is_empty() || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let settled_after = self.started.elapsed();
        let mut phase = Instant::now();
        let mut timings = Vec::new();
        let mut lap = |name: &str| {
            timings.push((name.to_owned(), phase.elapsed().as_secs_f64()));
            phase = Instant::now();
        };
        // 3 and 4. Nothing left in the outbox; every consumer group committed every readable
        // record (in one moment: a relayed record makes new lag).
        let quiet = self.wait_quiescent(quiesce).await;
        lap("quiescence");
        let diagnose_anyway = std::env::var_os("CHAOS_DIAGNOSE_ALWAYS").is_some();
        let diagnosis = if quiet.lagging.is_empty() && quiet.lag_error.is_none() && !diagnose_anyway
        {
            None
        } else {
            Some(self.diagnose(scenario, &quiet).await)
        };
        // 2. What was published against what is stored.
        let audit = self.audit_events().await;
        lap("event audit");
        // 6. Dead letters.
        let dead_letters = self.dead_letters().await;
        let unexplained: Vec<String> = dead_letters
            .iter()
            .filter(|(_, reason)| reason.trim().is_empty())
            .map(|(key, _)| key.clone())
            .collect();
        lap("dead letters");
        // 5. Goals against a from-scratch recomputation: only once the goals service has
        // consumed everything (else it would race the recomputation).
        let caught_up = quiet.lagging.is_empty() && quiet.lag_error.is_none();
        let (goals_checked, goal_differences, goal_rows) = if caught_up {
            let (differences, rows) = self.goals_against_a_recomputation().await;
            (true, differences, rows)
        } else {
            (false, Vec::new(), 0)
        };
        lap("recomputation");
        Report {
            scenario: scenario.to_owned(),
            user_days_changed: self.expected.len(),
            notifications_delivered: self.delivered,
            notifications_undelivered: self.undelivered,
            mismatches,
            event_findings: audit.findings,
            events: audit.counts,
            topics_read_whole: audit.whole,
            outbox_left: quiet.outbox_left,
            lagging: quiet.lagging,
            lag_error: quiet.lag_error,
            goals_checked,
            goal_differences,
            goal_rows,
            dead_letters: dead_letters.len(),
            unexplained_dead_letters: unexplained,
            watermark_notes: audit.watermark_notes,
            restarts: self.restarts,
            consumer_rejoins: self.logs().matches(REJOIN_LOG).count(),
            seconds: settled_after.as_secs_f64(),
            diagnosis,
            timings,
        }
    }

    /// The user-days whose stored values are not the simulator's latest.
    async fn mismatches(&self) -> Vec<String> {
        let rows: Vec<(i64, NaiveDate, i32, i32, i32, Option<i32>)> = sqlx::query_as(
            "SELECT participant_id, day, steps, fairly_active_minutes, very_active_minutes, worn_minutes
             FROM activity_days",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default();
        let stored: BTreeMap<(i64, NaiveDate), DayValues> =
            rows.into_iter().map(|(p, d, s, f, v, w)| ((p, d), (s, f, v, w))).collect();
        let mut wrong = Vec::new();
        for ((user, date), day) in &self.expected {
            let participant = self.participants[user];
            let want = (
                day.steps as i32,
                day.fairly_active_minutes as i32,
                day.very_active_minutes as i32,
                Some(day.worn_minutes as i32),
            );
            match stored.get(&(participant, *date)) {
                Some(got) if *got == want => {}
                Some(got) => {
                    wrong.push(format!("{user} {date}: stored {got:?}, changed to {want:?}"))
                }
                None => wrong.push(format!("{user} {date}: not stored")),
            }
        }
        wrong
    }

    async fn outbox_depth(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM kafka_outbox")
            .fetch_one(&self.pool)
            .await
            .unwrap_or(-1)
    }

    pub fn group_id(&self, var: &str) -> String {
        self.common.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// Every consumer group and the topic it must have committed: then all notifications are
    /// fetched, all retries done and every activity event recomputed.
    pub fn consumer_groups(&self) -> Vec<(String, String)> {
        let fetcher = self.group_id("FITEX__FETCHER__GROUP_ID");
        let goals = self.group_id("FITEX__GOALS__GROUP_ID");
        vec![
            (fetcher.clone(), self.kafka.topics.notifications.clone()),
            (format!("{fetcher}-retries"), self.kafka.topics.fetch_retries.clone()),
            (goals, self.kafka.topics.activity_days.clone()),
        ]
    }

    /// Each group's lag on every partition, measured to the last readable record.
    async fn lags(&self) -> Result<Vec<PartitionLag>, String> {
        let mut all = Vec::new();
        for (group, topic) in self.consumer_groups() {
            let brokers = self.kafka.brokers.clone();
            let lags =
                tokio::task::spawn_blocking(move || readback::group_lag(&brokers, &group, &topic))
                    .await
                    .map_err(|e| e.to_string())??;
            all.extend(lags);
        }
        Ok(all)
    }

    /// Waits until, in one pass, the outbox is empty and no group lags; returns the last pass.
    async fn wait_quiescent(&mut self, timeout: Duration) -> Quiet {
        let deadline = Instant::now() + timeout;
        loop {
            self.supervise().await;
            let before = self.outbox_depth().await;
            let lags = self.lags().await;
            let after = self.outbox_depth().await;
            let (lagging, lag_error) = match lags {
                Ok(lags) => (lags.into_iter().filter(|l| l.lag > 0).collect::<Vec<_>>(), None),
                Err(error) => (Vec::new(), Some(error)),
            };
            let quiet = Quiet { outbox_left: before.max(after), lagging, lag_error };
            let done =
                quiet.outbox_left == 0 && quiet.lagging.is_empty() && quiet.lag_error.is_none();
            if done || Instant::now() > deadline {
                return quiet;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits until the consumers have committed everything and the outbox is empty (after the
    /// self-test undid a break by publishing). Returns whether that happened within `timeout`.
    pub async fn wait_quiet(&mut self, timeout: Duration) -> bool {
        let quiet = self.wait_quiescent(timeout).await;
        quiet.outbox_left == 0 && quiet.lagging.is_empty() && quiet.lag_error.is_none()
    }

    /// Reads `topic` to its last readable record.
    pub async fn read_topic(&self, topic: &str) -> ReadBack {
        let (brokers, topic) = (self.kafka.brokers.clone(), topic.to_owned());
        tokio::task::spawn_blocking(move || {
            readback::read_topic(&brokers, &topic, &BTreeMap::new(), Duration::from_secs(30))
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("reading a topic back: {e}"))
    }

    /// Every event of the three event topics, decoded.
    pub async fn published(&self) -> Published {
        let topics = &self.kafka.topics;
        let days = self.read_topic(&topics.activity_days).await;
        let goals = self.read_topic(&topics.goals).await;
        let teams = self.read_topic(&topics.team_progress).await;
        let mut published = Published::default();
        let mut undecodable = Vec::new();
        let (events, bad) = events::decode_all(Stream::ActivityDays, &days.records, |r| {
            let e = ActivityDayChanged::decode(r.payload.as_slice()).ok()?;
            published.days_raw.insert((r.partition, r.offset), e.clone());
            Some(Event {
                key: events::day_key(e.participant_id, &e.date),
                event_id: event_id(&e.event_id, r),
                partition: r.partition,
                offset: r.offset,
                values: EventDay {
                    provider: events::provider_name(e.provider),
                    no_data: e.no_data,
                    steps: e.steps,
                    distance_km: e.distance_km,
                    sedentary: e.sedentary_minutes,
                    lightly_active: e.lightly_active_minutes,
                    fairly_active: e.fairly_active_minutes,
                    very_active: e.very_active_minutes,
                    worn: e.worn_minutes,
                    manual_steps: e.manual_steps,
                },
            })
        });
        published.days = events;
        undecodable.extend(bad);
        let (events, bad) = events::decode_all(Stream::Goals, &goals.records, |r| {
            let e = GoalChanged::decode(r.payload.as_slice()).ok()?;
            published.goals_raw.insert((r.partition, r.offset), e.clone());
            Some(Event {
                key: events::goal_key(e.participant_id, e.program_id, &e.effective_date),
                event_id: event_id(&e.event_id, r),
                partition: r.partition,
                offset: r.offset,
                values: GoalValues {
                    steps: e.steps,
                    strategy: e.strategy,
                    provisional: e.provisional,
                    citation: e.citation,
                    explanation: e.explanation,
                },
            })
        });
        published.goals = events;
        undecodable.extend(bad);
        let (events, bad) = events::decode_all(Stream::TeamProgress, &teams.records, |r| {
            let e = TeamProgressChanged::decode(r.payload.as_slice()).ok()?;
            published.teams_raw.insert((r.partition, r.offset), e.clone());
            Some(Event {
                key: events::team_key(e.team_id, e.program_id, e.week),
                event_id: event_id(&e.event_id, r),
                partition: r.partition,
                offset: r.offset,
                values: TeamValues {
                    goal: events::round3(e.goal),
                    progress: events::round3(e.progress),
                    members: e.members,
                    members_meeting_goal: e.members_meeting_goal,
                },
            })
        });
        published.teams = events;
        undecodable.extend(bad);
        published.undecodable = undecodable;
        published.whole = days.complete && goals.complete && teams.complete;
        published.watermark_notes = [
            days.watermark_notes(&topics.activity_days),
            goals.watermark_notes(&topics.goals),
            teams.watermark_notes(&topics.team_progress),
        ]
        .concat();
        published
    }

    /// The stored rows, keyed as the event audit keys them.
    pub async fn stored(&self) -> Stored {
        #[derive(sqlx::FromRow)]
        struct DayRow {
            participant_id: i64,
            day: NaiveDate,
            source: String,
            no_data: bool,
            steps: i32,
            distance_km: f64,
            sedentary_minutes: i32,
            lightly_active_minutes: i32,
            fairly_active_minutes: i32,
            very_active_minutes: i32,
            worn_minutes: Option<i32>,
            manual_steps: Option<i32>,
        }
        let days: Vec<DayRow> = sqlx::query_as(
            "SELECT participant_id, day, source, no_data, steps, distance_km, sedentary_minutes,
                    lightly_active_minutes, fairly_active_minutes, very_active_minutes,
                    worn_minutes, manual_steps
             FROM activity_days",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        type GoalRow = (i64, i64, NaiveDate, i32, String, bool, String, String);
        let goals: Vec<GoalRow> = sqlx::query_as(
            "SELECT participant_id, program_id, effective_date, steps, strategy, provisional,
                    citation, explanation
             FROM goal_history",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let teams: Vec<(i64, i64, i32, f64, f64, i32, i32)> = sqlx::query_as(
            "SELECT tp.team_id, t.program_id, tp.week, tp.goal, tp.progress, tp.members,
                    tp.members_meeting_goal
             FROM team_progress tp JOIN teams t ON t.id = tp.team_id",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let date = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        Stored {
            days: days
                .into_iter()
                .map(|r| {
                    (
                        events::day_key(r.participant_id, &date(r.day)),
                        EventDay {
                            provider: r.source,
                            no_data: r.no_data,
                            steps: r.steps,
                            distance_km: r.distance_km,
                            sedentary: r.sedentary_minutes,
                            lightly_active: r.lightly_active_minutes,
                            fairly_active: r.fairly_active_minutes,
                            very_active: r.very_active_minutes,
                            worn: r.worn_minutes,
                            manual_steps: r.manual_steps,
                        },
                    )
                })
                .collect(),
            goals: goals
                .into_iter()
                .map(|(p, program, d, steps, strategy, provisional, citation, explanation)| {
                    (
                        events::goal_key(p, program, &date(d)),
                        GoalValues { steps, strategy, provisional, citation, explanation },
                    )
                })
                .collect(),
            teams: teams
                .into_iter()
                .map(|(team, program, week, goal, progress, members, meeting)| {
                    (
                        events::team_key(team, program, week),
                        TeamValues { goal, progress, members, members_meeting_goal: meeting },
                    )
                })
                .collect(),
        }
    }

    /// Invariant 2: the event topics against the stored rows (see `events`).
    async fn audit_events(&self) -> Audit {
        let published = self.published().await;
        let stored = self.stored().await;
        let mut findings = published.undecodable.clone();
        let mut counts = BTreeMap::new();
        let (f, c) = events::audit(Stream::ActivityDays, published.days, &stored.days);
        findings.extend(f);
        counts.insert(Stream::ActivityDays, c);
        let (f, c) = events::audit(Stream::Goals, published.goals, &stored.goals);
        findings.extend(f);
        counts.insert(Stream::Goals, c);
        let (f, c) = events::audit(Stream::TeamProgress, published.teams, &stored.teams);
        findings.extend(f);
        counts.insert(Stream::TeamProgress, c);
        findings.sort();
        Audit {
            findings,
            counts,
            whole: published.whole,
            watermark_notes: published.watermark_notes,
        }
    }

    /// Every dead letter as "user date" and its reason.
    async fn dead_letters(&self) -> Vec<(String, String)> {
        let read = self.read_topic(&self.kafka.topics.dead_letters).await;
        read.records
            .iter()
            .map(|r| {
                let letter = DeadLetter::decode(r.payload.as_slice()).unwrap_or_default();
                let original =
                    ProviderNotification::decode(letter.payload.as_slice()).unwrap_or_default();
                (format!("{} {} ({})", original.owner_id, original.date, r.key), letter.reason)
            })
            .collect()
    }

    async fn goal_snapshot(&self) -> BTreeSet<String> {
        let goals: Vec<(i64, NaiveDate, i32, bool)> = sqlx::query_as(
            "SELECT participant_id, effective_date, steps, provisional FROM goal_history",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        let weeks: Vec<(i64, i32, f64, f64, i32)> = sqlx::query_as(
            "SELECT team_id, week, round(progress::numeric, 3)::float8, round(goal::numeric, 3)::float8,
                    members_meeting_goal FROM team_progress",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap();
        goals
            .iter()
            .map(|g| format!("goal {g:?}"))
            .chain(weeks.iter().map(|w| format!("team {w:?}")))
            .collect()
    }

    /// Recomputes the season from scratch: nothing may change. Returns what changed and how many
    /// rows were compared.
    async fn goals_against_a_recomputation(&mut self) -> (Vec<String>, usize) {
        let before = self.goal_snapshot().await;
        self.ctl.ok(&["goals", "recompute", "--program", &self.program]);
        let after = self.goal_snapshot().await;
        let differences: Vec<String> = before
            .difference(&after)
            .map(|row| format!("was {row}"))
            .chain(after.difference(&before).map(|row| format!("recomputed {row}")))
            .collect();
        (differences, after.len())
    }

    /// What a lagging consumer group looks like: every group's partitions (committed offset,
    /// watermarks, last readable record), the broker's description of the group (members and
    /// their partitions), the run's timeline, the broker's log and the consumers' logs. Written to
    /// a file (`CHAOS_DIAGNOSIS_DIR`, else `FITEX_RUN_DIR`, else the temporary directory).
    async fn diagnose(&self, scenario: &str, quiet: &Quiet) -> String {
        let mut out = format!(
            "chaos diagnosis: {scenario}\nat {} ({:.1} s into the run)\n",
            Utc::now().to_rfc3339(),
            self.started.elapsed().as_secs_f64()
        );
        out += &format!("outbox left: {}\nlag error: {:?}\n", quiet.outbox_left, quiet.lag_error);
        out += "\n== lag per partition (all groups) ==\n";
        match self.lags().await {
            Ok(lags) => {
                for l in lags {
                    out += &format!(
                        "{} {} p{}: committed {:?}, listed high {}, fetched high {:?}, log end {}, lag {}\n",
                        l.group, l.topic, l.partition, l.committed, l.listed_high, l.fetched_high, l.log_end, l.lag
                    );
                }
            }
            Err(e) => out += &format!("(lag unreadable: {e})\n"),
        }
        out += "\n== the broker's stored group state (tansu consumer_group_detail) ==\n";
        out += &self.broker_group_state();
        out += "\n== timeline ==\n";
        out += &self.timeline.join("\n");
        out += "\n\n== broker log (last 200 lines) ==\n";
        let broker_log = self.broker.log();
        let lines: Vec<&str> = broker_log.lines().collect();
        out += &lines[lines.len().saturating_sub(200)..].join("\n");
        for role in [Role::Goals, Role::Fetcher] {
            for (name, log) in self.role_logs(role) {
                let lines: Vec<&str> = log.lines().collect();
                out += &format!("\n\n== {name} (last 300 lines) ==\n");
                out += &lines[lines.len().saturating_sub(300)..].join("\n");
            }
        }
        let dir = std::env::var("CHAOS_DIAGNOSIS_DIR")
            .or_else(|_| std::env::var("FITEX_RUN_DIR"))
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir());
        let _ = std::fs::create_dir_all(&dir);
        let slug: String =
            scenario.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let path = dir.join(format!("chaos-diagnosis-{slug}-{}.txt", Utc::now().timestamp()));
        match std::fs::write(&path, &out) {
            Ok(()) => path.display().to_string(),
            Err(e) => format!("(diagnosis not written: {e})\n{out}"),
        }
    }

    /// The broker's sqlite file (tansu runs in its storage directory).
    fn broker_db(&self) -> Option<std::path::PathBuf> {
        let needle = format!("tcp://127.0.0.1:{}", self.broker.port);
        let pid = std::fs::read_dir("/proc").ok().and_then(|dir| {
            dir.filter_map(|e| e.ok()).find_map(|e| {
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                (cmdline.contains("tansu") && cmdline.contains(&needle)).then(|| e.path())
            })
        })?;
        Some(pid.join("cwd").join("broker.db"))
    }

    /// Every consumer group's state as the broker stores it: (name, detail as JSON).
    fn broker_groups(&self) -> Result<Vec<(String, serde_json::Value)>, String> {
        let db = self.broker_db().ok_or("the broker process was not found")?;
        let output = std::process::Command::new("sqlite3")
            .args(["-readonly", "-json"])
            .arg(&db)
            .arg(
                "SELECT cg.name AS name, d.detail AS detail
                 FROM consumer_group cg JOIN consumer_group_detail d ON d.consumer_group = cg.id",
            )
            .output()
            .map_err(|e| format!("sqlite3: {e}"))?;
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&output.stdout).map_err(|_| {
                format!("{}: {}", db.display(), String::from_utf8_lossy(&output.stderr))
            })?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let name = row["name"].as_str().unwrap_or_default().to_owned();
                let detail = row["detail"]
                    .as_str()
                    .and_then(|d| serde_json::from_str(d).ok())
                    .unwrap_or_default();
                (name, detail)
            })
            .collect())
    }

    /// Kills (SIGKILL) the replica at `index` right after the broker recorded a heartbeat of its
    /// member in `group`: the dead member's session then ends as late as it can. Returns when it
    /// is dead (the supervisor restarts it at its next look).
    pub async fn kill_right_after_a_heartbeat(&mut self, index: usize, group: &str) {
        let last_contacts = |p: &Self| -> Option<serde_json::Value> {
            let groups = p.broker_groups().ok()?;
            let (_, detail) = groups.into_iter().find(|(name, _)| name == group)?;
            let members = detail["members"].as_object()?;
            Some(members.values().map(|m| m["last_contact"].clone()).collect())
        };
        let before = last_contacts(self);
        let deadline = Instant::now() + Duration::from_secs(15);
        while last_contacts(self) == before && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pid = self.services[index].process.pid();
        let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        let note = format!(
            "killed {} #{index} pid {pid} (SIGKILL) right after a heartbeat",
            self.services[index].name
        );
        self.note(note);
        while !self.services[index].process.has_exited() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The group state the broker keeps (tansu stores it as JSON in its sqlite file): members
    /// with their last contact, generation, leader, and each member's assigned partitions.
    fn broker_group_state(&self) -> String {
        let groups = match self.broker_groups() {
            Ok(groups) => groups,
            Err(e) => return format!("({e})\n"),
        };
        let mut out = String::new();
        for (name, detail) in groups {
            out += &format!("group {name}\n");
            out += &format!("  generation {}, state ", detail["generation_id"]);
            let state = &detail["state"];
            if let Some(formed) = state.get("Formed") {
                out += &format!("Formed, leader {}\n", formed["leader"]);
                if let Some(assignments) = formed["assignments"].as_object() {
                    for (member, bytes) in assignments {
                        let bytes: Vec<u8> = bytes
                            .as_array()
                            .map(|a| a.iter().filter_map(|b| b.as_u64()).map(|b| b as u8).collect())
                            .unwrap_or_default();
                        out += &format!(
                            "  assignment of {member}: {}\n",
                            readback::decode_assignment(&bytes)
                        );
                    }
                }
            } else {
                out += &format!("{state}\n");
            }
            if let Some(members) = detail["members"].as_object() {
                for (member, m) in members {
                    out += &format!("  member {member}, last contact {}\n", m["last_contact"]);
                }
            }
        }
        out
    }

    /// The logs of every replica of `role`, live and dead, with a name each.
    fn role_logs(&self, role: Role) -> Vec<(String, String)> {
        let mut logs: Vec<(String, String)> = self
            .dead_logs
            .iter()
            .filter(|(r, _, _)| *r == role)
            .map(|(_, name, log)| (name.clone(), log.clone()))
            .collect();
        for (i, s) in self.services.iter().enumerate().filter(|(_, s)| s.role == role) {
            let state = if s.retired { "retired" } else { "live" };
            logs.push((
                format!("{} #{i} pid {} ({state})", s.name, s.process.pid()),
                s.process.logs(),
            ));
        }
        logs
    }

    // ---------------------------------------------------------------- breaking things on purpose
    // (the accounting's self-test)

    /// Publishes a record as the pipeline's producers do (key, `event_id` header); `partition`
    /// forces one.
    pub async fn publish(
        &self,
        topic: &str,
        key: &str,
        partition: Option<i32>,
        event_id: &str,
        payload: Vec<u8>,
    ) -> (i32, i64) {
        use rdkafka::message::{Header, OwnedHeaders};
        use rdkafka::producer::{FutureProducer, FutureRecord};
        let producer: FutureProducer = self.kafka.producer("chaos-self-test").expect("producer");
        let headers = OwnedHeaders::new().insert(Header { key: "event_id", value: Some(event_id) });
        let mut record =
            FutureRecord::to(topic).key(key).payload(payload.as_slice()).headers(headers);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        producer
            .send(record, Duration::from_secs(15))
            .await
            .map(|d| (d.partition, d.offset))
            .unwrap_or_else(|(e, _)| panic!("publishing to {topic}: {e}"))
    }

    /// Stops every replica of `role` (SIGTERM); returns how many.
    pub fn stop_role(&mut self, role: Role) -> usize {
        let live = self.replicas(role);
        for &i in &live {
            self.retire(i);
        }
        live.len()
    }

    /// Forgets the notifications counted as undelivered (after the self-test lost one on purpose).
    pub fn forget_undelivered(&mut self) {
        self.undelivered = 0;
    }
}

/// The payload's event id, else the record's header.
fn event_id(payload_id: &str, record: &Record) -> String {
    if payload_id.is_empty() {
        record.headers.get("event_id").cloned().unwrap_or_default()
    } else {
        payload_id.to_owned()
    }
}

/// What a consumer logs when it leaves its group to join again (`fitex_common::consume`).
const REJOIN_LOG: &str = "leaving the group to join it again";

/// How long the accounting waits for the consumers to commit everything and the outbox to empty.
pub const QUIESCE: Duration = Duration::from_secs(90);

/// One pass of the quiescence check.
struct Quiet {
    outbox_left: i64,
    lagging: Vec<PartitionLag>,
    lag_error: Option<String>,
}

struct Audit {
    findings: Vec<Finding>,
    counts: BTreeMap<Stream, Counts>,
    whole: bool,
    watermark_notes: Vec<String>,
}

/// The event topics as read back: decoded events per stream, and the raw payloads by
/// (partition, offset) so the self-test can publish altered copies.
#[derive(Default)]
pub struct Published {
    pub days: Vec<Event<EventDay>>,
    pub goals: Vec<Event<GoalValues>>,
    pub teams: Vec<Event<TeamValues>>,
    pub days_raw: BTreeMap<(i32, i64), ActivityDayChanged>,
    pub goals_raw: BTreeMap<(i32, i64), GoalChanged>,
    pub teams_raw: BTreeMap<(i32, i64), TeamProgressChanged>,
    pub undecodable: Vec<Finding>,
    pub whole: bool,
    pub watermark_notes: Vec<String>,
}

/// The stored rows by audit key.
pub struct Stored {
    pub days: BTreeMap<String, EventDay>,
    pub goals: BTreeMap<String, GoalValues>,
    pub teams: BTreeMap<String, TeamValues>,
}

/// What one scenario's accounting found (each field is one check; docs/reliability.md).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub scenario: String,
    pub user_days_changed: usize,
    pub notifications_delivered: usize,
    /// 7. Notifications the subscriber did not answer 2xx.
    pub notifications_undelivered: usize,
    /// 1. User-days not stored with the simulator's latest values.
    pub mismatches: Vec<String>,
    /// 2. The event topics against the stored rows.
    pub event_findings: Vec<Finding>,
    pub events: BTreeMap<Stream, Counts>,
    /// 2. Whether every event topic was read to its last readable record.
    pub topics_read_whole: bool,
    /// 3. Rows left in the outbox.
    pub outbox_left: i64,
    /// 4. Partitions a consumer group has not committed to the end (and why it could not be
    ///    measured, if so).
    pub lagging: Vec<PartitionLag>,
    pub lag_error: Option<String>,
    /// 5. Goals and team weeks against a from-scratch recomputation (not checked while a group
    ///    lags).
    pub goals_checked: bool,
    pub goal_differences: Vec<String>,
    pub goal_rows: usize,
    /// 6. Dead letters, and those without a reason.
    pub dead_letters: usize,
    pub unexplained_dead_letters: Vec<String>,
    /// Partitions whose listed high watermark trailed their last readable record (informative).
    pub watermark_notes: Vec<String>,
    pub restarts: usize,
    /// How often a consumer found itself without partitions while records waited, and joined its
    /// group again (`fitex_common::consume`; the tansu coordinator flaw in docs/reliability.md).
    pub consumer_rejoins: usize,
    pub seconds: f64,
    /// Where the consumer-group diagnosis was written, when a group lagged.
    pub diagnosis: Option<String>,
    /// How long each part of the accounting took (s).
    pub timings: Vec<(String, f64)>,
}

/// One failed check, as the self-test names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    NotStoredLatest(String),
    Event(Stream, Kind, String),
    TopicsNotReadWhole,
    OutboxLeft(i64),
    Lagging { group: String, topic: String, partition: i32, lag: i64 },
    LagUnknown,
    GoalsDiffer,
    GoalsNotChecked,
    UnexplainedDeadLetter(String),
    Undelivered(usize),
}

impl Report {
    /// Every check that failed.
    pub fn failures(&self) -> BTreeSet<Failure> {
        let mut failures = BTreeSet::new();
        failures.extend(self.mismatches.iter().cloned().map(Failure::NotStoredLatest));
        failures.extend(
            self.event_findings.iter().map(|f| Failure::Event(f.stream, f.kind, f.key.clone())),
        );
        if !self.topics_read_whole {
            failures.insert(Failure::TopicsNotReadWhole);
        }
        if self.outbox_left != 0 {
            failures.insert(Failure::OutboxLeft(self.outbox_left));
        }
        failures.extend(self.lagging.iter().map(|l| Failure::Lagging {
            group: l.group.clone(),
            topic: l.topic.clone(),
            partition: l.partition,
            lag: l.lag,
        }));
        if self.lag_error.is_some() {
            failures.insert(Failure::LagUnknown);
        }
        if !self.goals_checked {
            failures.insert(Failure::GoalsNotChecked);
        } else if !self.goal_differences.is_empty() {
            failures.insert(Failure::GoalsDiffer);
        }
        failures.extend(
            self.unexplained_dead_letters.iter().cloned().map(Failure::UnexplainedDeadLetter),
        );
        if self.notifications_undelivered != 0 {
            failures.insert(Failure::Undelivered(self.notifications_undelivered));
        }
        failures
    }

    /// Fails the test, saying what was lost or wrong; records the report either way.
    pub fn assert_no_loss(&self, logs: impl Fn() -> String) {
        self.save();
        if !self.failures().is_empty() {
            let logs = logs();
            let tail: Vec<&str> = logs.lines().rev().take(80).collect();
            panic!(
                "{} lost or broke something: {:#?}\n{self:#?}\n--- last log lines ---\n{}",
                self.scenario,
                self.failures(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let events = |s| self.events.get(&s).map_or(0, |c: &Counts| c.events);
        eprintln!(
            "{}: {} user-days, {} notifications, events {}/{}/{} (activity/goal/team), {} dead letters, {} restarts, {} consumer rejoins, goals consistent ({} rows), {:.1} s",
            self.scenario,
            self.user_days_changed,
            self.notifications_delivered,
            events(Stream::ActivityDays),
            events(Stream::Goals),
            events(Stream::TeamProgress),
            self.dead_letters,
            self.restarts,
            self.consumer_rejoins,
            self.goal_rows,
            self.seconds
        );
        for note in &self.watermark_notes {
            eprintln!("  note: {note}");
        }
    }

    /// Appends the report to `$CHAOS_REPORT` (one JSON line per scenario) when set.
    fn save(&self) {
        let Ok(path) = std::env::var("CHAOS_REPORT") else { return };
        let line = serde_json::to_string(self).unwrap() + "\n";
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(path).expect("report file");
        std::io::Write::write_all(&mut file, line.as_bytes()).unwrap();
    }
}
