//! Secrets checked before a service starts. `config/base.toml` holds no working secret; the
//! development values live in `config/local.toml`, read only by the development environments
//! (`local`, `test`). Anywhere else (production, staging, …) a service refuses to start, with a
//! plain message naming the setting, when a secret it needs is missing, shorter than its minimum,
//! or equal to any value ever committed as a development default — so a deployment that forgot to
//! set one cannot run on a key everybody can read in the repository.

use secrecy::{ExposeSecret, SecretString};

use crate::config::{environment, is_development_environment};

/// Every value that has ever been committed as a development default (in `config/`, the
/// docker-compose file, the scripts or the tests' settings). Kept in one place; a value once
/// listed stays listed.
pub const DEVELOPMENT_SECRETS: &[&str] = &[
    // config/base.toml until 2026-12 (now config/local.toml)
    "dev-client-secret-change-me",
    "dev-verification-code",
    "Bearer dev-google-health-endpoint-secret",
    "dev-google-health-endpoint-secret",
    "dev-google-client-secret-change-me",
    "dev1:ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtISE=",
    "ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtISE=",
    "dev-goals-api-token",
    "Zml0ZXgtZGV2LW9ubHktcG9ydGFsLXNlc3Npb24ta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi0wMTIzNDU2Nzg5YWI=",
    // the simulator's and docker-compose's defaults
    "sim-client-secret",
    "sim-google-client-secret",
    "fitex-dev-password",
];

/// Whether `value` is (or, for an encryption key `id:key`, carries) a development default.
pub fn is_development_secret(value: &str) -> bool {
    let value = value.trim();
    let key_part = value.split_once(':').map(|(_, key)| key);
    DEVELOPMENT_SECRETS.iter().any(|dev| value == *dev || key_part == Some(*dev))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretProblem {
    #[error("{setting} is not set")]
    Missing { setting: String },
    #[error("{setting} is too short: at least {min} characters are needed")]
    TooShort { setting: String, min: usize },
    #[error("{setting} is a development value published in the repository")]
    DevelopmentDefault { setting: String },
}

/// The secrets a service needs, checked together so that one start-up names every problem.
#[derive(Debug)]
pub struct SecretChecks {
    development: bool,
    problems: Vec<SecretProblem>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to start: {}. Set each through its FITEX__… environment variable (docs/operations.md, \"Secrets\")",
    .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
)]
pub struct UnsafeSecrets {
    pub problems: Vec<SecretProblem>,
}

impl SecretChecks {
    /// Checks for the environment `FITEX_ENV` names (development values allowed only in the
    /// development environments).
    pub fn for_environment(environment: &str) -> Self {
        Self { development: is_development_environment(environment), problems: Vec::new() }
    }

    /// For the environment of this process.
    pub fn for_this_process() -> Self {
        Self::for_environment(&environment())
    }

    /// `setting` (named as in the configuration, e.g. `goals.api_token`) must be set, at least
    /// `min` characters long, and not a development value outside development.
    pub fn require(mut self, setting: &str, value: &SecretString, min: usize) -> Self {
        let text = value.expose_secret().trim();
        let problem = if text.is_empty() {
            Some(SecretProblem::Missing { setting: setting.into() })
        } else if text.chars().count() < min {
            Some(SecretProblem::TooShort { setting: setting.into(), min })
        } else if !self.development && is_development_secret(text) {
            Some(SecretProblem::DevelopmentDefault { setting: setting.into() })
        } else {
            None
        };
        self.problems.extend(problem);
        self
    }

    /// As [`Self::require`] for every value of a list setting, which must not be empty.
    pub fn require_each(mut self, setting: &str, values: &[SecretString], min: usize) -> Self {
        if values.is_empty() {
            self.problems.push(SecretProblem::Missing { setting: setting.into() });
            return self;
        }
        for value in values {
            self = self.require(setting, value, min);
        }
        self
    }

    /// As [`Self::require`], for a secret that may be left unset (then nothing is checked).
    pub fn optional(self, setting: &str, value: Option<&SecretString>, min: usize) -> Self {
        match value {
            Some(value) if !value.expose_secret().is_empty() => self.require(setting, value, min),
            _ => self,
        }
    }

    pub fn finish(mut self) -> Result<(), UnsafeSecrets> {
        self.problems.dedup();
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(UnsafeSecrets { problems: self.problems })
        }
    }
}

/// Ends the process with the plain message (exit status 78, "configuration error") when the
/// secrets are unsafe; services call it before anything else.
pub fn refuse_to_start_unless_safe(checked: Result<(), UnsafeSecrets>) {
    if let Err(unsafe_secrets) = checked {
        eprintln!("{unsafe_secrets}");
        std::process::exit(78);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    #[test]
    fn a_development_value_is_refused_outside_development_and_named() {
        let error = SecretChecks::for_environment("production")
            .require("goals.api_token", &secret("dev-goals-api-token"), 16)
            .finish()
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("goals.api_token is a development value"), "{message}");
        assert!(!message.contains("dev-goals-api-token"), "the value is never printed");
        assert!(SecretChecks::for_environment("local")
            .require("goals.api_token", &secret("dev-goals-api-token"), 16)
            .finish()
            .is_ok());
    }

    #[test]
    fn missing_and_short_secrets_are_refused_everywhere() {
        let error = SecretChecks::for_environment("local")
            .require("portal.session_key", &secret(""), 16)
            .require("goals.api_token", &secret("short"), 16)
            .require_each("fitbit.client_secrets", &[], 16)
            .finish()
            .unwrap_err();
        assert_eq!(
            error.problems,
            vec![
                SecretProblem::Missing { setting: "portal.session_key".into() },
                SecretProblem::TooShort { setting: "goals.api_token".into(), min: 16 },
                SecretProblem::Missing { setting: "fitbit.client_secrets".into() },
            ]
        );
    }

    #[test]
    fn every_value_of_a_list_and_the_key_of_an_encryption_key_are_checked() {
        let keys = [
            secret("prod2:cHJvZHVjdGlvbi1rZXktMzItYnl0ZXMtbG9uZy0wMTI="),
            secret("old:ZGV2LW9ubHktdG9rZW4ta2V5LWRvLW5vdC11c2UtISE="),
        ];
        let error = SecretChecks::for_environment("production")
            .require_each("tokens.encryption_keys", &keys, 16)
            .finish()
            .unwrap_err();
        assert_eq!(
            error.problems,
            vec![SecretProblem::DevelopmentDefault { setting: "tokens.encryption_keys".into() }]
        );
    }

    #[test]
    fn an_unset_optional_secret_passes_and_a_set_one_is_checked() {
        assert!(SecretChecks::for_environment("production")
            .optional("telemetry.metrics_token", None, 16)
            .finish()
            .is_ok());
        assert!(SecretChecks::for_environment("production")
            .optional("telemetry.metrics_token", Some(&secret("tiny")), 16)
            .finish()
            .is_err());
    }
}
