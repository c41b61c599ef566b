//! Which wearable platform something belongs to: the one place that turns a provider into the
//! name stored with connections and data, the name shown to participants, and the value events
//! carry — and back, refusing what it does not know.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use crate::notice_kind::NoticeKind;

/// A wearable platform FitEx Sync reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProviderId {
    /// The Fitbit Web API (switched off on 2026-11-02; its connections keep their history).
    Fitbit,
    /// The Google Health API, the Fitbit Web API's successor.
    GoogleHealth,
}

/// A provider name or event value this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownProvider {
    #[error("unknown provider {0:?} (known: {known})", known = ProviderId::known_names())]
    Name(String),
    #[error("a record naming no provider (value 0)")]
    Unspecified,
    #[error("a record naming an unknown provider (value {0})")]
    Value(i32),
}

impl ProviderId {
    /// Every provider, in a stable order.
    pub const ALL: [ProviderId; 2] = [ProviderId::Fitbit, ProviderId::GoogleHealth];

    /// The stable short name: stored in the database's `provider` columns, sent as the `provider`
    /// Kafka header and used as the `provider` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::Fitbit => "fitbit",
            ProviderId::GoogleHealth => "google_health",
        }
    }

    /// The name participants and operators read ("Google Health").
    pub fn display_name(self) -> &'static str {
        match self {
            ProviderId::Fitbit => "Fitbit",
            ProviderId::GoogleHealth => "Google Health",
        }
    }

    /// The display name of a stored provider name; the stored name itself when this build does
    /// not know it (shown as it is rather than hidden).
    pub fn display_name_of(stored: &str) -> &str {
        match stored.parse::<ProviderId>() {
            Ok(provider) => provider.display_name(),
            Err(_) => stored,
        }
    }

    /// The value events carry (`fitex.v1.Provider`).
    pub fn to_proto(self) -> fitex_proto::Provider {
        match self {
            ProviderId::Fitbit => fitex_proto::Provider::Fitbit,
            ProviderId::GoogleHealth => fitex_proto::Provider::GoogleHealth,
        }
    }

    /// The provider an event's `provider` field names. No provider, or one this build does not
    /// know, is an error: never a guess.
    pub fn from_proto(value: i32) -> Result<Self, UnknownProvider> {
        match fitex_proto::Provider::try_from(value) {
            Ok(provider) => ProviderId::try_from(provider),
            Err(_) => Err(UnknownProvider::Value(value)),
        }
    }

    /// How a notification recorded before notices carried their kind
    /// ([`crate::ChangeNotice::kind`], the event's `change_kind`) is classified: by its collection
    /// (Fitbit) or data type (Google Health) and its date, exactly as the fetcher did before the
    /// verifiers classified notices. Only records already in Kafka when that changed lack a kind.
    /// Each provider crate tests that its verifier classifies every notice the same way. Remove
    /// once no such record can remain (the notification and retry topics' retention has passed).
    pub fn classify_legacy(self, collection_type: &str, date: &str) -> NoticeKind {
        match self {
            ProviderId::Fitbit => match collection_type {
                "activities" => NoticeKind::ActivityDayChanged,
                "userRevokedAccess" => NoticeKind::AccessRevoked,
                "deleteUser" => NoticeKind::UserDeleted,
                _ => NoticeKind::Other,
            },
            ProviderId::GoogleHealth => {
                const ACTIVITY_DATA_TYPES: [&str; 7] = [
                    "steps",
                    "distance",
                    "active-minutes",
                    "time-in-heart-rate-zone",
                    "sedentary-period",
                    "heart-rate",
                    "active-zone-minutes",
                ];
                if !ACTIVITY_DATA_TYPES.contains(&collection_type) {
                    NoticeKind::Other
                } else if date.parse::<NaiveDate>().is_ok() {
                    NoticeKind::ActivityDayChanged
                } else {
                    NoticeKind::RecentActivityChanged
                }
            }
        }
    }

    fn known_names() -> String {
        ProviderId::ALL.map(ProviderId::as_str).join(", ")
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for ProviderId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Parses a stored name ([`ProviderId::as_str`]); anything else is an error.
impl FromStr for ProviderId {
    type Err = UnknownProvider;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ProviderId::ALL
            .into_iter()
            .find(|provider| provider.as_str() == name)
            .ok_or_else(|| UnknownProvider::Name(name.chars().take(64).collect()))
    }
}

impl From<ProviderId> for fitex_proto::Provider {
    fn from(provider: ProviderId) -> Self {
        provider.to_proto()
    }
}

impl TryFrom<fitex_proto::Provider> for ProviderId {
    type Error = UnknownProvider;

    fn try_from(provider: fitex_proto::Provider) -> Result<Self, Self::Error> {
        match provider {
            fitex_proto::Provider::Fitbit => Ok(ProviderId::Fitbit),
            fitex_proto::Provider::GoogleHealth => Ok(ProviderId::GoogleHealth),
            fitex_proto::Provider::Unspecified => Err(UnknownProvider::Unspecified),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for provider in ProviderId::ALL {
            assert_eq!(provider.as_str().parse::<ProviderId>(), Ok(provider));
            assert_eq!(provider.to_string(), provider.as_str());
        }
        assert_eq!(ProviderId::Fitbit.as_str(), "fitbit");
        assert_eq!(ProviderId::GoogleHealth.as_str(), "google_health");
        for unknown in ["", "Fitbit", "google", "google-health", "fitbit "] {
            assert_eq!(
                unknown.parse::<ProviderId>(),
                Err(UnknownProvider::Name(unknown.into())),
                "{unknown:?}"
            );
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(ProviderId::Fitbit.display_name(), "Fitbit");
        assert_eq!(ProviderId::GoogleHealth.display_name(), "Google Health");
        assert_eq!(ProviderId::display_name_of("google_health"), "Google Health");
        assert_eq!(ProviderId::display_name_of("garmin"), "garmin", "unknown: shown as stored");
    }

    #[test]
    fn proto_values_round_trip() {
        for provider in ProviderId::ALL {
            let value = fitex_proto::Provider::from(provider) as i32;
            assert_eq!(ProviderId::from_proto(value), Ok(provider));
        }
        assert_eq!(ProviderId::Fitbit.to_proto(), fitex_proto::Provider::Fitbit);
        assert_eq!(ProviderId::GoogleHealth.to_proto(), fitex_proto::Provider::GoogleHealth);
    }

    #[test]
    fn an_unknown_or_missing_proto_value_is_an_error_not_fitbit() {
        assert_eq!(ProviderId::from_proto(0), Err(UnknownProvider::Unspecified));
        assert_eq!(ProviderId::from_proto(3), Err(UnknownProvider::Value(3)));
        assert_eq!(ProviderId::from_proto(-1), Err(UnknownProvider::Value(-1)));
        assert_eq!(
            ProviderId::try_from(fitex_proto::Provider::Unspecified),
            Err(UnknownProvider::Unspecified)
        );
        assert!(UnknownProvider::Value(3).to_string().contains("unknown provider"));
    }

    #[test]
    fn legacy_fitbit_records_are_classified_by_collection() {
        let kind = |collection: &str| ProviderId::Fitbit.classify_legacy(collection, "2026-11-20");
        assert_eq!(kind("activities"), NoticeKind::ActivityDayChanged);
        assert_eq!(
            ProviderId::Fitbit.classify_legacy("activities", "20.11.2026"),
            NoticeKind::ActivityDayChanged,
            "an unreadable date is the fetcher's to refuse"
        );
        assert_eq!(kind("userRevokedAccess"), NoticeKind::AccessRevoked);
        assert_eq!(kind("deleteUser"), NoticeKind::UserDeleted);
        assert_eq!(kind("sleep"), NoticeKind::Other);
        assert_eq!(kind("steps"), NoticeKind::Other);
    }

    #[test]
    fn legacy_google_records_are_classified_by_data_type_and_date() {
        let kind =
            |data_type: &str, date: &str| ProviderId::GoogleHealth.classify_legacy(data_type, date);
        assert_eq!(kind("steps", "2026-11-20"), NoticeKind::ActivityDayChanged);
        assert_eq!(kind("active-minutes", "2026-11-20"), NoticeKind::ActivityDayChanged);
        assert_eq!(kind("time-in-heart-rate-zone", "2026-11-20"), NoticeKind::ActivityDayChanged);
        assert_eq!(kind("steps", ""), NoticeKind::RecentActivityChanged);
        assert_eq!(kind("steps", "20.11.2026"), NoticeKind::RecentActivityChanged);
        assert_eq!(kind("sleep", "2026-11-20"), NoticeKind::Other);
        assert_eq!(kind("weight", ""), NoticeKind::Other);
        assert_eq!(kind("activities", "2026-11-20"), NoticeKind::Other, "a Fitbit name");
    }
}
