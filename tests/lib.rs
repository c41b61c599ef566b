//! End-to-end tests live beside this file, one per scenario; they start the services' real
//! binaries as processes (built by `cargo build --workspace`, found in the target directory).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of a workspace binary in the same target directory as the running test.
pub fn service_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test executable path");
    dir.pop(); // deps/
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// The repository's configuration directory.
pub fn config_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../config")
}

/// `fitexctl` as an operator runs it, with the configuration overridden by `env`.
pub struct Fitexctl {
    pub env: Vec<(&'static str, String)>,
}

impl Fitexctl {
    /// Runs `fitexctl args…` (with `stdin` piped in when given); returns whether it succeeded and
    /// its stdout followed by its stderr.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        use std::io::Write;
        let mut child = Command::new(service_binary("fitexctl"))
            .args(args)
            .env("FITEX_CONFIG_DIR", config_dir())
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run fitexctl");
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let output = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    }

    /// Runs and fails the test with the output when it did not succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, output) = self.run(args, None);
        assert!(ok, "fitexctl {args:?} failed:\n{output}");
        output
    }
}

/// A service binary running as a child process; killed when dropped (its output is kept in a
/// log file and printed if the test fails).
pub struct ServiceProcess {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl ServiceProcess {
    pub fn start(name: &str, env: &[(&str, String)]) -> Self {
        // One log per process: a restarted service must not share (and on drop delete) the old one's.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log =
            std::env::temp_dir().join(format!("fitex-e2e-{name}-{}-{n}.log", std::process::id()));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(service_binary(name));
        command
            .env("FITEX_CONFIG_DIR", config_dir())
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file));
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self { name: name.to_string(), child, log }
    }

    /// Waits until `url` answers 2xx.
    pub async fn wait_healthy(&self, url: &str) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(url).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become healthy:\n{}",
                self.name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has ended (crashed, aborted or exited).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM, then waits for the exit (killing it after `timeout`); returns whether it exited 0.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(60).collect();
            eprintln!("--- {} log (last lines) ---", self.name);
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The token cipher the services use under the test configuration.
pub fn test_token_cipher() -> fitex_common::token_cipher::TokenCipher {
    let settings: fitex_connections::ConnectionsSettings =
        fitex_common::config::load_from(std::path::Path::new(config_dir()), "test")
            .expect("test configuration");
    fitex_common::token_cipher::TokenCipher::from_config(&settings.tokens.encryption_keys)
        .expect("test token keys")
}

/// A Fitbit user connected as the OAuth callback would connect them.
pub struct SimulatedConnection {
    pub connection_id: i64,
    pub participant_id: i64,
    pub access_token: String,
    pub refresh_token: String,
}

/// Creates `user` in the simulator and stores their authorization-code tokens (encrypted, valid
/// for 8 hours, nothing to backfill) through the connection core's own `store::connect`.
pub async fn connect_simulated_fitbit_user(
    pool: &sqlx::PgPool,
    sim: &fitex_provider_simulator::SimulatorClient,
    cipher: &fitex_common::token_cipher::TokenCipher,
    user: fitex_provider_simulator::CreateUser,
) -> SimulatedConnection {
    use fitex_connections::store;
    use secrecy::SecretString;
    let user_id = user.user_id.clone().expect("a simulated user needs an id");
    let tokens = sim.create_user(user).await.expect("simulator user");
    let grant = fitex_provider::TokenGrant {
        access_token: SecretString::from(tokens.access_token.clone()),
        refresh_token: Some(SecretString::from(tokens.refresh_token.clone())),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(8),
        scopes: tokens.scope,
        user_id,
    };
    let new = store::NewConnection {
        provider: fitex_provider::ProviderId::Fitbit,
        kind: store::TokenKind::AuthorizationCode,
        grant: &grant,
        backfill: &[],
        legacy: None,
    };
    let connected = store::connect(pool, cipher, new).await.expect("connect");
    SimulatedConnection {
        connection_id: connected.id,
        participant_id: connected.participant_id,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
    }
}

/// The environment that points a service process at a test's own broker, topics and database.
pub fn infrastructure_env(
    kafka: &fitex_common::kafka::KafkaSettings,
    database: &fitex_common::database::DatabaseSettings,
) -> Vec<(&'static str, String)> {
    let topics = &kafka.topics;
    vec![
        ("FITEX__KAFKA__BROKERS", kafka.brokers.clone()),
        ("FITEX__KAFKA__TOPICS__NOTIFICATIONS", topics.notifications.clone()),
        ("FITEX__KAFKA__TOPICS__FETCH_RETRIES", topics.fetch_retries.clone()),
        ("FITEX__KAFKA__TOPICS__DEAD_LETTERS", topics.dead_letters.clone()),
        ("FITEX__KAFKA__TOPICS__ACTIVITY_DAYS", topics.activity_days.clone()),
        ("FITEX__KAFKA__TOPICS__GOALS", topics.goals.clone()),
        ("FITEX__KAFKA__TOPICS__TEAM_PROGRESS", topics.team_progress.clone()),
        ("FITEX__KAFKA__TOPICS__SEASONS", topics.seasons.clone()),
        ("FITEX__DATABASE__DATABASE_NAME", database.database_name.clone()),
    ]
}

/// Waits until `check` holds, at most `timeout`; then fails the test naming `what`, with `logs()`.
pub async fn eventually<F, Fut>(
    what: &str,
    timeout: Duration,
    logs: impl Fn() -> String,
    mut check: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The environment that points a service's Fitbit API client at the simulator at `base_url`, with
/// `client_secret` (which, at Fitbit, also signs the webhooks).
pub fn simulated_fitbit_api_env(base_url: &str, client_secret: &str) -> ExtraEnv {
    vec![
        ("FITEX__FITBIT_API__API_BASE_URL", base_url.to_string()),
        ("FITEX__FITBIT_API__TOKEN_URL", format!("{base_url}/oauth2/token")),
        ("FITEX__FITBIT_API__CLIENT_ID", "SIMCLIENT".to_string()),
        ("FITEX__FITBIT_API__CLIENT_SECRET", client_secret.to_string()),
    ]
}

/// A worn day of `steps` as the simulator stores it (40 active minutes, 820 minutes worn).
pub fn simulated_day(steps: u32) -> fitex_provider_simulator::DayData {
    fitex_provider_simulator::DayData {
        steps,
        distance_km: steps as f64 * 0.00075,
        sedentary_minutes: 600,
        lightly_active_minutes: 180,
        fairly_active_minutes: 25,
        very_active_minutes: 15,
        worn_minutes: 820,
        resting_heart_rate: Some(61),
    }
}

/// The subscriber, fetcher and goals binaries running on `common` (the test's broker, topics,
/// database and provider settings), ready when `start` returns.
pub struct PipelineProcesses {
    pub subscriber: ServiceProcess,
    pub fetcher: ServiceProcess,
    pub goals: ServiceProcess,
    pub subscriber_port: u16,
}

/// Extra environment of one service.
pub type ExtraEnv = Vec<(&'static str, String)>;

impl PipelineProcesses {
    /// Starts the three on ports of their own (the subscriber on `subscriber_port`, where the
    /// simulator pushes), the subscriber accepting `webhook_secret`; `fetcher_env` is added to the
    /// fetcher's environment.
    pub async fn start(
        common: &[(&'static str, String)],
        kafka: &fitex_common::kafka::KafkaSettings,
        subscriber_port: u16,
        webhook_secret: &str,
        fetcher_env: ExtraEnv,
    ) -> Self {
        let (fetcher_port, goals_port) = (fitex_testkit::free_port(), fitex_testkit::free_port());
        let with = |extra: ExtraEnv| {
            let mut env = common.to_vec();
            env.extend(extra);
            env
        };
        let subscriber = ServiceProcess::start(
            "fitex-subscriber",
            &with(vec![
                ("FITEX__SUBSCRIBER__PORT", subscriber_port.to_string()),
                ("FITEX__FITBIT__CLIENT_SECRETS", webhook_secret.to_string()),
            ]),
        );
        let mut fetcher_extra = vec![
            ("FITEX__FETCHER__PORT", fetcher_port.to_string()),
            ("FITEX__FETCHER__GROUP_ID", format!("e2e-{}", kafka.topics.notifications)),
        ];
        fetcher_extra.extend(fetcher_env);
        let fetcher = ServiceProcess::start("fitex-fetcher", &with(fetcher_extra));
        let goals = ServiceProcess::start(
            "fitex-goals",
            &with(vec![
                ("FITEX__GOALS__PORT", goals_port.to_string()),
                ("FITEX__GOALS__GROUP_ID", format!("e2e-goals-{}", kafka.topics.activity_days)),
            ]),
        );
        subscriber.wait_healthy(&format!("http://127.0.0.1:{subscriber_port}/readyz")).await;
        fetcher.wait_healthy(&format!("http://127.0.0.1:{fetcher_port}/readyz")).await;
        goals.wait_healthy(&format!("http://127.0.0.1:{goals_port}/readyz")).await;
        PipelineProcesses { subscriber, fetcher, goals, subscriber_port }
    }

    /// Every process's log, for a failing test's message.
    pub fn logs(&self) -> String {
        format!("{}\n{}\n{}", self.subscriber.logs(), self.fetcher.logs(), self.goals.logs())
    }
}
