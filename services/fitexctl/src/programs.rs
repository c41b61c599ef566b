//! `fitexctl programs|teams|goals|leaderboard`: setting up a season and reading its standings.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use fitex_common::database::DatabaseSettings;
use fitex_common::kafka::KafkaSettings;
use fitex_goals::{
    AdaptivePercentile, GoalSettings, Guideline, MileRules, SelfChosen, Strategy, WeeklyIncrement,
};
use fitex_goals_store::programs::{
    self as store, LatestGoal, NewProgram, ProgramSummary, TeamSummary,
};
use fitex_goals_store::recompute::{Change, DataSource};
use fitex_goals_store::store::Standing;
use fitex_goals_store::GoalsEngine;
use sqlx::PgPool;

#[derive(Subcommand)]
pub enum ProgramsCommand {
    /// Create a program (a season): its start, length, unit and goal strategy.
    Create {
        #[arg(long)]
        name: String,
        /// First day (yyyy-mm-dd); default today.
        #[arg(long)]
        start: Option<NaiveDate>,
        /// Alternatively: the program started this many days ago.
        #[arg(long, conflicts_with = "start")]
        started_days_ago: Option<i64>,
        #[arg(long, default_value_t = 8)]
        weeks: u32,
        /// `fitex_miles` or `steps`.
        #[arg(long, default_value = "fitex_miles")]
        unit: String,
        /// adaptive_percentile, weekly_increment, guideline_age, guideline_fixed:<steps>,
        /// next_activity_level or self_chosen (defaults and citations: docs/goals.md).
        #[arg(long, default_value = "adaptive_percentile")]
        strategy: String,
        /// Hours after the last day has ended everywhere on earth during which late syncs and
        /// manual entries still count; then the season closes and its results are final (at most
        /// 2160, 90 days).
        #[arg(long, default_value_t = fitex_goals::DEFAULT_GRACE_HOURS)]
        grace_hours: u32,
    },
    List,
}

#[derive(Subcommand)]
pub enum TeamsCommand {
    Create {
        #[arg(long)]
        program: i64,
        #[arg(long)]
        name: String,
    },
    /// Add participants (by provider user id; `--user` once for each) from a date (default
    /// today). Every user is looked up first: an unknown one adds nobody.
    Add {
        #[arg(long)]
        team: i64,
        #[arg(long = "user", required = true)]
        users: Vec<String>,
        #[arg(long)]
        from: Option<NaiveDate>,
    },
    /// End a participant's membership on a date (default today; they count until the day before).
    Remove {
        #[arg(long)]
        team: i64,
        #[arg(long)]
        user: String,
        #[arg(long)]
        on: Option<NaiveDate>,
    },
    List {
        #[arg(long)]
        program: i64,
    },
}

#[derive(Subcommand)]
pub enum GoalsCommand {
    /// Recompute every member's goals and their teams' progress from the program start.
    Recompute {
        #[arg(long)]
        program: i64,
    },
    /// Each member's latest goal, with how it was set.
    Show {
        #[arg(long)]
        program: i64,
    },
}

/// The longest grace period the `programs` table accepts: 90 days.
const MAX_GRACE_HOURS: u32 = 2160;

pub fn strategy_from(text: &str) -> anyhow::Result<Strategy> {
    Ok(match text {
        "adaptive_percentile" => Strategy::AdaptivePercentile(AdaptivePercentile::default()),
        "weekly_increment" => Strategy::WeeklyIncrement(WeeklyIncrement::default()),
        "guideline_age" => Strategy::Guideline(Guideline::AgeTarget),
        "next_activity_level" => Strategy::Guideline(Guideline::NextActivityLevel),
        "self_chosen" => Strategy::SelfChosen(SelfChosen::default()),
        other => match other.strip_prefix("guideline_fixed:").map(str::parse::<i32>) {
            Some(Ok(steps)) if steps > 0 => Strategy::Guideline(Guideline::Fixed { steps }),
            _ => bail!("unknown strategy {other:?} (see fitexctl programs create --help)"),
        },
    })
}

pub async fn programs(pool: &PgPool, command: ProgramsCommand) -> anyhow::Result<()> {
    match command {
        ProgramsCommand::Create {
            name,
            start,
            started_days_ago,
            weeks,
            unit,
            strategy,
            grace_hours,
        } => {
            if !matches!(unit.as_str(), "fitex_miles" | "steps") {
                bail!("--unit must be fitex_miles or steps");
            }
            if weeks == 0 || weeks > 52 {
                bail!("--weeks must be between 1 and 52");
            }
            if grace_hours > MAX_GRACE_HOURS {
                bail!("--grace-hours must be at most {MAX_GRACE_HOURS} (90 days)");
            }
            let today = Utc::now().date_naive();
            let start =
                start.unwrap_or(today - chrono::Duration::days(started_days_ago.unwrap_or(0)));
            let settings =
                GoalSettings { strategy: strategy_from(&strategy)?, ..GoalSettings::default() };
            settings.validate().context("goal settings")?;
            let new = NewProgram {
                name: &name,
                start_date: start,
                weeks,
                unit: &unit,
                goal_settings: &settings,
                mile_rules: &MileRules::default(),
            };
            let id = store::create_program_with_grace(pool, &new, grace_hours)
                .await
                .with_context(|| format!("creating program {name:?} (names are unique)"))?;
            println!("program {id} {name:?}: {weeks} weeks from {start}, unit {unit}, strategy {strategy}, grace {grace_hours} hours");
        }
        ProgramsCommand::List => {
            for ProgramSummary { id, name, start_date, weeks, unit } in
                store::programs(pool).await?
            {
                println!("{id:>4}  {name:<30} {start_date}  {weeks} weeks  {unit}");
            }
        }
    }
    Ok(())
}

async fn participant_by_user(pool: &PgPool, user: &str) -> anyhow::Result<i64> {
    fitex_connections::store::participant_of_provider_user(pool, user)
        .await?
        .with_context(|| format!("no participant with provider user id {user:?}"))
}

pub async fn teams(pool: &PgPool, command: TeamsCommand) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    match command {
        TeamsCommand::Create { program, name } => {
            let id = store::create_team(pool, program, &name)
                .await
                .with_context(|| format!("creating team {name:?} in program {program}"))?;
            println!("team {id} {name:?} in program {program}");
        }
        TeamsCommand::Add { team, users, from } => {
            let mut participants = Vec::with_capacity(users.len());
            for user in &users {
                participants.push(participant_by_user(pool, user).await?);
            }
            let from = match from {
                Some(date) => date,
                None => store::default_join_date(pool, team, today)
                    .await?
                    .with_context(|| format!("no team {team}"))?,
            };
            for (user, participant) in users.iter().zip(participants) {
                store::add_member(pool, team, participant, from).await?;
                println!("{user} (participant {participant}) in team {team} from {from}");
            }
        }
        TeamsCommand::Remove { team, user, on } => {
            let participant = participant_by_user(pool, &user).await?;
            let on = on.unwrap_or(today);
            if !store::end_membership(pool, team, participant, on).await? {
                bail!("{user} is not a current member of team {team}");
            }
            println!("{user} leaves team {team} on {on}");
        }
        TeamsCommand::List { program } => {
            for TeamSummary { id, name, current_members, user_ids } in
                store::teams(pool, program).await?
            {
                println!("{id:>4}  {name:<20} {current_members} members: {user_ids}");
            }
        }
    }
    Ok(())
}

pub async fn goals(
    database: &DatabaseSettings,
    kafka: &KafkaSettings,
    command: GoalsCommand,
) -> anyhow::Result<()> {
    match command {
        GoalsCommand::Recompute { program } => recompute(database, kafka, program).await,
        GoalsCommand::Show { program } => goals_today(&database.lazy_pool(), program).await,
    }
}

/// Recomputes every member's goals and their teams' progress from the program start (after
/// changing a program's settings, or to fill in members added late). The engine is the goals
/// service's, on the same database and topics (every service reads the same configuration).
async fn recompute(
    database: &DatabaseSettings,
    kafka: &KafkaSettings,
    program: i64,
) -> anyhow::Result<()> {
    let pool = database.lazy_pool();
    let engine = GoalsEngine {
        pool: pool.clone(),
        topics: kafka.topics.clone(),
        relay_wake: Default::default(),
    };
    let start = store::program_summary(&pool, program)
        .await?
        .with_context(|| format!("no program {program}"))?
        .start_date;
    let members = store::program_members(&pool, program).await?;
    let trace = fitex_common::trace_context::TraceParent::new_root();
    let mut changed = 0;
    // A transaction per few hundred members, as the goals service's batches.
    for chunk in members.chunks(500) {
        let changes: BTreeMap<i64, Change> = chunk
            .iter()
            .map(|member| (*member, Change { from: start, trace, source: DataSource::Operator }))
            .collect();
        changed += engine.recompute_batch(&changes).await?.goals_changed;
    }
    println!("recomputed {} members: {changed} goals changed (events go out through the goals service's outbox)", members.len());
    Ok(())
}

/// Prints the leaderboard (teams by percent of goal against the median) and each member's goal today.
pub async fn standings(pool: &PgPool, program: i64, week: Option<u32>) -> anyhow::Result<()> {
    let ProgramSummary { name, unit, weeks, .. } = store::program_summary(pool, program)
        .await?
        .with_context(|| format!("no program {program}"))?;
    if week.is_some_and(|week| week == 0 || week as i32 > weeks) {
        bail!("week must be between 1 and {weeks}");
    }
    // The goals API's and the portal's leaderboard: a closed season's comes from its snapshot.
    let board = fitex_goals_store::season_close::leaderboard(pool, program, week).await?;
    let week = board.week;
    let unit_label = if unit == "steps" { "steps" } else { "FitEx miles" };
    let status = if board.is_final { "final " } else { "" };
    println!("{name} — week {week} {status}leaderboard ({unit_label}; ranked by percent of goal, against the median team)");
    println!(
        "{:>4}  {:<16} {:>9} {:>9} {:>7} {:>10} {:>12} {:>6}",
        "rank", "team", "progress", "goal", "%", "vs median", "met goal", "streak"
    );
    for Standing { entry, name: team, team_week } in &board.standings {
        println!(
            "{:>4}  {:<16} {:>9.1} {:>9.1} {:>6.1}% {:>+9.1}pt {:>7} of {:<2} {:>4} wk",
            entry.rank,
            team,
            team_week.progress,
            team_week.goal,
            entry.percent_of_goal,
            entry.versus_median,
            team_week.members_meeting_goal,
            team_week.members,
            entry.streak_weeks
        );
    }
    Ok(())
}

/// Each member's goal for today, with how it was set.
async fn goals_today(pool: &PgPool, program: i64) -> anyhow::Result<()> {
    let latest = store::latest_goals(pool, program).await?;
    println!("{:<20} {:<16} {:<10} {:>7}  how it was set", "user", "team", "date", "goal");
    for LatestGoal { user_id, team, effective_date, steps, provisional, explanation, .. } in latest
    {
        let mark = if provisional { " (provisional)" } else { "" };
        println!("{user_id:<20} {team:<16} {effective_date} {steps:>7}  {explanation}{mark}");
    }
    Ok(())
}
