//! The `provider_connections` table — every statement on it lives here — and the connection
//! model read from it: tokens (encrypted at rest, see [`access_context`]), sync status, the rate
//! budget the provider left and the participant's time zone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use fitex_common::token_cipher::TokenCipher;
use fitex_common::zone::ParticipantZone;
use fitex_provider::{ProviderId, RateBudget, TokenGrant};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{PgPool, Postgres, Transaction};

use crate::pending;
pub use crate::status::{SyncStatus, TokenKind};

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
    pub time_zone: ParticipantZone,
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
    ParticipantZone,
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
        token_kind: TokenKind::parse(row.4.as_deref()),
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

/// The connections of `provider_user_ids` at `provider`, in one query (a batch of notifications
/// looks all its users up at once), by provider user id; a user with none is absent.
pub async fn find_connections(
    pool: &PgPool,
    provider: ProviderId,
    provider_user_ids: &[&str],
) -> Result<HashMap<String, Connection>, sqlx::Error> {
    let rows: Vec<ConnectionRow> = sqlx::query_as(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM provider_connections c
         JOIN participants p ON p.id = c.participant_id
         WHERE c.provider = $1 AND c.provider_user_id = ANY($2)"
    ))
    .bind(provider.as_str())
    .bind(provider_user_ids)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| connection_from(row).map(|c| (c.provider_user_id.clone(), c)))
        .collect()
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
        pending::move_waiting(&mut tx, legacy_id, connection_id).await?;
    }
    store_grant(&mut tx, cipher, connection_id, new.kind, new.grant).await?;
    sqlx::query("UPDATE provider_connections SET connected_at = now() WHERE id = $1")
        .bind(connection_id)
        .execute(&mut *tx)
        .await?;
    pending::make_due_now(&mut tx, connection_id).await?;
    pending::add(&mut tx, connection_id, new.backfill, "backfill", Utc::now(), None).await?;
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

/// Records a check of the participant's time zone: the zone the provider reported, when it is
/// one ([`crate::connect::reported_zone`]); the check's time either way, so a zone we cannot use
/// is asked for again only with the next day's check.
pub async fn record_time_zone_check(
    pool: &PgPool,
    connection: &Connection,
    zone: Option<&ParticipantZone>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(zone) = zone {
        sqlx::query("UPDATE participants SET time_zone = $2 WHERE id = $1")
            .bind(connection.participant_id)
            .bind(zone)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE provider_connections SET time_zone_checked_at = now() WHERE id = $1")
        .bind(connection.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// A successful fetch to record with [`mark_synced`]: the connection, the dates fetched, the budget
/// the provider left (if it said) and when the fetch started.
#[derive(Debug, Clone, Copy)]
pub struct SyncedFetch<'a> {
    pub connection_id: i64,
    pub days: &'a [NaiveDate],
    pub budget: Option<&'a RateBudget>,
    pub fetch_started: DateTime<Utc>,
}

/// After successful fetches: each connection synced, the budget left, the fetched days no longer
/// pending (unless requested again after that fetch started) — one statement each, however many
/// fetches. Returns the connections still there; a gone one (its participant was deleted
/// meanwhile) changes nothing, and its caller stores nothing. The connection rows stay locked
/// until the transaction ends, so a purge waits for it; they are locked in id order, so two
/// transactions marking overlapping connections (two replicas' groups) cannot deadlock.
pub async fn mark_synced(
    tx: &mut Transaction<'_, Postgres>,
    fetches: &[SyncedFetch<'_>],
) -> Result<BTreeSet<i64>, sqlx::Error> {
    if fetches.is_empty() {
        return Ok(BTreeSet::new());
    }
    let ids: Vec<i64> = fetches.iter().map(|f| f.connection_id).collect();
    let present: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM provider_connections WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    let present: BTreeSet<i64> = present.into_iter().collect();
    let fetches: Vec<SyncedFetch<'_>> =
        fetches.iter().filter(|f| present.contains(&f.connection_id)).copied().collect();
    if fetches.is_empty() {
        return Ok(present);
    }
    let budgets = newest_budget_per_connection(&fetches);
    let ids: Vec<i64> = budgets.iter().map(|(id, _)| *id).collect();
    let limits: Vec<Option<i32>> = budgets.iter().map(|(_, b)| b.map(|b| b.limit as i32)).collect();
    let remaining: Vec<Option<i32>> =
        budgets.iter().map(|(_, b)| b.map(|b| b.remaining as i32)).collect();
    let resets: Vec<Option<DateTime<Utc>>> =
        budgets.iter().map(|(_, b)| b.map(|b| b.resets_at)).collect();
    sqlx::query(
        "UPDATE provider_connections c SET last_sync_at = now(), last_error = NULL,
             rate_limit = COALESCE(u.rate_limit, c.rate_limit),
             rate_remaining = COALESCE(u.rate_remaining, c.rate_remaining),
             rate_resets_at = COALESCE(u.rate_resets_at, c.rate_resets_at)
         FROM unnest($1::int8[], $2::int4[], $3::int4[], $4::timestamptz[])
             AS u(id, rate_limit, rate_remaining, rate_resets_at)
         WHERE c.id = u.id",
    )
    .bind(&ids)
    .bind(&limits)
    .bind(&remaining)
    .bind(&resets)
    .execute(&mut **tx)
    .await?;
    let fetched: Vec<pending::FetchedDays<'_>> = fetches
        .iter()
        .map(|f| pending::FetchedDays {
            connection_id: f.connection_id,
            days: f.days,
            fetch_started: f.fetch_started,
        })
        .collect();
    pending::clear_fetched(tx, &fetched).await?;
    Ok(present)
}

/// One budget per connection (in id order), as one UPDATE may change a row only once: that of the
/// connection's newest fetch that reported one (an older report is out of date), or none, which
/// keeps the stored budget.
fn newest_budget_per_connection<'a>(
    fetches: &[SyncedFetch<'a>],
) -> Vec<(i64, Option<&'a RateBudget>)> {
    let mut newest: BTreeMap<i64, Option<(DateTime<Utc>, &'a RateBudget)>> = BTreeMap::new();
    for fetch in fetches {
        let kept = newest.entry(fetch.connection_id).or_default();
        if let Some(budget) = fetch.budget {
            if kept.is_none_or(|(started, _)| started <= fetch.fetch_started) {
                *kept = Some((fetch.fetch_started, budget));
            }
        }
    }
    newest.into_iter().map(|(id, kept)| (id, kept.map(|(_, budget)| budget))).collect()
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

/// How many connections are in `status` (the fetcher's gauge of participants who must reconnect).
pub async fn count_with_status(pool: &PgPool, status: SyncStatus) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM provider_connections WHERE sync_status = $1")
        .bind(status.as_str())
        .fetch_one(pool)
        .await
}

/// Connections per stored status, by status (as stored, so an unknown one shows as it is).
pub async fn count_by_status(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT sync_status, count(*) FROM provider_connections GROUP BY 1 ORDER BY 1")
        .fetch_all(pool)
        .await
}

/// What a participant (or an operator) sees of one connection: never its tokens.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionView {
    pub id: i64,
    /// As stored ([`ProviderId::as_str`]); see [`ConnectionView::provider_id`].
    pub provider: String,
    pub provider_user_id: String,
    pub token_kind: Option<String>,
    pub sync_status: String,
    pub status_reason: Option<String>,
    pub status_changed_at: DateTime<Utc>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The connection that replaced this one (a Fitbit connection continued through Google
    /// Health): not a problem to show, the participant's history carried over.
    pub superseded_by: Option<i64>,
}

impl ConnectionView {
    /// The provider, when this version knows it.
    pub fn provider_id(&self) -> Option<ProviderId> {
        self.provider.parse().ok()
    }

    /// The provider's name for the participant (as stored, when this version does not know it).
    pub fn provider_name(&self) -> &str {
        ProviderId::display_name_of(&self.provider)
    }

    /// Replaced by another connection, and not since reconnected on its own (an active
    /// connection is always shown as what it is).
    pub fn superseded(&self) -> bool {
        self.superseded_by.is_some() && self.sync_status != "active"
    }
}

/// A participant's connections, oldest first.
pub async fn connection_views(
    pool: &PgPool,
    participant_id: i64,
) -> Result<Vec<ConnectionView>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, provider, provider_user_id, token_kind, sync_status, status_reason,
                status_changed_at, last_sync_at, access_expires_at, superseded_by
         FROM provider_connections WHERE participant_id = $1 ORDER BY id",
    )
    .bind(participant_id)
    .fetch_all(pool)
    .await
}

/// The participant's user id at `provider`, if they have a connection there.
pub async fn provider_user_id_of(
    pool: &PgPool,
    participant_id: i64,
    provider: ProviderId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT provider_user_id FROM provider_connections
         WHERE participant_id = $1 AND provider = $2",
    )
    .bind(participant_id)
    .bind(provider.as_str())
    .fetch_optional(pool)
    .await
}

/// The participant a provider user id belongs to (at whichever provider).
pub async fn participant_of_provider_user(
    pool: &PgPool,
    provider_user_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT participant_id FROM provider_connections WHERE provider_user_id = $1",
    )
    .bind(provider_user_id)
    .fetch_optional(pool)
    .await
}

/// Active connections with their participant's time zone, by connection id: every one, or only
/// those of `provider_user_id`.
pub async fn active_connections(
    pool: &PgPool,
    provider_user_id: Option<&str>,
) -> Result<Vec<(i64, ParticipantZone)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, p.time_zone FROM provider_connections c JOIN participants p ON p.id = c.participant_id
         WHERE c.sync_status = 'active' AND ($1::text IS NULL OR c.provider_user_id = $1) ORDER BY c.id",
    )
    .bind(provider_user_id)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn each_connection_is_marked_once_with_the_budget_of_its_newest_fetch_that_reported_one() {
        let at = |second| Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, second).unwrap();
        let budget = |remaining| RateBudget { limit: 150, remaining, resets_at: at(59) };
        let (older, newer) = (budget(140), budget(120));
        let fetch = |connection_id, budget, fetch_started| SyncedFetch {
            connection_id,
            days: &[],
            budget,
            fetch_started,
        };
        let fetches = [
            fetch(7, Some(&newer), at(2)),
            fetch(3, None, at(1)),
            fetch(7, Some(&older), at(1)),
            // The newest fetch of 7 said nothing of the budget: the newest report stands.
            fetch(7, None, at(3)),
        ];
        assert_eq!(newest_budget_per_connection(&fetches), vec![(3, None), (7, Some(&newer))]);
        assert!(newest_budget_per_connection(&[]).is_empty());
    }
}
