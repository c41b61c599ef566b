//! The fetcher's configuration: its own `[fetcher]` keys ([`FetcherSettings`]) and the sections
//! it shares with the connection core, read as the core's [`ConnectionsSettings`] (as the portal
//! reads them).
//!
//! `[fetcher]` is read twice: once into [`FetcherSettings`], once (inside
//! [`ConnectionsSettings`]) into `ConnectingSettings`, which alone declares the section's keys
//! about connecting (`backfill_days`, `refresh_margin_s`, `implicit_expiry_warning_days`); each
//! struct ignores the keys it does not name. Two loads ([`Settings::load_from`]) rather than
//! `#[serde(flatten)]`, which would bypass the configuration crate's conversion of environment
//! strings.

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::Path;
use std::time::Duration;

use fitex_common::config::{ConfigError, InvalidSetting};
use fitex_common::health::HttpLimits;
use fitex_common::kafka::KafkaSettings;
use fitex_common::telemetry::TelemetrySettings;
use fitex_connections::settings::ConnectionsSettings;
use serde::Deserialize;
use serde_with::{serde_as, DurationMilliSeconds, DurationSeconds};

use crate::retry::RetryPolicy;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `[database]`, `[fetcher]`'s keys about connecting, `[fitbit_api]`, `[google_health_api]`
    /// (connections through Google are synced when it is present) and `[tokens]`.
    pub base: ConnectionsSettings,
    pub telemetry: TelemetrySettings,
    pub kafka: KafkaSettings,
    pub fetcher: FetcherSettings,
    /// Head size, head and body deadlines, keep-alive (`[http]`).
    pub http: HttpLimits,
}

/// The sections only the fetcher reads.
#[derive(Deserialize)]
struct OwnSections {
    telemetry: TelemetrySettings,
    kafka: KafkaSettings,
    fetcher: FetcherSettings,
    http: HttpLimits,
}

/// The fetcher's own keys of `[fetcher]` (the section's keys about connecting are
/// `fitex_connections::settings::ConnectingSettings`'s). Each field named after a `_ms` or `_s`
/// key holds that key's value as a `Duration`.
#[serde_as]
#[derive(Debug, Clone, Deserialize)]
pub struct FetcherSettings {
    /// Address of the health and metrics endpoints.
    pub host: String,
    pub port: u16,
    pub group_id: String,
    /// A batch closes at this many notifications or after `batch_window_ms`, whichever first;
    /// notifications within one batch are coalesced.
    pub batch_max: NonZeroUsize,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "batch_window_ms")]
    pub batch_window: Duration,
    /// A user-day fetched less than this long ago is fetched again only when this period has
    /// passed (repeat notifications of one sync cost one more call, not one each).
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "settle_ms")]
    pub settle: Duration,
    /// A notification accepted at most this long after the one a fetch was made for is taken for
    /// the provider repeating it: no call of its own (0: none is).
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "repeat_window_ms")]
    pub repeat_window: Duration,
    /// A repeat's day is still read once this long after that fetch, unless a fetch for another
    /// notification reads it first: a genuine change notified that soon is not lost.
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "repeat_confirm_ms")]
    pub repeat_confirm: Duration,
    /// When positive, a notified day is fetched only once no notification for it has come for
    /// this long (at most `quiet_max_ms` after the first): one call per changing day, at the cost
    /// of that much latency. 0 fetches at once.
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "quiet_ms")]
    pub quiet: Duration,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "quiet_max_ms")]
    pub quiet_max: Duration,
    /// Users fetched at once.
    pub concurrency: NonZeroUsize,
    /// Attempts in all (the first included) before a notification is dead-lettered.
    pub max_attempts: NonZeroU32,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "retry_base_ms")]
    pub retry_base: Duration,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "retry_max_ms")]
    pub retry_max: Duration,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "pending_poll_ms")]
    pub pending_poll: Duration,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "relay_interval_ms")]
    pub relay_interval: Duration,
    /// A connection that has not synced for this long gets its latest days fetched (a lost
    /// notification; consent withdrawn at Google, which sends no notice). 0 disables.
    #[serde_as(as = "DurationSeconds<u64>")]
    #[serde(rename = "catch_up_after_s")]
    pub catch_up_after: Duration,
    /// How often quiet connections are looked for.
    #[serde_as(as = "DurationSeconds<u64>")]
    #[serde(rename = "catch_up_check_s")]
    pub catch_up_check: Duration,
    /// A revocation deletes the participant's data everywhere (as an account deletion does),
    /// instead of only disconnecting them.
    pub delete_on_revoke: bool,
    /// A deleted participant is hidden at once and purged everywhere this long after (until then
    /// `fitexctl users restore` brings them back).
    #[serde_as(as = "DurationSeconds<u64>")]
    #[serde(rename = "purge_after_s")]
    pub purge_after: Duration,
    /// How often participants due for purging are looked for.
    #[serde_as(as = "DurationSeconds<u64>")]
    #[serde(rename = "purge_check_s")]
    pub purge_check: Duration,
}

impl FetcherSettings {
    /// How repeated notifications are told and handled ([`crate::settle::Repeats`]).
    pub fn repeats(&self) -> crate::settle::Repeats {
        crate::settle::Repeats { window: self.repeat_window, confirm_after: self.repeat_confirm }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.get(),
            base: self.retry_base,
            max: self.retry_max,
        }
    }

    /// Refuses keys that disagree, or periods of nothing that would make a loop spin.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        InvalidSetting::at_most(
            "fetcher.retry_base_ms",
            self.retry_base,
            "fetcher.retry_max_ms",
            self.retry_max,
        )?;
        InvalidSetting::positive("fetcher.retry_base_ms", self.retry_base)?;
        InvalidSetting::at_most(
            "fetcher.quiet_ms",
            self.quiet,
            "fetcher.quiet_max_ms",
            self.quiet_max,
        )?;
        InvalidSetting::at_most(
            "fetcher.repeat_window_ms",
            self.repeat_window,
            "fetcher.repeat_confirm_ms",
            self.repeat_confirm,
        )?;
        InvalidSetting::positive("fetcher.pending_poll_ms", self.pending_poll)?;
        InvalidSetting::positive("fetcher.relay_interval_ms", self.relay_interval)?;
        InvalidSetting::positive("fetcher.catch_up_check_s", self.catch_up_check)?;
        InvalidSetting::positive("fetcher.purge_check_s", self.purge_check)
    }
}

impl Settings {
    /// Loads from the usual layers (`config/base.toml`, `config/$FITEX_ENV.toml`, environment).
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(&fitex_common::config::config_dir()?, &fitex_common::config::environment())
    }

    /// Loads from `dir` for `environment` (see the module docs: `[fetcher]` is read twice).
    pub fn load_from(dir: &Path, environment: &str) -> Result<Self, ConfigError> {
        let own: OwnSections = fitex_common::config::load_from(dir, environment)?;
        Ok(Settings {
            base: fitex_common::config::load_from(dir, environment)?,
            telemetry: own.telemetry,
            kafka: own.kafka,
            fetcher: own.fetcher,
            http: own.http,
        })
    }

    /// Refuses settings the fetcher cannot run with, naming the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.base.validate()?;
        self.fetcher.validate()
    }

    /// Refuses to start on a missing, short or published secret (`fitex_common::secrets`).
    pub fn check_secrets(&self) -> Result<(), fitex_common::secrets::UnsafeSecrets> {
        self.base
            .secret_checks()
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
        let settings = Settings::load_from(&dir, "test").unwrap();
        assert_eq!(settings.validate(), Ok(()));
        // base.toml: batch_window_ms = 200, catch_up_after_s = 86400.
        assert_eq!(settings.fetcher.batch_window, Duration::from_millis(200));
        assert_eq!(settings.fetcher.catch_up_after, Duration::from_secs(86_400));
        assert!(settings.base.fetcher.backfill_days > 0, "the connecting keys are read too");
    }

    #[test]
    fn keys_that_disagree_are_refused_by_name() {
        let dir = fitex_common::config::config_dir().unwrap();
        let mut settings = Settings::load_from(&dir, "test").unwrap();
        settings.fetcher.retry_base = settings.fetcher.retry_max + Duration::from_millis(1);
        let error = settings.validate().unwrap_err().to_string();
        assert_eq!(error, "fetcher.retry_base_ms must not exceed fetcher.retry_max_ms");

        let mut settings = Settings::load_from(&dir, "test").unwrap();
        settings.fetcher.quiet = Duration::from_secs(2);
        settings.fetcher.quiet_max = Duration::from_secs(1);
        let error = settings.validate().unwrap_err().to_string();
        assert_eq!(error, "fetcher.quiet_ms must not exceed fetcher.quiet_max_ms");

        let mut settings = Settings::load_from(&dir, "test").unwrap();
        settings.fetcher.purge_check = Duration::ZERO;
        let error = settings.validate().unwrap_err().to_string();
        assert_eq!(error, "fetcher.purge_check_s must be positive");
    }
}
