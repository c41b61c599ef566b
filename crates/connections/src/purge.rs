//! Deleting a participant everywhere, the half held in the connection core's tables: the provider
//! connections and their tokens, the stored days, the days waiting to be fetched, the portal's
//! sign-ins and the activity events not yet published — and, in the same transaction, a
//! tombstone keyed by the participant on the activity-days topic. The goals service does the other
//! half when it reads that tombstone (`GoalsEngine::forget_participant`): goal history, team
//! membership, the team's progress recomputed without them, and a tombstone on the goals topic.
//!
//! Deletion is soft first ([`soft_delete`]): the participant is hidden at once, their tokens are
//! deleted and nothing more is fetched, and the purge runs `fetcher.purge_after_s` later
//! ([`purge_due`], from the fetcher's pending loop); until then [`restore`] brings them back.
//! The purge is idempotent and callable from anywhere that has the database (the fetcher when a
//! provider says the account was deleted, `fitexctl users delete|restore`).

use fitex_common::kafka::Topics;
use fitex_common::outbox::{self, OutgoingRecord};
use sqlx::PgPool;

use crate::pending;

/// The outbox source the fetcher's relay publishes: the purge's tombstones go out through it, as
/// the fetcher's activity events do, wherever the purge ran.
pub const OUTBOX_SOURCE: &str = outbox::ACTIVITY_SOURCE;

/// What this half of a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub connections: u64,
    pub days: u64,
    pub unpublished_events: u64,
}

/// Purges `participant_id`'s data held here and publishes the activity tombstone (through the
/// outbox). `None` when there is no such participant any more (already purged).
pub async fn purge_participant(
    pool: &PgPool,
    topics: &Topics,
    participant_id: i64,
) -> Result<Option<Purged>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // No lock on the participant: a fetch storing days holds its connection row and then a key
    // lock on the participant, so taking them in the other order could deadlock. Deleting the
    // connection waits for such a fetch; one that comes after finds no connection (`mark_synced`).
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM participants WHERE id = $1")
        .bind(participant_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    // Pending fetches go with their connections (ON DELETE CASCADE).
    let connections = sqlx::query("DELETE FROM provider_connections WHERE participant_id = $1")
        .bind(participant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let days = sqlx::query("DELETE FROM activity_days WHERE participant_id = $1")
        .bind(participant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM portal_sessions WHERE participant_id = $1")
        .bind(participant_id)
        .execute(&mut *tx)
        .await?;
    let unpublished_events =
        sqlx::query("DELETE FROM kafka_outbox WHERE topic = $1 AND record_key = $2")
            .bind(&topics.activity_days)
            .bind(participant_id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    // Marked as being purged (hidden, and not picked up again by `purge_due`) until the goals
    // service deletes the record itself.
    sqlx::query(
        "UPDATE participants SET deleted_at = coalesce(deleted_at, now()), purge_after = NULL
         WHERE id = $1",
    )
    .bind(participant_id)
    .execute(&mut *tx)
    .await?;
    let tombstone = OutgoingRecord::tombstone(&topics.activity_days, participant_id.to_string());
    outbox::insert_in(&mut tx, OUTBOX_SOURCE, &[&tombstone]).await?;
    tx.commit().await?;
    metrics::counter!("fitex_fetcher_participants_purged_total").increment(1);
    tracing::info!(
        participant = participant_id,
        connections,
        days,
        unpublished_events,
        "participant's data deleted; tombstone published"
    );
    Ok(Some(Purged { connections, days, unpublished_events }))
}

/// Deletes a participant softly: hidden at once (every read skips a participant with
/// `deleted_at`), tokens deleted and nothing more fetched or waiting; purged everywhere after
/// `purge_after`. Returns false when they were already deleted.
pub async fn soft_delete(
    pool: &PgPool,
    participant_id: i64,
    purge_after: chrono::Duration,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let marked = sqlx::query(
        "UPDATE participants SET deleted_at = now(), purge_after = now() + $2
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(participant_id)
    .bind(purge_after)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE provider_connections SET access_token = NULL, refresh_token = NULL,
             access_expires_at = NULL, token_kind = NULL, token_version = token_version + 1,
             sync_status = 'disconnected', status_changed_at = now(),
             status_reason = 'the account was deleted at the provider'
         WHERE participant_id = $1",
    )
    .bind(participant_id)
    .execute(&mut *tx)
    .await?;
    pending::forget_participant(&mut tx, participant_id).await?;
    // Signed out everywhere.
    sqlx::query(
        "UPDATE portal_sessions SET revoked_at = now()
         WHERE participant_id = $1 AND revoked_at IS NULL",
    )
    .bind(participant_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if marked > 0 {
        metrics::counter!("fitex_fetcher_participants_soft_deleted_total").increment(1);
    }
    Ok(marked > 0)
}

/// What restoring a soft-deleted participant found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// Visible again, with their history; they reconnect to sync again (their tokens are gone).
    Restored,
    NotDeleted,
    /// Too late: the purge has begun or is done.
    AlreadyPurged,
}

/// Brings back a soft-deleted participant whose purge has not begun.
pub async fn restore(pool: &PgPool, participant_id: i64) -> Result<Restored, sqlx::Error> {
    // (deleted, awaiting the purge)
    let state: Option<(bool, bool)> = sqlx::query_as(
        "SELECT deleted_at IS NOT NULL, purge_after IS NOT NULL FROM participants WHERE id = $1",
    )
    .bind(participant_id)
    .fetch_optional(pool)
    .await?;
    Ok(match state {
        None | Some((true, false)) => Restored::AlreadyPurged,
        Some((false, _)) => Restored::NotDeleted,
        Some((true, true)) => {
            let done = sqlx::query(
                "UPDATE participants SET deleted_at = NULL, purge_after = NULL
                 WHERE id = $1 AND purge_after IS NOT NULL",
            )
            .bind(participant_id)
            .execute(pool)
            .await?
            .rows_affected();
            if done == 1 {
                Restored::Restored
            } else {
                Restored::AlreadyPurged
            }
        }
    })
}

/// Purges up to `limit` soft-deleted participants whose delay has passed; returns how many.
pub async fn purge_due(pool: &PgPool, topics: &Topics, limit: i64) -> Result<usize, sqlx::Error> {
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM participants WHERE purge_after <= now() ORDER BY purge_after LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    for participant in &due {
        purge_participant(pool, topics, *participant).await?;
    }
    Ok(due.len())
}

/// Whether the participant exists (deleted or not, until purged).
pub async fn participant_exists(pool: &PgPool, participant_id: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM participants WHERE id = $1")
        .bind(participant_id)
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// What deleting a participant would remove everywhere (`fitexctl users delete` says it before
/// asking for `--yes`): their stored days, their goals (the goals service's table) and the teams
/// they are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    pub days: i64,
    pub goals: i64,
    pub teams: i64,
}

pub async fn footprint(pool: &PgPool, participant_id: i64) -> Result<Footprint, sqlx::Error> {
    let (days, goals, teams): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM activity_days WHERE participant_id = $1),
                (SELECT count(*) FROM goal_history WHERE participant_id = $1),
                (SELECT count(DISTINCT team_id) FROM team_members WHERE participant_id = $1)",
    )
    .bind(participant_id)
    .fetch_one(pool)
    .await?;
    Ok(Footprint { days, goals, teams })
}
