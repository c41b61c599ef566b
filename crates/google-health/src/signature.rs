//! The notification signature: header value = base64(0x01 ‖ 4-byte big-endian key id ‖ ECDSA
//! P-256/SHA-256 signature), over the raw body (Tink's "TINK" output prefix). The signature is
//! laid out as the named key's parameters say: DER (Google's keys) or IEEE P1363 (r ‖ s).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fitex_provider::Unproven;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey};

use crate::keyset::{Keyset, SignatureEncoding};

/// Tink's TINK output prefix marker.
const TINK_PREFIX: u8 = 0x01;
const PREFIX_LEN: usize = 5;

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no signature header")]
    Missing,
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    /// Not in the keyset: the keys may have rotated, refetch the keyset and try again.
    #[error("the signature names key {0}, which is not in the keyset")]
    UnknownKeyId(u32),
    /// Does not match the body (or is not laid out as the named key's signatures are).
    #[error("the signature does not match the body")]
    BadSignature,
}

impl SignatureError {
    /// A short metric label.
    pub fn reason(&self) -> &'static str {
        self.unproven().label()
    }

    /// Why the body is not proven to come from Google.
    pub fn unproven(&self) -> Unproven {
        match self {
            SignatureError::Missing => Unproven::SignatureMissing,
            SignatureError::Malformed(_) => Unproven::SignatureMalformed,
            SignatureError::UnknownKeyId(_) => Unproven::UnknownKeyId,
            SignatureError::BadSignature => Unproven::SignatureInvalid,
        }
    }
}

/// The key id a header value names, after checking its shape.
pub fn key_id(header: &str) -> Result<u32, SignatureError> {
    decode(header).map(|(id, _)| id)
}

/// The key id and the signature bytes, which must be an ECDSA P-256 signature in one of the two
/// encodings a key may have (which one counts is the key's business).
fn decode(header: &str) -> Result<(u32, Vec<u8>), SignatureError> {
    let raw =
        STANDARD.decode(header.trim()).map_err(|_| SignatureError::Malformed("not base64"))?;
    if raw.len() <= PREFIX_LEN {
        return Err(SignatureError::Malformed("too short"));
    }
    if raw[0] != TINK_PREFIX {
        return Err(SignatureError::Malformed("not a TINK output prefix"));
    }
    let key_id = u32::from_be_bytes(raw[1..PREFIX_LEN].try_into().expect("4 bytes"));
    let signature = raw[PREFIX_LEN..].to_vec();
    if Signature::from_der(&signature).is_err() && Signature::from_slice(&signature).is_err() {
        return Err(SignatureError::Malformed("not an ECDSA signature (DER or IEEE P1363)"));
    }
    Ok((key_id, signature))
}

/// Checks `header` (the signature header's value, `None` when absent) over the raw `body`.
pub fn verify(keyset: &Keyset, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.filter(|h| !h.trim().is_empty()).ok_or(SignatureError::Missing)?;
    let (key_id, signature) = decode(header)?;
    let key = keyset.get(&key_id).ok_or(SignatureError::UnknownKeyId(key_id))?;
    let signature = match key.encoding {
        SignatureEncoding::Der => Signature::from_der(&signature),
        SignatureEncoding::IeeeP1363 => Signature::from_slice(&signature),
    }
    .map_err(|_| SignatureError::BadSignature)?;
    key.key.verify(body, &signature).map_err(|_| SignatureError::BadSignature)
}

fn with_prefix(key_id: u32, signature: &[u8]) -> String {
    let mut raw = Vec::with_capacity(PREFIX_LEN + signature.len());
    raw.push(TINK_PREFIX);
    raw.extend_from_slice(&key_id.to_be_bytes());
    raw.extend_from_slice(signature);
    STANDARD.encode(raw)
}

/// Signs `body` as Google does, DER-encoded (for tests and the simulator).
pub fn sign(signing_key: &SigningKey, key_id: u32, body: &[u8]) -> String {
    let signature: DerSignature = signing_key.sign(body);
    with_prefix(key_id, signature.as_bytes())
}

/// Signs `body` for a key published with the IEEE P1363 encoding (r ‖ s).
pub fn sign_ieee_p1363(signing_key: &SigningKey, key_id: u32, body: &[u8]) -> String {
    let signature: Signature = signing_key.sign(body);
    with_prefix(key_id, &signature.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyset::{keyset_json, parse_keyset};

    const BODY: &str = r#"{"data":{"version":"1","clientProvidedSubscriptionName":"my-sub","healthUserId":"user-1","operation":"UPSERT","dataType":"steps","intervals":[]}}"#;

    fn signing_key() -> SigningKey {
        SigningKey::random(&mut rand_core::OsRng)
    }

    fn keyset_of(keys: &[(u32, &SigningKey)]) -> Keyset {
        let keys: Vec<_> = keys.iter().map(|(id, k)| (*id, *k.verifying_key())).collect();
        parse_keyset(&keyset_json(&keys)).unwrap()
    }

    #[test]
    fn a_generated_vector_verifies() {
        let key = signing_key();
        let header = sign(&key, 42, BODY.as_bytes());
        assert_eq!(key_id(&header), Ok(42));
        assert_eq!(verify(&keyset_of(&[(42, &key)]), BODY.as_bytes(), Some(&header)), Ok(()));
    }

    #[test]
    fn a_signature_by_another_key_is_bad() {
        let (key, other) = (signing_key(), signing_key());
        let header = sign(&other, 42, BODY.as_bytes());
        assert_eq!(
            verify(&keyset_of(&[(42, &key)]), BODY.as_bytes(), Some(&header)),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn an_unknown_key_id_is_told_apart() {
        let key = signing_key();
        let header = sign(&key, 43, BODY.as_bytes());
        assert_eq!(
            verify(&keyset_of(&[(42, &key)]), BODY.as_bytes(), Some(&header)),
            Err(SignatureError::UnknownKeyId(43))
        );
    }

    #[test]
    fn a_flipped_body_byte_is_bad() {
        let key = signing_key();
        let header = sign(&key, 1, BODY.as_bytes());
        let keyset = keyset_of(&[(1, &key)]);
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut body = BODY.as_bytes().to_vec();
            body[i] ^= 0x01;
            assert_eq!(verify(&keyset, &body, Some(&header)), Err(SignatureError::BadSignature));
        }
    }

    #[test]
    fn a_reserialized_json_body_is_bad() {
        let key = signing_key();
        let header = sign(&key, 1, BODY.as_bytes());
        let value: serde_json::Value = serde_json::from_str(BODY).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let compact = serde_json::to_string(&value).unwrap(); // keys reordered
        assert_ne!(compact, BODY);
        for body in [pretty, compact] {
            assert_eq!(
                verify(&keyset_of(&[(1, &key)]), body.as_bytes(), Some(&header)),
                Err(SignatureError::BadSignature)
            );
        }
    }

    #[test]
    fn missing_and_malformed_headers_are_told_apart() {
        let key = signing_key();
        let keyset = keyset_of(&[(1, &key)]);
        let body = BODY.as_bytes();
        assert_eq!(verify(&keyset, body, None), Err(SignatureError::Missing));
        assert_eq!(verify(&keyset, body, Some("  ")), Err(SignatureError::Missing));
        assert_eq!(
            verify(&keyset, body, Some("not base64!")),
            Err(SignatureError::Malformed("not base64"))
        );
        let short = STANDARD.encode([1, 0, 0, 0, 1]);
        assert_eq!(
            verify(&keyset, body, Some(&short)),
            Err(SignatureError::Malformed("too short"))
        );
        let mut raw = STANDARD.decode(sign(&key, 1, body)).unwrap();
        raw[0] = 0x00; // LEGACY prefix
        assert_eq!(
            verify(&keyset, body, Some(&STANDARD.encode(&raw))),
            Err(SignatureError::Malformed("not a TINK output prefix"))
        );
        raw[0] = 0x01;
        raw.truncate(raw.len() - 3);
        assert_eq!(
            verify(&keyset, body, Some(&STANDARD.encode(&raw))),
            Err(SignatureError::Malformed("not an ECDSA signature (DER or IEEE P1363)"))
        );
    }

    #[test]
    fn each_key_is_checked_in_its_own_encoding() {
        use crate::keyset::PublicKey;
        let (der, p1363) = (signing_key(), signing_key());
        let keys: Keyset = [
            (1, PublicKey::der(*der.verifying_key())),
            (2, PublicKey { key: *p1363.verifying_key(), encoding: SignatureEncoding::IeeeP1363 }),
        ]
        .into_iter()
        .collect();
        let body = BODY.as_bytes();
        assert_eq!(verify(&keys, body, Some(&sign(&der, 1, body))), Ok(()));
        assert_eq!(verify(&keys, body, Some(&sign_ieee_p1363(&p1363, 2, body))), Ok(()));
        // The right key, the wrong layout: refused, not mistaken for the other encoding.
        assert_eq!(
            verify(&keys, body, Some(&sign_ieee_p1363(&der, 1, body))),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verify(&keys, body, Some(&sign(&p1363, 2, body))),
            Err(SignatureError::BadSignature)
        );
        let mut flipped = body.to_vec();
        flipped[3] ^= 1;
        assert_eq!(
            verify(&keys, &flipped, Some(&sign_ieee_p1363(&p1363, 2, body))),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn rotation_keeps_both_keys_until_the_old_one_is_removed() {
        let (old, new) = (signing_key(), signing_key());
        let body = BODY.as_bytes();
        let (old_sig, new_sig) = (sign(&old, 1, body), sign(&new, 2, body));
        let both = keyset_of(&[(2, &new), (1, &old)]);
        assert_eq!(verify(&both, body, Some(&old_sig)), Ok(()));
        assert_eq!(verify(&both, body, Some(&new_sig)), Ok(()));
        let only_new = keyset_of(&[(2, &new)]);
        assert_eq!(verify(&only_new, body, Some(&new_sig)), Ok(()));
        assert_eq!(verify(&only_new, body, Some(&old_sig)), Err(SignatureError::UnknownKeyId(1)));
    }
}
