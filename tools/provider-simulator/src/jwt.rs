//! Access tokens as Fitbit issues them: HS256 JWTs with `aud`, `sub`, `iss` "Fitbit",
//! `typ` "access_token", `scopes` (short codes), `exp` and `iat`. A `jti` is added so that two
//! tokens issued to one user in the same second still differ (revocation is tracked per token).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "Fitbit";
pub const ACCESS_TOKEN_TYPE: &str = "access_token";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub aud: String,
    pub sub: String,
    pub iss: String,
    pub typ: String,
    pub scopes: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

impl AccessClaims {
    pub fn new(
        client_id: &str,
        user_id: &str,
        scope_codes: String,
        issued_at: i64,
        lifetime_secs: i64,
    ) -> Self {
        AccessClaims {
            aud: client_id.to_string(),
            sub: user_id.to_string(),
            iss: ISSUER.to_string(),
            typ: ACCESS_TOKEN_TYPE.to_string(),
            scopes: scope_codes,
            exp: issued_at + lifetime_secs,
            iat: issued_at,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid access token: {0}")]
pub struct InvalidToken(#[from] jsonwebtoken::errors::Error);

pub fn encode(key: &[u8], claims: &AccessClaims) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key))
        .expect("HS256 signing with a byte key cannot fail")
}

/// Checks the signature, audience, issuer and type — not `exp`: the caller tells an expired token
/// (`expired_token`) from a bad one (`invalid_token`).
pub fn decode(key: &[u8], client_id: &str, token: &str) -> Result<AccessClaims, InvalidToken> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "aud", "sub", "iss"]);
    let claims =
        jsonwebtoken::decode::<AccessClaims>(token, &DecodingKey::from_secret(key), &validation)?
            .claims;
    if claims.typ != ACCESS_TOKEN_TYPE {
        return Err(InvalidToken(jsonwebtoken::errors::ErrorKind::InvalidToken.into()));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const KEY: &[u8] = b"test-key";

    #[test]
    fn the_payload_carries_fitbit_claims() {
        let claims = AccessClaims::new("SIMCLIENT", "SIM0001", "wact whr".into(), 1_000, 28_800);
        let token = encode(KEY, &claims);
        let payload = token.split('.').nth(1).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(json["aud"], "SIMCLIENT");
        assert_eq!(json["sub"], "SIM0001");
        assert_eq!(json["iss"], "Fitbit");
        assert_eq!(json["typ"], "access_token");
        assert_eq!(json["scopes"], "wact whr");
        assert_eq!(json["iat"], 1_000);
        assert_eq!(json["exp"], 29_800);
        assert_eq!(decode(KEY, "SIMCLIENT", &token).unwrap(), claims);
    }

    #[test]
    fn rejects_another_key_audience_or_a_tampered_token() {
        let claims = AccessClaims::new("SIMCLIENT", "SIM0001", "wact".into(), 1_000, 60);
        let token = encode(KEY, &claims);
        assert!(decode(b"other-key", "SIMCLIENT", &token).is_err());
        assert!(decode(KEY, "OTHERCLIENT", &token).is_err());
        let forged = encode(KEY, &AccessClaims { typ: "refresh_token".into(), ..claims });
        assert!(decode(KEY, "SIMCLIENT", &forged).is_err());
        assert!(decode(KEY, "SIMCLIENT", "garbage").is_err());
    }

    #[test]
    fn two_tokens_issued_in_the_same_second_differ() {
        let a = AccessClaims::new("C", "U", "wact".into(), 1_000, 60);
        let b = AccessClaims::new("C", "U", "wact".into(), 1_000, 60);
        assert_ne!(encode(KEY, &a), encode(KEY, &b));
    }
}
