use fitex_common::database::DatabaseSettings;
use fitex_common::health::HttpLimits;
use fitex_common::kafka::KafkaSettings;
use fitex_common::telemetry::TelemetrySettings;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub goals: GoalsSettings,
    /// Head size, head and body deadlines, keep-alive (`[http]`; defaults when absent).
    #[serde(default)]
    pub http: HttpLimits,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GoalsSettings {
    /// The read API, health and metrics.
    pub host: String,
    pub port: u16,
    pub group_id: String,
    pub batch_max: usize,
    pub batch_window_ms: u64,
    /// Participants recomputed at once.
    pub concurrency: usize,
    pub relay_interval_ms: u64,
    /// Bearer token the read API requires (internal consumers; participant sign-in comes with the
    /// participant pages).
    pub api_token: SecretString,
}

impl Settings {
    /// Refuses to start on a missing, short or published secret (`fitex_common::secrets`).
    pub fn check_secrets(&self) -> Result<(), fitex_common::secrets::UnsafeSecrets> {
        fitex_common::secrets::SecretChecks::for_this_process()
            .require("goals.api_token", &self.goals.api_token, 16)
            .optional("telemetry.metrics_token", self.telemetry.metrics_token.as_ref(), 16)
            .finish()
    }
}
