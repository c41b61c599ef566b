//! The subscriber's configuration: `[subscriber]`, `[fitbit]`, `[google_health]` (the Google
//! webhook is served when the section is present), and the shared `[telemetry]`, `[database]`,
//! `[kafka]` and `[http]` sections (every key in `config/base.toml`).

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use fitex_common::config::InvalidSetting;
use fitex_common::database::DatabaseSettings;
use fitex_common::health::HttpSettings;
use fitex_common::kafka::KafkaSettings;
use fitex_common::telemetry::TelemetrySettings;
use secrecy::SecretString;
use serde::Deserialize;
use serde_with::{serde_as, DurationMilliSeconds, DurationSeconds};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub telemetry: TelemetrySettings,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub subscriber: SubscriberSettings,
    pub fitbit: FitbitWebhookSettings,
    /// The Google Health API webhook; served when this section is present.
    #[serde(default)]
    pub google_health: Option<GoogleHealthWebhookSettings>,
    /// Head size, head and body deadlines, keep-alive, and the proxies whose forwarding header
    /// names the client (`[http]`).
    pub http: HttpSettings,
}

#[serde_as]
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriberSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub fitbit_webhook_path: String,
    pub google_health_webhook_path: String,
    /// Largest notification body accepted (413 above it).
    pub max_body_bytes: NonZeroUsize,
    /// How long a request waits for the broker before it falls back to the outbox
    /// (`publish_deadline_ms`).
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "publish_deadline_ms")]
    pub publish_deadline: Duration,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "relay_interval_ms")]
    pub relay_interval: Duration,
    pub relay_batch_size: NonZeroU32,
    /// How long in-flight requests get to finish on shutdown (`shutdown_timeout_s`).
    #[serde_as(as = "DurationSeconds<u64>")]
    #[serde(rename = "shutdown_timeout_s")]
    pub shutdown_timeout: Duration,
    pub workers: NonZeroUsize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FitbitWebhookSettings {
    pub verification_code: SecretString,
    /// Newest first; every listed secret's signatures are accepted (rotation without downtime).
    pub client_secrets: Vec<SecretString>,
}

#[serde_as]
#[derive(Debug, Clone, Deserialize)]
pub struct GoogleHealthWebhookSettings {
    /// The subscriber's `endpointAuthorization.secret`, exactly as given to Google ("Bearer …"),
    /// newest first: keep the old one listed while patching the subscriber to a new one.
    pub endpoint_secrets: Vec<SecretString>,
    /// Google's Tink JSON public keyset.
    pub keyset_url: String,
    /// Keys rotate about monthly: the keyset is refetched on an unknown key id, at most this often
    /// (`keyset_refetch_interval_s`).
    #[serde_as(as = "DurationSeconds<u64>")]
    #[serde(rename = "keyset_refetch_interval_s")]
    pub keyset_refetch_interval: Duration,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "keyset_timeout_ms")]
    pub keyset_timeout: Duration,
}

impl Settings {
    /// Refuses settings that would make the endpoint unsafe or useless, naming the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        use secrecy::ExposeSecret;
        self.database.validate()?;
        if self.fitbit.client_secrets.is_empty()
            || self.fitbit.client_secrets.iter().any(|s| s.expose_secret().is_empty())
        {
            return Err(InvalidSetting::new(
                "fitbit.client_secrets",
                "must list at least one non-empty secret",
            ));
        }
        if self.fitbit.verification_code.expose_secret().is_empty() {
            return Err(InvalidSetting::new("fitbit.verification_code", "must not be empty"));
        }
        if !self.subscriber.fitbit_webhook_path.starts_with('/') {
            return Err(InvalidSetting::new(
                "subscriber.fitbit_webhook_path",
                "must start with '/'",
            ));
        }
        let deadline = self.subscriber.publish_deadline;
        if deadline.is_zero() || deadline > Duration::from_millis(4_000) {
            return Err(InvalidSetting::new(
                "subscriber.publish_deadline_ms",
                "must be between 1 and 4000 (providers allow 5 s)",
            ));
        }
        // Zero would make the outbox relay poll without pause.
        InvalidSetting::positive("subscriber.relay_interval_ms", self.subscriber.relay_interval)?;
        if let Some(google) = &self.google_health {
            let path = &self.subscriber.google_health_webhook_path;
            if !path.starts_with('/') || *path == self.subscriber.fitbit_webhook_path {
                return Err(InvalidSetting::new(
                    "subscriber.google_health_webhook_path",
                    "must start with '/' and differ from the Fitbit path",
                ));
            }
            if google.endpoint_secrets.is_empty()
                || google.endpoint_secrets.iter().any(|s| s.expose_secret().trim().is_empty())
            {
                return Err(InvalidSetting::new(
                    "google_health.endpoint_secrets",
                    "must list at least one non-empty secret",
                ));
            }
            if !(google.keyset_url.starts_with("https://")
                || google.keyset_url.starts_with("http://"))
            {
                return Err(InvalidSetting::new(
                    "google_health.keyset_url",
                    "must be an http(s) URL",
                ));
            }
            InvalidSetting::positive(
                "google_health.keyset_refetch_interval_s",
                google.keyset_refetch_interval,
            )?;
            InvalidSetting::positive("google_health.keyset_timeout_ms", google.keyset_timeout)?;
        }
        Ok(())
    }
}

impl Settings {
    /// Refuses to start on a missing, short or published secret (`fitex_common::secrets`).
    pub fn check_secrets(&self) -> Result<(), fitex_common::secrets::UnsafeSecrets> {
        let checks = fitex_common::secrets::SecretChecks::for_this_process()
            .require_each("fitbit.client_secrets", &self.fitbit.client_secrets, 16)
            .require("fitbit.verification_code", &self.fitbit.verification_code, 8)
            .optional("telemetry.metrics_token", self.telemetry.metrics_token.as_ref(), 16);
        match &self.google_health {
            Some(google) => {
                checks.require_each("google_health.endpoint_secrets", &google.endpoint_secrets, 16)
            }
            None => checks,
        }
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
        // base.toml: publish_deadline_ms = 1500, shutdown_timeout_s = 10.
        assert_eq!(settings.subscriber.publish_deadline, Duration::from_millis(1_500));
        assert_eq!(settings.subscriber.shutdown_timeout, Duration::from_secs(10));

        let mut late = settings.clone();
        late.subscriber.publish_deadline = Duration::from_millis(4_001);
        let error = late.validate().unwrap_err();
        assert_eq!(error.key, "subscriber.publish_deadline_ms");
        let mut spinning = settings;
        spinning.subscriber.relay_interval = Duration::ZERO;
        let error = spinning.validate().unwrap_err().to_string();
        assert_eq!(error, "subscriber.relay_interval_ms must be positive");
    }
}
