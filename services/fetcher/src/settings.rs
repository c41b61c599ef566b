//! The fetcher's configuration: its own `[fetcher]` keys, and the sections it shares with the
//! connection core (`fitex_connections::settings`), read into the core's types.

use std::time::Duration;

use fitex_common::database::DatabaseSettings;
use fitex_common::kafka::KafkaSettings;
use fitex_common::telemetry::TelemetrySettings;
use fitex_connections::settings::{
    ConnectingSettings, ConnectionsSettings, FitbitApiConfig, GoogleHealthApiConfig, TokenSettings,
};
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
    /// The keys of this section the connection core reads too.
    pub fn connecting(&self) -> ConnectingSettings {
        ConnectingSettings {
            backfill_days: self.backfill_days,
            refresh_margin_s: self.refresh_margin_s,
            implicit_expiry_warning_days: self.implicit_expiry_warning_days,
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            base: Duration::from_millis(self.retry_base_ms),
            max: Duration::from_millis(self.retry_max_ms),
        }
    }
}

impl Settings {
    /// The sections the connection core reads, as the portal and `fitexctl` read them.
    pub fn connections(&self) -> ConnectionsSettings {
        ConnectionsSettings {
            database: self.database.clone(),
            fetcher: self.fetcher.connecting(),
            fitbit_api: self.fitbit_api.clone(),
            google_health_api: self.google_health_api.clone(),
            tokens: self.tokens.clone(),
        }
    }

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
