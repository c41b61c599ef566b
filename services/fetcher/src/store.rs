//! The fetcher's tables: participants, provider connections (tokens and sync status), activity
//! days and pending fetches.

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::token_cipher::TokenCipher;
use fitex_provider::{DayActivity, ProviderId, RateBudget, TokenGrant};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{PgPool, Postgres, Transaction};

use crate::traces::DayTraces;

/// Sync status shown to participants and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    Active,
    /// The provider refused our access (expired, revoked, missing scope): the participant must
    /// reconnect; nothing is fetched until then, and missed days are fetched afterwards.
    ReconnectRequired,
    /// The participant revoked access at the provider.
    Disconnected,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Active => "active",
            SyncStatus::ReconnectRequired => "reconnect_required",
            SyncStatus::Disconnected => "disconnected",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "reconnect_required" => SyncStatus::ReconnectRequired,
            "disconnected" => SyncStatus::Disconnected,
            _ => SyncStatus::Active,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Authorization code + PKCE: a refresh token keeps access alive.
    AuthorizationCode,
    /// A long-lived token the participant pasted (implicit grant): it cannot be refreshed.
    Implicit,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::AuthorizationCode => "authorization_code",
            TokenKind::Implicit => "implicit",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub id: i64,
    pub participant_id: i64,
    pub provider: ProviderId,
    pub provider_user_id: String,
    pub token_kind: Option<TokenKind>,
    pub access_token: Option<Vec<u8>>,
    pub refresh_token: Option<Vec<u8>>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub token_version: i64,
    pub sync_status: SyncStatus,
    pub time_zone: String,
    pub time_zone_checked_at: Option<DateTime<Utc>>,
    pub rate_remaining: Option<i32>,
    pub rate_resets_at: Option<DateTime<Utc>>,
    /// When the participant last connected this account (not a token refresh).
    pub connected_at: DateTime<Utc>,
    /// A connection ended because access was revoked at the provider (not replaced by another
    /// platform's connection, not deleted by us).
    pub revoked_at_provider: bool,
}

type ConnectionRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<DateTime<Utc>>,
    i64,
    String,
    String,
    Option<DateTime<Utc>>,
    Option<i32>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    bool,
);

/// The status reason `disconnect` leaves, by which a connection ended by a revocation at the
/// provider is recognised (`Connection::revoked_at_provider`).
macro_rules! revoked_at_provider_reason {
    () => {
        "access was revoked at the provider"
    };
}

const CONNECTION_COLUMNS: &str = concat!(
    "c.id, c.participant_id, c.provider, c.provider_user_id, c.token_kind,
    c.access_token, c.refresh_token, c.access_expires_at, c.token_version, c.sync_status,
    p.time_zone, c.time_zone_checked_at, c.rate_remaining, c.rate_resets_at, c.connected_at,
    (c.sync_status = 'disconnected' AND c.superseded_by IS NULL AND c.status_reason = '",
    revoked_at_provider_reason!(),
    "')"
);

/// A stored connection; one naming a provider this build does not know is an error to decode,
/// never taken for another provider.
fn connection_from(row: ConnectionRow) -> Result<Connection, sqlx::Error> {
    let provider = row
        .2
        .parse::<ProviderId>()
        .map_err(|e| sqlx::Error::ColumnDecode { index: "provider".into(), source: Box::new(e) })?;
    Ok(Connection {
        id: row.0,
        participant_id: row.1,
        provider,
        provider_user_id: row.3,
        token_kind: match row.4.as_deref() {
            Some("authorization_code") => Some(TokenKind::AuthorizationCode),
            Some("implicit") => Some(TokenKind::Implicit),
            _ => None,
        },
        access_token: row.5,
        refresh_token: row.6,
        access_expires_at: row.7,
        token_version: row.8,
        sync_status: SyncStatus::parse(&row.9),
        time_zone: row.10,
        time_zone_checked_at: row.11,
        rate_remaining: row.12,
        rate_resets_at: row.13,
        connected_at: row.14,
        revoked_at_provider: row.15,
    })
}

pub async fn find_connection(
    pool: &PgPool,
    provider: ProviderId,
    provider_user_id: &str,
) -> Result<Option<Connection>, sqlx::Error> {
    let row: Option<ConnectionRow> = sqlx::query_as(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM provider_connections c
         JOIN participants p ON p.id = c.participant_id
         WHERE c.provider = $1 AND c.provider_user_id = $2"
    ))
    .bind(provider.as_str())
    .bind(provider_user_id)
    .fetch_optional(pool)
    .await?;
    row.map(connection_from).transpose()
}

pub async fn connection_by_id(pool: &PgPool, id: i64) -> Result<Option<Connection>, sqlx::Error> {
    let row: Option<ConnectionRow> = sqlx::query_as(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM provider_connections c
         JOIN participants p ON p.id = c.participant_id WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(connection_from).transpose()
}

/// Locks the connection row for a token refresh (single flight across replicas).
pub async fn lock_connection(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
) -> Result<Option<Connection>, sqlx::Error> {
    let row: Option<ConnectionRow> = sqlx::query_as(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM provider_connections c
         JOIN participants p ON p.id = c.participant_id WHERE c.id = $1 FOR UPDATE OF c"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(connection_from).transpose()
}

pub fn access_context(connection_id: i64) -> String {
    format!("provider_connections {connection_id} access_token")
}

pub fn refresh_context(connection_id: i64) -> String {
    format!("provider_connections {connection_id} refresh_token")
}

/// Stores a new token grant (encrypted), bumps the version and reactivates the connection.
pub async fn store_grant(
    tx: &mut Transaction<'_, Postgres>,
    cipher: &TokenCipher,
    connection_id: i64,
    kind: TokenKind,
    grant: &TokenGrant,
) -> Result<(), sqlx::Error> {
    let access = cipher.encrypt(grant.access_token.expose_secret(), &access_context(connection_id));
    let refresh = grant
        .refresh_token
        .as_ref()
        .map(|t| cipher.encrypt(t.expose_secret(), &refresh_context(connection_id)));
    sqlx::query(
        "UPDATE provider_connections SET token_kind = $2, access_token = $3, refresh_token = $4,
             access_expires_at = $5, scopes = $6, token_version = token_version + 1,
             sync_status = 'active', status_reason = NULL, status_changed_at = now()
         WHERE id = $1",
    )
    .bind(connection_id)
    .bind(kind.as_str())
    .bind(access)
    .bind(refresh)
    .bind(grant.expires_at)
    .bind(&grant.scopes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A provider account being connected.
pub struct NewConnection<'a> {
    pub provider: ProviderId,
    pub kind: TokenKind,
    /// Its `user_id` is the provider's id of the user.
    pub grant: &'a TokenGrant,
    /// Local dates to fetch now (the backfill).
    pub backfill: &'a [NaiveDate],
    /// The same person on the platform this provider replaced: `(provider, user id)`.
    pub legacy: Option<(ProviderId, &'a str)>,
}

/// What connecting did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connected {
    pub id: i64,
    pub participant_id: i64,
    /// The legacy connection this one replaced (the participant's history continues).
    pub replaced: Option<i64>,
}

/// Connects (or reconnects) a provider account: creates the participant on first connection —
/// unless the account's legacy identity names an existing participant, whose history, baseline
/// and goals then simply continue — stores the tokens, makes days missed while disconnected due
/// now, and schedules the backfill. A replaced legacy connection is kept, disconnected, pointing
/// at its successor.
pub async fn connect(
    pool: &PgPool,
    cipher: &TokenCipher,
    new: NewConnection<'_>,
) -> Result<Connected, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let existing: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, participant_id FROM provider_connections
         WHERE provider = $1 AND provider_user_id = $2 FOR UPDATE",
    )
    .bind(new.provider.as_str())
    .bind(&new.grant.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let legacy: Option<(i64, i64)> = match new.legacy {
        Some((provider, user_id)) => {
            sqlx::query_as(
                "SELECT id, participant_id FROM provider_connections
                 WHERE provider = $1 AND provider_user_id = $2 FOR UPDATE",
            )
            .bind(provider.as_str())
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let (connection_id, participant_id) = match existing {
        Some(found) => found,
        None => {
            let participant_id = match legacy {
                Some((_, participant_id)) => participant_id,
                None => {
                    let (id,): (i64,) =
                        sqlx::query_as("INSERT INTO participants DEFAULT VALUES RETURNING id")
                            .fetch_one(&mut *tx)
                            .await?;
                    id
                }
            };
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO provider_connections (participant_id, provider, provider_user_id)
                 VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(participant_id)
            .bind(new.provider.as_str())
            .bind(&new.grant.user_id)
            .fetch_one(&mut *tx)
            .await?;
            (id, participant_id)
        }
    };
    // Only a legacy connection of this same participant is replaced (never someone else's).
    let replaced = legacy.filter(|(_, p)| *p == participant_id).map(|(id, _)| id);
    if let Some(legacy_id) = replaced {
        sqlx::query(
            "UPDATE provider_connections SET access_token = NULL, refresh_token = NULL,
                 access_expires_at = NULL, token_kind = NULL, token_version = token_version + 1,
                 sync_status = 'disconnected', superseded_by = $2,
                 status_reason = 'replaced by the Google Health connection; history continues',
                 status_changed_at = now()
             WHERE id = $1",
        )
        .bind(legacy_id)
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
        // What the old connection was still waiting for is fetched through the new one.
        sqlx::query(
            "INSERT INTO pending_fetches (connection_id, day, reason, not_before, traceparent)
             SELECT $2, day, 'backfill', now(), traceparent FROM pending_fetches
             WHERE connection_id = $1
             ON CONFLICT (connection_id, day) DO NOTHING",
        )
        .bind(legacy_id)
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM pending_fetches WHERE connection_id = $1")
            .bind(legacy_id)
            .execute(&mut *tx)
            .await?;
    }
    store_grant(&mut tx, cipher, connection_id, new.kind, new.grant).await?;
    sqlx::query("UPDATE provider_connections SET connected_at = now() WHERE id = $1")
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE pending_fetches SET not_before = now() WHERE connection_id = $1")
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
    add_pending(&mut tx, connection_id, new.backfill, "backfill", Utc::now(), None).await?;
    tx.commit().await?;
    Ok(Connected { id: connection_id, participant_id, replaced })
}

pub async fn set_status(
    pool: &PgPool,
    connection_id: i64,
    status: SyncStatus,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE provider_connections SET sync_status = $2, status_reason = $3,
             status_changed_at = CASE WHEN sync_status = $2 THEN status_changed_at ELSE now() END
         WHERE id = $1",
    )
    .bind(connection_id)
    .bind(status.as_str())
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// The participant revoked access (confirmed with the provider): forget the tokens — unless they
/// connected again since `connected_at`, the connection the revocation was confirmed for.
pub async fn disconnect(
    pool: &PgPool,
    connection_id: i64,
    connected_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE provider_connections SET access_token = NULL, refresh_token = NULL,
             access_expires_at = NULL, token_kind = NULL, token_version = token_version + 1,
             sync_status = 'disconnected', status_reason = $3, status_changed_at = now()
         WHERE id = $1 AND connected_at = $2",
    )
    .bind(connection_id)
    .bind(connected_at)
    .bind(revoked_at_provider_reason!())
    .execute(pool)
    .await?;
    Ok(())
}

/// The `traceparent` each of `days` waits with: the span it was being fetched in (none without
/// `traces`: a backfill or a catch-up starts a new trace when it is fetched).
fn pending_traces(days: &[NaiveDate], traces: Option<&DayTraces>) -> Vec<Option<String>> {
    days.iter().map(|day| traces.map(|t| t.of(*day).header_value())).collect()
}

/// Adds days to fetch later. A day already waiting keeps the later time when either side is a
/// hard wait (the rate limit, awaiting reconnection) and the earlier one otherwise; `created_at`
/// records the latest request, so a fetch that started before it does not clear it. A day keeps
/// the trace it first waited with (`traces`, see `traces`).
pub async fn add_pending(
    tx: &mut Transaction<'_, Postgres>,
    connection_id: i64,
    days: &[NaiveDate],
    reason: &str,
    not_before: DateTime<Utc>,
    traces: Option<&DayTraces>,
) -> Result<(), sqlx::Error> {
    if days.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO pending_fetches (connection_id, day, reason, not_before, traceparent)
         SELECT $1, d, $3, $4, t FROM unnest($2::date[], $5::text[]) AS u(d, t)
         ON CONFLICT (connection_id, day) DO UPDATE SET
             created_at = now(),
             traceparent = COALESCE(pending_fetches.traceparent, EXCLUDED.traceparent),
             reason = CASE
                 WHEN EXCLUDED.reason IN ('rate_limited', 'awaiting_reconnect') THEN EXCLUDED.reason
                 WHEN pending_fetches.reason IN ('rate_limited', 'awaiting_reconnect') THEN pending_fetches.reason
                 ELSE EXCLUDED.reason END,
             not_before = CASE
                 WHEN EXCLUDED.reason IN ('rate_limited', 'awaiting_reconnect')
                   OR pending_fetches.reason IN ('rate_limited', 'awaiting_reconnect')
                 THEN GREATEST(pending_fetches.not_before, EXCLUDED.not_before)
                 ELSE LEAST(pending_fetches.not_before, EXCLUDED.not_before) END",
    )
    .bind(connection_id)
    .bind(days)
    .bind(reason)
    .bind(not_before)
    .bind(pending_traces(days, traces))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Debounces `days`: fetch them once no notification for them has come for `quiet`, but at most
/// `max_wait` after the first one. Hard waits (rate limit, awaiting reconnection) keep their time;
/// a day keeps the trace it first waited with.
pub async fn debounce(
    pool: &PgPool,
    connection_id: i64,
    days: &[NaiveDate],
    quiet: chrono::Duration,
    max_wait: chrono::Duration,
    traces: &DayTraces,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pending_fetches (connection_id, day, reason, not_before, traceparent)
         SELECT $1, d, 'quiet', now() + $3, t FROM unnest($2::date[], $5::text[]) AS u(d, t)
         ON CONFLICT (connection_id, day) DO UPDATE SET
             created_at = now(),
             traceparent = COALESCE(pending_fetches.traceparent, EXCLUDED.traceparent),
             not_before = CASE
                 WHEN pending_fetches.reason IN ('rate_limited', 'awaiting_reconnect')
                     THEN pending_fetches.not_before
                 WHEN pending_fetches.reason = 'quiet'
                     THEN LEAST(GREATEST(pending_fetches.not_before, EXCLUDED.not_before),
                                pending_fetches.first_requested_at + $4)
                 ELSE LEAST(pending_fetches.not_before, EXCLUDED.not_before) END,
             reason = CASE
                 WHEN pending_fetches.reason IN ('rate_limited', 'awaiting_reconnect')
                     THEN pending_fetches.reason
                 ELSE 'quiet' END",
    )
    .bind(connection_id)
    .bind(days)
    .bind(quiet)
    .bind(max_wait)
    .bind(pending_traces(days, Some(traces)))
    .execute(pool)
    .await?;
    Ok(())
}

/// Defers `days` of a connection until `not_before` (or until reconnection), each with the span
/// it was being fetched in (`traces`), so that its fetch continues that trace.
pub async fn defer(
    pool: &PgPool,
    connection_id: i64,
    days: &[NaiveDate],
    reason: &str,
    not_before: DateTime<Utc>,
    traces: Option<&DayTraces>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    add_pending(&mut tx, connection_id, days, reason, not_before, traces).await?;
    tx.commit().await
}

/// Connections that have not synced for `quiet_for` get yesterday and today (in the
/// participant's zone) fetched: a notification may have been lost, and a participant who
/// withdraws consent at Google gets no notification at all — the fetch finds out, and they are
/// asked to reconnect. Returns the days scheduled.
pub async fn schedule_catch_up(
    pool: &PgPool,
    quiet_for: chrono::Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH quiet AS (
             SELECT c.id, CASE WHEN z.name IS NULL THEN 'UTC' ELSE p.time_zone END AS zone
             FROM provider_connections c
             JOIN participants p ON p.id = c.participant_id
             LEFT JOIN pg_timezone_names z ON z.name = p.time_zone
             WHERE c.sync_status = 'active' AND c.token_kind IS NOT NULL
               AND coalesce(c.last_sync_at, c.created_at) < now() - $1)
         INSERT INTO pending_fetches (connection_id, day, reason, not_before)
         SELECT q.id, d.day, 'catch_up', now()
         FROM quiet q
         CROSS JOIN LATERAL (VALUES ((now() AT TIME ZONE q.zone)::date),
                                    ((now() AT TIME ZONE q.zone)::date - 1)) AS d(day)
         ON CONFLICT (connection_id, day) DO NOTHING",
    )
    .bind(quiet_for)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// A claimed pending fetch: connection, day, and the `traceparent` it waited with.
pub type PendingDay = (i64, NaiveDate, Option<String>);

/// Claims due pending fetches for a while (a lease: a crashed claimer's rows come due again).
pub async fn claim_due_pending(
    pool: &PgPool,
    limit: i64,
    lease: chrono::Duration,
) -> Result<Vec<PendingDay>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE pending_fetches SET not_before = now() + $2
         WHERE (connection_id, day) IN (
             SELECT connection_id, day FROM pending_fetches
             WHERE not_before <= now() ORDER BY not_before LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING connection_id, day, traceparent",
    )
    .bind(limit)
    .bind(lease)
    .fetch_all(pool)
    .await
}

pub async fn record_budget(
    pool: &PgPool,
    connection_id: i64,
    budget: &RateBudget,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE provider_connections SET rate_limit = $2, rate_remaining = $3, rate_resets_at = $4 WHERE id = $1",
    )
    .bind(connection_id)
    .bind(budget.limit as i32)
    .bind(budget.remaining as i32)
    .bind(budget.resets_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_time_zone(
    pool: &PgPool,
    connection: &Connection,
    zone: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE participants SET time_zone = $2 WHERE id = $1")
        .bind(connection.participant_id)
        .bind(zone)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE provider_connections SET time_zone_checked_at = now() WHERE id = $1")
        .bind(connection.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Upserts the days a fetch that started at `fetch_started` returned; returns those whose stored
/// values changed (new or different), which are the ones to publish.
///
/// A write wins only if its fetch started after the fetch that wrote the stored row: several
/// loops and replicas can fetch one participant-day at once, and a slow, older answer must never
/// overwrite a newer one. A newer fetch that found the same values still records its start, so
/// an older answer arriving after it loses too. A losing write stores and returns nothing.
pub async fn upsert_days(
    tx: &mut Transaction<'_, Postgres>,
    participant_id: i64,
    source: ProviderId,
    days: &[DayActivity],
    fetch_started: DateTime<Utc>,
    fetched_at: DateTime<Utc>,
) -> Result<Vec<DayActivity>, sqlx::Error> {
    let mut changed = Vec::new();
    for day in days {
        // `fetched_at` moves only when the values change, so the row's `fetched_at` coming back
        // equal to this write's tells a change (or a new row) from a newer fetch of equal values.
        let row: Option<(bool,)> = sqlx::query_as(
            "INSERT INTO activity_days (participant_id, day, steps, distance_km, sedentary_minutes,
                 lightly_active_minutes, fairly_active_minutes, very_active_minutes, worn_minutes,
                 source, fetched_at, manual_steps, fetch_started_at, no_data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (participant_id, day) DO UPDATE SET
                 steps = EXCLUDED.steps, distance_km = EXCLUDED.distance_km,
                 sedentary_minutes = EXCLUDED.sedentary_minutes,
                 lightly_active_minutes = EXCLUDED.lightly_active_minutes,
                 fairly_active_minutes = EXCLUDED.fairly_active_minutes,
                 very_active_minutes = EXCLUDED.very_active_minutes,
                 worn_minutes = EXCLUDED.worn_minutes, source = EXCLUDED.source,
                 manual_steps = EXCLUDED.manual_steps, no_data = EXCLUDED.no_data,
                 fetch_started_at = EXCLUDED.fetch_started_at,
                 fetched_at = CASE WHEN
                     (activity_days.steps, activity_days.distance_km,
                      activity_days.sedentary_minutes, activity_days.lightly_active_minutes,
                      activity_days.fairly_active_minutes, activity_days.very_active_minutes,
                      activity_days.worn_minutes, activity_days.source, activity_days.manual_steps,
                      activity_days.no_data)
                     IS DISTINCT FROM
                     (EXCLUDED.steps, EXCLUDED.distance_km, EXCLUDED.sedentary_minutes,
                      EXCLUDED.lightly_active_minutes, EXCLUDED.fairly_active_minutes,
                      EXCLUDED.very_active_minutes, EXCLUDED.worn_minutes, EXCLUDED.source,
                      EXCLUDED.manual_steps, EXCLUDED.no_data)
                     THEN EXCLUDED.fetched_at ELSE activity_days.fetched_at END
             WHERE activity_days.fetch_started_at IS NULL
                OR activity_days.fetch_started_at < EXCLUDED.fetch_started_at
             RETURNING fetched_at = $11",
        )
        .bind(participant_id)
        .bind(day.date)
        .bind(day.steps)
        .bind(day.distance_km)
        .bind(day.sedentary_minutes)
        .bind(day.lightly_active_minutes)
        .bind(day.fairly_active_minutes)
        .bind(day.very_active_minutes)
        .bind(day.worn_minutes)
        .bind(source.as_str())
        .bind(fetched_at)
        .bind(day.manual_steps)
        .bind(fetch_started)
        .bind(day.no_data)
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            Some((true,)) => changed.push(day.clone()),
            Some((false,)) => {}
            None => {
                metrics::counter!("fitex_fetcher_stale_writes_refused_total").increment(1);
                tracing::info!(
                    participant = participant_id,
                    day = %day.date,
                    "a newer fetch of this day is already stored; this older answer is dropped"
                );
            }
        }
    }
    Ok(changed)
}

/// After a successful fetch that started at `fetch_started`: the connection synced, the budget
/// left, the days no longer pending (unless requested again after the fetch started). Returns
/// false, changing nothing, when the connection is gone (its participant was deleted meanwhile);
/// otherwise the connection row stays locked until the transaction ends, so a purge waits for it.
pub async fn mark_synced(
    tx: &mut Transaction<'_, Postgres>,
    connection_id: i64,
    days: &[NaiveDate],
    budget: Option<&RateBudget>,
    fetch_started: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE provider_connections SET last_sync_at = now(), last_error = NULL,
             rate_limit = COALESCE($2, rate_limit), rate_remaining = COALESCE($3, rate_remaining),
             rate_resets_at = COALESCE($4, rate_resets_at)
         WHERE id = $1",
    )
    .bind(connection_id)
    .bind(budget.map(|b| b.limit as i32))
    .bind(budget.map(|b| b.remaining as i32))
    .bind(budget.map(|b| b.resets_at))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    sqlx::query(
        "DELETE FROM pending_fetches WHERE connection_id = $1 AND day = ANY($2) AND created_at <= $3",
    )
    .bind(connection_id)
    .bind(days)
    .bind(fetch_started)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

pub fn decrypt(
    cipher: &TokenCipher,
    ciphertext: &Option<Vec<u8>>,
    context: &str,
) -> Option<Result<SecretString, fitex_common::token_cipher::CipherError>> {
    ciphertext.as_ref().map(|c| cipher.decrypt(c, context))
}

/// Flags active pasted (non-refreshable) tokens that expire within `warning_days`, with a plain
/// message naming the provider as participants know it; an expired one turns into "reconnect
/// required" at its next use.
pub async fn flag_expiring_tokens(pool: &PgPool, warning_days: i64) -> Result<u64, sqlx::Error> {
    let names = ProviderId::ALL.map(ProviderId::as_str);
    let display_names = ProviderId::ALL.map(ProviderId::display_name);
    let result = sqlx::query(
        "UPDATE provider_connections
         SET status_reason = 'Your '
             || COALESCE((SELECT display FROM unnest($2::text[], $3::text[]) AS p(name, display)
                          WHERE p.name = provider), provider)
             || ' access expires on ' || to_char(access_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
             || '. Reconnect before then to keep your steps syncing.'
         WHERE token_kind = 'implicit' AND sync_status = 'active'
           AND access_expires_at < now() + make_interval(days => $1::int)
           AND status_reason IS NULL",
    )
    .bind(warning_days as i32)
    .bind(&names[..])
    .bind(&display_names[..])
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}
