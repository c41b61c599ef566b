//! Wiring: the provider, the consumers (notifications and retries), the pending-fetch loop, the
//! outbox relay, and the health/metrics server.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use fitex_common::health::{Ops, Readiness, ReadyWhen};
use fitex_common::kafka::RecoveringProducer;
use fitex_common::outbox;
use fitex_common::shutdown::Shutdown;
use fitex_connections::{providers, Connections, Providers, SetupError};
use rdkafka::consumer::Consumer;
use tokio::task::JoinHandle;

use crate::group_commit::{GroupCommit, GroupWriter};
use crate::settings::Settings;
use crate::store::{self, StoreRequest, Stored};
use crate::sync::{Fetcher, OUTBOX_SOURCE};
use crate::{consumer, pending};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Connections(#[from] SetupError),
}

impl Fetcher {
    /// The syncing core for `settings`, syncing through `providers`.
    pub fn from_settings(settings: &Settings, providers: Providers) -> Result<Self, StartupError> {
        let connections = Connections::from_settings(&settings.base, providers)?;
        let pool = connections.pool.clone();
        let write_group: GroupWriter<StoreRequest, Stored> = Arc::new(move |group| {
            let pool = pool.clone();
            Box::pin(async move { Ok(store::store_group(&pool, &group).await?) })
        });
        Ok(Fetcher {
            connections,
            topics: settings.kafka.topics.clone(),
            settings: settings.fetcher.clone(),
            relay_wake: Arc::new(tokio::sync::Notify::new()),
            settle: std::sync::Mutex::new(crate::settle::Settle::new(
                settings.fetcher.settle,
                settings.fetcher.repeats(),
            )),
            store_queue: GroupCommit::new(store::MAX_GROUP_SYNCS, write_group),
        })
    }
}

pub struct Application {
    port: u16,
    server: Server,
    tasks: Vec<JoinHandle<()>>,
    consumers: Vec<JoinHandle<Result<(), consumer::ConsumeError>>>,
    producer: RecoveringProducer,
    shutdown: Shutdown,
    pub fetcher: Arc<Fetcher>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let providers = providers::configured(
            &settings.base.fitbit_api,
            settings.base.google_health_api.as_ref(),
        )?;
        Self::build_with_providers(settings, providers).await
    }

    /// As `build`, with the providers given (another platform, or a test double of the seam).
    pub async fn build_with_providers(
        settings: Settings,
        providers: Providers,
    ) -> Result<Self, StartupError> {
        let address = format!("{}:{}", settings.fetcher.host, settings.fetcher.port);
        let (listener, port) =
            fitex_common::http::bind(&address).map_err(|e| StartupError::Bind(address, e))?;
        tracing::info!(providers = ?providers, "syncing through");
        let fetcher = Arc::new(Fetcher::from_settings(&settings, providers)?);
        let pool = fetcher.connections.pool.clone();
        let relay_wake = fetcher.relay_wake.clone();
        let producer = settings.kafka.recovering_producer("fitex-fetcher")?;
        let shutdown = Shutdown::new();

        let mut consumers = Vec::new();
        let mut tasks = Vec::new();
        // Each consumer has a client id of its own, so the brokers' logs and the statistics
        // metrics (`client` label) tell the two apart.
        for (topic, group, client) in [
            (
                &settings.kafka.topics.notifications,
                settings.fetcher.group_id.clone(),
                "fitex-fetcher-notifications",
            ),
            (
                &settings.kafka.topics.fetch_retries,
                format!("{}-retries", settings.fetcher.group_id),
                "fitex-fetcher-retries",
            ),
        ] {
            let consumer = settings.kafka.stats_consumer(&group, client)?;
            consumer.subscribe(&[topic.as_str()])?;
            let consumer = Arc::new(consumer);
            tasks.push(tokio::spawn(consumer::run_lag_reporter(
                consumer.clone(),
                settings.kafka.topics.dead_letters.clone(),
                Duration::from_secs(5),
                shutdown.clone(),
            )));
            consumers.push(tokio::spawn(consumer::run(
                fetcher.clone(),
                producer.clone(),
                consumer,
                shutdown.clone(),
            )));
        }
        tasks.extend([
            tokio::spawn(pending::run(fetcher.clone(), shutdown.clone())),
            tokio::spawn(outbox::run_relay(
                pool.clone(),
                producer.clone(),
                outbox::RelaySettings {
                    source: OUTBOX_SOURCE,
                    interval: settings.fetcher.relay_interval,
                    batch_size: 500,
                    deadline: Duration::from_secs(5),
                    wake: relay_wake,
                },
                shutdown.clone(),
            )),
        ]);

        let ops = Ops {
            readiness: Readiness::kafka_and_database(ReadyWhen::All, producer.clone(), pool),
            metrics: fitex_common::metrics::prometheus(),
            metrics_token: settings.telemetry.metrics_token.clone(),
        };
        // Only health and metrics here, guarded like every service's public server.
        let server = fitex_common::http::serve(settings.http, std::num::NonZeroUsize::MIN, ops)
            .run(listener, |_| {})
            .map_err(|e| StartupError::Bind(format!("port {port}"), e))?;
        Ok(Self { port, server, tasks, consumers, producer, shutdown, fetcher })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGTERM/SIGINT (or `handle().stop`), or until a consumer fails for good (then
    /// the error is returned and the process should exit, so uncommitted records are redelivered).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application { server, tasks, consumers, producer, shutdown, .. } = self;
        fitex_common::run::until_stopped("fetcher", server, consumers, tasks, producer, shutdown)
            .await?;
        Ok(())
    }
}
