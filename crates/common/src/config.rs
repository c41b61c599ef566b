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
