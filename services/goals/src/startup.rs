//! Wiring: the goals engine, its consumer, outbox relay and season closer, and the HTTP server
//! (the read API, health and metrics).

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web;
use fitex_common::health::{Ops, Readiness, ReadyWhen};
use fitex_common::kafka::RecoveringProducer;
use fitex_common::outbox;
use fitex_common::shutdown::Shutdown;
use fitex_goals_store::{GoalsEngine, OUTBOX_SOURCE};
use rdkafka::consumer::Consumer;
use tokio::task::JoinHandle;

use crate::api::{self, ApiToken};
use crate::settings::Settings;
use crate::{closer, consumer};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

pub struct Application {
    port: u16,
    server: Server,
    consumer: JoinHandle<Result<(), consumer::ConsumeError>>,
    relay: JoinHandle<()>,
    closer: JoinHandle<()>,
    producer: RecoveringProducer,
    shutdown: Shutdown,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let address = format!("{}:{}", settings.goals.host, settings.goals.port);
        let (listener, port) =
            fitex_common::http::bind(&address).map_err(|e| StartupError::Bind(address, e))?;
        let pool = settings.database.lazy_pool();
        let producer = settings.kafka.recovering_producer("fitex-goals")?;
        let relay_wake = Arc::new(tokio::sync::Notify::new());
        let engine = Arc::new(GoalsEngine {
            pool: pool.clone(),
            topics: settings.kafka.topics.clone(),
            relay_wake: relay_wake.clone(),
        });
        let shutdown = Shutdown::new();
        let stream = settings.kafka.stats_consumer(&settings.goals.group_id, "fitex-goals")?;
        stream.subscribe(&[settings.kafka.topics.activity_days.as_str()])?;
        let closer = tokio::spawn(closer::run(
            engine.clone(),
            settings.goals.season_close_interval,
            shutdown.clone(),
        ));
        let consumer = tokio::spawn(consumer::run(
            engine,
            stream,
            producer.clone(),
            settings.goals.batch_max,
            settings.goals.batch_window,
            shutdown.clone(),
        ));
        let relay = tokio::spawn(outbox::run_relay(
            pool.clone(),
            producer.clone(),
            outbox::RelaySettings {
                source: OUTBOX_SOURCE,
                interval: settings.goals.relay_interval,
                batch_size: 500,
                deadline: Duration::from_secs(5),
                wake: relay_wake,
            },
            shutdown.clone(),
        ));
        let ops = Ops {
            readiness: Readiness::kafka_and_database(
                ReadyWhen::All,
                producer.clone(),
                pool.clone(),
            ),
            metrics: fitex_common::metrics::prometheus(),
            metrics_token: settings.telemetry.metrics_token.clone(),
        };
        let token = web::Data::new(ApiToken(settings.goals.api_token.clone()));
        let pool_data = web::Data::new(pool);
        let workers = std::num::NonZeroUsize::new(2).expect("positive");
        let server = fitex_common::http::serve(settings.http, workers, ops)
            // Every answer, the guard's refusals too, gets the security headers, and every error
            // a JSON body that does not echo the request.
            .json_api()
            .run(listener, move |cfg| {
                cfg.app_data(token.clone()).app_data(pool_data.clone()).configure(api::routes);
            })
            .map_err(|e| StartupError::Bind(format!("port {port}"), e))?;
        Ok(Self { port, server, consumer, relay, closer, producer, shutdown })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGTERM/SIGINT (or `handle().stop`), or until the consumer fails (then the error
    /// is returned so the process exits and uncommitted events are delivered again).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application { server, consumer, relay, closer, producer, shutdown, .. } = self;
        fitex_common::run::until_stopped(
            "goals",
            server,
            vec![consumer],
            vec![relay, closer],
            producer,
            shutdown,
        )
        .await?;
        Ok(())
    }
}
