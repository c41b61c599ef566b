//! Deleting a participant everywhere, the fetcher's half. It deletes what the fetcher holds — the
//! provider connections and their tokens, the stored days, the days waiting to be fetched and the
//! activity events not yet published — and, in the same transaction, puts a tombstone keyed by
//! the participant on the activity-days topic. The goals service does the other half when it reads
//! that tombstone (`GoalsEngine::forget_participant`): goal history, team membership, the team's
//! progress recomputed without them, and a tombstone on the goals topic.
//!
//! Idempotent and callable from anywhere that has the database — a notification, `fitexctl users
//! delete`, or a scheduled job purging soft-deleted participants later.

use fitex_common::kafka::Topics;
use fitex_common::outbox::{self, OutgoingRecord};
use sqlx::PgPool;

use crate::sync::OUTBOX_SOURCE;

/// What the fetcher's half of a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub connections: u64,
    pub days: u64,
    pub unpublished_events: u64,
}

/// Purges `participant_id`'s fetcher data and publishes the activity tombstone (through the
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
    let unpublished_events =
        sqlx::query("DELETE FROM kafka_outbox WHERE topic = $1 AND record_key = $2")
            .bind(&topics.activity_days)
            .bind(participant_id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
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
