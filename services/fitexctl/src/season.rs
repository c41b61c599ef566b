//! `fitexctl season close|correct`: closing a season at once when its grace period is over, and
//! correcting a closed season's frozen team total (recorded in the audit log).

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Subcommand;
use fitex_common::kafka::KafkaSettings;
use fitex_goals::CorrectionNote;
use fitex_goals_store::programs;
use fitex_goals_store::season_close::{
    self, CloseOutcome, Correction, CorrectionError, CLOSED_BY_OPERATOR,
};
use fitex_goals_store::GoalsEngine;
use sqlx::PgPool;

#[derive(Subcommand)]
pub enum SeasonCommand {
    /// Close a program's season now, if its grace period is over (the goals service also closes
    /// it by itself within a minute of the deadline): its team totals and final leaderboard are
    /// frozen and SeasonClosed is published.
    Close {
        /// The program's name (or id).
        #[arg(long)]
        program: String,
    },
    /// Correct one team's frozen progress in a closed season (the week of the final leaderboard
    /// unless --week says another); the leaderboard is ranked again and the change is written to
    /// the audit log with who made it and why.
    Correct {
        /// The program's name (or id).
        #[arg(long)]
        program: String,
        /// The team's name in that program.
        #[arg(long)]
        team: String,
        /// The corrected progress for the week, in the program's unit (FitEx miles or steps).
        /// (A negative number is read, then refused with why.)
        #[arg(long, allow_negative_numbers = true)]
        progress: f64,
        /// The program week to correct; default: the week the final leaderboard ranks.
        #[arg(long)]
        week: Option<u32>,
        /// Who makes the correction (kept in the audit log).
        #[arg(long)]
        by: String,
        /// Why (kept in the audit log; required).
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(
    kafka: &KafkaSettings,
    pool: &PgPool,
    command: SeasonCommand,
) -> anyhow::Result<()> {
    match command {
        SeasonCommand::Close { program } => close(kafka, pool, &program).await,
        SeasonCommand::Correct { program, team, progress, week, by, reason } => {
            // Refused before anything is read: a correction without who and why is never made.
            let note = CorrectionNote::new(&by, &reason).context("correction refused")?;
            let (program_id, program) = program_named(pool, &program).await?;
            let team_id = programs::team_names(pool, program_id)
                .await?
                .into_iter()
                .find_map(|(id, name)| (name == team).then_some(id))
                .with_context(|| format!("{program} has no team named {team:?}"))?;
            let correction = Correction { program_id, team_id, week, progress, note: &note };
            correct(pool, &program, &team, &correction).await
        }
    }
}

/// The program named `text` (or, failing that, whose id it is): its id and name.
pub async fn program_named(pool: &PgPool, text: &str) -> anyhow::Result<(i64, String)> {
    if let Some(id) = programs::program_id_by_name(pool, text).await? {
        return Ok((id, text.to_string()));
    }
    if let Ok(id) = text.parse::<i64>() {
        if let Some(program) = programs::program_summary(pool, id).await? {
            return Ok((id, program.name));
        }
    }
    bail!("no program named {text:?} (fitexctl programs list shows them)")
}

async fn close(kafka: &KafkaSettings, pool: &PgPool, program: &str) -> anyhow::Result<()> {
    let (program_id, name) = program_named(pool, program).await?;
    // The goals service's engine on the same database and topics: the event waits in the goals
    // outbox until the service's relay publishes it.
    let engine = GoalsEngine {
        pool: pool.clone(),
        topics: kafka.topics.clone(),
        relay_wake: Default::default(),
    };
    let outcome = engine
        .close_season(program_id, Utc::now(), CLOSED_BY_OPERATOR)
        .await?
        .with_context(|| format!("no program {program_id}"))?;
    match outcome {
        CloseOutcome::NotDue { deadline } => bail!(
            "{name} is not closed: its grace period runs until {} (UTC). Until then late syncs \
             and manual entries for its days still count; after it the season can be closed.",
            deadline.format("%Y-%m-%d %H:%M")
        ),
        CloseOutcome::AlreadyClosed(closure) => {
            println!(
                "{name} was already closed on {} UTC (by {}); nothing changed.",
                closure.closed_at.format("%Y-%m-%d %H:%M"),
                closure.closed_by
            );
        }
        CloseOutcome::Closed(closure) => {
            println!(
                "{name} is closed: its results are final (week {} leaderboard frozen). SeasonClosed \
                 goes out through the goals service's outbox.",
                closure.leaderboard_week
            );
            let board = season_close::leaderboard(pool, program_id, None).await?;
            for standing in &board.standings {
                println!(
                    "{:>4}  {:<20} {:>6.1} %",
                    standing.entry.rank, standing.name, standing.entry.percent_of_goal
                );
            }
        }
    }
    Ok(())
}

async fn correct(
    pool: &PgPool,
    program: &str,
    team: &str,
    correction: &Correction<'_>,
) -> anyhow::Result<()> {
    let corrected = match season_close::correct(pool, correction).await {
        Ok(corrected) => corrected,
        Err(CorrectionError::NotClosed) => bail!(
            "{program} is not closed yet: totals can be corrected only after the close (until \
             then late data still counts; see fitexctl season close)"
        ),
        Err(error) => return Err(error).context("correction refused"),
    };
    let rank = |rank: Option<u32>| rank.map_or_else(|| "unranked".to_string(), |r| r.to_string());
    println!(
        "{program}, team {team}, week {}: progress {:.1} -> {:.1} ({:.1} % -> {:.1} % of goal), \
         final rank {} -> {}. Recorded in the audit log (entry {}).",
        corrected.after.week,
        corrected.before.progress,
        corrected.after.progress,
        corrected.before.percent_of_goal,
        corrected.after.percent_of_goal,
        rank(corrected.rank_before),
        rank(corrected.rank_after),
        corrected.audit_id
    );
    Ok(())
}
