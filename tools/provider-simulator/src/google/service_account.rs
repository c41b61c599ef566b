//! The project's service account: one RSA-2048 key (generated on first use, since generating it
//! takes a moment), its Google key file, and the check of the `jwt-bearer` assertion a client
//! such as `gcp_auth` signs with it to get a project access token.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use rand::Rng;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::Deserialize;
use serde_json::{json, Value};

use std::sync::Arc;

use crate::google::endpoints::{AUTHORIZE_PATH, TOKEN_PATH};
use crate::google::error::OAuthError;

/// JWT segments are unpadded base64url, but Google's token endpoint also takes them padded — and
/// `gcp_auth` pads, which `jsonwebtoken::decode` would refuse. So the segments are decoded here
/// and only the signature check is left to `jsonwebtoken`.
const JWT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The real token endpoint, which Google also accepts as the assertion's audience.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's limit on `exp - iat`.
const MAX_ASSERTION_LIFETIME_SECS: i64 = 3_600;
/// How far in the future `iat` may be (the client's clock may run ahead).
const CLOCK_SKEW_SECS: i64 = 300;
const RSA_BITS: usize = 2_048;

#[derive(Debug, thiserror::Error)]
#[error("could not generate the service-account key: {0}")]
pub(crate) struct KeyGenerationError(String);

pub(crate) struct ServiceAccount {
    pub client_email: String,
    pub client_id: String,
    pub private_key_id: String,
    private_key_pem: String,
    public_key: DecodingKey,
}

#[derive(Deserialize)]
struct AssertionHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    aud: String,
    #[serde(default)]
    scope: Option<String>,
    iat: i64,
    exp: i64,
    /// Domain-wide delegation (impersonating a user), which the simulator does not offer.
    #[serde(default)]
    sub: Option<String>,
}

fn random_digits(count: usize) -> String {
    let mut rng = rand::rng();
    (0..count).map(|i| char::from(b'0' + rng.random_range(u8::from(i == 0)..10))).collect()
}

fn invalid_jwt(description: &str) -> OAuthError {
    OAuthError::InvalidGrant(description.to_string())
}

impl ServiceAccount {
    /// A new account of `project` with a fresh RSA-2048 key (slow in debug builds: call it off
    /// the async workers).
    pub fn generate(project: &str) -> Result<Self, KeyGenerationError> {
        let key = RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS)
            .map_err(|e| KeyGenerationError(e.to_string()))?;
        let private_key_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyGenerationError(e.to_string()))?
            .to_string();
        let public_key =
            DecodingKey::from_rsa_raw_components(&key.n().to_bytes_be(), &key.e().to_bytes_be());
        let mut rng = rand::rng();
        Ok(ServiceAccount {
            client_email: format!("fitex-sync@{project}.iam.gserviceaccount.com"),
            client_id: random_digits(21),
            private_key_id: (0..20).map(|_| format!("{:02x}", rng.random::<u8>())).collect(),
            private_key_pem,
            public_key,
        })
    }

    /// [`ServiceAccount::generate`] on a blocking thread, off the async workers: an RSA key takes
    /// a moment, longer in debug builds.
    pub async fn generate_off_the_workers(
        project: String,
    ) -> Result<Arc<Self>, KeyGenerationError> {
        tokio::task::spawn_blocking(move || ServiceAccount::generate(&project))
            .await
            .map_err(|e| KeyGenerationError(e.to_string()))?
            .map(Arc::new)
    }

    /// The key file Google hands out for a service account, with the simulator's endpoints.
    pub fn key_file(&self, project: &str, base_url: &str) -> Value {
        json!({
            "type": "service_account",
            "project_id": project,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": format!("{base_url}{AUTHORIZE_PATH}"),
            "token_uri": format!("{base_url}{TOKEN_PATH}"),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{}",
                self.client_email.replace('@', "%40")
            ),
            "universe_domain": "googleapis.com",
        })
    }

    /// Checks a `jwt-bearer` assertion as Google's token endpoint does: RS256 by this account's
    /// key, `iss` this account, `aud` one of `audiences`, at most an hour long and current at
    /// `now` (Unix seconds). Returns the requested `scope` text.
    pub fn verify_assertion(
        &self,
        assertion: &str,
        audiences: &[String],
        now: i64,
    ) -> Result<String, OAuthError> {
        let bad_signature = || invalid_jwt("Invalid JWT Signature.");
        let mut parts = assertion.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_signature());
        };
        let header: AssertionHeader = JWT_BASE64
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(bad_signature)?;
        if header.alg != "RS256" || header.kid.is_some_and(|kid| kid != self.private_key_id) {
            return Err(bad_signature());
        }
        let signed = &assertion[..header_and_claims_len(assertion)];
        let verified = jsonwebtoken::crypto::verify(
            signature.trim_end_matches('='),
            signed.as_bytes(),
            &self.public_key,
            Algorithm::RS256,
        )
        .unwrap_or(false);
        if !verified {
            return Err(bad_signature());
        }
        let claims: AssertionClaims = JWT_BASE64
            .decode(claims)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| invalid_jwt("Invalid JWT: the claims are not readable."))?;
        if claims.iss != self.client_email {
            return Err(invalid_jwt("Invalid email or User ID"));
        }
        if !audiences.contains(&claims.aud) {
            return Err(invalid_jwt(&format!(
                "Invalid JWT: Failed audience check. The expected audience is {}.",
                audiences.first().map_or(GOOGLE_TOKEN_URL, String::as_str)
            )));
        }
        let lifetime = claims.exp - claims.iat;
        if lifetime <= 0
            || lifetime > MAX_ASSERTION_LIFETIME_SECS
            || claims.iat > now + CLOCK_SKEW_SECS
            || claims.exp <= now
        {
            return Err(invalid_jwt(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
                 timeframe. Check your iat and exp values in the JWT claim.",
            ));
        }
        if claims.sub.is_some_and(|sub| !sub.is_empty()) {
            return Err(OAuthError::UnauthorizedClient(
                "Client is unauthorized to retrieve access tokens using this method, or client \
                 not authorized for any of the scopes requested."
                    .to_string(),
            ));
        }
        match claims.scope.filter(|s| !s.trim().is_empty()) {
            Some(scope) => Ok(scope),
            None => Err(OAuthError::InvalidScope("Empty or missing scope not allowed.".into())),
        }
    }
}

/// The length of `header.claims`, the part of a JWT its signature covers.
fn header_and_claims_len(jwt: &str) -> usize {
    jwt.rfind('.').unwrap_or(jwt.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    const AUD: &str = "http://127.0.0.1:1/google/token";

    fn sign(account: &ServiceAccount, claims: &Value) -> String {
        let key = RsaPrivateKey::from_pkcs8_pem(&account.private_key_pem).unwrap();
        let der = key.to_pkcs1_der().unwrap();
        jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            claims,
            &EncodingKey::from_rsa_der(der.as_bytes()),
        )
        .unwrap()
    }

    fn claims(account: &ServiceAccount, now: i64) -> Value {
        json!({"iss": account.client_email, "aud": AUD, "iat": now, "exp": now + 3_595,
            "scope": "https://www.googleapis.com/auth/cloud-platform"})
    }

    #[test]
    fn assertions_are_checked_like_googles_token_endpoint() {
        let account = ServiceAccount::generate("fitex-sim").unwrap();
        let audiences = vec![AUD.to_string()];
        let now = 1_800_000_000;
        let good = sign(&account, &claims(&account, now));
        assert_eq!(
            account.verify_assertion(&good, &audiences, now).unwrap(),
            "https://www.googleapis.com/auth/cloud-platform"
        );
        // Padded segments (as gcp_auth writes them) are fine too.
        let mut padded: Vec<String> = good.split('.').map(str::to_string).collect();
        while !padded[1].len().is_multiple_of(4) {
            padded[1].push('=');
        }
        let padded_signed = sign_raw(&account, &format!("{}.{}", padded[0], padded[1]));
        assert!(account.verify_assertion(&padded_signed, &audiences, now).is_ok());

        let other = ServiceAccount::generate("fitex-sim").unwrap();
        let foreign = sign(&other, &claims(&account, now));
        let expect = |token: &str, description: &str| match account
            .verify_assertion(token, &audiences, now)
        {
            Err(OAuthError::InvalidGrant(d)) => assert!(d.contains(description), "{d}"),
            other => panic!("expected invalid_grant, got {other:?}"),
        };
        expect(&foreign, "Invalid JWT Signature");
        expect("not.a.jwt", "Invalid JWT Signature");
        let mut wrong = claims(&account, now);
        wrong["aud"] = "https://elsewhere/token".into();
        expect(&sign(&account, &wrong), "audience");
        let mut long = claims(&account, now);
        long["exp"] = (now + 7_200).into();
        expect(&sign(&account, &long), "short-lived");
        expect(&sign(&account, &claims(&account, now - 4_000)), "short-lived");
        let mut stranger = claims(&account, now);
        stranger["iss"] = "someone@else.iam.gserviceaccount.com".into();
        expect(&sign(&account, &stranger), "Invalid email");
        let mut no_scope = claims(&account, now);
        no_scope.as_object_mut().unwrap().remove("scope");
        assert!(matches!(
            account.verify_assertion(&sign(&account, &no_scope), &audiences, now),
            Err(OAuthError::InvalidScope(_))
        ));
    }

    /// Signs `header.claims` exactly as given (for padded segments).
    fn sign_raw(account: &ServiceAccount, message: &str) -> String {
        let key = RsaPrivateKey::from_pkcs8_pem(&account.private_key_pem).unwrap();
        let der = key.to_pkcs1_der().unwrap();
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_rsa_der(der.as_bytes()),
            Algorithm::RS256,
        )
        .unwrap();
        format!("{message}.{signature}==")
    }

    #[test]
    fn the_key_file_names_the_simulators_endpoints() {
        let account = ServiceAccount::generate("fitex-sim").unwrap();
        let file = account.key_file("fitex-sim", "http://127.0.0.1:8090");
        assert_eq!(file["type"], "service_account");
        assert_eq!(file["client_email"], "fitex-sync@fitex-sim.iam.gserviceaccount.com");
        assert_eq!(file["token_uri"], "http://127.0.0.1:8090/google/token");
        assert!(file["private_key"].as_str().unwrap().starts_with("-----BEGIN PRIVATE KEY-----\n"));
    }
}
