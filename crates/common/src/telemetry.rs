//! `tracing` set-up: JSON lines in production, readable text locally; `RUST_LOG` filters.

use serde::Deserialize;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The `[telemetry]` section (`log_format` and `log_filter` in `config/base.toml`).
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// Default filter when `RUST_LOG` is unset.
    pub log_filter: String,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>` (Prometheus
    /// supports it); unset, it is open to whoever reaches the port (inside the cluster only).
    #[serde(default)]
    pub metrics_token: Option<secrecy::SecretString>,
}

/// Installs the global subscriber. Call once, first thing in `main`; later calls are no-ops.
pub fn init(service: &'static str, settings: &TelemetrySettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log_filter));
    if subscriber(settings.log_format, filter, std::io::stdout).try_init().is_ok() {
        tracing::info!(service, "telemetry initialised");
    }
}

/// The subscriber [`init`] installs, writing to `writer`: tests read exactly what a service logs.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = match format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(writer)
            .boxed(),
        LogFormat::Pretty => fmt::layer().with_target(false).with_writer(writer).boxed(),
    };
    tracing_subscriber::registry().with(filter).with(layer)
}
