//! The whole pipeline as processes — simulator, subscriber, fetcher and goals replicas — on a
//! broker of its own (sqlite storage: it survives `kill -9`) and a database of its own, with a
//! supervisor that restarts a crashed service (as Kubernetes would), a load driver that remembers
//! every change it made at the simulator, and the accounting check.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use fitex_common::kafka::KafkaSettings;
use fitex_e2e::{
    connect_simulated_fitbit_user, infrastructure_env, test_token_cipher, Fitexctl, ServiceProcess,
};
use fitex_fitbit_simulator::{
    CreateUser, DayData, Notification, Simulator, SimulatorConfig, SimulatorHandle,
};
use fitex_proto::{DeadLetter, Message, ProviderNotification};
use fitex_testkit::PrivateBroker;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;

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
    /// The logs of processes that died and were replaced.
    dead_logs: Vec<String>,
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
        self.services.push(Service { role, name, env, process, port, retired: false });
        self.services.len() - 1
    }

    /// Restarts every service that has died (a crash point, a database failure) — without the
    /// crash point that killed it — as an orchestrator would.
    pub async fn supervise(&mut self) {
        for service in self.services.iter_mut().filter(|s| !s.retired) {
            if service.process.has_exited() {
                self.dead_logs.push(format!(
                    "--- {} (exited) ---\n{}",
                    service.name,
                    service.process.logs()
                ));
                service.env.retain(|(k, _)| *k != fitex_common::crash_point::CRASH_AT_VAR);
                service.process = ServiceProcess::start(service.name, &service.env);
                service
                    .process
                    .wait_healthy(&format!("http://127.0.0.1:{}/healthz", service.port))
                    .await;
                self.restarts += 1;
            }
        }
    }

    /// Stops a replica gracefully (SIGTERM): its partitions move to the others.
    pub fn retire(&mut self, index: usize) {
        let service = &mut self.services[index];
        service.retired = true;
        service.process.terminate(Duration::from_secs(20));
    }

    /// Indexes of the live replicas of `role`.
    pub fn replicas(&self, role: Role) -> Vec<usize> {
        (0..self.services.len())
            .filter(|&i| self.services[i].role == role && !self.services[i].retired)
            .collect()
    }

    pub fn logs(&self) -> String {
        let mut logs: Vec<String> = self.services.iter().map(|s| s.process.logs()).collect();
        logs.extend(self.dead_logs.iter().cloned());
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

    pub async fn set_day(&mut self, user: &str, date: NaiveDate, day: DayData) {
        let deliveries = self.sim.client().set_day(user, date, day).await.expect("simulator");
        self.expected.insert((user.to_owned(), date), day);
        self.count(&deliveries);
    }

    fn count(&mut self, deliveries: &[fitex_fitbit_simulator::Delivery]) {
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
    pub async fn provider_fault(&self, fault: fitex_fitbit_simulator::Fault) {
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

    /// Waits until every change the simulator made is stored, then checks everything.
    pub async fn account(&mut self, scenario: &str, timeout: Duration) -> Report {
        let deadline = Instant::now() + timeout;
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
        let outbox = self.wait_outbox_empty(Duration::from_secs(30)).await;
        let dead_letters = self.dead_letters().await;
        let (goals_consistent, goal_rows) = self.goals_match_a_recomputation().await;
        let duplicates: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT participant_id, day FROM activity_days
             GROUP BY 1, 2 HAVING count(*) > 1) d",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap();
        // A dead letter must say why; its user-day must still be stored right (a later
        // notification's fetch), or the mismatches above already fail the run.
        let unexplained: Vec<String> = dead_letters
            .iter()
            .filter(|(_, reason)| reason.trim().is_empty())
            .map(|(key, _)| key.clone())
            .collect();
        Report {
            scenario: scenario.to_owned(),
            user_days_changed: self.expected.len(),
            notifications_delivered: self.delivered,
            notifications_undelivered: self.undelivered,
            mismatches,
            duplicate_rows: duplicates,
            outbox_left: outbox,
            dead_letters: dead_letters.len(),
            unexplained_dead_letters: unexplained,
            goals_consistent,
            goal_rows,
            restarts: self.restarts,
            seconds: settled_after.as_secs_f64(),
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

    async fn wait_outbox_empty(&self, timeout: Duration) -> i64 {
        let deadline = Instant::now() + timeout;
        loop {
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM kafka_outbox")
                .fetch_one(&self.pool)
                .await
                .unwrap_or(-1);
            if left == 0 || Instant::now() > deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Every dead letter as "user date" and its reason.
    async fn dead_letters(&self) -> Vec<(String, String)> {
        let (brokers, topic) = (self.kafka.brokers.clone(), self.kafka.topics.dead_letters.clone());
        let records = tokio::task::spawn_blocking(move || {
            fitex_testkit::read_records(&brokers, &topic, usize::MAX, Duration::from_secs(3))
        })
        .await
        .unwrap();
        records
            .iter()
            .map(|r| {
                let letter = DeadLetter::decode(r.payload.as_slice()).unwrap_or_default();
                let original =
                    ProviderNotification::decode(letter.payload.as_slice()).unwrap_or_default();
                (format!("{} {}", original.owner_id, original.date), letter.reason)
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

    /// How many records of `topic` the consumer group `group` has not committed yet.
    async fn lag(&self, group: String, topic: String) -> Option<i64> {
        let brokers = self.kafka.brokers.clone();
        tokio::task::spawn_blocking(move || group_lag(&brokers, &group, &topic)).await.ok()?
    }

    fn group_id(&self, var: &str) -> String {
        self.common.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// Waits until every consumer group has committed everything on its topics: then all
    /// notifications are fetched, all retries done and every activity event recomputed.
    async fn wait_consumers_caught_up(&mut self, timeout: Duration) -> bool {
        let fetcher = self.group_id("FITEX__FETCHER__GROUP_ID");
        let goals = self.group_id("FITEX__GOALS__GROUP_ID");
        let groups = [
            (fetcher.clone(), self.kafka.topics.notifications.clone()),
            (format!("{fetcher}-retries"), self.kafka.topics.fetch_retries.clone()),
            (goals, self.kafka.topics.activity_days.clone()),
        ];
        let deadline = Instant::now() + timeout;
        loop {
            self.supervise().await;
            let mut caught_up = true;
            for (group, topic) in &groups {
                caught_up &= self.lag(group.clone(), topic.clone()).await == Some(0);
            }
            if caught_up || Instant::now() > deadline {
                return caught_up;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits for the consumers to catch up, then recomputes the season from scratch: nothing may
    /// change. Returns whether it held, and how many rows were compared.
    async fn goals_match_a_recomputation(&mut self) -> (bool, usize) {
        if !self.wait_consumers_caught_up(Duration::from_secs(90)).await {
            eprintln!("the consumer groups did not catch up");
            return (false, 0);
        }
        let before = self.goal_snapshot().await;
        self.ctl.ok(&["goals", "recompute", "--program", &self.program]);
        let after = self.goal_snapshot().await;
        let differences: Vec<String> = before
            .difference(&after)
            .map(|row| format!("was {row}"))
            .chain(after.difference(&before).map(|row| format!("recomputed {row}")))
            .collect();
        if !differences.is_empty() {
            eprintln!("goals differ from a recomputation: {differences:?}");
        }
        (differences.is_empty(), after.len())
    }
}

/// Uncommitted records of `topic` for `group` (committed offsets against the high watermarks).
fn group_lag(brokers: &str, group: &str, topic: &str) -> Option<i64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let timeout = Duration::from_secs(5);
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .ok()?;
    let metadata = consumer.fetch_metadata(Some(topic), timeout).ok()?;
    let partitions: Vec<i32> =
        metadata.topics().first()?.partitions().iter().map(|p| p.id()).collect();
    let mut list = TopicPartitionList::new();
    for partition in &partitions {
        list.add_partition(topic, *partition);
    }
    let committed = consumer.committed_offsets(list, timeout).ok()?;
    let mut lag = 0;
    for element in committed.elements() {
        let (low, high) = consumer.fetch_watermarks(topic, element.partition(), timeout).ok()?;
        let done = match element.offset() {
            Offset::Offset(offset) => offset.max(low),
            _ => low,
        };
        lag += (high - done).max(0);
    }
    Some(lag)
}

/// What one scenario's accounting found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub scenario: String,
    pub user_days_changed: usize,
    pub notifications_delivered: usize,
    pub notifications_undelivered: usize,
    pub mismatches: Vec<String>,
    pub duplicate_rows: i64,
    pub outbox_left: i64,
    pub dead_letters: usize,
    pub unexplained_dead_letters: Vec<String>,
    pub goals_consistent: bool,
    pub goal_rows: usize,
    pub restarts: usize,
    pub seconds: f64,
}

impl Report {
    /// Fails the test, saying what was lost or wrong; records the report either way.
    pub fn assert_no_loss(&self, logs: impl Fn() -> String) {
        self.save();
        let ok = self.mismatches.is_empty()
            && self.duplicate_rows == 0
            && self.outbox_left == 0
            && self.unexplained_dead_letters.is_empty()
            && self.goals_consistent
            && self.notifications_undelivered == 0;
        if !ok {
            let logs = logs();
            let tail: Vec<&str> = logs.lines().rev().take(80).collect();
            panic!(
                "{} lost or broke something: {self:#?}\n--- last log lines ---\n{}",
                self.scenario,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        eprintln!(
            "{}: {} user-days, {} notifications, {} dead letters, {} restarts, goals consistent ({} rows), {:.1} s",
            self.scenario,
            self.user_days_changed,
            self.notifications_delivered,
            self.dead_letters,
            self.restarts,
            self.goal_rows,
            self.seconds
        );
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
