//! Wiring: the connection core, the session middleware and the HTTP server.

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::DefaultHeaders;
use actix_web::web;
use fitex_common::health::{Ops, Readiness, ReadyWhen};
use fitex_connections::{providers, Connections, SetupError};

use crate::routes::{self, Portal};
use crate::settings::{SessionKeyError, Settings};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error(transparent)]
    SessionKey(#[from] SessionKeyError),
    #[error("connection core: {0}")]
    Connections(#[from] SetupError),
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let key = match settings.portal.session_key_bytes()? {
            Some(bytes) => Key::from(&bytes),
            None => {
                tracing::warn!(
                    "portal.session_key is not set: using a random key, so sign-ins end when the \
                     portal restarts and are not shared between replicas"
                );
                Key::generate()
            }
        };
        let base = &settings.base;
        let providers = providers::configured(&base.fitbit_api, base.google_health_api.as_ref())?;
        // The participant side of Google OAuth; the fetcher syncs through its own client.
        let google = providers::google_health_api(base.google_health_api.as_ref())?;
        if google.is_none() {
            tracing::info!(
                "no [google_health_api] section: participants connect through Fitbit only"
            );
        }
        let connections = Connections::from_settings(base, providers)?;
        let pool = connections.pool.clone();
        let fitbit = providers::fitbit_api(&base.fitbit_api)?;
        let portal = web::Data::new(Portal {
            connections,
            fitbit,
            api: base.fitbit_api.clone(),
            google,
            settings: settings.portal.clone(),
            activity_topic: settings.topics.activity_days.clone(),
        });

        let address = format!("{}:{}", settings.portal.host, settings.portal.port);
        let (listener, port) =
            fitex_common::http::bind(&address).map_err(|e| StartupError::Bind(address, e))?;

        let readiness = Readiness::new(ReadyWhen::All).check("database", move || {
            let pool = pool.clone();
            async move { fitex_common::database::ping(&pool).await.map_err(|e| e.to_string()) }
        });
        let ops = Ops {
            readiness,
            metrics: fitex_common::metrics::prometheus(),
            metrics_token: settings.telemetry.metrics_token.clone(),
        };
        let cookie = settings.portal.clone();
        // Browsers keep a cookie 400 days at most (RFC 6265bis).
        let cookie_ttl = actix_web::cookie::time::Duration::seconds(
            settings.portal.session_absolute_timeout.as_secs().min(400 * 86_400) as i64,
        );
        // The pages, with their sessions and headers (inside the guard).
        let pages = move |cfg: &mut web::ServiceConfig| {
            let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                .cookie_name(cookie.cookie_name.clone())
                .cookie_secure(cookie.cookie_secure)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_path("/".into())
                .cookie_content_security(CookieContentSecurity::Private)
                // The cookie lasts as long as a sign-in may; `portal_sessions` decides whether
                // the sign-in it names is still live.
                .session_lifecycle(PersistentSession::default().session_ttl(cookie_ttl))
                .build();
            cfg.service(
                web::scope("")
                    .wrap(session)
                    .wrap(
                        DefaultHeaders::new()
                            .add(("X-Frame-Options", "DENY"))
                            .add(("X-Content-Type-Options", "nosniff"))
                            .add(("Referrer-Policy", "no-referrer"))
                            .add((
                                "Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'; \
                                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                            )),
                    )
                    .app_data(portal.clone())
                    .configure(routes::configure),
            );
        };
        let server = fitex_common::http::serve(settings.http, settings.portal.workers, ops)
            .run(listener, pages)
            .map_err(|e| StartupError::Bind(format!("port {port}"), e))?;
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT (or `handle().stop`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
