//! Signed-in sessions, kept in PostgreSQL (`portal_sessions`; this module is the table's only
//! home). The browser holds a random 256-bit secret inside its encrypted cookie; the table holds
//! only the secret's SHA-256, with the participant, when the session began, when it was last
//! used and when it was revoked. A session ends when it is revoked (sign-out, "sign out
//! everywhere"), after the idle timeout without a request, and at the absolute timeout after it
//! began: a copy of an old cookie then signs nobody in.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::pkce::random_token;

/// How long a session may last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Without a request for this long, the session ends.
    pub idle: Duration,
    /// This long after it began, the session ends however much it is used.
    pub absolute: Duration,
}

/// Why a session that the cookie names no longer signs anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Signed out, here or with "sign out everywhere".
    SignedOut,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Older than the absolute timeout.
    TooOld,
    /// No such session (never existed, deleted with its participant, or cleaned up).
    Unknown,
}

/// The SHA-256 the table keeps of a session secret.
fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// Starts a session for `participant_id`; returns the secret for the cookie (32 random bytes,
/// base64url). Sessions past the absolute timeout, anyone's, are deleted on the way.
pub async fn create(
    pool: &PgPool,
    participant_id: i64,
    timeouts: Timeouts,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "DELETE FROM portal_sessions WHERE last_seen_at < now() - make_interval(secs => $1)",
    )
    .bind(seconds(timeouts.absolute))
    .execute(pool)
    .await?;
    let secret = random_token(32);
    sqlx::query("INSERT INTO portal_sessions (token_hash, participant_id) VALUES ($1, $2)")
        .bind(hash(&secret))
        .bind(participant_id)
        .execute(pool)
        .await?;
    Ok(secret)
}

/// The participant of a live session, which counts as used now; or why it has ended.
pub async fn touch(
    pool: &PgPool,
    secret: &str,
    timeouts: Timeouts,
) -> Result<Result<i64, Ended>, sqlx::Error> {
    let token_hash = hash(secret);
    let live: Option<i64> = sqlx::query_scalar(
        "UPDATE portal_sessions SET last_seen_at = now()
         WHERE token_hash = $1 AND revoked_at IS NULL
           AND last_seen_at > now() - make_interval(secs => $2)
           AND created_at > now() - make_interval(secs => $3)
         RETURNING participant_id",
    )
    .bind(&token_hash)
    .bind(seconds(timeouts.idle))
    .bind(seconds(timeouts.absolute))
    .fetch_optional(pool)
    .await?;
    if let Some(participant_id) = live {
        return Ok(Ok(participant_id));
    }
    let ended: Option<(bool, bool)> = sqlx::query_as(
        "SELECT revoked_at IS NOT NULL, created_at <= now() - make_interval(secs => $2)
         FROM portal_sessions WHERE token_hash = $1",
    )
    .bind(&token_hash)
    .bind(seconds(timeouts.absolute))
    .fetch_optional(pool)
    .await?;
    Ok(Err(match ended {
        Some((true, _)) => Ended::SignedOut,
        Some((false, true)) => Ended::TooOld,
        Some((false, false)) => Ended::Idle,
        None => Ended::Unknown,
    }))
}

/// Ends one session (sign-out). Ending an ended session changes nothing.
pub async fn revoke(pool: &PgPool, secret: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE portal_sessions SET revoked_at = now()
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash(secret))
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends every session of the participant ("sign out everywhere"); returns how many were live.
pub async fn revoke_all(pool: &PgPool, participant_id: i64) -> Result<u64, sqlx::Error> {
    let ended = sqlx::query(
        "UPDATE portal_sessions SET revoked_at = now()
         WHERE participant_id = $1 AND revoked_at IS NULL",
    )
    .bind(participant_id)
    .execute(pool)
    .await?;
    Ok(ended.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_a_hash_not_the_secret() {
        let secret = random_token(32);
        assert_eq!(secret.len(), 43, "256 bits, base64url");
        let stored = hash(&secret);
        assert_eq!(stored.len(), 32);
        assert!(!String::from_utf8_lossy(&stored).contains(&secret));
        assert_eq!(stored, hash(&secret.clone()));
        assert_ne!(stored, hash(&random_token(32)));
    }
}
