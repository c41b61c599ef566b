//! What the connection core reads of the shared configuration: `[database]`, the keys of
//! `[fetcher]` about connecting and token upkeep, `[fitbit_api]`, `[google_health_api]` when
//! present, and `[tokens]`. The fetcher, the portal and `fitexctl` each read
//! [`ConnectionsSettings`] beside their own sections, so one file still describes the whole
//! deployment and each key is declared once: [`ConnectingSettings`] is the only declaration of
//! its three `[fetcher]` keys (the fetcher's own `FetcherSettings` reads the same section and
//! leaves them out; serde ignores the keys a struct does not name).

use std::num::NonZeroU32;
use std::time::Duration;

use fitex_common::config::InvalidSetting;
use fitex_common::database::DatabaseSettings;
use secrecy::SecretString;
use serde::Deserialize;
use serde_with::{serde_as, DurationMilliSeconds, DurationSeconds};

/// The sections the connection core reads (see the module docs).
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionsSettings {
    pub database: DatabaseSettings,
    /// The keys of `[fetcher]` about connecting and keeping tokens fresh (the section's other keys
    /// are the fetcher's own).
    pub fetcher: ConnectingSettings,
    pub fitbit_api: FitbitApiConfig,
    /// The Google Health API; connections through Google are synced when this is present.
    #[serde(default)]
    pub google_health_api: Option<GoogleHealthApiConfig>,
    pub tokens: TokenSettings,
}

/// The keys of `[fetcher]` that connecting and token upkeep read.
#[serde_as]
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectingSettings {
    /// Days fetched for a newly connected participant (0: none).
    pub backfill_days: u32,
    /// Refresh an access token this long before it expires (`refresh_margin_s`).
    #[serde_as(as = "DurationSeconds<u64>")]
    #[serde(rename = "refresh_margin_s")]
    pub refresh_margin: Duration,
    /// Flag a pasted (non-refreshable) token this many days before it expires.
    pub implicit_expiry_warning_days: i64,
}

impl ConnectingSettings {
    /// `refresh_margin` for comparing with token expiry times.
    pub fn refresh_margin_delta(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.refresh_margin).unwrap_or(chrono::Duration::MAX)
    }
}

#[serde_as]
#[derive(Debug, Clone, Deserialize)]
pub struct FitbitApiConfig {
    pub api_base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "request_timeout_ms")]
    pub request_timeout: Duration,
}

impl FitbitApiConfig {
    pub fn api_settings(&self) -> fitex_fitbit::FitbitApiSettings {
        fitex_fitbit::FitbitApiSettings {
            api_base_url: self.api_base_url.clone(),
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            request_timeout: self.request_timeout,
        }
    }
}

#[serde_as]
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
    #[serde_as(as = "DurationMilliSeconds<u64>")]
    #[serde(rename = "request_timeout_ms")]
    pub request_timeout: Duration,
    /// Google allows 300 requests per minute per user.
    pub requests_per_minute: NonZeroU32,
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
            request_timeout: self.request_timeout,
            requests_per_minute: self.requests_per_minute.get(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TokenSettings {
    /// `"<id>:<base64 of 32 random bytes>"`, newest first; the first encrypts, all decrypt.
    pub encryption_keys: Vec<SecretString>,
}

impl ConnectionsSettings {
    /// Refuses settings the core cannot work with, naming the key: a zero request timeout
    /// fails every provider call.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.database.validate()?;
        InvalidSetting::positive("fitbit_api.request_timeout_ms", self.fitbit_api.request_timeout)?;
        if let Some(google) = &self.google_health_api {
            InvalidSetting::positive(
                "google_health_api.request_timeout_ms",
                google.request_timeout,
            )?;
        }
        Ok(())
    }

    /// Refuses to start on a missing, short or published secret (`fitex_common::secrets`): the
    /// providers' client secrets and the token encryption keys.
    pub fn check_secrets(&self) -> Result<(), fitex_common::secrets::UnsafeSecrets> {
        self.secret_checks().finish()
    }

    /// The checks of [`Self::check_secrets`], for a service that adds its own secrets to them.
    pub fn secret_checks(&self) -> fitex_common::secrets::SecretChecks {
        let checks = fitex_common::secrets::SecretChecks::for_this_process()
            .require("fitbit_api.client_secret", &self.fitbit_api.client_secret, 16)
            .require_each("tokens.encryption_keys", &self.tokens.encryption_keys, 16);
        match &self.google_health_api {
            Some(google) => {
                checks.require("google_health_api.client_secret", &google.client_secret, 16)
            }
            None => checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_configuration_holds_every_section_the_core_reads() {
        let dir = fitex_common::config::config_dir().unwrap();
        let settings: ConnectionsSettings = fitex_common::config::load_from(&dir, "test").unwrap();
        assert!(settings.fetcher.backfill_days > 0);
        assert!(!settings.tokens.encryption_keys.is_empty());
        let fitbit = settings.fitbit_api.api_settings();
        assert_eq!(fitbit.request_timeout, settings.fitbit_api.request_timeout);
        assert_eq!(fitbit.request_timeout, Duration::from_millis(10_000), "read in milliseconds");
        let google =
            settings.google_health_api.as_ref().expect("base.toml configures Google Health");
        assert_eq!(google.api_settings().requests_per_minute, google.requests_per_minute.get());
        assert_eq!(settings.fetcher.refresh_margin, Duration::from_secs(300), "read in seconds");
        assert_eq!(settings.validate(), Ok(()));
    }
}
