//! The event audit: what the pipeline published, read back from its topics, against what it
//! stored.
//!
//! The fetcher publishes `ActivityDayChanged` only when a participant-day's stored values change,
//! and the goals service `GoalChanged` / `TeamProgressChanged` only when a goal or a team week
//! changes, each through its transactional outbox. So, per key (participant-day; participant,
//! program and date; team, program and week), the events read in order from the key's partition
//! must be a sequence in which
//! - no two consecutive events carry the same values (a second event for an unchanged row: a
//!   replay after a crash between the database commit and the offset commit must not publish
//!   again),
//! - the last one carries exactly the stored row's values (every stored change has its event, the
//!   latest values last),
//! - and every stored row has an event, every event's row is stored, every event decodes, and one
//!   key's events are on one partition (else their order is lost).
//!
//! A record repeated with the same `event_id` (the outbox relay publishes at least once) is one
//! event: consumers deduplicate on `event_id`. Those are counted, not reported.

use std::collections::BTreeMap;
use std::fmt::Debug;

use crate::readback::Record;

/// Which topic a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Stream {
    ActivityDays,
    Goals,
    TeamProgress,
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Kind {
    /// Two consecutive events of one key with the same values.
    Repeated,
    /// The key's last event differs from its stored row.
    LastDiffers,
    /// A stored row without any event.
    NoEvent,
    /// Events for a row that is not stored.
    NotStored,
    /// One key's events on more than one partition.
    Split,
    /// A record that is not the topic's event type.
    Undecodable,
}

/// One violation, with the key it is about and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Finding {
    pub stream: Stream,
    pub kind: Kind,
    pub key: String,
    pub detail: String,
}

/// An event decoded from a record: its key (as the audit names it), id and compared values.
#[derive(Debug, Clone)]
pub struct Event<V> {
    pub key: String,
    pub event_id: String,
    pub partition: i32,
    pub offset: i64,
    pub values: V,
}

/// How many events a stream's audit read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub events: usize,
    /// Records that repeated an `event_id` already read (at-least-once delivery).
    pub redelivered: usize,
}

/// Audits one stream: `events` as read (any order; sorted here by partition and offset), `stored`
/// the rows by the same keys.
pub fn audit<V: PartialEq + Debug>(
    stream: Stream,
    mut events: Vec<Event<V>>,
    stored: &BTreeMap<String, V>,
) -> (Vec<Finding>, Counts) {
    let mut findings = Vec::new();
    let finding =
        |kind, key: &str, detail: String| Finding { stream, kind, key: key.to_owned(), detail };
    events.sort_by_key(|e| (e.partition, e.offset));
    let mut seen = std::collections::HashSet::new();
    let mut counts = Counts::default();
    let mut by_key: BTreeMap<&str, Vec<&Event<V>>> = BTreeMap::new();
    for event in &events {
        if !event.event_id.is_empty() && !seen.insert(event.event_id.clone()) {
            counts.redelivered += 1;
            continue;
        }
        counts.events += 1;
        by_key.entry(event.key.as_str()).or_default().push(event);
    }
    for (key, sequence) in &by_key {
        let partitions: std::collections::BTreeSet<i32> =
            sequence.iter().map(|e| e.partition).collect();
        if partitions.len() > 1 {
            findings.push(finding(Kind::Split, key, format!("on partitions {partitions:?}")));
        }
        for pair in sequence.windows(2) {
            if pair[0].values == pair[1].values {
                findings.push(finding(
                    Kind::Repeated,
                    key,
                    format!(
                        "p{} @{} and p{} @{} both {:?}",
                        pair[0].partition,
                        pair[0].offset,
                        pair[1].partition,
                        pair[1].offset,
                        pair[1].values
                    ),
                ));
            }
        }
        let last = sequence.last().expect("a key has at least one event");
        match stored.get(*key) {
            None => findings.push(finding(
                Kind::NotStored,
                key,
                format!(
                    "{} events, the last (p{} @{}) {:?}",
                    sequence.len(),
                    last.partition,
                    last.offset,
                    last.values
                ),
            )),
            Some(row) if *row != last.values => findings.push(finding(
                Kind::LastDiffers,
                key,
                format!(
                    "last event (p{} @{}) {:?}, stored {row:?}",
                    last.partition, last.offset, last.values
                ),
            )),
            Some(_) => {}
        }
    }
    for (key, row) in stored {
        if !by_key.contains_key(key.as_str()) {
            findings.push(finding(Kind::NoEvent, key, format!("stored {row:?}")));
        }
    }
    (findings, counts)
}

/// Decodes `records` with `decode` (`None`: undecodable, reported).
pub fn decode_all<V>(
    stream: Stream,
    records: &[Record],
    mut decode: impl FnMut(&Record) -> Option<Event<V>>,
) -> (Vec<Event<V>>, Vec<Finding>) {
    let mut events = Vec::new();
    let mut findings = Vec::new();
    for record in records {
        match decode(record) {
            Some(event) => events.push(event),
            None => findings.push(Finding {
                stream,
                kind: Kind::Undecodable,
                key: format!("p{} @{}", record.partition, record.offset),
                detail: format!("key {:?}, {} bytes", record.key, record.payload.len()),
            }),
        }
    }
    (events, findings)
}

/// The values of an activity day that the fetcher compares (and `ActivityDayChanged` carries).
#[derive(Debug, Clone, PartialEq)]
pub struct DayValues {
    /// The stored `source`; the event's `provider`.
    pub provider: String,
    pub no_data: bool,
    pub steps: i32,
    pub distance_km: f64,
    pub sedentary: i32,
    pub lightly_active: i32,
    pub fairly_active: i32,
    pub very_active: i32,
    pub worn: Option<i32>,
    pub manual_steps: Option<i32>,
}

/// The provider's name as the fetcher stores it in `activity_days.source`.
pub fn provider_name(provider: i32) -> String {
    match provider {
        1 => "fitbit".into(),
        2 => "google_health".into(),
        other => format!("provider {other}"),
    }
}

/// The values of a goal that `GoalChanged` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalValues {
    pub steps: i32,
    pub strategy: String,
    pub provisional: bool,
    pub citation: String,
    pub explanation: String,
}

/// The values of a team week the goals service compares: rounded to 1/1000 of a unit, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamValues {
    pub goal: f64,
    pub progress: f64,
    pub members: i32,
    pub members_meeting_goal: i32,
}

/// What the goals service stores of a computed value (`store::upsert_team_weeks`).
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub fn day_key(participant: i64, date: &str) -> String {
    format!("participant {participant} day {date}")
}

pub fn goal_key(participant: i64, program: i64, date: &str) -> String {
    format!("participant {participant} program {program} goal {date}")
}

pub fn team_key(team: i64, program: i64, week: i32) -> String {
    format!("team {team} program {program} week {week}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str, id: &str, partition: i32, offset: i64, v: i32) -> Event<i32> {
        Event { key: key.into(), event_id: id.into(), partition, offset, values: v }
    }

    fn kinds(findings: &[Finding]) -> Vec<(Kind, String)> {
        findings.iter().map(|f| (f.kind, f.key.clone())).collect()
    }

    #[test]
    fn a_clean_history_passes_and_redeliveries_are_one_event() {
        let stored = BTreeMap::from([("a".to_string(), 3), ("b".to_string(), 1)]);
        let events = vec![
            event("a", "1", 0, 0, 1),
            event("b", "2", 1, 0, 1),
            event("a", "3", 0, 1, 2),
            event("a", "1", 0, 2, 1), // the relay published event 1 again
            event("a", "4", 0, 3, 3),
        ];
        let (findings, counts) = audit(Stream::ActivityDays, events, &stored);
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(counts, Counts { events: 4, redelivered: 1 });
    }

    #[test]
    fn each_violation_is_reported_for_its_key() {
        let stored = BTreeMap::from([
            ("repeated".to_string(), 2),
            ("stale".to_string(), 5),
            ("silent".to_string(), 1),
            ("split".to_string(), 2),
        ]);
        let events = vec![
            event("repeated", "1", 0, 0, 2),
            event("repeated", "2", 0, 1, 2),
            event("stale", "3", 0, 2, 4),
            event("gone", "4", 1, 0, 9),
            event("split", "5", 1, 1, 1),
            event("split", "6", 2, 0, 2),
        ];
        let (findings, _) = audit(Stream::Goals, events, &stored);
        assert_eq!(
            kinds(&findings),
            vec![
                (Kind::NotStored, "gone".to_string()),
                (Kind::Repeated, "repeated".to_string()),
                (Kind::Split, "split".to_string()),
                (Kind::LastDiffers, "stale".to_string()),
                (Kind::NoEvent, "silent".to_string()),
            ]
        );
    }

    #[test]
    fn a_change_back_to_earlier_values_is_not_a_repeat() {
        let stored = BTreeMap::from([("a".to_string(), 1)]);
        let events =
            vec![event("a", "1", 0, 0, 1), event("a", "2", 0, 1, 2), event("a", "3", 0, 2, 1)];
        assert!(audit(Stream::TeamProgress, events, &stored).0.is_empty());
    }
}
