//! The audit log: what operators changed by hand, who, when and why (`audit_log`, append-only:
//! the table refuses updates and deletes). `fitexctl audit list` reads it.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

/// One change to record, inside the transaction that makes it.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    /// Who made it (the name the operator gave).
    pub actor: &'a str,
    /// What kind of change, e.g. [`crate::season_close::CORRECTION_ACTION`].
    pub action: &'a str,
    pub program_id: Option<i64>,
    /// What was changed, in words.
    pub subject: &'a str,
    pub old_value: serde_json::Value,
    pub new_value: serde_json::Value,
    /// Why.
    pub reason: &'a str,
}

/// Adds `entry` in `tx`; returns its id.
pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    entry: &NewAuditEntry<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO audit_log (actor, action, program_id, subject, old_value, new_value, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.program_id)
    .bind(entry.subject)
    .bind(&entry.old_value)
    .bind(&entry.new_value)
    .bind(entry.reason)
    .fetch_one(&mut **tx)
    .await
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub program_id: Option<i64>,
    /// The program's name, while it exists.
    pub program_name: Option<String>,
    pub subject: String,
    pub old_value: serde_json::Value,
    pub new_value: serde_json::Value,
    pub reason: String,
}

/// Every recorded change, oldest first; `program_id` narrows it to one program's.
pub async fn list(pool: &PgPool, program_id: Option<i64>) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.at, a.actor, a.action, a.program_id, p.name AS program_name, a.subject,
                a.old_value, a.new_value, a.reason
         FROM audit_log a LEFT JOIN programs p ON p.id = a.program_id
         WHERE $1::bigint IS NULL OR a.program_id = $1
         ORDER BY a.at, a.id",
    )
    .bind(program_id)
    .fetch_all(pool)
    .await
}
