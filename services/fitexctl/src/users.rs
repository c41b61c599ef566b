//! `fitexctl users`: participants and their sync status (list, summary, show), and deleting a
//! participant everywhere, as their provider account deletion does (delete, restore).

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Subcommand;
use fitex_common::database::DatabaseSettings;
use fitex_common::kafka::Topics;
use fitex_connections::purge::{self, Footprint, Restored};
use fitex_connections::reports::{self, ConnectionReport, ParticipantRow, Summary};
use fitex_connections::store;
use serde::Deserialize;
use sqlx::PgPool;

use crate::settings::Settings;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Every participant: provider account, sync status, days stored, last sync (never tokens).
    List,
    /// One participant's sync status, token kind and expiry, rate budget (never the tokens).
    Show {
        #[arg(long)]
        user: String,
    },
    /// Counts: participants by status, days stored, days waiting.
    #[command(alias = "status")]
    Summary,
    /// Delete a participant everywhere: tokens, days, goals, team membership (their teams are
    /// recomputed without them), with tombstones for downstream consumers.
    #[command(group(clap::ArgGroup::new("who").required(true).args(["participant", "user"])))]
    Delete {
        /// The FitEx participant id.
        #[arg(long)]
        participant: Option<i64>,
        /// Or their provider user id.
        #[arg(long)]
        user: Option<String>,
        /// Really delete (without it, only says what would be deleted).
        #[arg(long)]
        yes: bool,
        /// Purge at once, instead of hiding now and purging after `fetcher.purge_after_s`.
        #[arg(long)]
        now: bool,
    },
    /// Bring back a deleted participant whose purge has not begun (they reconnect to sync again).
    Restore {
        #[arg(long)]
        participant: i64,
    },
}

pub async fn run(settings: &Settings, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::List => list(&settings.database).await,
        UsersCommand::Summary => summary(&settings.database).await,
        UsersCommand::Show { user } => show(&settings.database.lazy_pool(), &user).await,
        UsersCommand::Delete { participant, user, yes, now } => {
            let who = match (participant, user) {
                (Some(id), _) => Who::Participant(id),
                (None, Some(user)) => Who::ProviderUser(user),
                (None, None) => unreachable!("clap requires one"),
            };
            let purge: PurgeSettings =
                fitex_common::config::load().context("loading configuration")?;
            let when = if now {
                When::Now
            } else {
                When::After(chrono::Duration::seconds(purge.fetcher.purge_after_s as i64))
            };
            delete(&settings.database.lazy_pool(), &settings.kafka.topics, who, yes, when).await
        }
        UsersCommand::Restore { participant } => {
            restore(&settings.database.lazy_pool(), participant).await
        }
    }
}

/// The delay `fitexctl users delete` purges after: the fetcher's `fetcher.purge_after_s`.
#[derive(Deserialize)]
struct PurgeSettings {
    fetcher: PurgeDelay,
}

#[derive(Deserialize)]
struct PurgeDelay {
    purge_after_s: u64,
}

async fn list(database: &DatabaseSettings) -> anyhow::Result<()> {
    let pool = database.lazy_pool();
    let rows = reports::participants(&pool).await.context("reading participants")?;
    println!(
        "{:>5}  {:<8} {:<10} {:<19} {:>5}  {:<20} {:<20}",
        "id", "provider", "user", "status", "days", "last sync (UTC)", "time zone"
    );
    for ParticipantRow {
        id,
        provider,
        provider_user: user,
        status,
        reason,
        days,
        last_sync,
        zone,
    } in rows
    {
        let last = last_sync
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "never".into());
        println!("{id:>5}  {provider:<8} {user:<10} {status:<19} {days:>5}  {last:<20} {zone:<20}");
        if let Some(reason) = reason {
            println!("       ↳ {reason}");
        }
    }
    Ok(())
}

async fn summary(database: &DatabaseSettings) -> anyhow::Result<()> {
    let pool = database.lazy_pool();
    let Summary {
        participants,
        active,
        reconnect_required: reconnect,
        disconnected,
        days_stored: days,
        days_pending: pending,
        days_awaiting_reconnect: waiting,
    } = reports::summary(&pool).await.context("reading the summary")?;
    println!(
        "participants={participants} active={active} reconnect_required={reconnect} disconnected={disconnected} days_stored={days} days_pending={pending} days_awaiting_reconnect={waiting}"
    );
    Ok(())
}

/// One participant's sync status, never their tokens.
async fn show(pool: &PgPool, user: &str) -> anyhow::Result<()> {
    let row: Option<ConnectionReport> = reports::connection_report(pool, user).await?;
    let Some(r) = row else { bail!("no participant with provider user id {user:?}") };
    let when = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
    };
    println!("participant      {} ({} user {user})", r.participant_id, r.provider);
    println!("status           {}", r.sync_status);
    if let Some(reason) = r.status_reason {
        println!("                 {reason}");
    }
    println!(
        "token            {} (expires {})",
        r.token_kind.unwrap_or_else(|| "none".into()),
        when(r.access_expires_at)
    );
    println!("last sync        {}", when(r.last_sync_at));
    println!("time zone        {}", r.time_zone);
    println!("days stored      {}  (waiting: {})", r.days, r.pending);
    if let Some(remaining) = r.rate_remaining {
        println!("rate budget      {remaining} left until {}", when(r.rate_resets_at));
    }
    Ok(())
}

/// When a deletion purges.
enum When {
    Now,
    /// Hidden now, purged after this delay (restorable until then).
    After(chrono::Duration),
}

/// Who to delete: a FitEx participant id, or a provider user id.
enum Who {
    Participant(i64),
    ProviderUser(String),
}

/// Deletes the participant: hidden at once and purged after the delay (or `When::Now`). The purge
/// deletes their tokens, days and pending fetches and publishes the tombstone that has the goals
/// service delete their goals and recompute their teams without them. Without `confirmed` it
/// only says what it would delete.
async fn delete(
    pool: &PgPool,
    topics: &Topics,
    who: Who,
    confirmed: bool,
    when: When,
) -> anyhow::Result<()> {
    let participant: Option<i64> = match &who {
        Who::Participant(id) => purge::participant_exists(pool, *id).await?.then_some(*id),
        Who::ProviderUser(user) => store::participant_of_provider_user(pool, user).await?,
    };
    let Some(participant) = participant else {
        match who {
            Who::Participant(id) => bail!("no participant {id}"),
            Who::ProviderUser(user) => bail!("no participant with provider user id {user:?}"),
        }
    };
    let Footprint { days, goals, teams } = purge::footprint(pool, participant).await?;
    if !confirmed {
        bail!(
            "this deletes participant {participant} everywhere: their tokens, {days} stored days, \
             {goals} goals and their place in {teams} team(s), whose progress is recomputed \
             without them. Once purged it cannot be undone. Run it again with --yes to delete."
        );
    }
    if let When::After(delay) = when {
        if purge::soft_delete(pool, participant, delay).await? {
            let on = Utc::now() + delay;
            println!(
                "participant {participant} deleted: hidden now, their tokens deleted; purged \
                 everywhere on {} UTC. Until then `fitexctl users restore --participant \
                 {participant}` brings them back.",
                on.format("%Y-%m-%d %H:%M")
            );
        } else {
            println!("participant {participant} was already deleted (see `fitexctl users list`)");
        }
        return Ok(());
    }
    match purge::purge_participant(pool, topics, participant).await? {
        Some(purged) => println!(
            "participant {participant} deleted: {} connection(s) and their tokens, {} stored \
             days, {} unpublished activity event(s); the goals service now deletes their goals \
             and recomputes their team(s)",
            purged.connections, purged.days, purged.unpublished_events
        ),
        None => println!("participant {participant} was already deleted"),
    }
    Ok(())
}

/// Brings back a deleted participant whose purge has not begun.
async fn restore(pool: &PgPool, participant: i64) -> anyhow::Result<()> {
    match purge::restore(pool, participant).await? {
        Restored::Restored => println!(
            "participant {participant} restored with their history; they reconnect their account \
             to sync again (their tokens were deleted)"
        ),
        Restored::NotDeleted => bail!("participant {participant} is not deleted"),
        Restored::AlreadyPurged => {
            bail!("participant {participant} cannot be restored: their purge has begun or is done")
        }
    }
    Ok(())
}
