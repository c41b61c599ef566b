//! An HTTP simulator of both activity providers FitEx Sync reads — the Fitbit Web API and its
//! successor, the Google Health API — for tests, the demo and benchmarks (the real Fitbit Web API
//! is switched off). One process, one port, the same people and days for both.
//!
//! The Fitbit side (`fitbit`, private) speaks Fitbit's OAuth 2.0 (authorization
//! code + PKCE, implicit grant, rotating refresh tokens, revoke, introspect), the data endpoints
//! FitEx Sync reads, the subscriptions API, per-user hourly rate limits with Fitbit's headers,
//! and pushes signed notifications to a subscriber. Admin endpoints under `/_sim` (no auth) drive
//! it; see [`SimulatorClient`] and the crate's README. There is no login page:
//! `/oauth2/authorize` takes an extra `sim_user=<id>` query parameter naming the user who
//! approves the request (created on first use).
//!
//! The Google side ([`google`]) serves Google OAuth (`/google/o/oauth2/v2/auth` with `sim_user`,
//! `/google/token` incl. the service-account `jwt-bearer` grant, `/google/revoke`),
//! `v4/users/{user}/…` (daily rollups, the steps data points, settings, identity) with a per-user
//! quota per minute, `v4/projects/{p}/subscribers…` with Google's endpoint verification,
//! ECDSA-signed change notifications and the public keyset at
//! `/googlehealthapi/webhooks/webhooks_public_keyset.json`. Its admin endpoints live under
//! `/_sim/google`. Every user has a Google `healthUserId`; their Fitbit id is their
//! `legacyUserId` (none for `google_only` users). Setting a day through
//! `PUT /_sim/users/{id}/days/{date}` notifies the Fitbit subscriber and the Google subscribers.
//!
//! Files depend on each other one way (`scripts/check-module-cycles.py` checks it): the pure
//! types and wire formats at the bottom, then the in-memory world (`state` with `google::world`,
//! and the Google methods over it in `google::state`), then `http` and the notifiers, then each
//! provider's handlers, then each provider's routes, then this file.

pub mod client;
pub mod cohort;
pub mod config;
pub mod error;
mod fitbit;
pub mod google;
mod http;
pub mod jwt;
pub mod model;
pub mod pkce;
pub mod rate_limit;
pub mod scope;
mod state;
pub mod timezone;
pub mod wire;

use std::collections::BTreeSet;

use actix_web::{web, App, HttpServer};
use chrono::{TimeDelta, Utc};

use crate::google::scope::DEFAULT_GOOGLE_SCOPES;

pub use client::SimulatorClient;
pub use config::SimulatorConfig;
pub use error::{ApiError, ClientError};
pub use google::model::{
    EndpointCheck, GoogleDelivery, GoogleKeys, GoogleProjectToken, GooglePush, GoogleUserTokens,
    NotificationForm, ProjectRefusal, ProjectRefusalRequest, RawNotification, SignatureKey,
};
pub use google::{GoogleEndpoint, GoogleScope};
pub use model::{
    CohortUser, CreateUser, DayData, DayRecord, Deliveries, Delivery, Fault, Notification,
    RateLimitOverride, Stats, UserTokens,
};
pub use scope::DEFAULT_SCOPES;
pub use state::EndpointKind;

pub struct Simulator;

impl Simulator {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub async fn spawn(config: SimulatorConfig) -> std::io::Result<SimulatorHandle> {
        Simulator::spawn_on(config, 0).await
    }

    /// Starts on 127.0.0.1:`port` (0: any free port).
    pub async fn spawn_on(config: SimulatorConfig, port: u16) -> std::io::Result<SimulatorHandle> {
        Simulator::spawn_at(config, "127.0.0.1", port).await
    }

    /// Starts on `host`:`port` (a container listens on 0.0.0.0).
    pub async fn spawn_at(
        config: SimulatorConfig,
        host: &str,
        port: u16,
    ) -> std::io::Result<SimulatorHandle> {
        let store = state::Store::new(config.clone());
        if config.cohort_size > 0 {
            let now = Utc::now();
            let yesterday = now.date_naive() - TimeDelta::days(1);
            let members = cohort::generate_cohort(
                config.seed,
                config.cohort_size,
                config.cohort_days,
                yesterday,
            );
            let scopes =
                scope::parse_scope_list(&DEFAULT_SCOPES).expect("default scopes are known");
            let ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
            store.load_cohort(members, &scopes, now);
            // Cohort people have also consented to Google (offline, the default scopes).
            let google_scopes: BTreeSet<GoogleScope> = DEFAULT_GOOGLE_SCOPES.into_iter().collect();
            for id in ids {
                store.google_grant(&id, google_scopes.clone(), now).expect("cohort users exist");
            }
        }
        let store = web::Data::new(store);
        let http = web::Data::new(
            reqwest::Client::builder()
                .timeout(fitbit::notify::SUBSCRIBER_TIMEOUT)
                .build()
                .map_err(std::io::Error::other)?,
        );
        let server = HttpServer::new(move || {
            App::new()
                .app_data(store.clone())
                .app_data(http.clone())
                .app_data(web::JsonConfig::default().limit(4 * 1024 * 1024))
                .wrap(actix_web::middleware::from_fn(http::hold_back_late_answers))
                // Outside the hold-back: a late answer is counted when it is sent.
                .wrap(actix_web::middleware::from_fn(http::count_provider_calls))
                // Google first: its `/_sim/google` scope must come before Fitbit's `/_sim`.
                .configure(google::routes)
                .configure(fitbit::routes)
        })
        .workers(2)
        .disable_signals()
        .bind((host, port))?;
        let port = server.addrs().first().map(|a| a.port()).unwrap_or(port);
        let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        let base_url = format!("http://{host}:{port}");
        tracing::info!(%base_url, "provider simulator listening");
        Ok(SimulatorHandle { base_url, port, handle, task })
    }
}

pub struct SimulatorHandle {
    base_url: String,
    port: u16,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl SimulatorHandle {
    /// `http://127.0.0.1:PORT`: the API, OAuth and admin endpoints all live under it.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn client(&self) -> SimulatorClient {
        SimulatorClient::new(&self.base_url)
    }

    /// Stops gracefully and waits for the server to finish.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}
