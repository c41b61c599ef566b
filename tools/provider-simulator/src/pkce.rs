//! PKCE (RFC 7636) with the S256 method, the only one Fitbit accepts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// RFC 7636 bounds, which Fitbit enforces on both the challenge and the verifier.
pub const MIN_LEN: usize = 43;
pub const MAX_LEN: usize = 128;

/// base64url(SHA-256(verifier)) without padding.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// 43–128 characters from the unreserved set `[A-Za-z0-9-._~]`.
pub fn is_well_formed(value: &str) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Whether `verifier` is the one the S256 `challenge` was derived from.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    is_well_formed(verifier) && s256_challenge(verifier) == challenge
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636, appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn computes_the_rfc_7636_example() {
        assert_eq!(s256_challenge(RFC_VERIFIER), RFC_CHALLENGE);
        assert!(verifier_matches(RFC_VERIFIER, RFC_CHALLENGE));
    }

    #[test]
    fn a_different_verifier_does_not_match() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(!verifier_matches(other, RFC_CHALLENGE));
    }

    #[test]
    fn enforces_length_and_alphabet() {
        assert!(!is_well_formed(&"a".repeat(42)));
        assert!(is_well_formed(&"a".repeat(43)));
        assert!(is_well_formed(&"a".repeat(128)));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}+/", "a".repeat(43))));
        // A verifier that is too short never matches, even if its hash would.
        assert!(!verifier_matches("short", &s256_challenge("short")));
    }
}
