//! The endpoint verification handshake: on subscriber create (and on a change of URI or secret)
//! Google POSTs `{"type":"verification"}` twice: with `Authorization: <secret>` (expects 201) and
//! without (expects 401 or 403).

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// Whether `body` is the endpoint verification request (`{"type":"verification"}`).
pub fn is_verification_request(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|p| p.kind.as_deref() == Some("verification"))
}

/// Whether the `Authorization` header value is exactly one of the configured secrets (newest
/// first; an old one stays listed while the subscriber is patched to a new one). Each comparison
/// is constant time in the content, and every secret is compared; only lengths can leak.
pub fn authorization_matches(authorization: &[u8], secrets: &[SecretString]) -> bool {
    secrets
        .iter()
        .fold(subtle::Choice::from(0), |matched, secret| {
            matched | authorization.ct_eq(secret.expose_secret().as_bytes())
        })
        .into()
}

/// For a verification request, the HTTP status to answer: 201 with the right `Authorization`,
/// 401 without one or with a wrong one (nothing proves the caller knows the secret). `None` when
/// `body` is not a verification request.
pub fn verification_status(
    body: &[u8],
    authorization: Option<&[u8]>,
    secrets: &[SecretString],
) -> Option<u16> {
    if !is_verification_request(body) {
        return None;
    }
    Some(match authorization {
        None => 401,
        Some(a) if authorization_matches(a, secrets) => 201,
        Some(_) => 401,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verification_request_is_recognised() {
        assert!(is_verification_request(br#"{"type": "verification"}"#));
        assert!(is_verification_request(br#"{"type":"verification","extra":1}"#));
        assert!(!is_verification_request(br#"{"type":"other"}"#));
        assert!(!is_verification_request(br#"{"data":{}}"#));
        assert!(!is_verification_request(br#"[{"type":"verification"}]"#));
        assert!(!is_verification_request(b"verification"));
    }

    #[test]
    fn the_secret_is_compared_exactly() {
        let secret = [SecretString::from("Bearer s3cret")];
        assert!(authorization_matches(b"Bearer s3cret", &secret));
        assert!(!authorization_matches(b"Bearer s3cre", &secret));
        assert!(!authorization_matches(b"Bearer s3cret ", &secret));
        assert!(!authorization_matches(b"bearer s3cret", &secret));
        assert!(!authorization_matches(b"", &secret));
        assert!(!authorization_matches(b"Bearer s3cret", &[]));
    }

    #[test]
    fn every_listed_secret_is_accepted_while_rotating() {
        let secrets = [SecretString::from("Bearer new"), SecretString::from("Bearer old")];
        assert!(authorization_matches(b"Bearer new", &secrets));
        assert!(authorization_matches(b"Bearer old", &secrets));
        assert!(!authorization_matches(b"Bearer older", &secrets));
    }

    #[test]
    fn both_verification_calls_get_the_expected_status() {
        let secret = [SecretString::from("Bearer s3cret")];
        let body = br#"{"type": "verification"}"#;
        assert_eq!(verification_status(body, Some(b"Bearer s3cret"), &secret), Some(201));
        assert_eq!(verification_status(body, None, &secret), Some(401));
        assert_eq!(verification_status(body, Some(b"Bearer nope"), &secret), Some(401));
        assert_eq!(verification_status(b"{}", Some(b"Bearer s3cret"), &secret), None);
    }
}
