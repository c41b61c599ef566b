//! Google OAuth scopes: full URLs, separated by spaces in `scope` parameters and answers.

use std::collections::BTreeSet;

use crate::scope::Scope;

const PREFIX: &str = "https://www.googleapis.com/auth/";

/// The Google Health scopes (all read-only, as in Google's discovery document) and
/// `cloud-platform`, the project credential's scope. Declaration order is listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GoogleScope {
    ActivityAndFitness,
    HealthMetricsAndMeasurements,
    Sleep,
    Profile,
    Settings,
    Location,
    Ecg,
    Irn,
    /// Manages subscribers; only a service account's project token carries it here.
    CloudPlatform,
}

/// What a cohort user and an admin grant consent to: enough to read steps, the time zone and the
/// identity.
pub const DEFAULT_GOOGLE_SCOPES: [GoogleScope; 3] =
    [GoogleScope::ActivityAndFitness, GoogleScope::Settings, GoogleScope::Profile];

impl GoogleScope {
    pub const ALL: [GoogleScope; 9] = [
        GoogleScope::ActivityAndFitness,
        GoogleScope::HealthMetricsAndMeasurements,
        GoogleScope::Sleep,
        GoogleScope::Profile,
        GoogleScope::Settings,
        GoogleScope::Location,
        GoogleScope::Ecg,
        GoogleScope::Irn,
        GoogleScope::CloudPlatform,
    ];

    /// The scope's URL, as in `scope` parameters.
    pub fn url(self) -> &'static str {
        match self {
            GoogleScope::ActivityAndFitness => {
                "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly"
            }
            GoogleScope::HealthMetricsAndMeasurements => {
                "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly"
            }
            GoogleScope::Sleep => "https://www.googleapis.com/auth/googlehealth.sleep.readonly",
            GoogleScope::Profile => "https://www.googleapis.com/auth/googlehealth.profile.readonly",
            GoogleScope::Settings => {
                "https://www.googleapis.com/auth/googlehealth.settings.readonly"
            }
            GoogleScope::Location => {
                "https://www.googleapis.com/auth/googlehealth.location.readonly"
            }
            GoogleScope::Ecg => "https://www.googleapis.com/auth/googlehealth.ecg.readonly",
            GoogleScope::Irn => "https://www.googleapis.com/auth/googlehealth.irn.readonly",
            GoogleScope::CloudPlatform => "https://www.googleapis.com/auth/cloud-platform",
        }
    }

    pub fn parse(url: &str) -> Option<GoogleScope> {
        GoogleScope::ALL.into_iter().find(|scope| scope.url() == url)
    }

    /// The Google scope a Fitbit scope became (Google's migration mapping), if any.
    pub fn from_fitbit(scope: Scope) -> Option<GoogleScope> {
        Some(match scope {
            Scope::Activity => GoogleScope::ActivityAndFitness,
            Scope::Heartrate
            | Scope::Weight
            | Scope::OxygenSaturation
            | Scope::Temperature
            | Scope::RespiratoryRate
            | Scope::CardioFitness => GoogleScope::HealthMetricsAndMeasurements,
            Scope::Sleep => GoogleScope::Sleep,
            Scope::Profile => GoogleScope::Profile,
            Scope::Settings => GoogleScope::Settings,
            Scope::Location => GoogleScope::Location,
            Scope::Electrocardiogram => GoogleScope::Ecg,
            Scope::IrregularRhythmNotifications => GoogleScope::Irn,
            Scope::Nutrition | Scope::Social => return None,
        })
    }

    /// A `googlehealth.*` scope (every one but `cloud-platform`).
    pub fn is_health(self) -> bool {
        self != GoogleScope::CloudPlatform
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OAuth scope {0}")]
pub struct UnknownGoogleScope(pub String);

/// Parses a space-separated list of scope URLs (Google also accepts the short
/// `googlehealth.…` form after the common prefix, and so does the simulator).
pub fn parse_scopes(text: &str) -> Result<BTreeSet<GoogleScope>, UnknownGoogleScope> {
    text.split_whitespace()
        .map(|word| {
            let url = if word.starts_with("https://") {
                word.to_string()
            } else {
                format!("{PREFIX}{word}")
            };
            GoogleScope::parse(&url).ok_or_else(|| UnknownGoogleScope(word.to_string()))
        })
        .collect()
}

/// The scope URLs separated by spaces, in declaration order.
pub fn scope_string(scopes: &BTreeSet<GoogleScope>) -> String {
    scopes.iter().map(|scope| scope.url()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_round_trip_and_unknown_scopes_are_refused() {
        for scope in GoogleScope::ALL {
            assert_eq!(GoogleScope::parse(scope.url()), Some(scope));
        }
        let text = "https://www.googleapis.com/auth/googlehealth.settings.readonly \
                    googlehealth.activity_and_fitness.readonly";
        let scopes = parse_scopes(text).unwrap();
        assert_eq!(
            scope_string(&scopes),
            "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly \
             https://www.googleapis.com/auth/googlehealth.settings.readonly"
        );
        assert_eq!(
            parse_scopes("https://www.googleapis.com/auth/fitness.activity.read"),
            Err(UnknownGoogleScope("https://www.googleapis.com/auth/fitness.activity.read".into()))
        );
    }

    #[test]
    fn fitbit_scopes_map_to_their_google_successors() {
        assert_eq!(
            GoogleScope::from_fitbit(Scope::Activity),
            Some(GoogleScope::ActivityAndFitness)
        );
        assert_eq!(
            GoogleScope::from_fitbit(Scope::Heartrate),
            Some(GoogleScope::HealthMetricsAndMeasurements)
        );
        assert_eq!(GoogleScope::from_fitbit(Scope::Social), None);
        assert!(!GoogleScope::CloudPlatform.is_health());
    }
}
