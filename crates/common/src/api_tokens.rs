//! Bearer tokens for staff and internal services: random, stored only as a SHA-256, with a scope.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// What a token may do. Each scope includes the ones before it: `admin` may do everything
/// `participant` may, which may do everything `read` may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Team and program aggregates: team progress, leaderboards (internal consumers).
    Read,
    /// Also one participant's own data: their goals, daily steps, valid days and time zone
    /// (a service that shows participants their goals).
    Participant,
    /// Everything, including the program-wide participant-level export (program staff).
    Admin,
}

impl Scope {
    /// Every scope, from the least to the most allowed.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Participant, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Participant => "participant",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    /// Whether a token with this scope may do what `needed` allows.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
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

/// A token as operators see it: never the token, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IssuedToken {
    pub name: String,
    /// As stored ([`Scope::as_str`]).
    pub scope: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every token issued, revoked ones too, in the order they were issued.
pub async fn list(pool: &PgPool) -> Result<Vec<IssuedToken>, sqlx::Error> {
    sqlx::query_as("SELECT name, scope, created_at, revoked_at FROM api_tokens ORDER BY id")
        .fetch_all(pool)
        .await
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
        assert_eq!(Scope::parse("participant"), Some(Scope::Participant));
        assert_eq!(Scope::parse("root"), None);
        assert_eq!(Scope::parse("Admin"), None);
        assert!(Scope::Admin > Scope::Read);
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
    }

    #[test]
    fn admin_implies_participant_which_read_does_not() {
        assert!(Scope::Admin.allows(Scope::Participant));
        assert!(Scope::Admin.allows(Scope::Read));
        assert!(Scope::Participant.allows(Scope::Participant));
        assert!(Scope::Participant.allows(Scope::Read));
        assert!(!Scope::Participant.allows(Scope::Admin));
        assert!(!Scope::Read.allows(Scope::Participant));
        assert!(!Scope::Read.allows(Scope::Admin));
    }
}
