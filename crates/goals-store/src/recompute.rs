//! Recomputing what a changed day affects: the participant's goals from that date on, in their own
//! time zone, for every program they are in, then their teams' weekly progress. Results are
//! upserted (only real changes are written) and each change becomes an event via the outbox.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_common::trace_context::TraceParent;
use fitex_goals::{
    goals_between, member_week_across, program_week, team_week, Goal, GoalSettings, MemberWeek,
    ParticipantGoalInput, Strategy, TeamWeek, Unit, MAX_SETTING_DAYS,
};
/// Where a change came from, named on the events it leads to.
pub use fitex_proto::DataSource;
use fitex_proto::{content_type, GoalChanged, Message, TeamProgressChanged, Timestamp};
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::{self, Enrolment, ProgramRow};

/// Outbox source of the goals service's events.
pub const OUTBOX_SOURCE: &str = "goals";

/// History read before a program's start, at least: the fetcher backfills 28 days, the baseline
/// takes the 14 before the start and the adaptive rule looks back 21 ([`history_days`]).
const HISTORY_DAYS: i64 = 60;

/// Days read before a program's start: [`HISTORY_DAYS`], or more when the program's baseline
/// window or adaptive lookback reaches further back (bounded as `validate()` bounds them).
fn history_days(settings: &GoalSettings) -> i64 {
    let lookback = match &settings.strategy {
        Strategy::AdaptivePercentile(a) => a.lookback_calendar_days,
        _ => 0,
    };
    let window = i64::from(settings.baseline.window_days);
    HISTORY_DAYS.max(window).max(lookback).min(MAX_SETTING_DAYS)
}

pub struct GoalsEngine {
    pub pool: PgPool,
    pub topics: Topics,
    pub relay_wake: Arc<tokio::sync::Notify>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recomputed {
    pub goals_changed: usize,
    pub team_weeks_changed: usize,
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> Timestamp {
    std::time::SystemTime::from(at).into()
}

/// A participant's change in a batch: everything from `from` on is recomputed, and the events it
/// causes continue `trace` and name `source` as where the change came from.
#[derive(Debug, Clone)]
pub struct Change {
    pub from: NaiveDate,
    pub trace: TraceParent,
    pub source: DataSource,
}

/// One participant's goals in one enrolment, to recompute from `from` through `through`.
struct GoalPlan<'a> {
    participant_id: i64,
    input: &'a ParticipantGoalInput,
    enrolment: Enrolment,
    from: NaiveDate,
    through: NaiveDate,
    trace: &'a TraceParent,
    source: DataSource,
}

impl GoalPlan<'_> {
    /// The first day the goals read (baseline and lookback before the program's start).
    fn history_from(&self) -> NaiveDate {
        let program = &self.enrolment.program.program;
        program.start_date - chrono::Duration::days(history_days(&program.goals))
    }
}

/// A team week to recompute, with the enrolment that names its program and the trace its event
/// continues.
struct TeamWeekPlan<'a> {
    enrolment: &'a Enrolment,
    week: u32,
    trace: &'a TraceParent,
    source: DataSource,
}

/// The part of date-ordered `records` dated `from` through `through`.
fn dated_within<T>(
    records: &[T],
    date: impl Fn(&T) -> NaiveDate,
    from: NaiveDate,
    through: NaiveDate,
) -> &[T] {
    let start = records.partition_point(|r| date(r) < from);
    let end = records.partition_point(|r| date(r) <= through);
    &records[start..end.max(start)]
}

impl GoalsEngine {
    /// Recomputes everything a change of `participant_id`'s day `changed_from` (or later) affects,
    /// as after a device's change.
    pub async fn recompute(
        &self,
        participant_id: i64,
        changed_from: NaiveDate,
        trace: &TraceParent,
    ) -> Result<Recomputed, sqlx::Error> {
        let change = Change { from: changed_from, trace: *trace, source: DataSource::Device };
        self.recompute_batch(&BTreeMap::from([(participant_id, change)])).await
    }

    /// Recomputes everything a batch of changes affects, in one transaction with one statement per
    /// kind of read or write: each participant's goals from their change on, in their own time
    /// zone, for every program they are in, then every team week those goals count in — once,
    /// however many of its members changed. Changed goals and team weeks become events through the
    /// outbox in the same transaction.
    pub async fn recompute_batch(
        &self,
        changes: &BTreeMap<i64, Change>,
    ) -> Result<Recomputed, sqlx::Error> {
        let ids: Vec<i64> = changes.keys().copied().collect();
        if ids.is_empty() {
            return Ok(Recomputed::default());
        }
        let participants = store::participants(&self.pool, &ids).await?;
        let mut enrolments = store::enrolments_of(&self.pool, &ids).await?;
        let now = Utc::now();
        // Read, compute and write under the participants' locks: see [`lock_participants`].
        let mut tx = self.pool.begin().await?;
        lock_participants(&mut tx, &ids).await?;
        let last_goals = store::last_goal_dates(&mut *tx, &ids).await?;
        let mut plans: Vec<GoalPlan<'_>> = Vec::new();
        for (participant_id, change) in changes {
            let Some((input, zone)) = participants.get(participant_id) else { continue };
            let today = zone.today(now);
            for enrolment in enrolments.remove(participant_id).unwrap_or_default() {
                let program = &enrolment.program.program;
                let through = program.end_date().min(today);
                // Also fill any days without a goal yet (a new day, or a member added late).
                let first_missing = last_goals
                    .get(&(*participant_id, enrolment.program.id))
                    .map_or(program.start_date, |last| *last + chrono::Duration::days(1));
                let from = change.from.min(first_missing).max(program.start_date);
                if through < from {
                    continue;
                }
                plans.push(GoalPlan {
                    participant_id: *participant_id,
                    input,
                    enrolment,
                    from,
                    through,
                    trace: &change.trace,
                    source: change.source,
                });
            }
        }
        let mut total = Recomputed::default();
        if plans.is_empty() {
            tx.commit().await?;
            return Ok(total);
        }
        let planned: Vec<i64> = plans.iter().map(|p| p.participant_id).collect();
        let first = plans.iter().map(GoalPlan::history_from).min().expect("plans is not empty");
        let last = plans.iter().map(|p| p.through).max().expect("plans is not empty");
        let days = store::days_of(&mut *tx, &planned, first, last).await?;
        // One row per (participant, program, date): a participant in two teams of one program
        // keeps the later team's goals, as the last of two writes would.
        let mut goals: BTreeMap<(i64, i64, NaiveDate), (usize, Goal)> = BTreeMap::new();
        for (index, plan) in plans.iter().enumerate() {
            let program = &plan.enrolment.program.program;
            let all = days.get(&plan.participant_id).map(Vec::as_slice).unwrap_or_default();
            let own = dated_within(all, |d| d.date, plan.history_from(), plan.through);
            let computed = goals_between(
                own,
                program.start_date,
                &program.goals,
                plan.input,
                plan.from,
                plan.through,
            );
            for goal in computed {
                let key = (plan.participant_id, plan.enrolment.program.id, goal.effective_date);
                goals.insert(key, (index, goal));
            }
        }
        let computed_at = Utc::now();
        let rows: Vec<store::GoalRowRef<'_>> = goals
            .iter()
            .map(|((participant_id, program_id, _), (_, goal))| store::GoalRowRef {
                participant_id: *participant_id,
                program_id: *program_id,
                goal,
            })
            .collect();
        let visible = store::upsert_goal_rows(&mut tx, &rows, computed_at).await?;
        let mut events: Vec<OutgoingRecord> = Vec::new();
        for ((index, goal), changed) in goals.values().zip(visible) {
            if changed {
                let plan = &plans[*index];
                events.push(self.goal_event(plan, goal, computed_at));
            }
        }
        total.goals_changed = events.len();
        metrics::counter!("fitex_goals_changed_total").increment(events.len() as u64);

        let mut weeks: BTreeMap<(i64, u32), TeamWeekPlan<'_>> = BTreeMap::new();
        for plan in &plans {
            let program = &plan.enrolment.program.program;
            let first_week = program_week(program, plan.from).unwrap_or(1);
            let last_week = program_week(program, plan.through).unwrap_or(program.weeks);
            for week in first_week..=last_week {
                weeks.entry((plan.enrolment.team_id, week)).or_insert(TeamWeekPlan {
                    enrolment: &plan.enrolment,
                    week,
                    trace: plan.trace,
                    source: plan.source,
                });
            }
        }
        let weeks: Vec<TeamWeekPlan<'_>> = weeks.into_values().collect();
        total.team_weeks_changed = self.team_weeks_in(&mut tx, &weeks, &mut events).await?;
        let refs: Vec<&OutgoingRecord> = events.iter().collect();
        outbox::insert_in(&mut tx, OUTBOX_SOURCE, &refs).await?;
        tx.commit().await?;
        if !events.is_empty() {
            self.relay_wake.notify_one();
        }
        Ok(total)
    }

    fn goal_event(
        &self,
        plan: &GoalPlan<'_>,
        goal: &Goal,
        computed_at: DateTime<Utc>,
    ) -> OutgoingRecord {
        let event_id = Uuid::now_v7();
        let span = plan.trace.child();
        let event = GoalChanged {
            event_id: event_id.to_string(),
            participant_id: plan.participant_id,
            program_id: plan.enrolment.program.id,
            effective_date: goal.effective_date.format("%Y-%m-%d").to_string(),
            steps: goal.steps,
            strategy: goal.strategy.to_string(),
            provisional: goal.provisional,
            citation: goal.citation.clone(),
            explanation: goal.explanation.clone(),
            computed_at: Some(timestamp(computed_at)),
            trace_context: Some(span.to_proto()),
            source: plan.source as i32,
        };
        OutgoingRecord::event(
            &self.topics.goals,
            plan.participant_id.to_string(),
            event_id,
            event.encode_to_vec(),
            content_type::GOAL_CHANGED,
            &span,
        )
    }

    /// Recomputes `weeks` inside `tx` from every member's stored days and goals, under their
    /// teams' locks ([`lock_teams`]), with one statement per kind of read and one upsert; adds
    /// an event per changed week to `events` (for the caller's outbox insert, in `tx`). Returns
    /// how many changed. Each (team, week) is named once.
    async fn team_weeks_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        weeks: &[TeamWeekPlan<'_>],
        events: &mut Vec<OutgoingRecord>,
    ) -> Result<usize, sqlx::Error> {
        let dated: Vec<(&TeamWeekPlan<'_>, NaiveDate, NaiveDate)> = weeks
            .iter()
            .filter_map(|plan| {
                let start = plan.enrolment.program.program.week_start(plan.week)?;
                Some((plan, start, start + chrono::Duration::days(6)))
            })
            .collect();
        let Some(first) = dated.iter().map(|(_, start, _)| *start).min() else { return Ok(0) };
        let last = dated.iter().map(|(_, _, end)| *end).max().unwrap_or(first);
        let teams: Vec<i64> = dated.iter().map(|(plan, ..)| plan.enrolment.team_id).collect();
        lock_teams(tx, &teams).await?;
        let members = store::members_of_teams(&mut **tx, &teams).await?;
        let member_ids = |program: Option<i64>| -> Vec<i64> {
            let mut ids: Vec<i64> = dated
                .iter()
                .filter(|(plan, ..)| program.is_none_or(|p| plan.enrolment.program.id == p))
                .flat_map(|(plan, ..)| members.get(&plan.enrolment.team_id).into_iter().flatten())
                .map(|(member, _)| *member)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        // The whole batch's days in one query, and its goals in one per program.
        let days = store::days_of(&mut **tx, &member_ids(None), first, last).await?;
        let mut goals: HashMap<i64, HashMap<i64, Vec<Goal>>> = HashMap::new();
        for (plan, ..) in &dated {
            let program_id = plan.enrolment.program.id;
            if let std::collections::hash_map::Entry::Vacant(entry) = goals.entry(program_id) {
                let ids = member_ids(Some(program_id));
                entry.insert(store::goals_of(&mut **tx, &ids, program_id, first, last).await?);
            }
        }
        let mut computed: Vec<TeamWeek> = Vec::with_capacity(dated.len());
        for (plan, start, end) in &dated {
            let ProgramRow { id: program_id, program, .. } = &plan.enrolment.program;
            let mut member_weeks: Vec<MemberWeek> = Vec::new();
            for (member, memberships) in members.get(&plan.enrolment.team_id).into_iter().flatten()
            {
                let all_days = days.get(member).map(Vec::as_slice).unwrap_or_default();
                let member_days = dated_within(all_days, |d| d.date, *start, *end);
                let all_goals =
                    goals.get(program_id).and_then(|g| g.get(member)).map(Vec::as_slice);
                let member_goals =
                    dated_within(all_goals.unwrap_or_default(), |g| g.effective_date, *start, *end);
                member_weeks.push(member_week_across(
                    program,
                    *member,
                    plan.week,
                    member_days,
                    member_goals,
                    memberships,
                ));
            }
            computed.push(team_week(
                plan.enrolment.team_id,
                plan.week,
                &member_weeks,
                program.met_days_per_week,
            ));
        }
        let computed_at = Utc::now();
        let changed = store::upsert_team_weeks(tx, &computed, computed_at).await?;
        let mut count = 0;
        for ((team, (plan, ..)), changed) in computed.iter().zip(&dated).zip(changed) {
            if changed {
                let ProgramRow { id: program_id, program, .. } = &plan.enrolment.program;
                let topic = &self.topics.team_progress;
                events.push(team_event(
                    topic,
                    team,
                    *program_id,
                    program.unit,
                    computed_at,
                    plan.trace,
                    plan.source,
                ));
                count += 1;
            }
        }
        metrics::counter!("fitex_goals_team_weeks_changed_total").increment(count as u64);
        Ok(count)
    }

    /// The goals service's half of deleting a participant everywhere (the fetcher's half deletes
    /// their tokens and days and puts the tombstone this answers on the activity topic): their
    /// goal history, unpublished goal events, team memberships and the participant record go, a
    /// tombstone keyed by them goes on the goals topic, and every started week of their teams is
    /// recomputed without them — all in one transaction, so a crash leaves it whole or undone.
    /// Returns the team weeks that changed; `None` when the participant is already gone.
    pub async fn forget_participant(
        &self,
        participant_id: i64,
        trace: &TraceParent,
    ) -> Result<Option<usize>, sqlx::Error> {
        let Some(zone) =
            store::participant_zone_even_if_deleted(&self.pool, participant_id).await?
        else {
            return Ok(None);
        };
        let today = zone.today(Utc::now());
        let enrolments = store::enrolments(&self.pool, participant_id).await?;
        let mut tx = self.pool.begin().await?;
        // The teams' locks before anything changes (in one order, so two purges, or a purge and a
        // recomputation, cannot deadlock).
        let teams: Vec<i64> = enrolments.iter().map(|e| e.team_id).collect();
        lock_teams(&mut tx, &teams).await?;
        store::forget_participant(&mut tx, participant_id, &self.topics.goals).await?;
        let mut events =
            vec![OutgoingRecord::tombstone(&self.topics.goals, participant_id.to_string())];
        let mut weeks: BTreeMap<(i64, u32), TeamWeekPlan<'_>> = BTreeMap::new();
        for enrolment in &enrolments {
            let program = &enrolment.program.program;
            let last_week = program_week(program, today.min(program.end_date()))
                .unwrap_or(if today < program.start_date { 0 } else { program.weeks });
            for week in 1..=last_week {
                weeks.entry((enrolment.team_id, week)).or_insert(TeamWeekPlan {
                    enrolment,
                    week,
                    trace,
                    // A deletion's recomputation: no data source led to it.
                    source: DataSource::Unspecified,
                });
            }
        }
        let weeks: Vec<TeamWeekPlan<'_>> = weeks.into_values().collect();
        let team_weeks_changed = self.team_weeks_in(&mut tx, &weeks, &mut events).await?;
        let refs: Vec<&OutgoingRecord> = events.iter().collect();
        outbox::insert_in(&mut tx, OUTBOX_SOURCE, &refs).await?;
        tx.commit().await?;
        self.relay_wake.notify_one();
        metrics::counter!("fitex_goals_participants_forgotten_total").increment(1);
        tracing::info!(participant = participant_id, team_weeks_changed, "participant forgotten");
        Ok(Some(team_weeks_changed))
    }
}

/// Takes the participants' locks for the rest of `tx`.
///
/// One recomputation of a participant at a time (two goals replicas overlap during a rebalance, and
/// `fitexctl goals recompute` runs beside them). Unlocked, one could read the days before a change
/// commits and write its stale goals after the other wrote fresh ones; under the lock the last
/// writer read everything the earlier ones wrote. A transaction takes its participants' locks
/// before any team's, and each kind in one order ([`advisory_xact_locks`]), so two cannot deadlock.
async fn lock_participants(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    participant_ids: &[i64],
) -> Result<(), sqlx::Error> {
    advisory_xact_locks(tx, PARTICIPANT_LOCK_SPACE, participant_ids).await
}

/// The first key of the participants' advisory locks (the second is the participant id).
const PARTICIPANT_LOCK_SPACE: i32 = 0x7061_7274; // "part"

/// Takes the teams' locks for the rest of `tx`.
///
/// One team at a time: two members' recomputations run concurrently, and each, unlocked, could
/// read the other's goals before they commit and then write its stale total last. Under the
/// team's lock the last computation starts after every goal it depends on is committed.
pub(crate) async fn lock_teams(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    team_ids: &[i64],
) -> Result<(), sqlx::Error> {
    advisory_xact_locks(tx, TEAM_LOCK_SPACE, team_ids).await
}

/// The first key of the teams' advisory locks (the second is the team id).
const TEAM_LOCK_SPACE: i32 = 0x7465_616d; // "team"

/// The second keys of the locks on `ids`, in the one order every transaction takes them in (ids
/// past `i32` share a lock with another, which only serialises more).
fn lock_keys(ids: &[i64]) -> Vec<i32> {
    let mut keys: Vec<i32> = ids.iter().map(|id| *id as i32).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// PostgreSQL's two-key transaction locks, all in one statement: `space` names the kind of thing
/// locked, `ids` which ones. They are taken in [`lock_keys`] order (a function scan of `unnest`
/// yields the array's order).
pub(crate) async fn advisory_xact_locks(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    space: i32,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, key) FROM unnest($2::int4[]) AS key")
        .bind(space)
        .bind(lock_keys(ids))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The program unit as events and the goals API name it.
pub fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::FitexMiles => "fitex_miles",
        Unit::Steps => "steps",
    }
}

fn team_event(
    topic: &str,
    team: &TeamWeek,
    program_id: i64,
    unit: Unit,
    computed_at: DateTime<Utc>,
    trace: &TraceParent,
    source: DataSource,
) -> OutgoingRecord {
    let event_id = Uuid::now_v7();
    let span = trace.child();
    let event = TeamProgressChanged {
        event_id: event_id.to_string(),
        team_id: team.team_id,
        program_id,
        week: team.week as i32,
        unit: unit_name(unit).into(),
        goal: team.goal,
        progress: team.progress,
        percent_of_goal: team.percent_of_goal,
        members: team.members as i32,
        members_meeting_goal: team.members_meeting_goal as i32,
        computed_at: Some(timestamp(computed_at)),
        trace_context: Some(span.to_proto()),
        source: source as i32,
    };
    OutgoingRecord::event(
        topic,
        team.team_id.to_string(),
        event_id,
        event.encode_to_vec(),
        content_type::TEAM_PROGRESS_CHANGED,
        &span,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_days_within_a_range_are_a_slice_of_the_ordered_ones() {
        let dates: Vec<NaiveDate> =
            ["2026-11-28", "2026-11-30", "2026-12-01", "2026-12-03"].map(date).to_vec();
        let within = |from, through| dated_within(&dates, |d| *d, date(from), date(through));
        assert_eq!(within("2026-11-29", "2026-12-01"), &dates[1..3]);
        assert_eq!(within("2026-11-28", "2026-12-03"), &dates[..], "both ends inclusive");
        assert!(within("2026-12-04", "2026-12-09").is_empty(), "after the last");
        assert!(within("2026-12-02", "2026-12-02").is_empty(), "a gap");
        assert!(within("2026-12-03", "2026-11-28").is_empty(), "an empty range");
    }

    #[test]
    fn locks_are_taken_once_each_in_one_order() {
        assert_eq!(lock_keys(&[7, 3, 7, -1, 3]), vec![-1, 3, 7]);
        // Ids past i32 wrap onto another's lock: it serialises more, never less.
        assert_eq!(lock_keys(&[1 << 32 | 5, 5]), vec![5]);
    }
}
