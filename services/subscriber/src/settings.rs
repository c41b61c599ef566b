use std::time::Duration;

use fitex_common::database::DatabaseSettings;
use fitex_common::health::HttpSettings;
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
    /// The Google Health API webhook; served when this section is present.
    #[serde(default)]
    pub google_health: Option<GoogleHealthWebhookSettings>,
    /// Head size, head and body deadlines, keep-alive, and the proxies whose forwarding header
    /// names the client (`[http]`; defaults when absent: no proxy is trusted).
    #[serde(default)]
    pub http: HttpSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriberSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub fitbit_webhook_path: String,
    #[serde(default = "default_google_health_webhook_path")]
    pub google_health_webhook_path: String,
    pub max_body_bytes: usize,
    pub publish_deadline_ms: u64,
    pub relay_interval_ms: u64,
    pub relay_batch_size: i64,
    pub shutdown_timeout_s: u64,
    pub workers: usize,
}

fn default_google_health_webhook_path() -> String {
    "/webhooks/google-health".into()
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

#[derive(Debug, Clone, Deserialize)]
pub struct GoogleHealthWebhookSettings {
    /// The subscriber's `endpointAuthorization.secret`, exactly as given to Google ("Bearer …"),
    /// newest first: keep the old one listed while patching the subscriber to a new one.
    pub endpoint_secrets: Vec<SecretString>,
    /// Google's Tink JSON public keyset.
    pub keyset_url: String,
    /// Keys rotate about monthly: the keyset is refetched on an unknown key id, at most this often.
    pub keyset_refetch_interval_s: u64,
    pub keyset_timeout_ms: u64,
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
        if let Some(google) = &self.google_health {
            let path = &self.subscriber.google_health_webhook_path;
            if !path.starts_with('/') || *path == self.subscriber.fitbit_webhook_path {
                return Err(
                    "subscriber.google_health_webhook_path must start with '/' and differ \
                            from the Fitbit path"
                        .into(),
                );
            }
            if google.endpoint_secrets.is_empty()
                || google.endpoint_secrets.iter().any(|s| s.expose_secret().trim().is_empty())
            {
                return Err(
                    "google_health.endpoint_secrets must list at least one non-empty secret".into(),
                );
            }
            if !(google.keyset_url.starts_with("https://")
                || google.keyset_url.starts_with("http://"))
            {
                return Err("google_health.keyset_url must be an http(s) URL".into());
            }
            if google.keyset_refetch_interval_s == 0 {
                return Err("google_health.keyset_refetch_interval_s must be positive".into());
            }
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
