//! The goals service's configuration: `[goals]`, and the shared `[telemetry]`, `[database]`,
//! `[kafka]` and `[http]` sections (every key in `config/base.toml`).

use std::num::NonZeroUsize;
use std::time::Duration;

use fitex_common::config::InvalidSetting;
use fitex_common::database::DatabaseSettings;
use fitex_common::health::HttpLimits;
use fitex_common::kafka::KafkaSettings;
use fitex_common::telemetry::TelemetrySettings;
use secrecy::SecretString;
use serde::Deserialize;
use serde_with::{serde_as, DurationMilliSeconds};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub telemetry: TelemetrySettings,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub goals: GoalsSettings,
    /// Head size, head and body deadlines, keep-alive (`[http]`).
    pub http: HttpLimits,
}

#[serde_as]
#[derive(Debug, Clone, Deserialize)]
pub struct GoalsSettings {
    /// The read API, health and metrics.
    pub host: String,
    pub port: u16,
    pub group_id: String,
    /// A batch closes at this many events or after `batch_window_ms`, whichever first.
    pub batch_max: NonZeroUsize,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "batch_window_ms")]
    pub batch_window: Duration,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "relay_interval_ms")]
    pub relay_interval: Duration,
    /// How often seasons whose grace period is over are looked for and closed.
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "season_close_interval_ms")]
    pub season_close_interval: Duration,
    /// Bearer token the read API requires (internal consumers; participant sign-in comes with the
    /// participant pages).
    pub api_token: SecretString,
}

impl Settings {
    /// Refuses settings the service cannot run with, naming the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.database.validate()?;
        // Zero would make the outbox relay, or the season closer, poll without pause.
        InvalidSetting::positive("goals.relay_interval_ms", self.goals.relay_interval)?;
        InvalidSetting::positive("goals.season_close_interval_ms", self.goals.season_close_interval)
    }

    /// Refuses to start on a missing, short or published secret (`fitex_common::secrets`).
    pub fn check_secrets(&self) -> Result<(), fitex_common::secrets::UnsafeSecrets> {
        fitex_common::secrets::SecretChecks::for_this_process()
            .require("goals.api_token", &self.goals.api_token, 16)
            .optional("telemetry.metrics_token", self.telemetry.metrics_token.as_ref(), 16)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_configuration_reads_durations_in_their_units_and_is_valid() {
        let dir = fitex_common::config::config_dir().unwrap();
        let settings: Settings = fitex_common::config::load_from(&dir, "test").unwrap();
        assert_eq!(settings.validate(), Ok(()));
        // base.toml: batch_window_ms = 100.
        assert_eq!(settings.goals.batch_window, Duration::from_millis(100));
        let mut settings = settings;
        settings.goals.relay_interval = Duration::ZERO;
        let error = settings.validate().unwrap_err().to_string();
        assert_eq!(error, "goals.relay_interval_ms must be positive");
    }

    #[test]
    fn the_season_closer_runs_every_minute_by_default_and_never_without_pause() {
        let dir = fitex_common::config::config_dir().unwrap();
        let mut settings: Settings = fitex_common::config::load_from(&dir, "test").unwrap();
        assert_eq!(settings.goals.season_close_interval, Duration::from_secs(60));
        settings.goals.season_close_interval = Duration::ZERO;
        let error = settings.validate().unwrap_err().to_string();
        assert_eq!(error, "goals.season_close_interval_ms must be positive");
    }
}
