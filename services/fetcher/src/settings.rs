use std::time::Duration;

use fitex_common::database::DatabaseSettings;
use fitex_common::kafka::KafkaSettings;
use fitex_common::telemetry::TelemetrySettings;
use secrecy::SecretString;
use serde::Deserialize;

use crate::retry::RetryPolicy;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    pub database: DatabaseSettings,
    pub kafka: KafkaSettings,
    pub fetcher: FetcherSettings,
    pub fitbit_api: FitbitApiConfig,
    /// The Google Health API; connections through Google are synced when this is present.
    #[serde(default)]
    pub google_health_api: Option<GoogleHealthApiConfig>,
    pub tokens: TokenSettings,
    /// Head size, head and body deadlines, keep-alive (`[http]`; defaults when absent).
    #[serde(default)]
    pub http: fitex_common::health::HttpLimits,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FetcherSettings {
    /// Address of the health and metrics endpoints.
    pub host: String,
    pub port: u16,
    pub group_id: String,
    /// A batch closes at this many notifications or after `batch_window_ms`, whichever first;
    /// notifications within one batch are coalesced.
    pub batch_max: usize,
    pub batch_window_ms: u64,
    /// A user-day fetched less than this long ago is fetched again only when this period has
    /// passed (repeat notifications of one sync cost one more call, not one each).
    pub settle_ms: u64,
    /// When positive, a notified day is fetched only once no notification for it has come for
    /// this long (at most `quiet_max_ms` after the first): one call per changing day, at the cost
    /// of that much latency. 0 fetches at once.
    pub quiet_ms: u64,
    pub quiet_max_ms: u64,
    /// Users fetched at once.
    pub concurrency: usize,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Days fetched for a newly connected participant.
    pub backfill_days: u32,
    /// Refresh an access token this long before it expires.
    pub refresh_margin_s: i64,
    /// Flag a pasted (non-refreshable) token this many days before it expires.
    pub implicit_expiry_warning_days: i64,
    pub pending_poll_ms: u64,
    pub relay_interval_ms: u64,
    /// A connection that has not synced for this long gets its latest days fetched (a lost
    /// notification; consent withdrawn at Google, which sends no notice). 0 disables.
    #[serde(default = "default_catch_up_after_s")]
    pub catch_up_after_s: u64,
    /// How often quiet connections are looked for.
    #[serde(default = "default_catch_up_check_s")]
    pub catch_up_check_s: u64,
    /// A revocation deletes the participant's data everywhere (as an account deletion does),
    /// instead of only disconnecting them.
    pub delete_on_revoke: bool,
    /// A deleted participant is hidden at once and purged everywhere this long after (until then
    /// `fitexctl users restore` brings them back).
    pub purge_after_s: u64,
    /// How often participants due for purging are looked for.
    pub purge_check_s: u64,
}

fn default_catch_up_after_s() -> u64 {
    86_400
}

fn default_catch_up_check_s() -> u64 {
    600
}

impl FetcherSettings {
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            base: Duration::from_millis(self.retry_base_ms),
            max: Duration::from_millis(self.retry_max_ms),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct FitbitApiConfig {
    pub api_base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub request_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GoogleHealthApiConfig {
    /// `https://health.googleapis.com` (or the simulator's base URL).
    pub api_base_url: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// OAuth scopes asked at consent (the activity scope reads steps).
    pub scopes: Vec<String>,
    pub request_timeout_ms: u64,
    /// Google allows 300 requests per minute per user.
    pub requests_per_minute: u32,
}

impl GoogleHealthApiConfig {
    pub fn api_settings(&self) -> fitex_google_health::GoogleHealthApiSettings {
        fitex_google_health::GoogleHealthApiSettings {
            api_base_url: self.api_base_url.clone(),
            oauth: fitex_google_health::GoogleOAuthSettings {
                authorize_url: self.authorize_url.clone(),
                token_url: self.token_url.clone(),
                revoke_url: self.revoke_url.clone(),
                client_id: self.client_id.clone(),
                client_secret: self.client_secret.clone(),
                scopes: self.scopes.clone(),
            },
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            requests_per_minute: self.requests_per_minute,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TokenSettings {
    /// `"<id>:<base64 of 32 random bytes>"`, newest first; the first encrypts, all decrypt.
    pub encryption_keys: Vec<SecretString>,
}

impl Settings {
    /// Refuses to start on a missing, short or published secret (`fitex_common::secrets`).
    pub fn check_secrets(&self) -> Result<(), fitex_common::secrets::UnsafeSecrets> {
        let checks = fitex_common::secrets::SecretChecks::for_this_process()
            .require("fitbit_api.client_secret", &self.fitbit_api.client_secret, 16)
            .require_each("tokens.encryption_keys", &self.tokens.encryption_keys, 16)
            .optional("telemetry.metrics_token", self.telemetry.metrics_token.as_ref(), 16);
        match &self.google_health_api {
            Some(google) => {
                checks.require("google_health_api.client_secret", &google.client_secret, 16)
            }
            None => checks,
        }
        .finish()
    }
}
