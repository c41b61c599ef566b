//! `fitexctl users delete`: deleting a participant everywhere, as their provider account deletion
//! does.

use anyhow::bail;
use fitex_common::kafka::Topics;
use sqlx::PgPool;

/// When a deletion purges.
pub enum When {
    Now,
    /// Hidden now, purged after this delay (restorable until then).
    After(chrono::Duration),
}

/// Who to delete: a FitEx participant id, or a provider user id.
pub enum Who {
    Participant(i64),
    ProviderUser(String),
}

/// Deletes the participant: hidden at once and purged after the delay (or `When::Now`). The purge
/// deletes their tokens, days and pending fetches and publishes the tombstone that has the goals
/// service delete their goals and recompute their teams without them. Without `confirmed` it
/// only says what it would delete.
pub async fn delete(
    pool: &PgPool,
    topics: &Topics,
    who: Who,
    confirmed: bool,
    when: When,
) -> anyhow::Result<()> {
    let participant: Option<i64> = match &who {
        Who::Participant(id) => {
            sqlx::query_scalar("SELECT id FROM participants WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }
        Who::ProviderUser(user) => {
            sqlx::query_scalar(
                "SELECT participant_id FROM provider_connections WHERE provider_user_id = $1",
            )
            .bind(user)
            .fetch_optional(pool)
            .await?
        }
    };
    let Some(participant) = participant else {
        match who {
            Who::Participant(id) => bail!("no participant {id}"),
            Who::ProviderUser(user) => bail!("no participant with provider user id {user:?}"),
        }
    };
    let (days, goals, teams): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM activity_days WHERE participant_id = $1),
                (SELECT count(*) FROM goal_history WHERE participant_id = $1),
                (SELECT count(DISTINCT team_id) FROM team_members WHERE participant_id = $1)",
    )
    .bind(participant)
    .fetch_one(pool)
    .await?;
    if !confirmed {
        bail!(
            "this deletes participant {participant} everywhere: their tokens, {days} stored days, \
             {goals} goals and their place in {teams} team(s), whose progress is recomputed \
             without them. Once purged it cannot be undone. Run it again with --yes to delete."
        );
    }
    if let When::After(delay) = when {
        if fitex_fetcher::purge::soft_delete(pool, participant, delay).await? {
            let on = chrono::Utc::now() + delay;
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
    match fitex_fetcher::purge::purge_participant(pool, topics, participant).await? {
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
pub async fn restore(pool: &PgPool, participant: i64) -> anyhow::Result<()> {
    use fitex_fetcher::purge::Restored;
    match fitex_fetcher::purge::restore(pool, participant).await? {
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
