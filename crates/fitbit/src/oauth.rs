//! Fitbit OAuth 2.0 answers and access-token claims (pure functions).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use fitex_provider::{ProviderError, TokenGrant};
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: i64,
    #[serde(default)]
    scope: String,
    user_id: String,
}

/// Parses a successful token-endpoint answer (code exchange or refresh).
pub fn parse_token_response(body: &[u8], now: DateTime<Utc>) -> Result<TokenGrant, ProviderError> {
    let parsed: TokenResponse = serde_json::from_slice(body)
        .map_err(|e| ProviderError::Permanent(format!("unreadable token response: {e}")))?;
    // A lifetime that ends past the last instant a date can hold is no more usable than none
    // (and `now + lifetime` would panic).
    let expires_at = chrono::Duration::try_seconds(parsed.expires_in)
        .and_then(|lifetime| now.checked_add_signed(lifetime));
    let expires_at = match expires_at {
        Some(at) if !parsed.access_token.is_empty() && parsed.expires_in > 0 => at,
        _ => {
            return Err(ProviderError::Permanent(
                "token response without a usable access token".into(),
            ))
        }
    };
    Ok(TokenGrant {
        access_token: SecretString::from(parsed.access_token),
        refresh_token: parsed.refresh_token.filter(|t| !t.is_empty()).map(SecretString::from),
        expires_at,
        scopes: parsed.scope,
        user_id: parsed.user_id,
    })
}

/// What an access token (a JWT) says about itself. The signature cannot be checked (Fitbit's key),
/// so this is only used to warn before expiry and to explain a missing scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    /// Fitbit's short scope codes ("wact" = activity, "whr" = heart rate, ...).
    pub scopes: Vec<String>,
}

impl AccessTokenClaims {
    pub fn has_activity_scope(&self) -> bool {
        self.scopes.iter().any(|s| s == "wact")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimsError {
    #[error("not a JWT (expected three dot-separated parts)")]
    NotAJwt,
    #[error("the token's payload is not base64url JSON: {0}")]
    BadPayload(String),
    #[error("the token has no expiry (exp)")]
    NoExpiry,
}

#[derive(Deserialize)]
struct RawClaims {
    #[serde(default)]
    sub: String,
    exp: Option<i64>,
    #[serde(default)]
    scopes: String,
}

/// Reads `sub`, `exp` and `scopes` from an access token without verifying its signature.
pub fn read_access_token_claims(token: &str) -> Result<AccessTokenClaims, ClaimsError> {
    let mut parts = token.trim().split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ClaimsError::NotAJwt);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| ClaimsError::BadPayload(e.to_string()))?;
    let raw: RawClaims =
        serde_json::from_slice(&bytes).map_err(|e| ClaimsError::BadPayload(e.to_string()))?;
    let exp = raw.exp.ok_or(ClaimsError::NoExpiry)?;
    let expires_at = Utc.timestamp_opt(exp, 0).single().ok_or(ClaimsError::NoExpiry)?;
    Ok(AccessTokenClaims {
        user_id: raw.sub,
        expires_at,
        scopes: raw.scopes.split_whitespace().map(str::to_string).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn reads_fitbit_style_claims() {
        let token = jwt(
            r#"{"aud":"23ABC","sub":"184X36","iss":"Fitbit","typ":"access_token","scopes":"wact whr wpro","exp":1798761600,"iat":1767225600}"#,
        );
        let claims = read_access_token_claims(&token).unwrap();
        assert_eq!(claims.user_id, "184X36");
        assert_eq!(claims.expires_at.timestamp(), 1798761600);
        assert!(claims.has_activity_scope());
        let no_activity = jwt(r#"{"sub":"X","scopes":"wpro","exp":1798761600}"#);
        assert!(!read_access_token_claims(&no_activity).unwrap().has_activity_scope());
    }

    #[test]
    fn refuses_what_is_not_a_readable_jwt() {
        assert_eq!(read_access_token_claims("abc"), Err(ClaimsError::NotAJwt));
        assert_eq!(read_access_token_claims("a.b.c.d"), Err(ClaimsError::NotAJwt));
        assert!(matches!(read_access_token_claims("a.!!!.c"), Err(ClaimsError::BadPayload(_))));
        assert_eq!(read_access_token_claims(&jwt(r#"{"sub":"X"}"#)), Err(ClaimsError::NoExpiry));
    }

    #[test]
    fn parses_a_token_response() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let body = br#"{"access_token":"eyJ.a.b","expires_in":28800,"refresh_token":"r1","scope":"activity heartrate","token_type":"Bearer","user_id":"184X36"}"#;
        let grant = parse_token_response(body, now).unwrap();
        assert_eq!(grant.access_token.expose_secret(), "eyJ.a.b");
        assert_eq!(grant.refresh_token.unwrap().expose_secret(), "r1");
        assert_eq!(grant.expires_at, now + chrono::Duration::hours(8));
        assert_eq!(grant.user_id, "184X36");
        assert!(parse_token_response(b"{}", now).is_err());
        assert!(parse_token_response(br#"{"access_token":"","expires_in":1,"user_id":"x"}"#, now)
            .is_err());
    }

    #[test]
    fn a_lifetime_past_the_last_representable_date_is_refused_not_a_panic() {
        // Found by the fitbit_token_response fuzz target (docs/fuzzing.md): this answer panicked
        // with "TimeDelta::seconds out of bounds".
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let found = br#"{"access_token":"eyJ.a.b","expires_in":24442244442928800,"refype":"Bearer","user_id":"184X35]"}"#;
        assert!(matches!(parse_token_response(found, now), Err(ProviderError::Permanent(_))));
        // In range for a duration, but past year 262143: `now + lifetime` overflowed.
        for expires_in in [9_000_000_000_000_i64, i64::MAX] {
            let body = format!(r#"{{"access_token":"a","expires_in":{expires_in},"user_id":"x"}}"#);
            assert!(parse_token_response(body.as_bytes(), now).is_err(), "{expires_in}");
        }
        // The longest lifetime that still fits is accepted as it is.
        let last = (DateTime::<Utc>::MAX_UTC - now).num_seconds();
        let body = format!(r#"{{"access_token":"a","expires_in":{last},"user_id":"x"}}"#);
        let grant = parse_token_response(body.as_bytes(), now).unwrap();
        assert_eq!((grant.expires_at - now).num_seconds(), last);
    }
}
