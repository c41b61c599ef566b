//! The PostgreSQL pool and the project's migrations (`migrations/` at the repository root).

use std::num::NonZeroU32;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_with::{serde_as, DurationMilliSeconds};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::PgPool;

/// The `[database]` section (every key in `config/base.toml`).
#[serde_as]
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: SecretString,
    pub database_name: String,
    pub max_connections: NonZeroU32,
    /// How long a request waits for a connection before giving up (keeps webhook answers fast).
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "acquire_timeout_ms")]
    pub acquire_timeout: Duration,
    pub require_ssl: bool,
}

impl DatabaseSettings {
    /// A zero acquire timeout would fail every query that has to wait for a connection.
    pub fn validate(&self) -> Result<(), crate::config::InvalidSetting> {
        crate::config::InvalidSetting::positive("database.acquire_timeout_ms", self.acquire_timeout)
    }

    /// Options for the server without a database (to create or drop databases).
    pub fn server_options(&self) -> PgConnectOptions {
        let options = PgConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.username)
            .ssl_mode(if self.require_ssl { PgSslMode::Require } else { PgSslMode::Prefer });
        if self.password.expose_secret().is_empty() {
            options
        } else {
            options.password(self.password.expose_secret())
        }
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        self.server_options().database(&self.database_name)
    }

    /// A pool that connects lazily, so a service starts (and reports itself not ready) while the
    /// database is down, instead of crashing.
    pub fn lazy_pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(self.max_connections.get())
            .acquire_timeout(self.acquire_timeout)
            .connect_lazy_with(self.connect_options())
    }
}

/// Applies every pending migration. Migrations are idempotent to re-run and safe across replicas
/// (sqlx takes an advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../../migrations").run(pool).await
}

/// Creates `name` on the server if it does not exist.
pub async fn create_database_if_missing(
    settings: &DatabaseSettings,
    name: &str,
) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn =
        sqlx::PgConnection::connect_with(&settings.server_options().database("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // Identifiers cannot be bound as parameters; quote it.
        let quoted = name.replace('"', "\"\"");
        sqlx::query(&format!("CREATE DATABASE \"{quoted}\"")).execute(&mut conn).await?;
    }
    Ok(())
}

/// Readiness probe: one round trip.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}
