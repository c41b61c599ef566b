//! Recomputing what a changed day affects: the participant's goals from that date on, in their own
//! time zone, for every program they are in, then their teams' weekly progress. Results are
//! upserted (only real changes are written) and each change becomes an event via the outbox.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use fitex_common::kafka::Topics;
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_common::trace_context::TraceParent;
use fitex_goals::{
    goals_between, member_week, program_week, team_week, Goal, GoalSettings, MemberWeek, Strategy,
    TeamWeek, Unit, MAX_SETTING_DAYS,
};
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

fn timestamp(at: chrono::DateTime<Utc>) -> Timestamp {
    std::time::SystemTime::from(at).into()
}

impl GoalsEngine {
    /// Recomputes everything a change of `participant_id`'s day `changed_from` (or later) affects.
    pub async fn recompute(
        &self,
        participant_id: i64,
        changed_from: NaiveDate,
        trace: &TraceParent,
    ) -> Result<Recomputed, sqlx::Error> {
        let Some((input, zone)) = store::participant(&self.pool, participant_id).await? else {
            return Ok(Recomputed::default());
        };
        let today = zone.today(Utc::now());
        let mut total = Recomputed::default();
        for enrolment in store::enrolments(&self.pool, participant_id).await? {
            let program = &enrolment.program.program;
            let through = program.end_date().min(today);
            // Read, compute and write under the participant's lock: see [`lock_participant`].
            let mut tx = self.pool.begin().await?;
            lock_participant(&mut tx, participant_id).await?;
            // Also fill any days without a goal yet (a new day, or a member added late).
            let first_missing =
                store::last_goal_date(&mut *tx, participant_id, enrolment.program.id)
                    .await?
                    .map_or(program.start_date, |last| last + chrono::Duration::days(1));
            let from = changed_from.min(first_missing).max(program.start_date);
            if through < from {
                continue;
            }
            let days = store::days(
                &mut *tx,
                participant_id,
                program.start_date - chrono::Duration::days(history_days(&program.goals)),
                through,
            )
            .await?;
            let goals =
                goals_between(&days, program.start_date, &program.goals, &input, from, through);
            total.goals_changed +=
                self.store_goals(tx, participant_id, &enrolment, &goals, trace).await?;
            let first_week = program_week(program, from).unwrap_or(1);
            let last_week = program_week(program, through).unwrap_or(program.weeks);
            for week in first_week..=last_week {
                if self.recompute_team_week(&enrolment, week, trace).await? {
                    total.team_weeks_changed += 1;
                }
            }
        }
        Ok(total)
    }

    /// Stores `goals` and their events in `tx` and commits it.
    async fn store_goals(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        participant_id: i64,
        enrolment: &Enrolment,
        goals: &[Goal],
        trace: &TraceParent,
    ) -> Result<usize, sqlx::Error> {
        let computed_at = Utc::now();
        let program_id = enrolment.program.id;
        let changed =
            store::upsert_goals(&mut tx, participant_id, program_id, goals, computed_at).await?;
        let records: Vec<OutgoingRecord> = changed
            .iter()
            .map(|goal| {
                let event_id = Uuid::now_v7();
                let span = trace.child();
                let event = GoalChanged {
                    event_id: event_id.to_string(),
                    participant_id,
                    program_id,
                    effective_date: goal.effective_date.format("%Y-%m-%d").to_string(),
                    steps: goal.steps,
                    strategy: goal.strategy.to_string(),
                    provisional: goal.provisional,
                    citation: goal.citation.clone(),
                    explanation: goal.explanation.clone(),
                    computed_at: Some(timestamp(computed_at)),
                    trace_context: Some(span.to_proto()),
                };
                OutgoingRecord::event(
                    &self.topics.goals,
                    participant_id.to_string(),
                    event_id,
                    event.encode_to_vec(),
                    content_type::GOAL_CHANGED,
                    &span,
                )
            })
            .collect();
        let refs: Vec<&OutgoingRecord> = records.iter().collect();
        outbox::insert_in(&mut tx, OUTBOX_SOURCE, &refs).await?;
        tx.commit().await?;
        if !records.is_empty() {
            self.relay_wake.notify_one();
        }
        metrics::counter!("fitex_goals_changed_total").increment(changed.len() as u64);
        Ok(changed.len())
    }

    /// Recomputes one team week from every member's stored days and goals.
    pub async fn recompute_team_week(
        &self,
        enrolment: &Enrolment,
        week: u32,
        trace: &TraceParent,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        lock_team(&mut tx, enrolment.team_id).await?;
        let changed = self.team_week_in(&mut tx, enrolment, week, trace).await?;
        tx.commit().await?;
        if changed {
            self.relay_wake.notify_one();
        }
        Ok(changed)
    }

    /// Recomputes one team week inside `tx`, which holds the team's lock ([`lock_team`]); a
    /// change is upserted and its event added to the outbox in the same transaction.
    async fn team_week_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        enrolment: &Enrolment,
        week: u32,
        trace: &TraceParent,
    ) -> Result<bool, sqlx::Error> {
        let ProgramRow { id: program_id, program, .. } = &enrolment.program;
        let Some(start) = program.week_start(week) else { return Ok(false) };
        let end = start + chrono::Duration::days(6);
        let mut member_weeks: Vec<MemberWeek> = Vec::new();
        let members = store::team_members(&mut **tx, enrolment.team_id).await?;
        let ids: Vec<i64> = members.iter().map(|(member, _)| *member).collect();
        // Two queries for the whole team, not two per member.
        let mut days_by_member = store::days_of(&mut **tx, &ids, start, end).await?;
        let mut goals_by_member = store::goals_of(&mut **tx, &ids, *program_id, start, end).await?;
        for (member, memberships) in members {
            let days = days_by_member.remove(&member).unwrap_or_default();
            let goals = goals_by_member.remove(&member).unwrap_or_default();
            let mut total = MemberWeek {
                participant_id: member,
                active_days: 0,
                goal_total: 0.0,
                progress_total: 0.0,
                days_goal_met: 0,
            };
            for membership in &memberships {
                let part = member_week(program, member, week, &days, &goals, membership);
                total.active_days += part.active_days;
                total.goal_total += part.goal_total;
                total.progress_total += part.progress_total;
                total.days_goal_met += part.days_goal_met;
            }
            total.active_days = total.active_days.min(7);
            member_weeks.push(total);
        }
        let team = team_week(enrolment.team_id, week, &member_weeks, program.met_days_per_week);
        let computed_at = Utc::now();
        let changed = store::upsert_team_week(tx, &team, computed_at).await?;
        if changed {
            let event = team_event(
                &self.topics.team_progress,
                &team,
                *program_id,
                program.unit,
                computed_at,
                trace,
            );
            outbox::insert_in(tx, OUTBOX_SOURCE, &[&event]).await?;
            metrics::counter!("fitex_goals_team_weeks_changed_total").increment(1);
        }
        Ok(changed)
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
        // Teams in one order, so two purges (or a purge and a recomputation) cannot deadlock.
        let mut teams: Vec<i64> = enrolments.iter().map(|e| e.team_id).collect();
        teams.sort_unstable();
        teams.dedup();
        for team in &teams {
            lock_team(&mut tx, *team).await?;
        }
        store::forget_participant(&mut tx, participant_id, &self.topics.goals).await?;
        let tombstone = OutgoingRecord::tombstone(&self.topics.goals, participant_id.to_string());
        outbox::insert_in(&mut tx, OUTBOX_SOURCE, &[&tombstone]).await?;
        let mut team_weeks_changed = 0;
        for enrolment in &enrolments {
            let program = &enrolment.program.program;
            let last_week = program_week(program, today.min(program.end_date()))
                .unwrap_or(if today < program.start_date { 0 } else { program.weeks });
            for week in 1..=last_week {
                if self.team_week_in(&mut tx, enrolment, week, trace).await? {
                    team_weeks_changed += 1;
                }
            }
        }
        tx.commit().await?;
        self.relay_wake.notify_one();
        metrics::counter!("fitex_goals_participants_forgotten_total").increment(1);
        tracing::info!(participant = participant_id, team_weeks_changed, "participant forgotten");
        Ok(Some(team_weeks_changed))
    }
}

/// Takes a participant's lock for the rest of `tx`.
///
/// One recomputation of a participant at a time (two goals replicas overlap during a rebalance, and
/// `fitexctl goals recompute` runs beside them). Unlocked, one could read the days before a change
/// commits and write its stale goals after the other wrote fresh ones; under the lock the last
/// writer read everything the earlier ones wrote.
async fn lock_participant(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    participant_id: i64,
) -> Result<(), sqlx::Error> {
    advisory_xact_lock(tx, PARTICIPANT_LOCK_SPACE, participant_id).await
}

/// The first key of the participants' advisory locks (the second is the participant id).
const PARTICIPANT_LOCK_SPACE: i32 = 0x7061_7274; // "part"

/// Takes a team's lock for the rest of `tx`.
///
/// One team at a time: two members' recomputations run concurrently, and each, unlocked, could
/// read the other's goals before they commit and then write its stale total last. Under the
/// team's lock the last computation starts after every goal it depends on is committed.
async fn lock_team(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    team_id: i64,
) -> Result<(), sqlx::Error> {
    advisory_xact_lock(tx, TEAM_LOCK_SPACE, team_id).await
}

/// The first key of the teams' advisory locks (the second is the team id).
const TEAM_LOCK_SPACE: i32 = 0x7465_616d; // "team"

/// PostgreSQL's two-key transaction lock: `space` names the kind of thing locked, `id` which one
/// (ids past `i32` share a lock with another, which only serialises more).
async fn advisory_xact_lock(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    space: i32,
    id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(space)
        .bind(id as i32)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn team_event(
    topic: &str,
    team: &TeamWeek,
    program_id: i64,
    unit: Unit,
    computed_at: chrono::DateTime<Utc>,
    trace: &TraceParent,
) -> OutgoingRecord {
    let event_id = Uuid::now_v7();
    let span = trace.child();
    let event = TeamProgressChanged {
        event_id: event_id.to_string(),
        team_id: team.team_id,
        program_id,
        week: team.week as i32,
        unit: match unit {
            Unit::FitexMiles => "fitex_miles".into(),
            Unit::Steps => "steps".into(),
        },
        goal: team.goal,
        progress: team.progress,
        percent_of_goal: team.percent_of_goal,
        members: team.members as i32,
        members_meeting_goal: team.members_meeting_goal as i32,
        computed_at: Some(timestamp(computed_at)),
        trace_context: Some(span.to_proto()),
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
