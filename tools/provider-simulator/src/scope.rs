//! OAuth scopes: the names used in `scope` parameters and responses, and the short codes Fitbit
//! puts in the access token's `scopes` claim.

use std::collections::BTreeSet;
use std::fmt;

/// One Fitbit OAuth scope. The declaration order is the order used when listing scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Activity,
    CardioFitness,
    Electrocardiogram,
    Heartrate,
    IrregularRhythmNotifications,
    Location,
    Nutrition,
    OxygenSaturation,
    Profile,
    RespiratoryRate,
    Settings,
    Sleep,
    Social,
    Temperature,
    Weight,
}

impl Scope {
    pub const ALL: [Scope; 15] = [
        Scope::Activity,
        Scope::CardioFitness,
        Scope::Electrocardiogram,
        Scope::Heartrate,
        Scope::IrregularRhythmNotifications,
        Scope::Location,
        Scope::Nutrition,
        Scope::OxygenSaturation,
        Scope::Profile,
        Scope::RespiratoryRate,
        Scope::Settings,
        Scope::Sleep,
        Scope::Social,
        Scope::Temperature,
        Scope::Weight,
    ];

    /// The name used in the `scope` parameter (`activity`, `heartrate`, …).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Activity => "activity",
            Scope::CardioFitness => "cardio_fitness",
            Scope::Electrocardiogram => "electrocardiogram",
            Scope::Heartrate => "heartrate",
            Scope::IrregularRhythmNotifications => "irregular_rhythm_notifications",
            Scope::Location => "location",
            Scope::Nutrition => "nutrition",
            Scope::OxygenSaturation => "oxygen_saturation",
            Scope::Profile => "profile",
            Scope::RespiratoryRate => "respiratory_rate",
            Scope::Settings => "settings",
            Scope::Sleep => "sleep",
            Scope::Social => "social",
            Scope::Temperature => "temperature",
            Scope::Weight => "weight",
        }
    }

    /// The short code in the JWT `scopes` claim (`wact`, `whr`, …).
    pub fn code(self) -> &'static str {
        match self {
            Scope::Activity => "wact",
            Scope::CardioFitness => "wcf",
            Scope::Electrocardiogram => "wecg",
            Scope::Heartrate => "whr",
            Scope::IrregularRhythmNotifications => "wirn",
            Scope::Location => "wloc",
            Scope::Nutrition => "wnut",
            Scope::OxygenSaturation => "wspo2",
            Scope::Profile => "wpro",
            Scope::RespiratoryRate => "wrsp",
            Scope::Settings => "wset",
            Scope::Sleep => "wsle",
            Scope::Social => "wsoc",
            Scope::Temperature => "wtem",
            Scope::Weight => "wwei",
        }
    }

    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn from_code(code: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope: {0}")]
pub struct UnknownScope(pub String);

/// Scopes of cohort users and of [`CreateUser::default`](crate::model::CreateUser::default).
pub const DEFAULT_SCOPES: [&str; 5] = ["activity", "heartrate", "profile", "settings", "sleep"];

/// Parses names separated by spaces (or `+`, as some clients encode them).
pub fn parse_scope_names(text: &str) -> Result<BTreeSet<Scope>, UnknownScope> {
    text.split([' ', '+'])
        .filter(|s| !s.is_empty())
        .map(|name| Scope::from_name(name).ok_or_else(|| UnknownScope(name.to_string())))
        .collect()
}

pub fn parse_scope_list<S: AsRef<str>>(names: &[S]) -> Result<BTreeSet<Scope>, UnknownScope> {
    parse_scope_names(&names.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(" "))
}

/// `activity heartrate profile` — the token response's `scope`.
pub fn scope_names(scopes: &BTreeSet<Scope>) -> String {
    scopes.iter().map(|s| s.name()).collect::<Vec<_>>().join(" ")
}

/// `wact whr wpro` — the JWT's `scopes` claim.
pub fn scope_codes(scopes: &BTreeSet<Scope>) -> String {
    scopes.iter().map(|s| s.code()).collect::<Vec<_>>().join(" ")
}

pub fn parse_scope_codes(text: &str) -> BTreeSet<Scope> {
    text.split(' ').filter_map(Scope::from_code).collect()
}

/// Introspection's format: `{ACTIVITY=READ_WRITE, HEARTRATE=READ_WRITE}`.
pub fn introspection_scope(scopes: &BTreeSet<Scope>) -> String {
    let parts: Vec<String> =
        scopes.iter().map(|s| format!("{}=READ_WRITE", s.name().to_uppercase())).collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip_for_every_scope() {
        for scope in Scope::ALL {
            assert_eq!(Scope::from_name(scope.name()), Some(scope));
            assert_eq!(Scope::from_code(scope.code()), Some(scope));
        }
    }

    #[test]
    fn parses_space_and_plus_separated_names_and_rejects_unknown_ones() {
        let scopes = parse_scope_names("profile activity+heartrate").unwrap();
        assert_eq!(scope_names(&scopes), "activity heartrate profile");
        assert_eq!(scope_codes(&scopes), "wact whr wpro");
        assert_eq!(parse_scope_codes("wact whr wpro"), scopes);
        assert_eq!(parse_scope_names("activity steps"), Err(UnknownScope("steps".into())));
    }

    #[test]
    fn introspection_lists_scopes_in_fitbit_style() {
        let scopes = parse_scope_names("heartrate activity").unwrap();
        assert_eq!(introspection_scope(&scopes), "{ACTIVITY=READ_WRITE, HEARTRATE=READ_WRITE}");
    }
}
