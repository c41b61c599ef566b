//! Bearer tokens for staff and internal services: random, stored only as a SHA-256, with a scope.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read-only API access (internal consumers).
    Read,
    /// Everything, including participant-level exports (program staff).
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// A new random token (256 bits, URL-safe) with the prefix `fxs_` so it is recognisable in a
/// secret scanner.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("fxs_{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Issues a token named `name`; returns the token (to show once).
pub async fn issue(pool: &PgPool, name: &str, scope: Scope) -> Result<String, sqlx::Error> {
    let token = generate();
    sqlx::query("INSERT INTO api_tokens (name, scope, token_hash) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(scope.as_str())
        .bind(hash(&token))
        .execute(pool)
        .await?;
    Ok(token)
}

/// Revokes the token named `name`; returns whether one was active.
pub async fn revoke(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
    )
    .bind(name)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// The scope of an active token, if it is one.
pub async fn scope_of(pool: &PgPool, token: &str) -> Result<Option<Scope>, sqlx::Error> {
    // The lookup is by hash, so comparing the secret itself never happens.
    let scope: Option<String> = sqlx::query_scalar(
        "SELECT scope FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash(token))
    .fetch_optional(pool)
    .await?;
    Ok(scope.as_deref().and_then(Scope::parse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.starts_with("fxs_") && a.len() > 40);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 32);
    }

    #[test]
    fn scopes_parse_and_order() {
        assert_eq!(Scope::parse("read"), Some(Scope::Read));
        assert_eq!(Scope::parse("admin"), Some(Scope::Admin));
        assert_eq!(Scope::parse("root"), None);
        assert!(Scope::Admin > Scope::Read);
    }
}
