//! The encrypted token columns of `provider_connections` as key rotation sees them (`fitexctl
//! tokens keys|reencrypt`): which key each stored token is under, and rewriting a connection's
//! tokens under another key without losing a refresh that happens meanwhile.

use sqlx::{PgPool, Postgres, Transaction};

use crate::store::{access_context, refresh_context};

/// The two encrypted columns of `provider_connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenColumn {
    Access,
    Refresh,
}

impl TokenColumn {
    pub fn name(self) -> &'static str {
        match self {
            TokenColumn::Access => "access_token",
            TokenColumn::Refresh => "refresh_token",
        }
    }

    /// What the column's ciphertext of connection `connection_id` is bound to.
    pub fn context(self, connection_id: i64) -> String {
        match self {
            TokenColumn::Access => access_context(connection_id),
            TokenColumn::Refresh => refresh_context(connection_id),
        }
    }
}

/// Stored tokens per column and key: (column name, the key id the ciphertext names — `None` when
/// it names none readably — and how many).
pub async fn tokens_per_key(
    pool: &PgPool,
) -> Result<Vec<(String, Option<Vec<u8>>, i64)>, sqlx::Error> {
    // The key id is stored in clear: byte 0 is the format (1), byte 1 the id's length.
    sqlx::query_as(
        "SELECT col, CASE WHEN length(t) >= 2 AND get_byte(t, 0) = 1
                          THEN substring(t FROM 3 FOR get_byte(t, 1)) END AS key_id, count(*)
         FROM (SELECT 'access_token' AS col, access_token AS t FROM provider_connections
               UNION ALL
               SELECT 'refresh_token', refresh_token FROM provider_connections) tokens
         WHERE t IS NOT NULL GROUP BY 1, 2",
    )
    .fetch_all(pool)
    .await
}

/// A connection's id, `token_version`, and access and refresh token ciphertexts.
pub type StoredTokens = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// Up to `limit` connections holding a token, with ids above `after`, by id.
pub async fn connections_with_tokens(
    pool: &PgPool,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredTokens>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, token_version, access_token, refresh_token FROM provider_connections
         WHERE id > $1 AND (access_token IS NOT NULL OR refresh_token IS NOT NULL)
         ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A connection's `token_version`, access and refresh token ciphertexts.
pub type LockedTokens = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// Locks the connection's row (as a token refresh does) and reads its tokens; `None` when it is
/// gone.
pub async fn lock_tokens(
    tx: &mut Transaction<'_, Postgres>,
    connection_id: i64,
) -> Result<Option<LockedTokens>, sqlx::Error> {
    sqlx::query_as(
        "SELECT token_version, access_token, refresh_token FROM provider_connections
         WHERE id = $1 FOR UPDATE",
    )
    .bind(connection_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Replaces the connection's ciphertexts with `new_access` / `new_refresh` (each left as it is
/// when `None`), only if the row still holds what was read under the lock (`seen`: the same
/// version and the same ciphertexts). `token_version` is not bumped: the tokens themselves are
/// unchanged. Returns whether the row was rewritten.
pub async fn replace_ciphertexts(
    tx: &mut Transaction<'_, Postgres>,
    connection_id: i64,
    seen: &LockedTokens,
    new_access: Option<&Vec<u8>>,
    new_refresh: Option<&Vec<u8>>,
) -> Result<bool, sqlx::Error> {
    let (version, access, refresh) = seen;
    let updated = sqlx::query(
        "UPDATE provider_connections
         SET access_token = COALESCE($3, access_token), refresh_token = COALESCE($4, refresh_token)
         WHERE id = $1 AND token_version = $2
           AND access_token IS NOT DISTINCT FROM $5 AND refresh_token IS NOT DISTINCT FROM $6",
    )
    .bind(connection_id)
    .bind(version)
    .bind(new_access)
    .bind(new_refresh)
    .bind(access)
    .bind(refresh)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_column_is_bound_to_its_own_context() {
        assert_eq!(TokenColumn::Access.name(), "access_token");
        assert_eq!(TokenColumn::Refresh.name(), "refresh_token");
        assert_eq!(TokenColumn::Access.context(7), access_context(7));
        assert_eq!(TokenColumn::Refresh.context(7), refresh_context(7));
        assert_ne!(TokenColumn::Access.context(7), TokenColumn::Refresh.context(7));
        assert_ne!(TokenColumn::Access.context(7), TokenColumn::Access.context(8));
        assert!(TokenColumn::Access < TokenColumn::Refresh, "access listed first");
    }
}
