//! Coalescing: the notifications of one poll batch become one unit of work per user, so a burst of
//! duplicates for a user-day costs one fetch and a user's several dates are fetched together.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use fitex_common::trace_context::TraceParent;
use fitex_proto::ProviderNotification;
use fitex_provider::{NoticeKind, ProviderId};

use crate::traces::{DayTraces, EarliestTrace};

/// What one notification asks for, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub provider: ProviderId,
    pub user_id: String,
    pub kind: ChangeKind,
    pub event_id: String,
    /// When the subscriber accepted the notification (Unix ms; 0 if unknown).
    pub received_at_ms: i64,
    /// The notification's trace (its `trace_context`), when it carries a valid one.
    pub trace: Option<TraceParent>,
}

impl Change {
    /// What a notification record asks for, or why it cannot be acted on (it is dead-lettered
    /// with that reason): a provider this version does not know — never taken for another one —,
    /// a kind it does not know, or a change it cannot read ([`ChangeKind::Unreadable`]).
    pub fn from_event(event: ProviderNotification) -> Result<Change, String> {
        let provider = ProviderId::from_proto(event.provider).map_err(|e| e.to_string())?;
        let notice = NoticeKind::from_proto(event.change_kind).map_err(|e| e.to_string())?;
        let kind = ChangeKind::from_record(provider, notice, &event.collection_type, &event.date);
        if let ChangeKind::Unreadable(reason) = kind {
            return Err(reason);
        }
        Ok(Change {
            provider,
            user_id: event.owner_id,
            kind,
            event_id: event.event_id,
            received_at_ms: event
                .received_at
                .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
                .unwrap_or(0),
            trace: event.trace_context.and_then(|t| TraceParent::parse(&t.traceparent)),
        })
    }
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
    /// From a notification record: the kind the provider's verifier gave it — or, for a record
    /// written before notices carried their kind (`None`), the provider's legacy classification
    /// of its collection type — and its date. A Google Health `DELETE` is fetched like an
    /// `UPSERT`: the day is read again.
    pub fn from_record(
        provider: ProviderId,
        kind: Option<NoticeKind>,
        collection_type: &str,
        date: &str,
    ) -> Self {
        let kind = kind.unwrap_or_else(|| provider.classify_legacy(collection_type, date));
        Self::from_notice(kind, date)
    }

    /// From what a notice announces and its date (yyyy-MM-dd; empty when none was named).
    pub fn from_notice(kind: NoticeKind, date: &str) -> Self {
        match kind {
            NoticeKind::ActivityDayChanged => match date.parse() {
                Ok(date) => ChangeKind::Activity(date),
                Err(_) => ChangeKind::Unreadable(format!(
                    "an activities notification with an unreadable date {:?}",
                    date.chars().take(40).collect::<String>()
                )),
            },
            NoticeKind::RecentActivityChanged => ChangeKind::RecentActivity,
            NoticeKind::AccessRevoked => ChangeKind::Revoked,
            NoticeKind::UserDeleted => ChangeKind::Deleted,
            NoticeKind::Other => ChangeKind::Ignored,
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
    /// The trace of the user's earliest notification in the batch that asks for a fetch (of a
    /// named or an unnamed day): the fetch continues it.
    pub trace: Option<EarliestTrace>,
    /// Per date, the trace of the earliest notification naming it: that day's event continues it.
    pub date_traces: BTreeMap<NaiveDate, EarliestTrace>,
}

impl UserWork {
    /// The spans the user's fetch works in (see `traces`).
    pub fn traces(&self) -> DayTraces {
        let mut traces = DayTraces::continuing(self.trace.as_ref().map(|t| &t.trace));
        for (date, earliest) in &self.date_traces {
            traces.continue_day(*date, &earliest.trace);
        }
        traces
    }
}

/// Groups changes by (provider, user). Deletion wins over everything; revocation over fetching.
pub fn coalesce(
    changes: impl IntoIterator<Item = Change>,
) -> BTreeMap<(ProviderId, String), UserWork> {
    let mut work: BTreeMap<(ProviderId, String), UserWork> = BTreeMap::new();
    for change in changes {
        let entry = work.entry((change.provider, change.user_id)).or_default();
        entry.notifications += 1;
        entry.event_ids.push(change.event_id);
        match change.kind {
            ChangeKind::Activity(date) => {
                entry.dates.insert(date);
                let latest = entry.latest_received_ms.entry(date).or_insert(change.received_at_ms);
                *latest = (*latest).max(change.received_at_ms);
                EarliestTrace::offer(&mut entry.trace, change.received_at_ms, change.trace);
                let mut earliest = entry.date_traces.get(&date).copied();
                EarliestTrace::offer(&mut earliest, change.received_at_ms, change.trace);
                if let Some(earliest) = earliest {
                    entry.date_traces.insert(date, earliest);
                }
            }
            ChangeKind::RecentActivity => {
                entry.recent = true;
                EarliestTrace::offer(&mut entry.trace, change.received_at_ms, change.trace);
            }
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
            provider: ProviderId::Fitbit,
            user_id: user.into(),
            kind,
            event_id: "e".into(),
            received_at_ms: 0,
            trace: None,
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn a_burst_for_one_user_day_is_one_unit_with_one_date() {
        let work = coalesce((0..20).map(|_| change("A", ChangeKind::Activity(day(20)))));
        assert_eq!(work.len(), 1);
        let a = &work[&(ProviderId::Fitbit, "A".to_string())];
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
        assert_eq!(
            work[&(ProviderId::Fitbit, "A".into())].dates,
            BTreeSet::from([day(20), day(21)])
        );
        assert_eq!(work[&(ProviderId::Fitbit, "B".into())].dates.len(), 1);
    }

    #[test]
    fn the_latest_acceptance_time_is_kept_per_date() {
        let at =
            |ms: i64| Change { received_at_ms: ms, ..change("A", ChangeKind::Activity(day(20))) };
        let work = coalesce([at(5), at(9), at(7)]);
        assert_eq!(work[&(ProviderId::Fitbit, "A".into())].latest_received_ms[&day(20)], 9);
    }

    #[test]
    fn each_date_continues_its_earliest_notification_and_the_fetch_the_users_earliest() {
        let traced = |n: u8, ms: i64, kind: ChangeKind| Change {
            received_at_ms: ms,
            trace: Some(TraceParent { trace_id: [n; 16], span_id: [n; 8], sampled: true }),
            ..change("A", kind)
        };
        let work = coalesce([
            traced(1, 700, ChangeKind::Activity(day(20))),
            traced(2, 300, ChangeKind::Activity(day(20))),
            traced(3, 500, ChangeKind::Activity(day(21))),
            traced(4, 100, ChangeKind::Ignored),
            change("A", ChangeKind::Activity(day(22))),
        ]);
        let a = &work[&(ProviderId::Fitbit, "A".into())];
        let trace_of = |date| a.date_traces.get(&date).map(|t| t.trace.trace_id[0]);
        assert_eq!(
            (trace_of(day(20)), trace_of(day(21)), trace_of(day(22))),
            (Some(2), Some(3), None)
        );
        assert_eq!(a.trace.map(|t| t.trace.trace_id[0]), Some(2), "not the ignored notification's");
        let traces = a.traces();
        assert_eq!(traces.of(day(21)).trace_id, [3; 16]);
        assert_eq!(traces.of(day(22)).trace_id, [2; 16], "an untraced day: the fetch's trace");
    }

    #[test]
    fn revocation_and_deletion_are_flagged() {
        let work = coalesce([
            change("A", ChangeKind::Activity(day(20))),
            change("A", ChangeKind::Revoked),
            change("B", ChangeKind::Deleted),
        ]);
        assert!(work[&(ProviderId::Fitbit, "A".into())].revoked);
        assert!(work[&(ProviderId::Fitbit, "B".into())].deleted);
    }

    /// A record written before notices carried their kind: classified by its collection.
    fn legacy(provider: ProviderId, collection_type: &str, date: &str) -> ChangeKind {
        ChangeKind::from_record(provider, None, collection_type, date)
    }

    #[test]
    fn collection_types_map_to_kinds() {
        let from_collection =
            |collection: &str, date: &str| legacy(ProviderId::Fitbit, collection, date);
        assert_eq!(from_collection("activities", "2026-11-20"), ChangeKind::Activity(day(20)));
        assert!(matches!(
            from_collection("activities", "20.11.2026"),
            ChangeKind::Unreadable(why) if why.contains("unreadable date")
        ));
        assert_eq!(from_collection("userRevokedAccess", ""), ChangeKind::Revoked);
        assert_eq!(from_collection("deleteUser", ""), ChangeKind::Deleted);
        assert_eq!(from_collection("sleep", "2026-11-20"), ChangeKind::Ignored);
    }

    #[test]
    fn google_health_data_types_map_to_kinds() {
        let kind = |data_type: &str, date: &str| legacy(ProviderId::GoogleHealth, data_type, date);
        assert_eq!(kind("steps", "2026-11-20"), ChangeKind::Activity(day(20)));
        assert_eq!(kind("active-minutes", "2026-11-20"), ChangeKind::Activity(day(20)));
        assert_eq!(kind("time-in-heart-rate-zone", "2026-11-20"), ChangeKind::Activity(day(20)));
        assert_eq!(kind("steps", ""), ChangeKind::RecentActivity);
        assert_eq!(kind("sleep", "2026-11-20"), ChangeKind::Ignored);
        assert_eq!(kind("weight", ""), ChangeKind::Ignored);
        // Fitbit's collections are unchanged.
        assert_eq!(
            legacy(ProviderId::Fitbit, "activities", "2026-11-20"),
            ChangeKind::Activity(day(20))
        );
        assert_eq!(legacy(ProviderId::Fitbit, "steps", "2026-11-20"), ChangeKind::Ignored);
    }

    #[test]
    fn the_kind_a_verifier_gave_is_acted_on_whatever_the_collection() {
        let typed = |kind: NoticeKind, collection: &str, date: &str| {
            ChangeKind::from_record(ProviderId::GoogleHealth, Some(kind), collection, date)
        };
        // The collection names nothing this crate knows: only the kind counts.
        assert_eq!(
            typed(NoticeKind::ActivityDayChanged, "new-type", "2026-11-20"),
            ChangeKind::Activity(day(20))
        );
        assert_eq!(
            typed(NoticeKind::RecentActivityChanged, "new-type", ""),
            ChangeKind::RecentActivity
        );
        assert_eq!(typed(NoticeKind::AccessRevoked, "x", ""), ChangeKind::Revoked);
        assert_eq!(typed(NoticeKind::UserDeleted, "x", ""), ChangeKind::Deleted);
        assert_eq!(typed(NoticeKind::Other, "steps", "2026-11-20"), ChangeKind::Ignored);
        // A day change that names no readable day cannot be acted on: kept, not dropped.
        for date in ["", "20.11.2026"] {
            assert!(matches!(
                typed(NoticeKind::ActivityDayChanged, "activities", date),
                ChangeKind::Unreadable(why) if why.contains("unreadable date")
            ));
        }
    }

    fn event(
        provider: i32,
        change_kind: i32,
        collection: &str,
        date: &str,
    ) -> ProviderNotification {
        ProviderNotification {
            event_id: "e1".into(),
            provider,
            collection_type: collection.into(),
            owner_id: "A".into(),
            date: date.into(),
            received_at: Some(fitex_proto::Timestamp { seconds: 2, nanos: 5_000_000 }),
            change_kind,
            ..ProviderNotification::default()
        }
    }

    #[test]
    fn a_record_becomes_a_change_of_the_provider_it_names() {
        use fitex_proto::{ChangeKind as Kind, Provider};
        let change = Change::from_event(event(
            Provider::GoogleHealth as i32,
            Kind::ActivityDayChanged as i32,
            "steps",
            "2026-11-20",
        ))
        .unwrap();
        assert_eq!(
            change,
            Change {
                provider: ProviderId::GoogleHealth,
                user_id: "A".into(),
                kind: ChangeKind::Activity(day(20)),
                event_id: "e1".into(),
                received_at_ms: 2_005,
                trace: None,
            }
        );
        // Without a kind (written before notices carried one): classified by the collection.
        let legacy =
            Change::from_event(event(Provider::Fitbit as i32, 0, "deleteUser", "")).unwrap();
        assert_eq!((legacy.provider, legacy.kind), (ProviderId::Fitbit, ChangeKind::Deleted));
    }

    #[test]
    fn a_record_of_an_unknown_provider_is_refused_not_taken_for_fitbit() {
        use fitex_proto::ChangeKind as Kind;
        for provider in [0, 3, 42] {
            let refused = Change::from_event(event(
                provider,
                Kind::ActivityDayChanged as i32,
                "activities",
                "2026-11-20",
            ));
            let reason = refused.unwrap_err();
            assert!(reason.contains("provider"), "{provider}: {reason}");
        }
    }

    #[test]
    fn a_record_of_an_unknown_kind_or_an_unreadable_day_is_refused() {
        use fitex_proto::{ChangeKind as Kind, Provider};
        let unknown =
            Change::from_event(event(Provider::Fitbit as i32, 99, "activities", "2026-11-20"));
        assert!(unknown.unwrap_err().contains("kind"));
        let undated = Change::from_event(event(
            Provider::Fitbit as i32,
            Kind::ActivityDayChanged as i32,
            "activities",
            "",
        ));
        assert!(undated.unwrap_err().contains("unreadable date"));
    }
}
