//! Closing a season: once a program's grace period is over ([`fitex_goals::due_to_close`]), its
//! teams' stored weeks are copied into `season_final_team_weeks`, its final leaderboard into
//! `season_final_standings`, a `season_closures` row marks it closed, and a `SeasonClosed` event
//! goes out through the goals outbox — all in one transaction. Late data keeps changing
//! `team_progress`, never the snapshot; the goals API and the portal read a closed season from the
//! snapshot ([`leaderboard`], [`team_weeks`]). Only an operator's correction ([`correct`]) changes
//! it, with a row in the audit log.
//!
//! Two goals replicas may close at once: each program closes under its own advisory lock, and the
//! second finds it closed.

use chrono::{DateTime, SubsecRound, Utc};
use fitex_common::outbox::{self, OutgoingRecord};
use fitex_common::trace_context::TraceParent;
use fitex_goals::{
    corrected_week, due_to_close, final_week, leaderboard as rank, CorrectionNote,
    CorrectionProblem, LeaderboardEntry, TeamWeek,
};
use fitex_proto::{content_type, FinalStanding, Message, SeasonClosed};
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::recompute::{advisory_xact_locks, lock_teams, timestamp, unit_name, OUTBOX_SOURCE};
use crate::store::{self, ProgramRow, Standing, TeamWeeksOf};
use crate::GoalsEngine;

/// The first key of the programs' advisory locks (the second is the program id): one close or
/// correction of a program at a time.
const PROGRAM_LOCK_SPACE: i32 = 0x7072_6f67; // "prog"

/// `closed_by` of a season the goals service closed when its grace period ended.
pub const CLOSED_BY_SERVICE: &str = "goals";
/// `closed_by` of a season an operator closed with `fitexctl season close`.
pub const CLOSED_BY_OPERATOR: &str = "fitexctl";
/// The audit log's `action` of a corrected total.
pub const CORRECTION_ACTION: &str = "season_correct";

/// A closed season's record.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Closure {
    pub program_id: i64,
    pub closed_at: DateTime<Utc>,
    pub grace_deadline: DateTime<Utc>,
    /// The week the final leaderboard ranks.
    #[sqlx(try_from = "i32")]
    pub leaderboard_week: u32,
    /// [`CLOSED_BY_SERVICE`] or [`CLOSED_BY_OPERATOR`].
    pub closed_by: String,
    pub event_id: Uuid,
}

/// What [`GoalsEngine::close_season`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseOutcome {
    /// Closed now.
    Closed(Closure),
    /// It was closed before (by this or another replica, or an operator).
    AlreadyClosed(Closure),
    /// Its grace period ends at `deadline`; until then late data still counts.
    NotDue { deadline: DateTime<Utc> },
}

/// The program's closure; `None` while its season is open.
pub async fn closure<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    program_id: i64,
) -> Result<Option<Closure>, sqlx::Error> {
    sqlx::query_as(
        "SELECT program_id, closed_at, grace_deadline, leaderboard_week, closed_by, event_id
         FROM season_closures WHERE program_id = $1",
    )
    .bind(program_id)
    .fetch_optional(executor)
    .await
}

/// Programs whose season is not closed, in id order.
async fn open_programs(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT p.id FROM programs p
         WHERE NOT EXISTS (SELECT 1 FROM season_closures c WHERE c.program_id = p.id)
         ORDER BY p.id",
    )
    .fetch_all(pool)
    .await
}

async fn lock_program(
    tx: &mut Transaction<'_, Postgres>,
    program_id: i64,
) -> Result<(), sqlx::Error> {
    advisory_xact_locks(tx, PROGRAM_LOCK_SPACE, &[program_id]).await
}

impl GoalsEngine {
    /// Closes every open season whose grace period is over at `now`; returns those it closed.
    pub async fn close_due_seasons(&self, now: DateTime<Utc>) -> Result<Vec<Closure>, sqlx::Error> {
        let mut closed = Vec::new();
        for program_id in open_programs(&self.pool).await? {
            if let Some(CloseOutcome::Closed(closure)) =
                self.close_season(program_id, now, CLOSED_BY_SERVICE).await?
            {
                closed.push(closure);
            }
        }
        Ok(closed)
    }

    /// Closes the program's season if its grace period is over at `now` and it is not closed yet;
    /// `None` when there is no such program.
    pub async fn close_season(
        &self,
        program_id: i64,
        now: DateTime<Utc>,
        closed_by: &str,
    ) -> Result<Option<CloseOutcome>, sqlx::Error> {
        let Some(program) = store::program(&self.pool, program_id).await? else {
            return Ok(None);
        };
        let mut tx = self.pool.begin().await?;
        lock_program(&mut tx, program_id).await?;
        if let Some(closure) = closure(&mut *tx, program_id).await? {
            return Ok(Some(CloseOutcome::AlreadyClosed(closure)));
        }
        if !due_to_close(&program.program, now) {
            return Ok(Some(CloseOutcome::NotDue { deadline: program.program.grace_deadline() }));
        }
        let names = crate::programs::team_names(&self.pool, program_id).await?;
        // A recomputation writing one of these teams finishes first: what it read arrived in
        // time, so it counts.
        let teams: Vec<i64> = names.keys().copied().collect();
        lock_teams(&mut tx, &teams).await?;
        // Copied in one statement, so every team is frozen at the same instant.
        sqlx::query(
            "INSERT INTO season_final_team_weeks (program_id, team_id, week, goal, progress,
                 percent_of_goal, members, members_meeting_goal, share_meeting_goal)
             SELECT t.program_id, tp.team_id, tp.week, tp.goal, tp.progress, tp.percent_of_goal,
                    tp.members, tp.members_meeting_goal, tp.share_meeting_goal
             FROM team_progress tp JOIN teams t ON t.id = tp.team_id
             WHERE t.program_id = $1 AND tp.week BETWEEN 1 AND $2",
        )
        .bind(program_id)
        .bind(program.program.weeks as i32)
        .execute(&mut *tx)
        .await?;
        let frozen =
            store::team_weeks_where(&mut *tx, TeamWeeksOf::Final, Some(program_id), None).await?;
        let week = final_week(&program.program, &frozen);
        let closure = Closure {
            program_id,
            // As PostgreSQL keeps it (microseconds), so the closure returned is the one stored.
            closed_at: Utc::now().trunc_subsecs(6),
            grace_deadline: program.program.grace_deadline(),
            leaderboard_week: week,
            closed_by: closed_by.to_string(),
            event_id: Uuid::now_v7(),
        };
        sqlx::query(
            "INSERT INTO season_closures (program_id, closed_at, grace_deadline, leaderboard_week,
                 closed_by, event_id)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(program_id)
        .bind(closure.closed_at)
        .bind(closure.grace_deadline)
        .bind(week as i32)
        .bind(&closure.closed_by)
        .bind(closure.event_id)
        .execute(&mut *tx)
        .await?;
        let entries = freeze_standings(&mut tx, program_id, week, &frozen).await?;
        let standings = store::standings(entries, &frozen, names, week);
        let event = self.season_closed_event(&program, &closure, &standings, &frozen);
        outbox::insert_in(&mut tx, OUTBOX_SOURCE, &[&event]).await?;
        tx.commit().await?;
        self.relay_wake.notify_one();
        Ok(Some(CloseOutcome::Closed(closure)))
    }

    fn season_closed_event(
        &self,
        program: &ProgramRow,
        closure: &Closure,
        standings: &[Standing],
        frozen: &[(i64, Vec<TeamWeek>)],
    ) -> OutgoingRecord {
        let span = TraceParent::new_root().child();
        let season_total = |team: i64, value: fn(&TeamWeek) -> f64| -> f64 {
            frozen.iter().filter(|(id, _)| *id == team).flat_map(|(_, w)| w).map(value).sum()
        };
        let event = SeasonClosed {
            event_id: closure.event_id.to_string(),
            program_id: program.id,
            program_name: program.name.clone(),
            start_date: program.program.start_date.format("%Y-%m-%d").to_string(),
            last_day: program.program.end_date().format("%Y-%m-%d").to_string(),
            grace_deadline: Some(timestamp(closure.grace_deadline)),
            leaderboard_week: closure.leaderboard_week as i32,
            unit: unit_name(program.program.unit).into(),
            standings: standings
                .iter()
                .map(|s| FinalStanding {
                    team_id: s.entry.team_id,
                    team_name: s.name.clone(),
                    rank: s.entry.rank as i32,
                    goal: s.team_week.goal,
                    progress: s.team_week.progress,
                    percent_of_goal: s.entry.percent_of_goal,
                    versus_median: s.entry.versus_median,
                    streak_weeks: s.entry.streak_weeks as i32,
                    members: s.team_week.members as i32,
                    members_meeting_goal: s.team_week.members_meeting_goal as i32,
                    season_goal: season_total(s.entry.team_id, |w| w.goal),
                    season_progress: season_total(s.entry.team_id, |w| w.progress),
                })
                .collect(),
            computed_at: Some(timestamp(closure.closed_at)),
            trace_context: Some(span.to_proto()),
        };
        OutgoingRecord::event(
            &self.topics.seasons,
            program.id.to_string(),
            closure.event_id,
            event.encode_to_vec(),
            content_type::SEASON_CLOSED,
            &span,
        )
    }
}

/// Ranks `week` of the frozen weeks and stores it as the program's final leaderboard (replacing
/// any before); returns the entries, best first.
async fn freeze_standings(
    tx: &mut Transaction<'_, Postgres>,
    program_id: i64,
    week: u32,
    frozen: &[(i64, Vec<TeamWeek>)],
) -> Result<Vec<LeaderboardEntry>, sqlx::Error> {
    let entries = rank(frozen, week);
    sqlx::query("DELETE FROM season_final_standings WHERE program_id = $1")
        .bind(program_id)
        .execute(&mut **tx)
        .await?;
    let teams: Vec<i64> = entries.iter().map(|e| e.team_id).collect();
    let ranks: Vec<i32> = entries.iter().map(|e| e.rank as i32).collect();
    let percents: Vec<f64> = entries.iter().map(|e| e.percent_of_goal).collect();
    let versus: Vec<f64> = entries.iter().map(|e| e.versus_median).collect();
    let streaks: Vec<i32> = entries.iter().map(|e| e.streak_weeks as i32).collect();
    sqlx::query(
        "INSERT INTO season_final_standings (program_id, team_id, rank, percent_of_goal,
             versus_median, streak_weeks)
         SELECT $1, * FROM unnest($2::int8[], $3::int4[], $4::float8[], $5::float8[], $6::int4[])",
    )
    .bind(program_id)
    .bind(&teams)
    .bind(&ranks)
    .bind(&percents)
    .bind(&versus)
    .bind(&streaks)
    .execute(&mut **tx)
    .await?;
    Ok(entries)
}

/// The stored final leaderboard of a closed program, best first.
async fn final_standings<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    program_id: i64,
) -> Result<Vec<LeaderboardEntry>, sqlx::Error> {
    let rows: Vec<(i64, i32, f64, f64, i32)> = sqlx::query_as(
        "SELECT team_id, rank, percent_of_goal, versus_median, streak_weeks
         FROM season_final_standings WHERE program_id = $1 ORDER BY rank, team_id",
    )
    .bind(program_id)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(team_id, rank, percent_of_goal, versus_median, streak_weeks)| LeaderboardEntry {
            team_id,
            rank: rank.max(1) as u32,
            percent_of_goal,
            versus_median,
            streak_weeks: streak_weeks.max(0) as u32,
        })
        .collect())
}

/// A program's leaderboard as readers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaderboard {
    /// The week ranked.
    pub week: u32,
    pub standings: Vec<Standing>,
    /// The season is closed: these are its frozen numbers.
    pub is_final: bool,
}

/// The program's leaderboard for `week`: of an open season as [`store::program_leaderboard`]
/// ranks it; of a closed one from its snapshot — by default its final leaderboard, another week
/// ranked from the frozen weeks.
pub async fn leaderboard(
    pool: &PgPool,
    program_id: i64,
    week: Option<u32>,
) -> Result<Leaderboard, sqlx::Error> {
    let Some(closure) = closure(pool, program_id).await? else {
        let (week, standings) = store::program_leaderboard(pool, program_id, week).await?;
        return Ok(Leaderboard { week, standings, is_final: false });
    };
    let frozen = store::team_weeks_where(pool, TeamWeeksOf::Final, Some(program_id), None).await?;
    let week = week.unwrap_or(closure.leaderboard_week);
    let entries = if week == closure.leaderboard_week {
        final_standings(pool, program_id).await?
    } else {
        rank(&frozen, week)
    };
    let names = crate::programs::team_names(pool, program_id).await?;
    Ok(Leaderboard {
        week,
        standings: store::standings(entries, &frozen, names, week),
        is_final: true,
    })
}

/// A team's weeks as readers see them.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamWeeks {
    pub weeks: Vec<TeamWeek>,
    /// The team's season is closed: these are its frozen weeks.
    pub is_final: bool,
}

/// A team's weeks: as stored ([`store::team_weeks`]) while its season is open, frozen once closed.
pub async fn team_weeks(pool: &PgPool, team_id: i64) -> Result<TeamWeeks, sqlx::Error> {
    let closed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM teams t JOIN season_closures c ON c.program_id = t.program_id
                        WHERE t.id = $1)",
    )
    .bind(team_id)
    .fetch_one(pool)
    .await?;
    if !closed {
        return Ok(TeamWeeks { weeks: store::team_weeks(pool, team_id).await?, is_final: false });
    }
    let teams = store::team_weeks_where(pool, TeamWeeksOf::Final, None, Some(team_id)).await?;
    let weeks = teams.into_iter().next().map(|(_, weeks)| weeks).unwrap_or_default();
    Ok(TeamWeeks { weeks, is_final: true })
}

/// An operator's correction of one frozen team week.
#[derive(Debug, Clone)]
pub struct Correction<'a> {
    pub program_id: i64,
    pub team_id: i64,
    /// Default: the week the final leaderboard ranks.
    pub week: Option<u32>,
    /// The corrected progress, in the program unit.
    pub progress: f64,
    pub note: &'a CorrectionNote,
}

/// Why a correction was not made.
#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    #[error("the season is not closed: a total can only be corrected after the close")]
    NotClosed,
    #[error("team {team_id} has no frozen week {week} in this season")]
    NoFrozenWeek { team_id: i64, week: u32 },
    #[error(transparent)]
    Refused(#[from] CorrectionProblem),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a correction changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Corrected {
    pub before: TeamWeek,
    pub after: TeamWeek,
    /// The team's final rank before and after (`None`: not on the final leaderboard).
    pub rank_before: Option<u32>,
    pub rank_after: Option<u32>,
    /// The audit log row that records it.
    pub audit_id: i64,
}

/// Sets one frozen team week's progress (and its percent of goal), re-ranks the final leaderboard
/// from the frozen weeks, and records who, what and why in the audit log — in one transaction.
/// Only a closed season's totals can be corrected.
pub async fn correct(
    pool: &PgPool,
    correction: &Correction<'_>,
) -> Result<Corrected, CorrectionError> {
    let mut tx = pool.begin().await?;
    lock_program(&mut tx, correction.program_id).await?;
    let closure =
        closure(&mut *tx, correction.program_id).await?.ok_or(CorrectionError::NotClosed)?;
    let week = correction.week.unwrap_or(closure.leaderboard_week);
    let mut frozen =
        store::team_weeks_where(&mut *tx, TeamWeeksOf::Final, Some(correction.program_id), None)
            .await?;
    let missing = CorrectionError::NoFrozenWeek { team_id: correction.team_id, week };
    let slot = frozen
        .iter_mut()
        .filter(|(team, _)| *team == correction.team_id)
        .flat_map(|(_, weeks)| weeks.iter_mut())
        .find(|w| w.week == week)
        .ok_or(missing)?;
    let before = *slot;
    let after = corrected_week(&before, correction.progress)?;
    *slot = after;
    sqlx::query(
        "UPDATE season_final_team_weeks SET progress = $3, percent_of_goal = $4
         WHERE team_id = $1 AND week = $2",
    )
    .bind(correction.team_id)
    .bind(week as i32)
    .bind(after.progress)
    .bind(after.percent_of_goal)
    .execute(&mut *tx)
    .await?;
    let rank_of = |entries: &[LeaderboardEntry]| {
        entries.iter().find(|e| e.team_id == correction.team_id).map(|e| e.rank)
    };
    let rank_before = rank_of(&final_standings(&mut *tx, correction.program_id).await?);
    let entries =
        freeze_standings(&mut tx, correction.program_id, closure.leaderboard_week, &frozen).await?;
    let rank_after = rank_of(&entries);
    let team_name = crate::programs::team_names(pool, correction.program_id)
        .await?
        .remove(&correction.team_id)
        .unwrap_or_default();
    let subject = format!("team {team_name} (id {}), week {week}", correction.team_id);
    let value = |w: &TeamWeek, rank: Option<u32>| json!({ "progress": w.progress, "percent_of_goal": w.percent_of_goal, "final_rank": rank });
    let audit_id = audit::record(
        &mut tx,
        &NewAuditEntry {
            actor: correction.note.by(),
            action: CORRECTION_ACTION,
            program_id: Some(correction.program_id),
            subject: &subject,
            old_value: value(&before, rank_before),
            new_value: value(&after, rank_after),
            reason: correction.note.reason(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Corrected { before, after, rank_before, rank_after, audit_id })
}
