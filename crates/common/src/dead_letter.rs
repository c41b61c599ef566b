//! Dead letters: an event that cannot be processed is never dropped. It goes to the dead-letter
//! topic with its payload and headers untouched and the reason, where `fitexctl dlq list` shows it
//! and `fitexctl dlq replay` puts it back on its topic once the cause is fixed.

use std::time::{SystemTime, UNIX_EPOCH};

use fitex_proto::{content_type, DeadLetter, Message as _, Timestamp};
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
