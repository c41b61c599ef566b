//! Reads across participants and their connections for operators (`fitexctl users`) and the load
//! drivers under `bench/`: sync status, days stored and waiting, never a token.

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::zone::ParticipantZone;
use fitex_provider::ProviderId;
use sqlx::PgPool;

/// One connection in `fitexctl users list`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipantRow {
    /// The participant's id.
    pub id: i64,
    pub provider: String,
    pub provider_user: String,
    pub status: String,
    /// Why the connection is in its status — or, for a deleted participant, when they are purged.
    pub reason: Option<String>,
    pub days: i64,
    pub last_sync: Option<DateTime<Utc>>,
    pub zone: ParticipantZone,
}

/// Every participant's connections, by participant.
pub async fn participants(pool: &PgPool) -> Result<Vec<ParticipantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.id, c.provider, c.provider_user_id AS provider_user, c.sync_status AS status,
                    CASE WHEN p.purge_after IS NOT NULL
                         THEN 'deleted: purged everywhere on '
                              || to_char(p.purge_after AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                              || ' UTC unless restored (fitexctl users restore)'
                         WHEN p.deleted_at IS NOT NULL THEN 'deleted: being purged'
                         ELSE c.status_reason END AS reason,
                    (SELECT count(*) FROM activity_days d WHERE d.participant_id = p.id) AS days,
                    c.last_sync_at AS last_sync, p.time_zone AS zone
             FROM participants p JOIN provider_connections c ON c.participant_id = p.id
             ORDER BY p.id",
    )
    .fetch_all(pool)
    .await
}

/// The deployment in counts (`fitexctl users summary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Summary {
    pub participants: i64,
    pub active: i64,
    pub reconnect_required: i64,
    pub disconnected: i64,
    pub days_stored: i64,
    /// Days waiting to be fetched, those awaiting reconnection aside.
    pub days_pending: i64,
    pub days_awaiting_reconnect: i64,
}

pub async fn summary(pool: &PgPool) -> Result<Summary, sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM participants) AS participants,
                (SELECT count(*) FROM provider_connections WHERE sync_status = 'active') AS active,
                (SELECT count(*) FROM provider_connections WHERE sync_status = 'reconnect_required')
                    AS reconnect_required,
                (SELECT count(*) FROM provider_connections WHERE sync_status = 'disconnected')
                    AS disconnected,
                (SELECT count(*) FROM activity_days) AS days_stored,
                (SELECT count(*) FROM pending_fetches WHERE reason <> 'awaiting_reconnect')
                    AS days_pending,
                (SELECT count(*) FROM pending_fetches WHERE reason = 'awaiting_reconnect')
                    AS days_awaiting_reconnect",
    )
    .fetch_one(pool)
    .await
}

/// One connection's sync state (`fitexctl users show`), never its tokens.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionReport {
    pub participant_id: i64,
    pub provider: String,
    pub sync_status: String,
    pub status_reason: Option<String>,
    pub token_kind: Option<String>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub time_zone: ParticipantZone,
    pub rate_remaining: Option<i32>,
    pub rate_resets_at: Option<DateTime<Utc>>,
    /// Days stored for the participant.
    pub days: i64,
    /// Days of this connection waiting to be fetched.
    pub pending: i64,
}

/// The connection of `provider_user_id` (at whichever provider), if there is one.
pub async fn connection_report(
    pool: &PgPool,
    provider_user_id: &str,
) -> Result<Option<ConnectionReport>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.participant_id, c.provider, c.sync_status, c.status_reason, c.token_kind,
                c.access_expires_at, c.last_sync_at, p.time_zone, c.rate_remaining, c.rate_resets_at,
                (SELECT count(*) FROM activity_days d WHERE d.participant_id = c.participant_id) AS days,
                (SELECT count(*) FROM pending_fetches f WHERE f.connection_id = c.id) AS pending
         FROM provider_connections c JOIN participants p ON p.id = c.participant_id
         WHERE c.provider_user_id = $1",
    )
    .bind(provider_user_id)
    .fetch_optional(pool)
    .await
}

/// Every stored day by the provider user it belongs to: (provider user id, day, steps, when its
/// values were last stored). The fetcher's load driver waits on it.
pub async fn stored_days_by_provider_user(
    pool: &PgPool,
) -> Result<Vec<(String, NaiveDate, i32, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.provider_user_id, a.day, a.steps, a.fetched_at
             FROM activity_days a JOIN provider_connections c ON c.participant_id = a.participant_id",
    )
    .fetch_all(pool)
    .await
}

/// An active connection at `provider` of a participant in a team: (provider user id,
/// participant, their first team, time zone, median stored steps). The pipeline's load driver
/// makes its day of syncs for them.
pub type TeamMemberConnection = (String, i64, i64, ParticipantZone, Option<f64>);

pub async fn active_team_members(
    pool: &PgPool,
    provider: ProviderId,
) -> Result<Vec<TeamMemberConnection>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.provider_user_id, c.participant_id,
                (SELECT min(m.team_id) FROM team_members m WHERE m.participant_id = c.participant_id),
                p.time_zone,
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a.steps) FROM activity_days a
                 WHERE a.participant_id = c.participant_id)
         FROM provider_connections c JOIN participants p ON p.id = c.participant_id
         WHERE c.sync_status = 'active' AND c.provider = $1
           AND EXISTS (SELECT 1 FROM team_members m WHERE m.participant_id = c.participant_id)
         ORDER BY c.participant_id",
    )
    .bind(provider.as_str())
    .fetch_all(pool)
    .await
}
