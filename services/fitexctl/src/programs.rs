//! `fitexctl programs|teams|goals|leaderboard`: setting up a season and reading its standings.

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use fitex_common::database::DatabaseSettings;
use fitex_goals::{
    AdaptivePercentile, GoalSettings, Guideline, SelfChosen, Strategy, WeeklyIncrement,
};
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
    /// Add a participant (by provider user id) from a date (default today).
    Add {
        #[arg(long)]
        team: i64,
        #[arg(long)]
        user: String,
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
        ProgramsCommand::Create { name, start, started_days_ago, weeks, unit, strategy } => {
            if !matches!(unit.as_str(), "fitex_miles" | "steps") {
                bail!("--unit must be fitex_miles or steps");
            }
            if weeks == 0 || weeks > 52 {
                bail!("--weeks must be between 1 and 52");
            }
            let today = Utc::now().date_naive();
            let start =
                start.unwrap_or(today - chrono::Duration::days(started_days_ago.unwrap_or(0)));
            let settings =
                GoalSettings { strategy: strategy_from(&strategy)?, ..GoalSettings::default() };
            settings.validate().context("goal settings")?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO programs (name, start_date, weeks, unit, goal_settings, mile_rules)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&name)
            .bind(start)
            .bind(weeks as i32)
            .bind(&unit)
            .bind(serde_json::to_value(&settings)?)
            .bind(serde_json::to_value(fitex_goals::MileRules::default())?)
            .fetch_one(pool)
            .await
            .with_context(|| format!("creating program {name:?} (names are unique)"))?;
            println!("program {id} {name:?}: {weeks} weeks from {start}, unit {unit}, strategy {strategy}");
        }
        ProgramsCommand::List => {
            let rows: Vec<(i64, String, NaiveDate, i32, String)> = sqlx::query_as(
                "SELECT id, name, start_date, weeks, unit FROM programs ORDER BY id",
            )
            .fetch_all(pool)
            .await?;
            for (id, name, start, weeks, unit) in rows {
                println!("{id:>4}  {name:<30} {start}  {weeks} weeks  {unit}");
            }
        }
    }
    Ok(())
}

/// SQL for the user id of a participant's current connection (a Fitbit connection replaced by
/// a Google Health one shows the Google Health id).
fn current_user_id(participant: &str) -> String {
    format!(
        "(SELECT c.provider_user_id FROM provider_connections c WHERE c.participant_id = {participant}
          ORDER BY (c.superseded_by IS NULL) DESC, c.id DESC LIMIT 1)"
    )
}

async fn participant_by_user(pool: &PgPool, user: &str) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT participant_id FROM provider_connections WHERE provider_user_id = $1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await?
    .with_context(|| format!("no participant with provider user id {user:?}"))
}

pub async fn teams(pool: &PgPool, command: TeamsCommand) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    match command {
        TeamsCommand::Create { program, name } => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO teams (program_id, name) VALUES ($1, $2) RETURNING id",
            )
            .bind(program)
            .bind(&name)
            .fetch_one(pool)
            .await
            .with_context(|| format!("creating team {name:?} in program {program}"))?;
            println!("team {id} {name:?} in program {program}");
        }
        TeamsCommand::Add { team, user, from } => {
            let participant = participant_by_user(pool, &user).await?;
            let from = match from {
                Some(date) => date,
                None => sqlx::query_scalar::<_, NaiveDate>(
                    "SELECT LEAST(p.start_date, $2) FROM teams t JOIN programs p ON p.id = t.program_id WHERE t.id = $1",
                )
                .bind(team)
                .bind(today)
                .fetch_optional(pool)
                .await?
                .with_context(|| format!("no team {team}"))?,
            };
            sqlx::query(
                "INSERT INTO team_members (team_id, participant_id, joined_on) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(team)
            .bind(participant)
            .bind(from)
            .execute(pool)
            .await?;
            println!("{user} (participant {participant}) in team {team} from {from}");
        }
        TeamsCommand::Remove { team, user, on } => {
            let participant = participant_by_user(pool, &user).await?;
            let on = on.unwrap_or(today);
            let updated = sqlx::query(
                "UPDATE team_members SET left_on = $3 WHERE team_id = $1 AND participant_id = $2 AND left_on IS NULL",
            )
            .bind(team)
            .bind(participant)
            .bind(on)
            .execute(pool)
            .await?
            .rows_affected();
            if updated == 0 {
                bail!("{user} is not a current member of team {team}");
            }
            println!("{user} leaves team {team} on {on}");
        }
        TeamsCommand::List { program } => {
            let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(&format!(
                "SELECT t.id, t.name, count(m.participant_id) FILTER (WHERE m.left_on IS NULL OR m.left_on > current_date),
                        coalesce(string_agg({user}, ' ' ORDER BY m.participant_id), '')
                 FROM teams t LEFT JOIN team_members m ON m.team_id = t.id
                 WHERE t.program_id = $1 GROUP BY t.id, t.name ORDER BY t.id",
                user = current_user_id("m.participant_id"),
            ))
            .bind(program)
            .fetch_all(pool)
            .await?;
            for (id, name, members, users) in rows {
                println!("{id:>4}  {name:<20} {members} members: {users}");
            }
        }
    }
    Ok(())
}

pub async fn goals(database: &DatabaseSettings, command: GoalsCommand) -> anyhow::Result<()> {
    match command {
        GoalsCommand::Recompute { program } => {
            let goals: fitex_goals_service::Settings =
                fitex_common::config::load().context("loading configuration")?;
            recompute(&goals, program).await
        }
        GoalsCommand::Show { program } => goals_today(&database.lazy_pool(), program).await,
    }
}

/// Recomputes every member's goals and their teams' progress from the program start (after
/// changing a program's settings, or to fill in members added late).
async fn recompute(settings: &fitex_goals_service::Settings, program: i64) -> anyhow::Result<()> {
    let pool = settings.database.lazy_pool();
    let engine = fitex_goals_service::recompute::GoalsEngine {
        pool: pool.clone(),
        topics: settings.kafka.topics.clone(),
        relay_wake: Default::default(),
    };
    let start: NaiveDate = sqlx::query_scalar("SELECT start_date FROM programs WHERE id = $1")
        .bind(program)
        .fetch_optional(&pool)
        .await?
        .with_context(|| format!("no program {program}"))?;
    let members: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT m.participant_id FROM team_members m JOIN teams t ON t.id = m.team_id WHERE t.program_id = $1",
    )
    .bind(program)
    .fetch_all(&pool)
    .await?;
    let trace = fitex_common::trace_context::TraceParent::new_root();
    let mut changed = 0;
    for member in &members {
        changed += engine.recompute(*member, start, &trace).await?.goals_changed;
    }
    println!("recomputed {} members: {changed} goals changed (events go out through the goals service's outbox)", members.len());
    Ok(())
}

/// Prints the leaderboard (teams by percent of goal against the median) and each member's goal today.
pub async fn standings(pool: &PgPool, program: i64, week: Option<u32>) -> anyhow::Result<()> {
    let (name, unit, weeks): (String, String, i32) =
        sqlx::query_as("SELECT name, unit, weeks FROM programs WHERE id = $1")
            .bind(program)
            .fetch_optional(pool)
            .await?
            .with_context(|| format!("no program {program}"))?;
    // Teams without progress yet stay off the board.
    let by_team: Vec<(i64, Vec<fitex_goals::TeamWeek>)> =
        fitex_goals_service::store::program_team_weeks(pool, program)
            .await?
            .into_iter()
            .filter(|(_, weeks)| !weeks.is_empty())
            .collect();
    let week = week.unwrap_or_else(|| {
        by_team.iter().flat_map(|(_, w)| w.iter().map(|w| w.week)).max().unwrap_or(1)
    });
    if week == 0 || week as i32 > weeks {
        bail!("week must be between 1 and {weeks}");
    }
    let names: std::collections::HashMap<i64, String> =
        sqlx::query_as::<_, (i64, String)>("SELECT id, name FROM teams WHERE program_id = $1")
            .bind(program)
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let unit_label = if unit == "steps" { "steps" } else { "FitEx miles" };
    println!("{name} — week {week} leaderboard ({unit_label}; ranked by percent of goal, against the median team)");
    println!(
        "{:>4}  {:<16} {:>9} {:>9} {:>7} {:>10} {:>12} {:>6}",
        "rank", "team", "progress", "goal", "%", "vs median", "met goal", "streak"
    );
    for entry in fitex_goals::leaderboard(&by_team, week) {
        let team_week = by_team
            .iter()
            .find(|(id, _)| *id == entry.team_id)
            .and_then(|(_, w)| w.iter().find(|w| w.week == week));
        let (progress, goal, met, members) = team_week
            .map(|w| (w.progress, w.goal, w.members_meeting_goal, w.members))
            .unwrap_or_default();
        println!(
            "{:>4}  {:<16} {:>9.1} {:>9.1} {:>6.1}% {:>+9.1}pt {:>7} of {:<2} {:>4} wk",
            entry.rank,
            names.get(&entry.team_id).map(String::as_str).unwrap_or("?"),
            progress,
            goal,
            entry.percent_of_goal,
            entry.versus_median,
            met,
            members,
            entry.streak_weeks
        );
    }
    Ok(())
}

/// Each member's goal for today, with how it was set.
async fn goals_today(pool: &PgPool, program: i64) -> anyhow::Result<()> {
    let rows: Vec<(String, String, NaiveDate, i32, String, bool, String)> =
        sqlx::query_as(&format!(
            "SELECT DISTINCT ON (g.participant_id) {user}, t.name, g.effective_date, g.steps,
                g.strategy, g.provisional, g.explanation
         FROM goal_history g
         JOIN team_members m ON m.participant_id = g.participant_id
         JOIN teams t ON t.id = m.team_id AND t.program_id = g.program_id
         WHERE g.program_id = $1
         ORDER BY g.participant_id, g.effective_date DESC",
            user = current_user_id("g.participant_id"),
        ))
        .bind(program)
        .fetch_all(pool)
        .await?;
    println!("{:<20} {:<16} {:<10} {:>7}  how it was set", "user", "team", "date", "goal");
    for (user, team, date, steps, _strategy, provisional, explanation) in rows {
        let mark = if provisional { " (provisional)" } else { "" };
        println!("{user:<20} {team:<16} {date} {steps:>7}  {explanation}{mark}");
    }
    Ok(())
}
