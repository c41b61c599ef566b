//! Parsing a notification POST: a JSON array of objects, one per changed resource.
//!
//! ```json
//! [{"collectionType":"activities","date":"2010-03-01","ownerId":"184X36","ownerType":"user","subscriptionId":"2345"}]
//! ```
//! Unknown collection types pass through untouched (Fitbit may add some); `date` may be absent
//! (e.g. `userRevokedAccess`). Unknown fields are ignored.

use chrono::NaiveDate;
use fitex_provider::NoticeKind;
use serde::Deserialize;

/// Longest id we accept in `ownerId`, `collectionType` or `subscriptionId`. Fitbit's are far shorter
/// (user ids are 6 characters, subscription ids at most 50); the bound keeps junk out of Kafka keys.
pub const MAX_ID_LEN: usize = 256;

/// One validated notification.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub collection_type: String,
    /// The user's local date; absent for some types.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    pub owner_id: String,
    #[serde(default)]
    pub owner_type: Option<String>,
    #[serde(default)]
    pub subscription_id: Option<String>,
}

impl Notification {
    /// The date as Fitbit writes it (yyyy-MM-dd), or "" when absent.
    pub fn date_string(&self) -> String {
        self.date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
    }
}

/// The collection of daily activity: the one the pipeline subscribes to and fetches on.
pub const ACTIVITIES: &str = "activities";

/// What a notification of `collection_type` announces. An `activities` notification names the
/// changed day; one without a date is malformed (and is not acted on, but kept).
pub fn notice_kind(collection_type: &str) -> NoticeKind {
    match collection_type {
        ACTIVITIES => NoticeKind::ActivityDayChanged,
        "userRevokedAccess" => NoticeKind::AccessRevoked,
        "deleteUser" => NoticeKind::UserDeleted,
        _ => NoticeKind::Other,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotificationParseError {
    #[error("body is not a JSON array of notifications: {0}")]
    NotAnArrayOfNotifications(String),
    #[error("notification {index}: {problem}")]
    InvalidNotification { index: usize, problem: String },
}

/// Parses and validates a notification body (already signature-checked).
pub fn parse_notifications(body: &[u8]) -> Result<Vec<Notification>, NotificationParseError> {
    let notifications: Vec<Notification> = serde_json::from_slice(body)
        .map_err(|e| NotificationParseError::NotAnArrayOfNotifications(e.to_string()))?;
    for (index, n) in notifications.iter().enumerate() {
        let invalid = |problem: &str| NotificationParseError::InvalidNotification {
            index,
            problem: problem.to_string(),
        };
        check_id(&n.owner_id).map_err(|p| invalid(&format!("ownerId {p}")))?;
        check_id(&n.collection_type).map_err(|p| invalid(&format!("collectionType {p}")))?;
        if let Some(id) = &n.subscription_id {
            check_id(id).map_err(|p| invalid(&format!("subscriptionId {p}")))?;
        }
    }
    Ok(notifications)
}

fn check_id(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        Err("is empty")
    } else if value.len() > MAX_ID_LEN {
        Err("is too long")
    } else if value.chars().any(char::is_control) {
        Err("contains control characters")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_reference_body() {
        let body = br#"[{"collectionType":"activities","date":"2026-11-20","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-activities"},{"collectionType":"userRevokedAccess","ownerId":"22AAAA","ownerType":"user","subscriptionId":"22AAAA-all"}]"#;
        let parsed = parse_notifications(body).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].collection_type, "activities");
        assert_eq!(parsed[0].date, NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(parsed[0].date_string(), "2026-11-20");
        assert_eq!(parsed[0].owner_id, "B4TZHW");
        assert_eq!(parsed[0].subscription_id.as_deref(), Some("B4TZHW-activities"));
        assert_eq!(parsed[1].date, None);
        assert_eq!(parsed[1].date_string(), "");
    }

    #[test]
    fn collection_types_are_classified() {
        assert_eq!(notice_kind("activities"), NoticeKind::ActivityDayChanged);
        assert_eq!(notice_kind("userRevokedAccess"), NoticeKind::AccessRevoked);
        assert_eq!(notice_kind("deleteUser"), NoticeKind::UserDeleted);
        for other in ["sleep", "foods", "body", "hydration", "steps", "Activities"] {
            assert_eq!(notice_kind(other), NoticeKind::Other, "{other}");
        }
    }

    #[test]
    fn the_legacy_classification_agrees_with_the_verifiers() {
        // Records written before notices carried their kind are classified by
        // `ProviderId::classify_legacy`: it must say what the verifier says.
        use fitex_provider::ProviderId;
        for collection in
            ["activities", "userRevokedAccess", "deleteUser", "sleep", "foods", "body", "steps"]
        {
            for date in ["2026-11-20", ""] {
                assert_eq!(
                    ProviderId::Fitbit.classify_legacy(collection, date),
                    notice_kind(collection),
                    "{collection} {date:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_types_and_fields_pass_through() {
        let body = br#"[{"collectionType":"hydration","ownerId":"X","extra":{"a":1}}]"#;
        let parsed = parse_notifications(body).unwrap();
        assert_eq!(parsed[0].collection_type, "hydration");
    }

    #[test]
    fn an_empty_array_is_valid() {
        assert_eq!(parse_notifications(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn rejects_what_is_not_an_array_of_notifications() {
        for body in [
            &b"{\"collectionType\":\"activities\",\"ownerId\":\"X\"}"[..],
            b"not json",
            b"",
            b"[1,2]",
            b"[{\"ownerId\":\"X\"}]",
            b"[{\"collectionType\":\"activities\"}]",
            b"[{\"collectionType\":\"activities\",\"ownerId\":\"X\",\"date\":\"20-11-2026\"}]",
            b"[{\"collectionType\":\"activities\",\"ownerId\":\"X\"}",
        ] {
            assert!(
                matches!(
                    parse_notifications(body),
                    Err(NotificationParseError::NotAnArrayOfNotifications(_))
                ),
                "accepted {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn rejects_empty_or_oversized_ids() {
        let long = "x".repeat(MAX_ID_LEN + 1);
        for body in [
            r#"[{"collectionType":"activities","ownerId":""}]"#.to_string(),
            r#"[{"collectionType":"","ownerId":"X"}]"#.to_string(),
            format!(r#"[{{"collectionType":"activities","ownerId":"{long}"}}]"#),
            r#"[{"collectionType":"activities","ownerId":"X","subscriptionId":"a\nb"}]"#
                .to_string(),
        ] {
            let err = parse_notifications(body.as_bytes()).unwrap_err();
            assert!(matches!(err, NotificationParseError::InvalidNotification { index: 0, .. }));
        }
    }
}
