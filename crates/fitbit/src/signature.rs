//! `X-Fitbit-Signature`: base64(HMAC-SHA1(key = client secret + "&", message = raw body)).
//!
//! The check runs over the exact bytes received: re-serialising the JSON changes them and breaks it.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use fitex_provider::Unproven;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// Outcome of checking a notification's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Matches the secret at this index of the configured list (0 = newest).
    Valid { secret_index: usize },
    /// No `X-Fitbit-Signature` header.
    Missing,
    /// Not base64, or not a 20-byte HMAC-SHA1.
    Malformed,
    /// Well-formed, but no configured secret produced it.
    Mismatch,
}

impl SignatureCheck {
    pub fn is_valid(self) -> bool {
        matches!(self, SignatureCheck::Valid { .. })
    }

    /// A short label for logs and metrics.
    pub fn reason(self) -> &'static str {
        self.unproven().map_or("valid", Unproven::label)
    }

    /// Why the body is not proven to come from Fitbit; `None` when it is.
    pub fn unproven(self) -> Option<Unproven> {
        match self {
            SignatureCheck::Valid { .. } => None,
            SignatureCheck::Missing => Some(Unproven::SignatureMissing),
            SignatureCheck::Malformed => Some(Unproven::SignatureMalformed),
            SignatureCheck::Mismatch => Some(Unproven::SignatureMismatch),
        }
    }
}

fn mac_for(client_secret: &str) -> HmacSha1 {
    // Fitbit's key is the client secret followed by "&" (an OAuth 1 leftover); forgetting it is a
    // classic bug.
    let mut key = Vec::with_capacity(client_secret.len() + 1);
    key.extend_from_slice(client_secret.as_bytes());
    key.push(b'&');
    HmacSha1::new_from_slice(&key).expect("HMAC accepts keys of any length")
}

/// The signature Fitbit sends for `body` under `client_secret` (used by the simulator and tests).
pub fn sign(client_secret: &str, body: &[u8]) -> String {
    let mut mac = mac_for(client_secret);
    mac.update(body);
    BASE64.encode(mac.finalize().into_bytes())
}

/// Checks `header` against every configured secret, in constant time per secret, so a secret can be
/// rotated without downtime (list the new one first, keep the old until Fitbit uses the new).
pub fn verify_signature(
    secrets: &[SecretString],
    body: &[u8],
    header: Option<&[u8]>,
) -> SignatureCheck {
    let Some(header) = header else {
        return SignatureCheck::Missing;
    };
    let header = trim_ascii(header);
    let Ok(expected) = BASE64.decode(header) else {
        return SignatureCheck::Malformed;
    };
    if expected.len() != 20 {
        return SignatureCheck::Malformed;
    }
    // Every secret is tried even after a match would be found, so timing does not reveal which.
    let mut matched = None;
    for (index, secret) in secrets.iter().enumerate() {
        let mut mac = mac_for(secret.expose_secret());
        mac.update(body);
        if mac.verify_slice(&expected).is_ok() && matched.is_none() {
            matched = Some(index);
        }
    }
    match matched {
        Some(secret_index) => SignatureCheck::Valid { secret_index },
        None => SignatureCheck::Mismatch,
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors from shared/reference/fitbit-api.md (computed independently with Python's hmac).
    const SECRET: &str = "123ab4567c890d123e4567f8abcdef9a";
    const BODY_1: &str = r#"[{"collectionType":"activities","date":"2010-03-01","ownerId":"184X36","ownerType":"user","subscriptionId":"2345"}]"#;
    const SIG_1: &str = "e6OUUBQCnrnhuvS7PvLRUOmF0TU=";
    const BODY_2: &str = r#"[{"collectionType":"activities","date":"2026-11-20","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-activities"},{"collectionType":"sleep","date":"2026-11-20","ownerId":"B4TZHW","ownerType":"user","subscriptionId":"B4TZHW-sleep"},{"collectionType":"userRevokedAccess","date":"2026-11-21","ownerId":"22AAAA","ownerType":"user","subscriptionId":"22AAAA-all"}]"#;
    const SIG_2: &str = "ICvwjbW1XJVBkumtLtIJp3vODM4=";
    const SIG_1_KEY_WITHOUT_AMPERSAND: &str = "CNWtkhNxmfS0ccytNVRxqQ9rb3Q=";
    const SIG_1_PRETTY: &str = "ZsTEeESn7aC67HZCbJs1AxCokMc=";

    fn secrets(list: &[&str]) -> Vec<SecretString> {
        list.iter().map(|s| SecretString::from(s.to_string())).collect()
    }

    #[test]
    fn signs_the_reference_vectors() {
        assert_eq!(BODY_1.len(), 115);
        assert_eq!(BODY_2.len(), 372);
        assert_eq!(sign(SECRET, BODY_1.as_bytes()), SIG_1);
        assert_eq!(sign(SECRET, BODY_2.as_bytes()), SIG_2);
    }

    #[test]
    fn accepts_the_reference_vectors() {
        let s = secrets(&[SECRET]);
        assert_eq!(
            verify_signature(&s, BODY_1.as_bytes(), Some(SIG_1.as_bytes())),
            SignatureCheck::Valid { secret_index: 0 }
        );
        assert!(verify_signature(&s, BODY_2.as_bytes(), Some(SIG_2.as_bytes())).is_valid());
    }

    #[test]
    fn rejects_a_signature_made_without_the_ampersand() {
        let s = secrets(&[SECRET]);
        assert_eq!(
            verify_signature(&s, BODY_1.as_bytes(), Some(SIG_1_KEY_WITHOUT_AMPERSAND.as_bytes())),
            SignatureCheck::Mismatch
        );
    }

    #[test]
    fn rejects_a_reserialised_body() {
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(BODY_1).unwrap(),
        )
        .unwrap();
        assert_eq!(pretty.len(), 152);
        // The pretty body has its own signature, and the original's does not fit it.
        assert_eq!(sign(SECRET, pretty.as_bytes()), SIG_1_PRETTY);
        let s = secrets(&[SECRET]);
        assert_eq!(
            verify_signature(&s, pretty.as_bytes(), Some(SIG_1.as_bytes())),
            SignatureCheck::Mismatch
        );
    }

    #[test]
    fn a_flipped_body_byte_fails() {
        let mut body = BODY_1.as_bytes().to_vec();
        body[30] ^= 1;
        let s = secrets(&[SECRET]);
        assert_eq!(verify_signature(&s, &body, Some(SIG_1.as_bytes())), SignatureCheck::Mismatch);
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        let s = secrets(&[SECRET]);
        assert_eq!(verify_signature(&s, BODY_1.as_bytes(), None), SignatureCheck::Missing);
        assert_eq!(
            verify_signature(&s, BODY_1.as_bytes(), Some(b"not base64!")),
            SignatureCheck::Malformed
        );
        assert_eq!(
            verify_signature(&s, BODY_1.as_bytes(), Some(b"c2hvcnQ=")),
            SignatureCheck::Malformed
        );
        assert_eq!(verify_signature(&s, BODY_1.as_bytes(), Some(b"")), SignatureCheck::Malformed);
    }

    #[test]
    fn any_configured_secret_is_accepted_for_rotation() {
        let rotated = secrets(&["new-secret-0000000000000000000000", SECRET]);
        assert_eq!(
            verify_signature(&rotated, BODY_1.as_bytes(), Some(SIG_1.as_bytes())),
            SignatureCheck::Valid { secret_index: 1 }
        );
        let new_sig = sign("new-secret-0000000000000000000000", BODY_1.as_bytes());
        assert_eq!(
            verify_signature(&rotated, BODY_1.as_bytes(), Some(new_sig.as_bytes())),
            SignatureCheck::Valid { secret_index: 0 }
        );
        assert_eq!(
            verify_signature(&[], BODY_1.as_bytes(), Some(SIG_1.as_bytes())),
            SignatureCheck::Mismatch
        );
    }

    #[test]
    fn surrounding_whitespace_in_the_header_is_tolerated() {
        let s = secrets(&[SECRET]);
        let header = format!(" {SIG_1}\t");
        assert!(verify_signature(&s, BODY_1.as_bytes(), Some(header.as_bytes())).is_valid());
    }
}
