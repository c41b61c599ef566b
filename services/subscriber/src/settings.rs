use std::time::Duration;

use fitex_common::database::DatabaseSettings;
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
    pub subscriber: SubscriberSettings,
    pub fitbit: FitbitWebhookSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriberSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub fitbit_webhook_path: String,
    pub max_body_bytes: usize,
    pub publish_deadline_ms: u64,
    pub relay_interval_ms: u64,
    pub relay_batch_size: i64,
    pub shutdown_timeout_s: u64,
    pub workers: usize,
}

impl SubscriberSettings {
    pub fn publish_deadline(&self) -> Duration {
        Duration::from_millis(self.publish_deadline_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct FitbitWebhookSettings {
    pub verification_code: SecretString,
    /// Newest first; every listed secret's signatures are accepted (rotation without downtime).
    pub client_secrets: Vec<SecretString>,
}

impl Settings {
    /// Refuses settings that would make the endpoint unsafe or useless, with the reason.
    pub fn validate(&self) -> Result<(), String> {
        use secrecy::ExposeSecret;
        if self.fitbit.client_secrets.is_empty()
            || self.fitbit.client_secrets.iter().any(|s| s.expose_secret().is_empty())
        {
            return Err("fitbit.client_secrets must list at least one non-empty secret".into());
        }
        if self.fitbit.verification_code.expose_secret().is_empty() {
            return Err("fitbit.verification_code must not be empty".into());
        }
        if !self.subscriber.fitbit_webhook_path.starts_with('/') {
            return Err("subscriber.fitbit_webhook_path must start with '/'".into());
        }
        if self.subscriber.publish_deadline_ms == 0 || self.subscriber.publish_deadline_ms > 4_000 {
            return Err(
                "subscriber.publish_deadline_ms must be between 1 and 4000 (providers allow 5 s)"
                    .into(),
            );
        }
        if self.subscriber.max_body_bytes == 0 {
            return Err("subscriber.max_body_bytes must be positive".into());
        }
        Ok(())
    }
}
