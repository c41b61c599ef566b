//! Joining what was sent with what the reader saw: which goal event answered each change (the
//! rules are in `main`'s documentation). Pure.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::cohort::Participant;
use crate::driver::Change;
use crate::reader::Seen;

/// When each change was answered: (notification on Kafka, activity event on Kafka, goal event).
pub struct Answer {
    pub notification_ms: Option<f64>,
    pub accepted_ms: Option<f64>,
    pub activity_ms: Option<f64>,
    pub fetched_ms: Option<f64>,
    pub goal_ms: Option<f64>,
    pub goal_kind: &'static str,
    /// Answered by the goal event of the notification's own trace.
    pub by_trace: bool,
}

/// The goal event that answered `change`, by its notification's trace when the hops join, else
/// by the first event that reflects it.
pub fn answer(change: &Change, participants: &[Participant], seen: &Seen, index: &Index) -> Answer {
    let p = &participants[change.who];
    let date = change.date.format("%Y-%m-%d").to_string();
    let notification = seen
        .notifications
        .get(&(p.user.clone(), date))
        .and_then(|list| list.iter().find(|n| n.accepted_ms >= change.sent_ms - 1.0));
    let mut result = Answer {
        notification_ms: notification.map(|n| n.recv_ms),
        accepted_ms: notification.map(|n| n.accepted_ms),
        activity_ms: None,
        fetched_ms: None,
        goal_ms: None,
        goal_kind: "",
        by_trace: false,
    };
    // By trace id alone: the activity event of the notification's trace that stored the change,
    // and the goal event of that trace.
    let own = notification.map(|n| &n.trace).filter(|t| !t.is_empty()).and_then(|trace| {
        let activity =
            index.by_trace.get(trace)?.iter().map(|i| &seen.activities[*i]).find(|a| {
                a.participant == p.id
                    && a.date == change.date
                    && i64::from(a.steps) >= i64::from(change.steps)
            })?;
        Some((activity, seen.goal_by_trace.get(trace)?))
    });
    if let Some((activity, (at, kind))) = own {
        result.activity_ms = Some(activity.recv_ms);
        result.fetched_ms = Some(activity.fetched_ms);
        result.goal_ms = Some(*at);
        result.goal_kind = kind;
        result.by_trace = true;
        return result;
    }
    // The first activity event (in the participant's partition order) carrying these steps or
    // more: the day's steps only grow within a run.
    let Some(first) = index.by_day.get(&(p.id, change.date)).and_then(|list| {
        list.iter()
            .map(|i| &seen.activities[*i])
            .find(|a| i64::from(a.steps) >= i64::from(change.steps))
    }) else {
        return result;
    };
    result.activity_ms = Some(first.recv_ms);
    result.fetched_ms = Some(first.fetched_ms);
    if let Some(later) = index.by_participant.get(&p.id) {
        for a in later.iter().map(|i| &seen.activities[*i]).filter(|a| a.offset >= first.offset) {
            if let Some((at, kind)) = seen.goal_by_trace.get(&a.trace) {
                if result.goal_ms.is_none_or(|g| *at < g) {
                    result.goal_ms = Some(*at);
                    result.goal_kind = kind;
                }
            }
        }
    }
    // After the participant's own events, so that an event of both kinds keeps its own label.
    if let Some(events) = seen.team_events_by_team.get(&p.team) {
        for (computed, at) in events {
            if *computed >= first.produced_ms && result.goal_ms.is_none_or(|g| *at < g) {
                result.goal_ms = Some(*at);
                result.goal_kind = "teammate";
            }
        }
    }
    result
}

/// The activity events (indices into `Seen::activities`, in offset order) by day, by participant
/// and by trace id.
#[derive(Default)]
pub struct Index {
    by_day: HashMap<(i64, NaiveDate), Vec<usize>>,
    by_participant: HashMap<i64, Vec<usize>>,
    by_trace: HashMap<String, Vec<usize>>,
}

pub fn index(seen: &Seen) -> Index {
    let mut order: Vec<usize> = (0..seen.activities.len()).collect();
    order.sort_by_key(|i| seen.activities[*i].offset);
    let mut index = Index::default();
    for i in order {
        let a = &seen.activities[i];
        index.by_day.entry((a.participant, a.date)).or_default().push(i);
        index.by_participant.entry(a.participant).or_default().push(i);
        index.by_trace.entry(a.trace.clone()).or_default().push(i);
    }
    index
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::*;
    use crate::reader::{Activity, SeenNotification};

    fn participant(id: i64, team: i64, zone: Tz) -> Participant {
        Participant { user: format!("U{id}"), id, team, zone, usual: 8000.0 }
    }

    fn activity(
        participant: i64,
        steps: i32,
        trace: &str,
        offset: i64,
        produced_ms: f64,
    ) -> Activity {
        Activity {
            participant,
            date: "2026-11-30".parse().unwrap(),
            steps,
            trace: trace.into(),
            offset,
            recv_ms: produced_ms + 5.0,
            fetched_ms: produced_ms - 20.0,
            produced_ms,
        }
    }

    fn change(steps: u32) -> Change {
        Change {
            who: 0,
            date: "2026-11-30".parse().unwrap(),
            steps,
            sent_ms: 1_000.0,
            dates_in_sync: 1,
        }
    }

    #[test]
    fn a_change_is_answered_by_its_own_recomputation_from_the_first_event_that_stored_it() {
        let people = [participant(7, 70, Tz::UTC)];
        let mut seen = Seen::default();
        seen.activities.push(activity(7, 900, "t-old", 1, 1_100.0));
        seen.activities.push(activity(7, 1_200, "t-new", 2, 1_300.0));
        seen.goal_by_trace.insert("t-old".into(), (1_150.0, "goal"));
        seen.goal_by_trace.insert("t-new".into(), (1_500.0, "team"));
        let index = index(&seen);
        let answer = answer(&change(1_200), &people, &seen, &index);
        assert_eq!(answer.activity_ms, Some(1_305.0));
        assert_eq!(
            (answer.goal_ms, answer.goal_kind),
            (Some(1_500.0), "team"),
            "not the older event's"
        );
        let too_many = answer_for(&change(5_000), &people, &seen);
        assert_eq!((too_many.activity_ms, too_many.goal_ms), (None, None), "never stored");
    }

    fn answer_for(change: &Change, people: &[Participant], seen: &Seen) -> Answer {
        answer(change, people, seen, &index(seen))
    }

    #[test]
    fn a_change_is_answered_by_its_notifications_trace_when_the_hops_join() {
        let people = [participant(7, 70, Tz::UTC)];
        let mut seen = Seen::default();
        let key = ("U7".to_string(), "2026-11-30".to_string());
        seen.notifications.insert(
            key.clone(),
            vec![SeenNotification {
                accepted_ms: 1_010.0,
                recv_ms: 1_020.0,
                trace: "t-own".into(),
            }],
        );
        seen.activities.push(activity(7, 1_200, "t-own", 2, 1_300.0));
        // A teammate's team event computed after the change was produced comes first, but the
        // change's own trace answers it.
        seen.team_events_by_team.insert(70, vec![(1_350.0, 1_400.0)]);
        seen.goal_by_trace.insert("t-own".into(), (1_500.0, "team"));
        let answer = answer_for(&change(1_200), &people, &seen);
        assert_eq!(
            (answer.goal_ms, answer.goal_kind, answer.by_trace),
            (Some(1_500.0), "team", true)
        );
        assert_eq!((answer.notification_ms, answer.activity_ms), (Some(1_020.0), Some(1_305.0)));
        // Its trace reached no goal event (or stored fewer steps): the rule without traces.
        seen.goal_by_trace.clear();
        let answer = answer_for(&change(1_200), &people, &seen);
        assert_eq!(
            (answer.goal_ms, answer.goal_kind, answer.by_trace),
            (Some(1_400.0), "teammate", false)
        );
        seen.goal_by_trace.insert("t-own".into(), (1_500.0, "team"));
        assert!(
            !answer_for(&change(1_300), &people, &seen).by_trace,
            "the event stored fewer steps"
        );
    }

    #[test]
    fn a_teammates_team_event_counts_only_when_computed_after_the_change_was_produced() {
        let people = [participant(7, 70, Tz::UTC)];
        let mut seen = Seen::default();
        seen.activities.push(activity(7, 1_200, "t-own", 1, 1_300.0));
        // Computed before the change reached Kafka: it may not have read it.
        seen.team_events_by_team.insert(70, vec![(1_290.0, 1_310.0)]);
        assert_eq!(answer_for(&change(1_200), &people, &seen).goal_ms, None);
        // Another team's event never counts; this team's later one does, before the own event.
        seen.team_events_by_team.insert(71, vec![(1_301.0, 1_320.0)]);
        seen.team_events_by_team.get_mut(&70).unwrap().push((1_350.0, 1_400.0));
        seen.goal_by_trace.insert("t-own".into(), (1_600.0, "goal"));
        let answer = answer_for(&change(1_200), &people, &seen);
        assert_eq!((answer.goal_ms, answer.goal_kind), (Some(1_400.0), "teammate"));
        // The participant's own team event, also an event of their team, keeps its own label.
        seen.goal_by_trace.insert("t-own".into(), (1_400.0, "team"));
        let answer = answer_for(&change(1_200), &people, &seen);
        assert_eq!((answer.goal_ms, answer.goal_kind), (Some(1_400.0), "team"));
    }
}
