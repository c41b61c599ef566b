//! `fitexctl activity`: activity logged by hand for a participant — a coordinator helping someone
//! who cannot use the portal's "Log activity" page. The same checks and the same events as the
//! portal's; the entry records the operator who entered it.

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Subcommand;
use fitex_common::kafka::KafkaSettings;
use fitex_common::trace_context::TraceParent;
use fitex_goals::manual::{EntryForm, EntryProblem};
use fitex_goals_store::manual::{self, ActivityOutbox, EnteredBy, ManualError, SeasonWindow};
use fitex_goals_store::store;
use sqlx::PgPool;

#[derive(Subcommand)]
pub enum ActivityCommand {
    /// Log an activity for a participant (by provider user id) on a day of a program's season.
    Add {
        #[arg(long)]
        user: String,
        #[arg(long)]
        program: i64,
        /// The participant's local date (yyyy-mm-dd).
        #[arg(long)]
        date: NaiveDate,
        /// swimming, cycling, fitness_class, yard_work, dancing, strength_training,
        /// yoga_or_pilates, team_sports or other.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        minutes: String,
        /// moderate or vigorous.
        #[arg(long)]
        intensity: String,
        /// Whether their tracker was worn during it: yes or no.
        #[arg(long)]
        worn: String,
        /// Who is entering it (recorded with the entry as `operator:<name>`).
        #[arg(long)]
        by: String,
    },
    /// A participant's logged activities in a program's season.
    List {
        #[arg(long)]
        user: String,
        #[arg(long)]
        program: i64,
    },
    /// Delete one of a participant's logged activities.
    Delete {
        #[arg(long)]
        user: String,
        #[arg(long)]
        program: i64,
        #[arg(long)]
        id: i64,
        #[arg(long)]
        by: String,
    },
}

pub async fn run(
    kafka: &KafkaSettings,
    pool: &PgPool,
    command: ActivityCommand,
) -> anyhow::Result<()> {
    let trace = TraceParent::new_root();
    let events_to = ActivityOutbox { topic: &kafka.topics.activity_days, trace: &trace };
    match command {
        ActivityCommand::Add { user, program, date, kind, minutes, intensity, worn, by } => {
            let (participant, season) = participant_and_season(pool, &user, program).await?;
            let form = EntryForm {
                day: date.to_string(),
                kind,
                minutes,
                intensity,
                device_worn: Some(worn),
            };
            let entry = form.parse().map_err(refusal)?;
            let by = operator(&by)?;
            let id = manual::add(pool, events_to, participant, &season, &entry, &by, Utc::now())
                .await
                .map_err(manual_error)?;
            println!(
                "activity {id}: {} minutes of {} on {} for {user}, entered by {}",
                entry.minutes,
                entry.kind.label().to_lowercase(),
                entry.day,
                by.as_stored()
            );
        }
        ActivityCommand::List { user, program } => {
            let (participant, season) = participant_and_season(pool, &user, program).await?;
            let entries = manual::entries(pool, participant, &season).await?;
            println!(
                "{:>6}  {:<10}  {:<24}  {:>7}  {:<9}  {:<7}  entered by",
                "id", "day", "kind", "minutes", "intensity", "tracker"
            );
            for stored in &entries {
                let e = &stored.entry;
                println!(
                    "{:>6}  {:<10}  {:<24}  {:>7}  {:<9}  {:<7}  {}",
                    stored.id,
                    e.day,
                    e.kind.label(),
                    e.minutes,
                    e.intensity.as_str(),
                    if e.device_worn { "worn" } else { "not worn" },
                    stored.entered_by
                );
            }
            println!("{} entr{}", entries.len(), if entries.len() == 1 { "y" } else { "ies" });
        }
        ActivityCommand::Delete { user, program, id, by } => {
            let (participant, season) = participant_and_season(pool, &user, program).await?;
            let by = operator(&by)?;
            manual::delete(pool, events_to, participant, id, &season, &by, Utc::now())
                .await
                .map_err(manual_error)?;
            println!("activity {id} deleted");
        }
    }
    Ok(())
}

fn operator(name: &str) -> anyhow::Result<EnteredBy> {
    let name = name.trim();
    if name.is_empty() {
        bail!("--by must name who is entering it");
    }
    Ok(EnteredBy::Operator(name.to_string()))
}

async fn participant_and_season(
    pool: &PgPool,
    user: &str,
    program: i64,
) -> anyhow::Result<(i64, SeasonWindow)> {
    let participant = fitex_connections::store::participant_of_provider_user(pool, user)
        .await?
        .with_context(|| format!("no participant with user id {user}"))?;
    let enrolment = store::enrolments(pool, participant)
        .await?
        .into_iter()
        .find(|e| e.program.id == program)
        .with_context(|| format!("{user} is in no team of program {program}"))?;
    Ok((participant, SeasonWindow::of(&enrolment.program)))
}

fn refusal(problems: Vec<EntryProblem>) -> anyhow::Error {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {}: {p}", p.field())).collect();
    anyhow::anyhow!("the activity was not logged:\n{}", lines.join("\n"))
}

fn manual_error(error: ManualError) -> anyhow::Error {
    match error {
        ManualError::Refused(problems) => refusal(problems),
        ManualError::NotFound => {
            anyhow::anyhow!("no such activity of this participant in this season")
        }
        ManualError::Database(error) => anyhow::Error::new(error).context("storing the activity"),
    }
}
