//! The notification body: `{"data":{…}}` or an array of them, metadata only. One
//! [`ChangeNotice`] per (healthUserId, dataType, civil date) the intervals touch.

use chrono::NaiveDate;
use fitex_provider::{ChangeNotice, NoticeKind};
use serde::Deserialize;

use crate::api::ACTIVITY_DATA_TYPES;
use crate::civil::CivilDate;

/// What a notification of `data_type` on `date` announces: an activity data type changed that
/// day, or — when the notification names no civil date — lately; any other data type is not
/// used. (Google sends no revocation or deletion notices: withdrawn consent is found by the
/// fetch.)
pub fn notice_kind(data_type: &str, date: Option<NaiveDate>) -> NoticeKind {
    if !ACTIVITY_DATA_TYPES.contains(&data_type) {
        NoticeKind::Other
    } else if date.is_some() {
        NoticeKind::ActivityDayChanged
    } else {
        NoticeKind::RecentActivityChanged
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum NotificationError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a Google Health notification (expected {{\"data\":{{…}}}} or an array of them): {0}")]
    NotNotification(String),
    #[error("the notification has an empty {0}")]
    EmptyField(&'static str),
    #[error("the notification names an impossible civil date {year}-{month}-{day}")]
    BadDate { year: i32, month: u32, day: u32 },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    One(Envelope),
    Many(Vec<Envelope>),
}

#[derive(Deserialize)]
struct Envelope {
    data: Data,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    #[serde(default)]
    client_provided_subscription_name: String,
    health_user_id: String,
    #[serde(default)]
    operation: String,
    data_type: String,
    #[serde(default)]
    intervals: Vec<Interval>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Interval {
    civil_date_time_interval: Option<CivilInterval>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CivilInterval {
    start_date_time: Option<CivilDateTime>,
    end_date_time: Option<CivilDateTime>,
}

#[derive(Deserialize)]
struct CivilDateTime {
    date: Option<CivilDate>,
    time: Option<CivilTime>,
}

#[derive(Deserialize, Default)]
struct CivilTime {
    #[serde(default)]
    hours: u32,
    #[serde(default)]
    minutes: u32,
    #[serde(default)]
    seconds: u32,
    #[serde(default)]
    nanos: u32,
}

impl CivilTime {
    fn is_midnight(&self) -> bool {
        self.hours == 0 && self.minutes == 0 && self.seconds == 0 && self.nanos == 0
    }
}

/// An interval longer than this is not a change notice but a mistake: only its ends count.
const MAX_INTERVAL_DAYS: i64 = 31;

/// Every civil date an interval touches: its start date through its end date, where an end at
/// exactly midnight is exclusive (the interval stopped before that day began).
fn touched_dates(civil: &CivilInterval) -> Result<Vec<NaiveDate>, NotificationError> {
    let start = civil.start_date_time.as_ref().and_then(|s| s.date.as_ref()).map(calendar_date);
    let end = civil.end_date_time.as_ref().and_then(|e| e.date.as_ref()).map(calendar_date);
    let (start, end) = match (start.transpose()?, end.transpose()?) {
        (None, None) => return Ok(Vec::new()),
        (Some(only), None) | (None, Some(only)) => return Ok(vec![only]),
        (Some(start), Some(end)) => (start, end),
    };
    let end_at_midnight = civil
        .end_date_time
        .as_ref()
        .is_some_and(|e| e.time.as_ref().is_none_or(CivilTime::is_midnight));
    let last = if end > start && end_at_midnight { end - chrono::Duration::days(1) } else { end };
    if last < start {
        return Ok(vec![start]);
    }
    if (last - start).num_days() > MAX_INTERVAL_DAYS {
        return Ok(vec![start, last]);
    }
    Ok(start.iter_days().take_while(|d| *d <= last).collect())
}

fn calendar_date(civil: &CivilDate) -> Result<NaiveDate, NotificationError> {
    civil.to_date().ok_or(NotificationError::BadDate {
        year: civil.year,
        month: civil.month,
        day: civil.day,
    })
}

/// Parses a notification body into change notices, deduplicated, in order of first appearance.
/// A notification without any civil date yields one notice with `date: None`.
pub fn parse_change_notices(body: &[u8]) -> Result<Vec<ChangeNotice>, NotificationError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
    let envelopes = match serde_json::from_value::<Body>(value) {
        Ok(Body::One(one)) => vec![one],
        Ok(Body::Many(many)) => many,
        Err(_) => {
            // Name the real problem: untagged enums only say "did not match any variant".
            let err = serde_json::from_slice::<Envelope>(body)
                .err()
                .or_else(|| serde_json::from_slice::<Vec<Envelope>>(body).err())
                .map_or_else(|| "unexpected shape".to_owned(), |e| e.to_string());
            return Err(NotificationError::NotNotification(err));
        }
    };
    let mut notices: Vec<ChangeNotice> = Vec::new();
    for Envelope { data } in envelopes {
        if data.health_user_id.is_empty() {
            return Err(NotificationError::EmptyField("healthUserId"));
        }
        if data.data_type.is_empty() {
            return Err(NotificationError::EmptyField("dataType"));
        }
        let mut dates = Vec::new();
        for interval in &data.intervals {
            let Some(civil) = &interval.civil_date_time_interval else { continue };
            dates.extend(touched_dates(civil)?.into_iter().map(Some));
        }
        if dates.is_empty() {
            dates.push(None);
        }
        for date in dates {
            let notice = ChangeNotice {
                kind: notice_kind(&data.data_type, date),
                collection_type: data.data_type.clone(),
                owner_id: data.health_user_id.clone(),
                owner_type: "user".to_owned(),
                date,
                subscription_id: data.client_provided_subscription_name.clone(),
                operation: data.operation.clone(),
            };
            if !notices.contains(&notice) {
                notices.push(notice);
            }
        }
    }
    Ok(notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(start: (i32, u32, u32), end: (i32, u32, u32)) -> serde_json::Value {
        let d = |(year, month, day): (i32, u32, u32)| serde_json::json!({"date":{"year":year,"month":month,"day":day},"time":{"hours":23,"minutes":58}});
        serde_json::json!({
            "physicalTimeInterval":{"startTime":"2026-03-08T07:58:00Z","endTime":"2026-03-08T08:03:00Z"},
            "civilDateTimeInterval":{"startDateTime":d(start),"endDateTime":d(end)}
        })
    }

    fn body(user: &str, operation: &str, intervals: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({"data":{"version":"1","clientProvidedSubscriptionName":"my-sub",
            "healthUserId":user,"operation":operation,"dataType":"steps","intervals":intervals}})
    }

    fn date(s: &str) -> Option<NaiveDate> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_documented_example_becomes_one_notice() {
        let body = br#"{"data":{"version":"1","clientProvidedSubscriptionName":"my-sub","healthUserId":"user-1","operation":"UPSERT","dataType":"steps",
    "intervals":[{"physicalTimeInterval":{"startTime":"2026-03-08T01:29:00Z","endTime":"2026-03-08T01:34:00Z"},
                  "civilDateTimeInterval":{"startDateTime":{"date":{"year":2026,"month":3,"day":7},"time":{"hours":17,"minutes":29}},
                                           "endDateTime":{"date":{"year":2026,"month":3,"day":7},"time":{"hours":17,"minutes":34}}},
                  "civilIso8601TimeInterval":{"startTime":"2026-03-07T17:29:00","endTime":"2026-03-07T17:34:00"}}]}}"#;
        assert_eq!(
            parse_change_notices(body).unwrap(),
            vec![ChangeNotice {
                kind: NoticeKind::ActivityDayChanged,
                collection_type: "steps".into(),
                owner_id: "user-1".into(),
                owner_type: "user".into(),
                date: date("2026-03-07"),
                subscription_id: "my-sub".into(),
                operation: "UPSERT".into(),
            }]
        );
    }

    #[test]
    fn data_types_are_classified() {
        let day = date("2026-11-20");
        assert_eq!(notice_kind("steps", day), NoticeKind::ActivityDayChanged);
        assert_eq!(notice_kind("active-minutes", day), NoticeKind::ActivityDayChanged);
        assert_eq!(notice_kind("time-in-heart-rate-zone", day), NoticeKind::ActivityDayChanged);
        assert_eq!(notice_kind("steps", None), NoticeKind::RecentActivityChanged);
        assert_eq!(notice_kind("sleep", day), NoticeKind::Other);
        assert_eq!(notice_kind("weight", None), NoticeKind::Other);
        assert_eq!(notice_kind("activities", day), NoticeKind::Other, "a Fitbit collection");
    }

    #[test]
    fn the_legacy_classification_agrees_with_the_verifiers() {
        // Records written before notices carried their kind are classified by
        // `ProviderId::classify_legacy`: it must say what the verifier says.
        use fitex_provider::ProviderId;
        let others = ["sleep", "weight", "nutrition", "activities", "heart-rate-variability"];
        for data_type in
            ACTIVITY_DATA_TYPES.iter().chain(crate::api::ROLLUP_TYPES.iter()).chain(&others)
        {
            for day in [date("2026-11-20"), None] {
                let written = day.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
                assert_eq!(
                    ProviderId::GoogleHealth.classify_legacy(data_type, &written),
                    notice_kind(data_type, day),
                    "{data_type} {day:?}"
                );
            }
        }
    }

    #[test]
    fn an_interval_crossing_midnight_yields_both_dates() {
        let b = body("u", "UPSERT", vec![interval((2026, 3, 7), (2026, 3, 8))]);
        let notices = parse_change_notices(b.to_string().as_bytes()).unwrap();
        let dates: Vec<_> = notices.iter().map(|n| n.date).collect();
        assert_eq!(dates, vec![date("2026-03-07"), date("2026-03-08")]);
    }

    fn at(date: (i32, u32, u32), hours: u32, minutes: u32) -> serde_json::Value {
        let (year, month, day) = date;
        serde_json::json!({"date":{"year":year,"month":month,"day":day},"time":{"hours":hours,"minutes":minutes}})
    }

    fn dates_of(start: serde_json::Value, end: serde_json::Value) -> Vec<Option<NaiveDate>> {
        let interval =
            serde_json::json!({"civilDateTimeInterval":{"startDateTime":start,"endDateTime":end}});
        let b = body("u", "UPSERT", vec![interval]);
        parse_change_notices(b.to_string().as_bytes()).unwrap().iter().map(|n| n.date).collect()
    }

    #[test]
    fn an_interval_ending_exactly_at_midnight_does_not_touch_the_next_day() {
        assert_eq!(
            dates_of(at((2026, 3, 7), 23, 55), at((2026, 3, 8), 0, 0)),
            vec![date("2026-03-07")]
        );
        // A missing time is midnight too.
        let end = serde_json::json!({"date":{"year":2026,"month":3,"day":8}});
        assert_eq!(dates_of(at((2026, 3, 7), 23, 55), end), vec![date("2026-03-07")]);
        assert_eq!(
            dates_of(at((2026, 3, 7), 23, 55), at((2026, 3, 8), 0, 1)),
            vec![date("2026-03-07"), date("2026-03-08")]
        );
    }

    #[test]
    fn a_multi_day_interval_touches_every_day_between() {
        assert_eq!(
            dates_of(at((2026, 2, 27), 22, 0), at((2026, 3, 2), 6, 0)),
            vec![date("2026-02-27"), date("2026-02-28"), date("2026-03-01"), date("2026-03-02")]
        );
        // An absurdly long interval counts only its ends, not a flood of dates.
        assert_eq!(
            dates_of(at((2025, 1, 1), 0, 0), at((2026, 1, 1), 12, 0)),
            vec![date("2025-01-01"), date("2026-01-01")]
        );
    }

    #[test]
    fn dates_are_deduplicated_across_intervals() {
        let b = body(
            "u",
            "UPSERT",
            vec![
                interval((2026, 3, 7), (2026, 3, 7)),
                interval((2026, 3, 7), (2026, 3, 8)),
                interval((2026, 3, 8), (2026, 3, 8)),
            ],
        );
        assert_eq!(parse_change_notices(b.to_string().as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn delete_and_unknown_operations_are_carried() {
        for op in ["DELETE", "SOMETHING_NEW"] {
            let b = body("u", op, vec![interval((2026, 3, 7), (2026, 3, 7))]);
            let notices = parse_change_notices(b.to_string().as_bytes()).unwrap();
            assert_eq!(notices[0].operation, op);
        }
    }

    #[test]
    fn an_array_body_is_accepted() {
        let b = serde_json::json!([
            body("a", "UPSERT", vec![interval((2026, 3, 7), (2026, 3, 7))]),
            body("b", "DELETE", vec![interval((2026, 3, 7), (2026, 3, 7))]),
            body("a", "UPSERT", vec![interval((2026, 3, 7), (2026, 3, 7))]),
        ]);
        let notices = parse_change_notices(b.to_string().as_bytes()).unwrap();
        let owners: Vec<_> =
            notices.iter().map(|n| (n.owner_id.as_str(), n.operation.as_str())).collect();
        assert_eq!(owners, vec![("a", "UPSERT"), ("b", "DELETE")]);
    }

    #[test]
    fn no_intervals_yield_one_undated_notice() {
        let b = body("u", "DELETE", vec![]);
        let notices = parse_change_notices(b.to_string().as_bytes()).unwrap();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].date, None);
    }

    #[test]
    fn bodies_that_are_not_notifications_are_errors() {
        assert!(matches!(parse_change_notices(b"nope"), Err(NotificationError::NotJson(_))));
        for b in
            [&br#"{"type":"verification"}"#[..], b"{}", b"[1]", br#"{"data":{"dataType":"steps"}}"#]
        {
            assert!(
                matches!(parse_change_notices(b), Err(NotificationError::NotNotification(_))),
                "{}",
                String::from_utf8_lossy(b)
            );
        }
        let empty = body("", "UPSERT", vec![]);
        assert_eq!(
            parse_change_notices(empty.to_string().as_bytes()),
            Err(NotificationError::EmptyField("healthUserId"))
        );
        let bad = body("u", "UPSERT", vec![interval((2026, 2, 30), (2026, 2, 30))]);
        assert_eq!(
            parse_change_notices(bad.to_string().as_bytes()),
            Err(NotificationError::BadDate { year: 2026, month: 2, day: 30 })
        );
    }
}
