//! The accounting's self-test: every check must be able to fail. After a small run with no fault
//! (which must pass every check), each invariant is broken on purpose, one at a time, and the
//! accounting must report exactly that: the specific check, for the specific row, event or
//! partition — and nothing else. Most breaks are then undone; those that cannot be (an event on a
//! topic stays there) are kept as expected findings for every later step.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use fitex_proto::{
    ActivityDayChanged, DeadLetter, GoalChanged, Message, ProviderNotification, TeamProgressChanged,
};
use fitex_provider_simulator::{DayData, Notification};

use crate::events::{self, Kind, Stream};
use crate::harness::{Failure, Pipeline, Report, Role};

/// How long a step waits for its break to show (or the pipeline to settle).
const SETTLE: Duration = Duration::from_secs(5);
const QUIESCE: Duration = Duration::from_secs(15);

/// A failure as the self-test compares it: the mismatch text is cut to its user-day.
fn signature(failure: &Failure) -> String {
    match failure {
        Failure::NotStoredLatest(text) => {
            format!("not stored with the latest values: {}", text.split(':').next().unwrap_or(text))
        }
        other => format!("{other:?}"),
    }
}

fn signatures(failures: &BTreeSet<Failure>) -> BTreeSet<String> {
    failures.iter().map(signature).collect()
}

pub struct SelfTest<'a> {
    pub p: &'a mut Pipeline,
    /// Findings that stay (events cannot be taken back from a topic).
    residue: BTreeSet<String>,
    pub steps: Vec<String>,
}

impl<'a> SelfTest<'a> {
    pub fn new(p: &'a mut Pipeline) -> Self {
        Self { p, residue: BTreeSet::new(), steps: Vec::new() }
    }

    /// Runs the accounting and asserts it reports exactly `expected` (plus what earlier steps
    /// left for good). Returns the report.
    pub async fn expect(&mut self, step: &str, expected: &[Failure]) -> Report {
        let began = std::time::Instant::now();
        let report = self.p.account_within(step, SETTLE, QUIESCE).await;
        let got = signatures(&report.failures());
        let want: BTreeSet<String> =
            expected.iter().map(signature).chain(self.residue.iter().cloned()).collect();
        assert_eq!(
            got, want,
            "self-test step {step:?}: the accounting did not report exactly the broken invariant\n{report:#?}"
        );
        eprintln!(
            "self-test: {step}: reported {:?} ({:.1} s: {:?})",
            expected.iter().map(signature).collect::<Vec<_>>(),
            began.elapsed().as_secs_f64(),
            report.timings
        );
        self.steps
            .push(format!("{step}: {:?}", expected.iter().map(signature).collect::<Vec<_>>()));
        report
    }

    /// Waits until what undid the last break has gone through the pipeline.
    pub async fn settle(&mut self) {
        assert!(self.p.wait_quiet(Duration::from_secs(60)).await, "the pipeline did not settle");
    }

    /// Like `expect`, and keeps `lasting` as expected in every later step.
    pub async fn expect_lasting(&mut self, step: &str, lasting: Failure) -> Report {
        let report = self.expect(step, std::slice::from_ref(&lasting)).await;
        self.residue.insert(signature(&lasting));
        report
    }
}

/// A participant-day with its latest `ActivityDayChanged`.
struct Day {
    user: String,
    participant: i64,
    date: NaiveDate,
    key: String,
    latest: ActivityDayChanged,
    partition: i32,
}

async fn pick_days(p: &Pipeline) -> Vec<Day> {
    let published = p.published().await;
    let mut latest: std::collections::BTreeMap<String, ((i32, i64), ActivityDayChanged)> =
        Default::default();
    for (at, event) in published.days_raw {
        latest.insert(events::day_key(event.participant_id, &event.date), (at, event));
    }
    let mut days = Vec::new();
    for (user, date) in p.expected.keys() {
        let participant = p.participants[user];
        let key = events::day_key(participant, &date.to_string());
        if let Some(((partition, _), event)) = latest.get(&key) {
            days.push(Day {
                user: user.clone(),
                participant,
                date: *date,
                key,
                latest: event.clone(),
                partition: *partition,
            });
        }
    }
    assert!(days.len() >= 2, "the self-test needs two synced days");
    days
}

fn fresh_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn publish_day(
    p: &Pipeline,
    event: &ActivityDayChanged,
    partition: Option<i32>,
) -> (i32, i64) {
    let topic = p.kafka.topics.activity_days.clone();
    p.publish(
        &topic,
        &event.participant_id.to_string(),
        partition,
        &event.event_id,
        event.encode_to_vec(),
    )
    .await
}

async fn publish_goal(p: &Pipeline, event: &GoalChanged) {
    let topic = p.kafka.topics.goals.clone();
    p.publish(
        &topic,
        &event.participant_id.to_string(),
        None,
        &event.event_id,
        event.encode_to_vec(),
    )
    .await;
}

async fn publish_team(p: &Pipeline, event: &TeamProgressChanged) {
    let topic = p.kafka.topics.team_progress.clone();
    p.publish(&topic, &event.team_id.to_string(), None, &event.event_id, event.encode_to_vec())
        .await;
}

/// The latest published goal event of a stored goal, and of a stored team week.
async fn latest_goal_and_team(p: &Pipeline) -> (GoalChanged, TeamProgressChanged) {
    let published = p.published().await;
    let goal = published.goals_raw.values().next_back().cloned().expect("a goal event");
    let key = events::goal_key(goal.participant_id, goal.program_id, &goal.effective_date);
    let goal = published
        .goals_raw
        .values()
        .rfind(|g| events::goal_key(g.participant_id, g.program_id, &g.effective_date) == key)
        .cloned()
        .unwrap();
    let team = published.teams_raw.values().next_back().cloned().expect("a team event");
    let team = published
        .teams_raw
        .values()
        .rfind(|t| (t.team_id, t.program_id, t.week) == (team.team_id, team.program_id, team.week))
        .cloned()
        .unwrap();
    (goal, team)
}

fn day_failure(key: &str, kind: Kind) -> Failure {
    Failure::Event(Stream::ActivityDays, kind, key.to_owned())
}

/// Every check, broken one at a time (docs/reliability.md, "The checks can fail").
pub async fn run(t: &mut SelfTest<'_>) {
    // Every participant synced at least once (a member who never synced has no goals yet, while
    // a recomputation gives them a provisional one: not what this test is about).
    let today = Utc::now().date_naive();
    for (i, user) in t.p.users.clone().iter().enumerate() {
        t.p.set_day(user, today - chrono::Duration::days(1), fixed_day(3000 + 100 * i as u32))
            .await;
    }
    t.expect("no fault: every check passes", &[]).await;
    let days = pick_days(t.p).await;
    let d = &days[0];

    // 3. Nothing left in the outbox.
    sqlx::query(
        "INSERT INTO kafka_outbox (event_id, source, topic, record_key, payload)
         VALUES ($1, 'chaos-self-test', $2, 'self-test', '\\x00')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&t.p.kafka.topics.activity_days)
    .execute(&t.p.pool)
    .await
    .unwrap();
    t.expect("a row left in the outbox", &[Failure::OutboxLeft(1)]).await;
    sqlx::query("DELETE FROM kafka_outbox WHERE source = 'chaos-self-test'")
        .execute(&t.p.pool)
        .await
        .unwrap();

    // 2. Every stored row has its event.
    let old = today - chrono::Duration::days(400);
    sqlx::query(
        "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
             lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
             source, fetched_at)
         VALUES ($1, $2, 1234, 0.9, 600, 60, 5, 5, 700, 'fitbit', now())",
    )
    .bind(d.participant)
    .bind(old)
    .execute(&t.p.pool)
    .await
    .unwrap();
    let silent = events::day_key(d.participant, &old.to_string());
    t.expect("a stored day without its event", &[day_failure(&silent, Kind::NoEvent)]).await;
    sqlx::query("DELETE FROM activity_days WHERE participant_id = $1 AND day = $2")
        .bind(d.participant)
        .bind(old)
        .execute(&t.p.pool)
        .await
        .unwrap();

    // 2. The last event carries the stored values.
    let mut stale = d.latest.clone();
    stale.event_id = fresh_id();
    stale.steps += 1;
    publish_day(t.p, &stale, None).await;
    t.expect(
        "a stale ActivityDayChanged published last",
        &[day_failure(&d.key, Kind::LastDiffers)],
    )
    .await;
    let mut again = d.latest.clone();
    again.event_id = fresh_id();
    publish_day(t.p, &again, None).await;
    t.settle().await;

    // 1. Every change stored with its latest values (the row and its event changed together, so
    // only this check may see it).
    sqlx::query(
        "UPDATE activity_days SET steps = steps + 1 WHERE participant_id = $1 AND day = $2",
    )
    .bind(d.participant)
    .bind(d.date)
    .execute(&t.p.pool)
    .await
    .unwrap();
    let mut changed = d.latest.clone();
    changed.event_id = fresh_id();
    changed.steps += 1;
    publish_day(t.p, &changed, None).await;
    t.expect(
        "a stored day changed behind the pipeline's back (with its event)",
        &[Failure::NotStoredLatest(format!("{} {}: stored", d.user, d.date))],
    )
    .await;
    sqlx::query(
        "UPDATE activity_days SET steps = steps - 1 WHERE participant_id = $1 AND day = $2",
    )
    .bind(d.participant)
    .bind(d.date)
    .execute(&t.p.pool)
    .await
    .unwrap();
    let mut back = d.latest.clone();
    back.event_id = fresh_id();
    publish_day(t.p, &back, None).await;
    t.settle().await;

    // 1 and 2 (and 5, which recomputes without the day): a stored day deleted.
    sqlx::query("DELETE FROM activity_days WHERE participant_id = $1 AND day = $2")
        .bind(d.participant)
        .bind(d.date)
        .execute(&t.p.pool)
        .await
        .unwrap();
    t.expect(
        "a stored day deleted",
        &[
            Failure::NotStoredLatest(format!("{} {}: not stored", d.user, d.date)),
            day_failure(&d.key, Kind::NotStored),
            Failure::GoalsDiffer,
        ],
    )
    .await;
    // Undone through the pipeline: the day changes at the provider and is synced again.
    t.p.set_day(&d.user, d.date, fixed_day(4321)).await;

    // 2. The last goal and team-week events carry the stored values.
    t.expect("the deleted day synced again", &[]).await;
    let (goal, team) = latest_goal_and_team(t.p).await;
    let goal_key = events::goal_key(goal.participant_id, goal.program_id, &goal.effective_date);
    let team_key = events::team_key(team.team_id, team.program_id, team.week);
    let mut stale_goal = goal.clone();
    stale_goal.event_id = fresh_id();
    stale_goal.steps += 100;
    publish_goal(t.p, &stale_goal).await;
    t.expect(
        "a stale GoalChanged published last",
        &[Failure::Event(Stream::Goals, Kind::LastDiffers, goal_key.clone())],
    )
    .await;
    let mut again = goal.clone();
    again.event_id = fresh_id();
    publish_goal(t.p, &again).await;
    t.settle().await;

    let mut stale_team = team.clone();
    stale_team.event_id = fresh_id();
    stale_team.progress += 1000.0;
    publish_team(t.p, &stale_team).await;
    t.expect(
        "a stale TeamProgressChanged published last",
        &[Failure::Event(Stream::TeamProgress, Kind::LastDiffers, team_key.clone())],
    )
    .await;
    let mut again = team.clone();
    again.event_id = fresh_id();
    publish_team(t.p, &again).await;
    t.settle().await;

    // 5. Goals match a from-scratch recomputation (the goal and its event changed together, so
    // only the recomputation may see it; it puts the goal back and publishes that).
    let date: NaiveDate = goal.effective_date.parse().unwrap();
    sqlx::query(
        "UPDATE goal_history SET steps = steps + 100
         WHERE participant_id = $1 AND program_id = $2 AND effective_date = $3",
    )
    .bind(goal.participant_id)
    .bind(goal.program_id)
    .bind(date)
    .execute(&t.p.pool)
    .await
    .unwrap();
    publish_goal(t.p, &stale_goal_with_new_id(&stale_goal)).await;
    let report =
        t.expect("a stored goal corrupted (with its event)", &[Failure::GoalsDiffer]).await;
    let corrupted = format!("was goal ({}, {date}, {}", goal.participant_id, goal.steps + 100);
    assert!(
        report.goal_differences.iter().any(|d| d.starts_with(&corrupted)),
        "the recomputation names the corrupted goal: {:?}",
        report.goal_differences
    );
    // The recomputation put the goal back and published it.
    t.expect("the recomputation's goal published", &[]).await;

    // 4. Every consumer group committed every record: the goals service stopped, one record (a
    // redelivery, which the event audit rightly ignores) waits.
    let stopped = t.p.stop_role(Role::Goals);
    assert!(stopped >= 1);
    let pending = d2_latest(t.p, &days[1]).await;
    let (partition, _) = publish_day(t.p, &pending, None).await;
    let group = t.p.group_id("FITEX__GOALS__GROUP_ID");
    t.expect(
        "a consumer group that has not committed a record",
        &[
            Failure::Lagging {
                group,
                topic: t.p.kafka.topics.activity_days.clone(),
                partition,
                lag: 1,
            },
            Failure::GoalsNotChecked,
        ],
    )
    .await;
    t.p.add_service(Role::Goals, &[]).await;
    t.settle().await;

    // 7. Every notification answered 2xx (and 1: the change it carried is not stored).
    let e = &days[1];
    t.p.stop_role(Role::Subscriber);
    t.p.set_day(&e.user, e.date, fixed_day(5555)).await;
    t.expect(
        "a notification the subscriber did not answer",
        &[
            Failure::Undelivered(1),
            Failure::NotStoredLatest(format!("{} {}: stored", e.user, e.date)),
        ],
    )
    .await;
    t.p.add_service(Role::Subscriber, &[]).await;
    t.p.forget_undelivered();
    let notification = Notification::activities(&e.user, e.date, &format!("{}-all", e.user));
    t.p.sim.client().push_notifications(vec![notification], 0).await.expect("simulator");
    t.expect("the lost notification sent again", &[]).await;

    // From here on each break stays on its topic.
    // 2. No second event for an unchanged row.
    let days = pick_days(t.p).await;
    let d = days.iter().find(|x| x.key == d.key).unwrap_or(&days[0]);
    let mut twice = d.latest.clone();
    twice.event_id = fresh_id();
    publish_day(t.p, &twice, None).await;
    t.expect_lasting(
        "a second ActivityDayChanged for an unchanged day",
        day_failure(&d.key, Kind::Repeated),
    )
    .await;
    let (goal, team) = latest_goal_and_team(t.p).await;
    let mut twice = goal.clone();
    twice.event_id = fresh_id();
    publish_goal(t.p, &twice).await;
    let goal_key = events::goal_key(goal.participant_id, goal.program_id, &goal.effective_date);
    t.expect_lasting(
        "a second GoalChanged for an unchanged goal",
        Failure::Event(Stream::Goals, Kind::Repeated, goal_key),
    )
    .await;
    let mut twice = team.clone();
    twice.event_id = fresh_id();
    publish_team(t.p, &twice).await;
    let team_key = events::team_key(team.team_id, team.program_id, team.week);
    t.expect_lasting(
        "a second TeamProgressChanged for an unchanged week",
        Failure::Event(Stream::TeamProgress, Kind::Repeated, team_key),
    )
    .await;

    // 2. One key's events on one partition (else their order is lost): a changed copy of a
    // day's event on partition 0, which sorts before the day's own partition.
    let split = days
        .iter()
        .find(|x| x.partition > 0 && x.key != d.key)
        .expect("a day whose events are not on partition 0");
    let mut elsewhere = split.latest.clone();
    elsewhere.event_id = fresh_id();
    elsewhere.steps += 7;
    publish_day(t.p, &elsewhere, Some(0)).await;
    t.expect_lasting("a day's event on another partition", day_failure(&split.key, Kind::Split))
        .await;

    // 2. Every record decodes.
    let topic = t.p.kafka.topics.activity_days.clone();
    let (p, offset) = t
        .p
        .publish(&topic, &split.participant.to_string(), None, &fresh_id(), vec![0x0a, 0x7f, b'x'])
        .await;
    t.expect_lasting(
        "an undecodable record on the activity-days topic",
        day_failure(&format!("p{p} @{offset}"), Kind::Undecodable),
    )
    .await;

    // 6. Every dead letter says why.
    let original = ProviderNotification {
        owner_id: "SELFTEST".into(),
        date: today.to_string(),
        ..ProviderNotification::default()
    };
    let letter = DeadLetter {
        event_id: fresh_id(),
        source_topic: t.p.kafka.topics.notifications.clone(),
        payload: original.encode_to_vec(),
        reason: String::new(),
        attempts: 1,
        ..DeadLetter::default()
    };
    let topic = t.p.kafka.topics.dead_letters.clone();
    t.p.publish(&topic, "SELFTEST", None, &letter.event_id, letter.encode_to_vec()).await;
    t.expect_lasting(
        "a dead letter without a reason",
        Failure::UnexplainedDeadLetter(format!("SELFTEST {today} (SELFTEST)")),
    )
    .await;
}

/// A day as the load driver makes them, with `steps`.
fn fixed_day(steps: u32) -> DayData {
    DayData {
        steps,
        distance_km: f64::from(steps) * 0.00075,
        sedentary_minutes: 600,
        lightly_active_minutes: 120,
        fairly_active_minutes: 20,
        very_active_minutes: 10,
        worn_minutes: 800,
        resting_heart_rate: Some(60),
    }
}

fn stale_goal_with_new_id(goal: &GoalChanged) -> GoalChanged {
    let mut goal = goal.clone();
    goal.event_id = fresh_id();
    goal
}

/// The latest event of `day` as published now (republished as is: a redelivery).
async fn d2_latest(p: &Pipeline, day: &Day) -> ActivityDayChanged {
    let published = p.published().await;
    published
        .days_raw
        .values()
        .rfind(|e| events::day_key(e.participant_id, &e.date) == day.key)
        .cloned()
        .unwrap_or_else(|| day.latest.clone())
}
