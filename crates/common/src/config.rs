//! Layered configuration: `config/base.toml` (no secrets), then — in the development
//! environments `local` and `test` only — `config/local.toml` (development values, secrets
//! included), then `config/<FITEX_ENV>.toml` (optional), then environment variables `FITEX__SECTION__KEY=value` (double underscore between levels; lists
//! comma-separated). Secrets are `secrecy::SecretString`: they deserialize normally but never print.
//!
//! Every service reads the same files and takes the sections it needs, so one file describes the
//! whole deployment.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Environment variable naming the configuration directory (default `./config`).
pub const CONFIG_DIR_VAR: &str = "FITEX_CONFIG_DIR";
/// Environment variable naming the environment layer (`local`, `production`, ...; default `local`).
pub const ENVIRONMENT_VAR: &str = "FITEX_ENV";

/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &[
    "fitbit.client_secrets",
    "tokens.encryption_keys",
    "google_health.endpoint_secrets",
    "google_health_api.scopes",
    "http.trusted_proxies",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration directory {0} does not exist (set {CONFIG_DIR_VAR})")]
    MissingDirectory(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
}

/// A setting a service cannot run with (alone, or with another it must agree with), found by a
/// service's `Settings::validate` at start-up: the message names the key as the files spell it
/// (`fetcher.retry_base_ms must not exceed fetcher.retry_max_ms`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} {reason}")]
pub struct InvalidSetting {
    pub key: &'static str,
    pub reason: String,
}

impl InvalidSetting {
    pub fn new(key: &'static str, reason: impl Into<String>) -> Self {
        Self { key, reason: reason.into() }
    }

    /// `key` (`value`) must not exceed `limit_key` (`limit`).
    pub fn at_most<T: PartialOrd>(
        key: &'static str,
        value: T,
        limit_key: &'static str,
        limit: T,
    ) -> Result<(), Self> {
        if value > limit {
            return Err(Self::new(key, format!("must not exceed {limit_key}")));
        }
        Ok(())
    }

    /// A period that must not be zero (for an interval between passes, zero would spin).
    pub fn positive(key: &'static str, value: std::time::Duration) -> Result<(), Self> {
        if value.is_zero() {
            return Err(Self::new(key, "must be positive"));
        }
        Ok(())
    }
}

/// Ends the process with a plain message and exit status 78 ("configuration error", as for
/// unsafe secrets) when the configuration could not be read or a setting is invalid; services
/// call it first thing, before [`crate::secrets::refuse_to_start_unless_safe`].
pub fn or_refuse_to_start<T, E: std::fmt::Display>(checked: Result<T, E>) -> T {
    match checked {
        Ok(value) => value,
        Err(error) => {
            eprintln!("refusing to start: {error}");
            std::process::exit(78);
        }
    }
}

/// The configuration directory: `$FITEX_CONFIG_DIR`, else `./config`, else the repository's
/// `config/` found by walking up from the current directory (so tests run from any crate).
pub fn config_dir() -> Result<PathBuf, ConfigError> {
    if let Ok(dir) = std::env::var(CONFIG_DIR_VAR) {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() { Ok(dir) } else { Err(ConfigError::MissingDirectory(dir)) };
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    for ancestor in cwd.ancestors() {
        let candidate = ancestor.join("config");
        if candidate.join("base.toml").is_file() {
            return Ok(candidate);
        }
    }
    Err(ConfigError::MissingDirectory(cwd.join("config")))
}

/// The environments that read `config/local.toml` and may run on the development values
/// (`secrets`).
pub const DEVELOPMENT_ENVIRONMENTS: &[&str] = &["local", "test"];

pub fn is_development_environment(environment: &str) -> bool {
    DEVELOPMENT_ENVIRONMENTS.contains(&environment)
}

/// The environment layer this process runs with: `$FITEX_ENV`, else `local`.
pub fn environment() -> String {
    std::env::var(ENVIRONMENT_VAR).unwrap_or_else(|_| "local".to_string())
}

/// Loads `T` from the layers described in the module docs.
pub fn load<T: DeserializeOwned>() -> Result<T, ConfigError> {
    load_from(&config_dir()?, &environment())
}

/// Loads `T` from `dir/base.toml`, `dir/<environment>.toml` and the process environment.
pub fn load_from<T: DeserializeOwned>(dir: &Path, environment: &str) -> Result<T, ConfigError> {
    let mut env_source = config::Environment::with_prefix("FITEX")
        .prefix_separator("__")
        .separator("__")
        .list_separator(",")
        .try_parsing(true);
    for key in LIST_KEYS {
        env_source = env_source.with_list_parse_key(key);
    }
    let mut builder =
        config::Config::builder().add_source(config::File::from(dir.join("base.toml")));
    // The development values (secrets included) only for the development environments.
    if is_development_environment(environment) {
        builder = builder.add_source(config::File::from(dir.join("local.toml")).required(false));
    }
    let settings = builder
        .add_source(config::File::from(dir.join(format!("{environment}.toml"))).required(false))
        .add_source(env_source)
        .build()?;
    Ok(settings.try_deserialize()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::{ExposeSecret, SecretString};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Sample {
        section: Section,
    }

    #[derive(Debug, Deserialize)]
    struct Section {
        port: u16,
        name: String,
        secret: SecretString,
    }

    #[test]
    fn environment_layer_overrides_the_base_file_and_secrets_do_not_print() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "[section]\nport = 1\nname = \"base\"\nsecret = \"hunter2\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("staging.toml"), "[section]\nname = \"staging\"\n").unwrap();
        let sample: Sample = load_from(dir.path(), "staging").unwrap();
        assert_eq!(sample.section.port, 1);
        assert_eq!(sample.section.name, "staging");
        assert_eq!(sample.section.secret.expose_secret(), "hunter2");
        assert!(!format!("{sample:?}").contains("hunter2"));
    }

    /// Environment values arrive as strings: counts still become `NonZero*` and millisecond keys
    /// `Duration`s, and a zero count is refused naming its key.
    #[test]
    fn environment_strings_become_nonzero_counts_and_durations() {
        use std::num::NonZeroUsize;
        use std::time::Duration;

        #[derive(Debug, Deserialize)]
        struct Fetcher {
            fetcher: FetcherKeys,
        }
        #[serde_with::serde_as]
        #[derive(Debug, Deserialize)]
        struct FetcherKeys {
            concurrency: NonZeroUsize,
            #[serde_as(as = "serde_with::DurationMilliSeconds<u64>")]
            #[serde(rename = "batch_window_ms")]
            batch_window: Duration,
            #[serde_as(as = "serde_with::DurationSeconds<u64>")]
            #[serde(rename = "catch_up_after_s")]
            catch_up_after: Duration,
        }

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "[fetcher]\nconcurrency = 16\nbatch_window_ms = 200\ncatch_up_after_s = 0\n",
        )
        .unwrap();
        let from_file: Fetcher = load_from(dir.path(), "local").unwrap();
        assert_eq!(from_file.fetcher.concurrency.get(), 16);
        assert_eq!(from_file.fetcher.batch_window, Duration::from_millis(200));
        assert_eq!(from_file.fetcher.catch_up_after, Duration::ZERO, "0 stays a valid \"off\"");

        // No other test of this crate reads `[fetcher]`, so setting these here races nothing.
        std::env::set_var("FITEX__FETCHER__CONCURRENCY", "8");
        std::env::set_var("FITEX__FETCHER__BATCH_WINDOW_MS", "250");
        std::env::set_var("FITEX__FETCHER__CATCH_UP_AFTER_S", "90");
        let from_env = load_from::<Fetcher>(dir.path(), "local");
        std::env::set_var("FITEX__FETCHER__CONCURRENCY", "0");
        let zero = load_from::<Fetcher>(dir.path(), "local");
        for key in ["CONCURRENCY", "BATCH_WINDOW_MS", "CATCH_UP_AFTER_S"] {
            std::env::remove_var(format!("FITEX__FETCHER__{key}"));
        }
        let from_env = from_env.unwrap().fetcher;
        assert_eq!(from_env.concurrency.get(), 8);
        assert_eq!(from_env.batch_window, Duration::from_millis(250));
        assert_eq!(from_env.catch_up_after, Duration::from_secs(90));
        let error = zero.unwrap_err().to_string();
        assert!(error.contains("fetcher.concurrency"), "{error}");
    }

    #[test]
    fn a_setting_rule_names_the_key() {
        use std::time::Duration;
        let error = InvalidSetting::at_most("fetcher.retry_base_ms", 5, "fetcher.retry_max_ms", 4)
            .unwrap_err();
        assert_eq!(error.to_string(), "fetcher.retry_base_ms must not exceed fetcher.retry_max_ms");
        assert!(InvalidSetting::at_most("a", 4, "b", 4).is_ok());
        let error = InvalidSetting::positive("fetcher.purge_check_s", Duration::ZERO).unwrap_err();
        assert_eq!(error.to_string(), "fetcher.purge_check_s must be positive");
    }

    #[test]
    fn a_bad_value_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "[section]\nport = \"eighty\"\nname = \"x\"\nsecret = \"s\"\n",
        )
        .unwrap();
        let err = load_from::<Sample>(dir.path(), "local").unwrap_err().to_string();
        assert!(err.contains("port"), "{err}");
    }
}
