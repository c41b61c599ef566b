//! The portal reads the sections the connection core reads (`[database]`, `[fitbit_api]`,
//! `[google_health_api]` when present, `[tokens]`, and `[fetcher]`'s keys about connecting: see
//! `fitex_connections::settings`), `[telemetry]`, `[http]`, the topics' names from
//! `[kafka.topics]` (no other `[kafka]` key: it never talks to the broker) and its own `[portal]`
//! section (every key but the optional secret in `config/base.toml`).

use std::num::{NonZeroU64, NonZeroUsize};
use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use fitex_common::config::{ConfigError, InvalidSetting};
use fitex_common::health::HttpLimits;
use fitex_common::kafka::Topics;
use fitex_common::telemetry::TelemetrySettings;
use fitex_connections::ConnectionsSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone)]
pub struct Settings {
    /// The shared sections, as the connection core reads them (the portal connects through it).
    pub base: ConnectionsSettings,
    pub telemetry: TelemetrySettings,
    pub portal: PortalSettings,
    /// Head size, head and body deadlines, keep-alive (`[http]`).
    pub http: HttpLimits,
    /// The topics' names (`[kafka.topics]`): activity logged by hand is announced on
    /// `activity_days`, through the outbox the fetcher's relay publishes.
    pub topics: Topics,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortalSettings {
    pub host: String,
    pub port: u16,
    /// Where participants reach the portal; the OAuth redirect URIs are
    /// `{public_base_url}/connect/fitbit/callback` and `{public_base_url}/connect/google/callback`
    /// (registered with Fitbit and Google).
    pub public_base_url: String,
    pub authorize_url: String,
    pub scopes: String,
    /// Base64 of at least 64 random bytes: signs and encrypts the session cookie. When absent a
    /// random key is made at start-up (sessions then end with the process and are not shared
    /// between replicas).
    #[serde(default)]
    pub session_key: Option<SecretString>,
    pub cookie_secure: bool,
    pub cookie_name: String,
    /// A sign-in ends after this long without a request (`session_idle_timeout_s`, seconds).
    #[serde(rename = "session_idle_timeout_s", deserialize_with = "positive_seconds")]
    pub session_idle_timeout: Duration,
    /// A sign-in ends this long after it began, however much it is used
    /// (`session_absolute_timeout_s`, seconds); the session cookie expires then too.
    #[serde(rename = "session_absolute_timeout_s", deserialize_with = "positive_seconds")]
    pub session_absolute_timeout: Duration,
    pub workers: NonZeroUsize,
}

/// A whole number of seconds above zero (a zero timeout would end every sign-in at once).
fn positive_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    Ok(Duration::from_secs(NonZeroU64::deserialize(deserializer)?.get()))
}

#[derive(Deserialize)]
struct PortalSection {
    portal: PortalSettings,
    http: HttpLimits,
    telemetry: TelemetrySettings,
    kafka: TopicNames,
}

/// Of `[kafka]`, only the topics' names: the portal writes its events into the outbox and needs
/// no broker address or client setting.
#[derive(Deserialize)]
struct TopicNames {
    topics: Topics,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionKeyError {
    #[error("portal.session_key is not base64")]
    NotBase64,
    #[error("portal.session_key must hold at least 64 bytes (it holds {0})")]
    TooShort(usize),
}

impl PortalSettings {
    /// Fitbit's redirect URI.
    pub fn redirect_uri(&self) -> String {
        format!("{}/connect/fitbit/callback", self.public_base_url.trim_end_matches('/'))
    }

    /// Google's redirect URI.
    pub fn google_redirect_uri(&self) -> String {
        format!("{}/connect/google/callback", self.public_base_url.trim_end_matches('/'))
    }

    /// How long a sign-in lasts.
    pub fn session_timeouts(&self) -> crate::sessions::Timeouts {
        crate::sessions::Timeouts {
            idle: self.session_idle_timeout,
            absolute: self.session_absolute_timeout,
        }
    }

    /// The configured session key's bytes, or `None` when none is configured.
    pub fn session_key_bytes(&self) -> Result<Option<Vec<u8>>, SessionKeyError> {
        let Some(key) = &self.session_key else { return Ok(None) };
        let text = key.expose_secret().trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE.decode(text))
            .map_err(|_| SessionKeyError::NotBase64)?;
        if bytes.len() < 64 {
            return Err(SessionKeyError::TooShort(bytes.len()));
        }
        Ok(Some(bytes))
    }
}

impl Settings {
    /// Loads from the usual layers (`config/base.toml`, `config/$FITEX_ENV.toml`, environment).
    pub fn load() -> Result<Self, ConfigError> {
        let own: PortalSection = fitex_common::config::load()?;
        Ok(Settings {
            base: fitex_common::config::load()?,
            telemetry: own.telemetry,
            portal: own.portal,
            http: own.http,
            topics: own.kafka.topics,
        })
    }

    /// Refuses settings the portal cannot run with, naming the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.base.validate()
    }

    /// Refuses to start on a missing, short or published secret (`fitex_common::secrets`): its
    /// own session key and metrics token, and the secrets it uses to connect participants.
    pub fn check_secrets(&self) -> Result<(), fitex_common::secrets::UnsafeSecrets> {
        let unset = SecretString::from(String::new());
        let session_key = self.portal.session_key.as_ref().unwrap_or(&unset);
        let metrics_token = self.telemetry.metrics_token.as_ref();
        self.base
            .secret_checks()
            .require("portal.session_key", session_key, 86)
            .optional("telemetry.metrics_token", metrics_token, 16)
            .finish()
    }

    pub fn load_from(dir: &Path, environment: &str) -> Result<Self, ConfigError> {
        let own: PortalSection = fitex_common::config::load_from(dir, environment)?;
        Ok(Settings {
            base: fitex_common::config::load_from(dir, environment)?,
            telemetry: own.telemetry,
            portal: own.portal,
            http: own.http,
            topics: own.kafka.topics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_key_needs_64_bytes_of_base64() {
        let dir = fitex_common::config::config_dir().unwrap();
        let mut settings = Settings::load_from(&dir, "test").unwrap().portal;
        settings.session_key = None;
        assert_eq!(settings.session_key_bytes(), Ok(None));
        settings.session_key = Some(SecretString::from(STANDARD.encode([7u8; 32])));
        assert_eq!(settings.session_key_bytes(), Err(SessionKeyError::TooShort(32)));
        settings.session_key = Some(SecretString::from("not base64!".to_string()));
        assert_eq!(settings.session_key_bytes(), Err(SessionKeyError::NotBase64));
        settings.session_key = Some(SecretString::from(STANDARD.encode([7u8; 64])));
        assert_eq!(settings.session_key_bytes().unwrap().unwrap().len(), 64);
        assert!(!format!("{settings:?}").contains(&STANDARD.encode([7u8; 64])));
    }

    #[test]
    fn the_shared_configuration_needs_no_portal_section() {
        let dir = fitex_common::config::config_dir().unwrap();
        let settings = Settings::load_from(&dir, "test").unwrap();
        assert_eq!(settings.portal.authorize_url, "https://www.fitbit.com/oauth2/authorize");
        assert_eq!(settings.portal.redirect_uri(), "http://127.0.0.1:8083/connect/fitbit/callback");
        assert_eq!(
            settings.portal.google_redirect_uri(),
            "http://127.0.0.1:8083/connect/google/callback"
        );
    }

    #[test]
    fn session_timeouts_are_read_in_seconds_and_must_be_positive() {
        let dir = fitex_common::config::config_dir().unwrap();
        let settings = Settings::load_from(&dir, "test").unwrap();
        assert_eq!(settings.portal.session_idle_timeout, Duration::from_secs(7200));
        assert_eq!(settings.portal.session_absolute_timeout, Duration::from_secs(30 * 86_400));

        // base.toml, then `toml` over it.
        let read = |toml: &str| {
            config::Config::builder()
                .add_source(config::File::from(dir.join("base.toml")))
                .add_source(config::File::from_str(toml, config::FileFormat::Toml))
                .build()
                .unwrap()
                .try_deserialize::<PortalSection>()
        };
        let portal =
            read("[portal]\nsession_idle_timeout_s = 60\nsession_absolute_timeout_s = \"3600\"")
                .unwrap()
                .portal;
        assert_eq!(portal.session_idle_timeout, Duration::from_secs(60));
        assert_eq!(portal.session_absolute_timeout, Duration::from_secs(3600));
        assert!(read("[portal]\nsession_idle_timeout_s = 0").is_err());
        assert!(read("[portal]\nsession_absolute_timeout_s = -5").is_err());
        let defaults = read("").unwrap().portal;
        assert_eq!(defaults.session_idle_timeout, Duration::from_secs(7200));
    }

    #[test]
    fn of_kafka_only_the_topic_names_are_needed() {
        let dir = fitex_common::config::config_dir().unwrap();
        let settings = Settings::load_from(&dir, "test").unwrap();
        assert_eq!(settings.topics.activity_days, "fitex.activity-days.v1");

        // base.toml without the broker and client keys of `[kafka]`.
        let base = std::fs::read_to_string(dir.join("base.toml")).unwrap();
        let client_keys = ["brokers", "message_timeout_ms", "statistics_interval_ms"];
        let without_broker: Vec<&str> = base
            .lines()
            .filter(|line| !client_keys.iter().any(|key| line.starts_with(&format!("{key} ="))))
            .collect();
        assert_eq!(base.lines().count() - without_broker.len(), 3);
        let read = |toml: &str| {
            config::Config::builder()
                .add_source(config::File::from_str(toml, config::FileFormat::Toml))
                .build()
                .unwrap()
                .try_deserialize::<PortalSection>()
        };
        let own = read(&without_broker.join("\n")).unwrap();
        assert_eq!(own.kafka.topics, Topics::default());
        let without_activity_topic = without_broker.join("\n").replace("activity_days =", "x =");
        assert!(read(&without_activity_topic).is_err(), "the activity topic is needed");
    }
}
