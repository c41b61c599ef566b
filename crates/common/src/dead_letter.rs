//! Dead letters: an event that cannot be processed is never dropped. It goes to the dead-letter
//! topic with its payload and headers untouched and the reason, where `fitexctl dlq list` shows it
//! and `fitexctl dlq replay` puts it back on its topic once the cause is fixed.

use std::time::{SystemTime, UNIX_EPOCH};

use fitex_proto::{content_type, DeadLetter, Message as _, Timestamp};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::consume::ConsumedRecord;
use crate::outbox::OutgoingRecord;

/// The longest reason carried in a header (the whole reason is in the payload).
const REASON_HEADER_MAX_CHARS: usize = 500;

/// The dead-letter record for `record`, which could not be processed for `reason` after
/// `attempts` attempts; keyed as the original, so a replay lands on the same partition.
pub fn dead_letter_for(
    dead_letter_topic: &str,
    record: &ConsumedRecord,
    reason: &str,
    attempts: u32,
) -> OutgoingRecord {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let event_id =
        record.headers.get("event_id").cloned().unwrap_or_else(|| Uuid::now_v7().to_string());
    let letter = DeadLetter {
        event_id: event_id.clone(),
        source_topic: record.topic().to_string(),
        payload: record.payload().to_vec(),
        headers: record.headers.clone().into_iter().collect(),
        reason: reason.to_string(),
        attempts: attempts as i32,
        dead_lettered_at: Some(Timestamp {
            seconds: now.as_secs() as i64,
            nanos: now.subsec_nanos() as i32,
        }),
    };
    tracing::warn!(topic = record.topic(), key = %record.key(), %reason, attempts, "dead-lettered");
    OutgoingRecord {
        event_id: Uuid::now_v7(),
        topic: dead_letter_topic.to_string(),
        key: record.key(),
        payload: letter.encode_to_vec(),
        headers: vec![
            ("event_id".into(), event_id),
            ("content-type".into(), content_type::DEAD_LETTER.into()),
            ("reason".into(), reason.chars().take(REASON_HEADER_MAX_CHARS).collect()),
        ],
    }
}

/// A dead letter about to be put back on a topic (`fitexctl dlq replay`), as `dlq_replays` records
/// it: the letter's place on the dead-letter topic identifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay<'a> {
    pub dead_letter_topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub event_id: &'a str,
    /// The topic the letter's record goes back to.
    pub replayed_to: &'a str,
}

/// Claims the replay of a dead letter inside the caller's transaction; false when it was replayed
/// before (each letter goes back once). Commit after the broker acknowledged the replayed record,
/// so a replay that failed is not remembered and can run again.
pub async fn claim_replay(
    tx: &mut Transaction<'_, Postgres>,
    replay: &Replay<'_>,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "INSERT INTO dlq_replays (dead_letter_topic, partition_id, record_offset, event_id, replayed_to)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(replay.dead_letter_topic)
    .bind(replay.partition)
    .bind(replay.offset)
    .bind(replay.event_id)
    .bind(replay.replayed_to)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(claimed > 0)
}
