//! Coalescing: the notifications of one poll batch become one unit of work per user, so a burst of
//! duplicates for a user-day costs one fetch and a user's several dates are fetched together.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

/// What one notification asks for, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub provider: String,
    pub user_id: String,
    pub kind: ChangeKind,
    pub event_id: String,
    /// When the subscriber accepted the notification (Unix ms; 0 if unknown).
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// The user's activity changed on this local date.
    Activity(NaiveDate),
    /// The user's activity changed, on a date the notification did not say: their latest days.
    RecentActivity,
    /// The user revoked our access.
    Revoked,
    /// The user deleted their account.
    Deleted,
    /// A collection the pipeline does not use (sleep, foods, body, ...).
    Ignored,
    /// A notification the pipeline uses but cannot act on (why): dead-lettered, never dropped.
    Unreadable(String),
}

impl ChangeKind {
    /// From a provider's notification: its collection (Fitbit) or data type (Google Health) and
    /// date. A Google Health `DELETE` is fetched like an `UPSERT`: the day is read again.
    pub fn from_notification(provider: &str, collection_type: &str, date: &str) -> Self {
        match provider {
            "google_health" => {
                if !fitex_google_health::api::ACTIVITY_DATA_TYPES.contains(&collection_type) {
                    return ChangeKind::Ignored;
                }
                match date.parse() {
                    Ok(date) => ChangeKind::Activity(date),
                    Err(_) => ChangeKind::RecentActivity,
                }
            }
            _ => Self::from_collection(collection_type, date),
        }
    }

    /// From a Fitbit `collectionType` and `date`.
    pub fn from_collection(collection_type: &str, date: &str) -> Self {
        match collection_type {
            "activities" => match date.parse() {
                Ok(date) => ChangeKind::Activity(date),
                Err(_) => ChangeKind::Unreadable(format!(
                    "an activities notification with an unreadable date {:?}",
                    date.chars().take(40).collect::<String>()
                )),
            },
            "userRevokedAccess" => ChangeKind::Revoked,
            "deleteUser" => ChangeKind::Deleted,
            _ => ChangeKind::Ignored,
        }
    }
}

/// One user's work from a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserWork {
    pub dates: BTreeSet<NaiveDate>,
    /// Per date, when its latest notification was accepted (Unix ms).
    pub latest_received_ms: BTreeMap<NaiveDate, i64>,
    /// Changed on dates not named: fetch the user's latest days.
    pub recent: bool,
    pub revoked: bool,
    pub deleted: bool,
    /// When the latest revocation or deletion notice of the batch was accepted (Unix ms): a
    /// notice older than the connection it would end is not acted on.
    pub destructive_received_ms: i64,
    /// How many notifications this work stands for (for the metrics).
    pub notifications: usize,
    pub event_ids: Vec<String>,
}

/// Groups changes by (provider, user). Deletion wins over everything; revocation over fetching.
pub fn coalesce(changes: impl IntoIterator<Item = Change>) -> BTreeMap<(String, String), UserWork> {
    let mut work: BTreeMap<(String, String), UserWork> = BTreeMap::new();
    for change in changes {
        let entry = work.entry((change.provider, change.user_id)).or_default();
        entry.notifications += 1;
        entry.event_ids.push(change.event_id);
        match change.kind {
            ChangeKind::Activity(date) => {
                entry.dates.insert(date);
                let latest = entry.latest_received_ms.entry(date).or_insert(change.received_at_ms);
                *latest = (*latest).max(change.received_at_ms);
            }
            ChangeKind::RecentActivity => entry.recent = true,
            ChangeKind::Revoked => {
                entry.revoked = true;
                entry.destructive_received_ms =
                    entry.destructive_received_ms.max(change.received_at_ms);
            }
            ChangeKind::Deleted => {
                entry.deleted = true;
                entry.destructive_received_ms =
                    entry.destructive_received_ms.max(change.received_at_ms);
            }
            ChangeKind::Ignored | ChangeKind::Unreadable(_) => {}
        }
    }
    work
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(user: &str, kind: ChangeKind) -> Change {
        Change {
            provider: "fitbit".into(),
            user_id: user.into(),
            kind,
            event_id: "e".into(),
            received_at_ms: 0,
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn a_burst_for_one_user_day_is_one_unit_with_one_date() {
        let work = coalesce((0..20).map(|_| change("A", ChangeKind::Activity(day(20)))));
        assert_eq!(work.len(), 1);
        let a = &work[&("fitbit".to_string(), "A".to_string())];
        assert_eq!(a.dates, BTreeSet::from([day(20)]));
        assert_eq!(a.notifications, 20);
    }

    #[test]
    fn a_users_several_dates_come_together_and_users_stay_apart() {
        let work = coalesce([
            change("A", ChangeKind::Activity(day(20))),
            change("B", ChangeKind::Activity(day(20))),
            change("A", ChangeKind::Activity(day(21))),
            change("A", ChangeKind::Ignored),
        ]);
        assert_eq!(work.len(), 2);
        assert_eq!(work[&("fitbit".into(), "A".into())].dates, BTreeSet::from([day(20), day(21)]));
        assert_eq!(work[&("fitbit".into(), "B".into())].dates.len(), 1);
    }

    #[test]
    fn the_latest_acceptance_time_is_kept_per_date() {
        let at =
            |ms: i64| Change { received_at_ms: ms, ..change("A", ChangeKind::Activity(day(20))) };
        let work = coalesce([at(5), at(9), at(7)]);
        assert_eq!(work[&("fitbit".into(), "A".into())].latest_received_ms[&day(20)], 9);
    }

    #[test]
    fn revocation_and_deletion_are_flagged() {
        let work = coalesce([
            change("A", ChangeKind::Activity(day(20))),
            change("A", ChangeKind::Revoked),
            change("B", ChangeKind::Deleted),
        ]);
        assert!(work[&("fitbit".into(), "A".into())].revoked);
        assert!(work[&("fitbit".into(), "B".into())].deleted);
    }

    #[test]
    fn collection_types_map_to_kinds() {
        assert_eq!(
            ChangeKind::from_collection("activities", "2026-11-20"),
            ChangeKind::Activity(day(20))
        );
        assert!(matches!(
            ChangeKind::from_collection("activities", "20.11.2026"),
            ChangeKind::Unreadable(why) if why.contains("unreadable date")
        ));
        assert_eq!(ChangeKind::from_collection("userRevokedAccess", ""), ChangeKind::Revoked);
        assert_eq!(ChangeKind::from_collection("deleteUser", ""), ChangeKind::Deleted);
        assert_eq!(ChangeKind::from_collection("sleep", "2026-11-20"), ChangeKind::Ignored);
    }

    #[test]
    fn google_health_data_types_map_to_kinds() {
        let kind = |data_type: &str, date: &str| {
            ChangeKind::from_notification("google_health", data_type, date)
        };
        assert_eq!(kind("steps", "2026-11-20"), ChangeKind::Activity(day(20)));
        assert_eq!(kind("active-minutes", "2026-11-20"), ChangeKind::Activity(day(20)));
        assert_eq!(kind("time-in-heart-rate-zone", "2026-11-20"), ChangeKind::Activity(day(20)));
        assert_eq!(kind("steps", ""), ChangeKind::RecentActivity);
        assert_eq!(kind("sleep", "2026-11-20"), ChangeKind::Ignored);
        assert_eq!(kind("weight", ""), ChangeKind::Ignored);
        // Fitbit's collections are unchanged.
        assert_eq!(
            ChangeKind::from_notification("fitbit", "activities", "2026-11-20"),
            ChangeKind::Activity(day(20))
        );
        assert_eq!(
            ChangeKind::from_notification("fitbit", "steps", "2026-11-20"),
            ChangeKind::Ignored
        );
    }
}
