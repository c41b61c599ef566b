//! Building the subscriber is a function that returns a bound, ready-to-run application; `main`
//! and the tests both use it.

use std::convert::Infallible;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, HttpResponse};
use fitex_common::health::{Ops, Readiness, ReadyWhen};
use fitex_common::kafka::RecoveringProducer;
use fitex_common::outbox;
use fitex_common::shutdown::Shutdown;
use fitex_google_health::{HttpKeysetSource, KeysetCache};
use fitex_provider::WebhookVerifier;
use tokio::task::JoinHandle;

use crate::fitbit_webhook::{self, FitbitWebhook};
use crate::google_health_webhook::{self, GoogleHealthWebhook};
use crate::publisher::{Publisher, OUTBOX_SOURCE};
use crate::settings::Settings;
use crate::webhook::Endpoint;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid settings: {0}")]
    Settings(#[from] fitex_common::config::InvalidSetting),
    #[error("could not bind {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("could not create the Kafka producer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("could not create the HTTP client for Google's keyset: {0}")]
    Http(#[from] reqwest::Error),
}

pub struct Application {
    port: u16,
    server: Server,
    relay: JoinHandle<()>,
    producer: RecoveringProducer,
    shutdown: Shutdown,
}

impl Application {
    /// Binds the listener, creates the producer and database pool (both connect lazily, so the
    /// service starts while either is down) and starts the outbox relay.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        settings.validate()?;
        let address = format!("{}:{}", settings.subscriber.host, settings.subscriber.port);
        let (listener, port) = fitex_common::http::bind(&address)
            .map_err(|source| StartupError::Bind { address, source })?;

        let mut kafka_settings = settings.kafka.clone();
        // The producer gives up on a record at the publish deadline, so the request can fall back
        // to the outbox in time; the relay retries later with the same producer.
        kafka_settings.message_timeout = settings.subscriber.publish_deadline;
        let producer = kafka_settings.recovering_producer("fitex-subscriber")?;
        let pool = settings.database.lazy_pool();
        let deadline = settings.subscriber.publish_deadline;
        let publisher = Publisher::new(producer.clone(), pool.clone(), deadline);

        let shutdown = Shutdown::new();
        let relay = tokio::spawn(outbox::run_relay(
            pool.clone(),
            producer.clone(),
            outbox::RelaySettings {
                source: OUTBOX_SOURCE,
                interval: settings.subscriber.relay_interval,
                batch_size: i64::from(settings.subscriber.relay_batch_size.get()),
                deadline,
                wake: Default::default(),
            },
            shutdown.clone(),
        ));

        let ops = Ops {
            readiness: Readiness::kafka_and_database(
                ReadyWhen::Any,
                producer.clone(),
                pool.clone(),
            ),
            metrics: fitex_common::metrics::prometheus(),
            metrics_token: settings.telemetry.metrics_token.clone(),
        };
        let endpoint = |verifier: Arc<dyn WebhookVerifier>| Endpoint {
            verifier,
            max_body_bytes: settings.subscriber.max_body_bytes.get(),
            topic: settings.kafka.topics.notifications.clone(),
            publisher: publisher.clone(),
            proxies: settings.http.proxies.clone(),
        };
        let fitbit = web::Data::new(FitbitWebhook {
            verification_code: settings.fitbit.verification_code.clone(),
            endpoint: endpoint(Arc::new(fitex_fitbit::FitbitWebhook {
                client_secrets: settings.fitbit.client_secrets.clone(),
            })),
        });
        let fitbit_path = settings.subscriber.fitbit_webhook_path.clone();
        let google = match &settings.google_health {
            Some(google) => {
                let source =
                    Arc::new(HttpKeysetSource::new(&google.keyset_url, google.keyset_timeout)?);
                let verifier = Arc::new(fitex_google_health::GoogleHealthWebhook {
                    keyset: KeysetCache::new(source, google.keyset_refetch_interval),
                    secrets: google.endpoint_secrets.clone(),
                });
                // Warm the keyset cache so the first notification need not wait for it.
                let warm = verifier.clone();
                tokio::spawn(async move { warm.keyset.warm().await });
                Some(web::Data::new(GoogleHealthWebhook {
                    secrets: google.endpoint_secrets.clone(),
                    endpoint: endpoint(verifier),
                }))
            }
            None => None,
        };
        let google_path = settings.subscriber.google_health_webhook_path.clone();

        let server =
            fitex_common::http::serve(settings.http.limits, settings.subscriber.workers, ops)
                .shutdown_timeout_s(settings.subscriber.shutdown_timeout.as_secs())
                .run(listener, move |cfg| {
                    cfg.service(
                        web::resource(fitbit_path.as_str())
                            .app_data(fitbit.clone())
                            .route(web::get().to(fitbit_webhook::verify))
                            .route(web::post().to(fitbit_webhook::notify)),
                    );
                    if let Some(google) = &google {
                        cfg.service(
                            web::resource(google_path.as_str())
                                .app_data(google.clone())
                                .route(web::post().to(google_health_webhook::notify)),
                        );
                    }
                    cfg.default_service(web::to(HttpResponse::NotFound));
                })
                .map_err(|source| StartupError::Bind { address: format!("port {port}"), source })?;

        Ok(Self { port, server, relay, producer, shutdown })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully (no new connections, in-flight requests finish).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT or `handle().stop(true)`: then in-flight requests finish (within
    /// `shutdown_timeout_s`), the relay stops and the producer flushes what it still holds.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application { server, relay, producer, shutdown, .. } = self;
        let consumers: Vec<JoinHandle<Result<(), Infallible>>> = Vec::new();
        fitex_common::run::until_stopped(
            "subscriber",
            server,
            consumers,
            vec![relay],
            producer,
            shutdown,
        )
        .await
        .map_err(std::io::Error::other)
    }
}
