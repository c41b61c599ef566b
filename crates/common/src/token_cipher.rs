//! Tokens at rest: ChaCha20-Poly1305 (AEAD) with a key ring, so keys rotate without re-encrypting
//! everything at once — the first key encrypts, every listed key decrypts.
//!
//! Ciphertext layout: `0x01 ‖ key-id length ‖ key id ‖ 12-byte nonce ‖ ciphertext+tag`. The
//! associated data names what the ciphertext belongs to (for example "connection 7 refresh
//! token"), so a ciphertext copied to another row or column does not decrypt.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

const FORMAT_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("no token encryption key is configured")]
    NoKeys,
    #[error("token encryption key {0:?} is not \"<id>:<base64 of 32 bytes>\"")]
    BadKey(String),
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext was made with key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("ciphertext does not authenticate (wrong key, row or tampering)")]
    Authentication,
}

/// The configured keys; the first encrypts.
pub struct TokenCipher {
    keys: Vec<(String, ChaCha20Poly1305)>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("TokenCipher").field("key_ids", &ids).finish()
    }
}

impl TokenCipher {
    /// From `"<id>:<base64 32-byte key>"` entries, newest first.
    pub fn from_config(entries: &[SecretString]) -> Result<Self, CipherError> {
        if entries.is_empty() {
            return Err(CipherError::NoKeys);
        }
        let keys = entries
            .iter()
            .map(|entry| {
                let text = entry.expose_secret();
                let (id, key) =
                    text.split_once(':').ok_or_else(|| CipherError::BadKey(redact(text)))?;
                let bytes =
                    BASE64.decode(key.trim()).map_err(|_| CipherError::BadKey(redact(text)))?;
                if id.is_empty() || id.len() > 64 || bytes.len() != 32 {
                    return Err(CipherError::BadKey(redact(text)));
                }
                Ok((id.to_string(), ChaCha20Poly1305::new(Key::from_slice(&bytes))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys })
    }

    /// The id of the key new ciphertexts use.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].0
    }

    pub fn encrypt(&self, plaintext: &str, context: &str) -> Vec<u8> {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() },
            )
            .expect("ChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut out = Vec::with_capacity(2 + id.len() + 12 + sealed.len());
        out.push(FORMAT_VERSION);
        out.push(id.len() as u8);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, ciphertext: &[u8], context: &str) -> Result<SecretString, CipherError> {
        let (&version, rest) = ciphertext.split_first().ok_or(CipherError::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(CipherError::Malformed)?;
        if version != FORMAT_VERSION || rest.len() < id_len as usize + 12 + 16 {
            return Err(CipherError::Malformed);
        }
        let (id, rest) = rest.split_at(id_len as usize);
        let id = std::str::from_utf8(id).map_err(|_| CipherError::Malformed)?;
        let (nonce, sealed) = rest.split_at(12);
        let cipher = self
            .keys
            .iter()
            .find(|(key_id, _)| key_id == id)
            .map(|(_, c)| c)
            .ok_or_else(|| CipherError::UnknownKey(id.to_string()))?;
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| CipherError::Authentication)?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| CipherError::Malformed)
    }

    /// The key id a ciphertext was made with (to find rows still on an old key).
    pub fn key_id_of(ciphertext: &[u8]) -> Option<&str> {
        let id_len = *ciphertext.get(1)? as usize;
        std::str::from_utf8(ciphertext.get(2..2 + id_len)?).ok()
    }
}

/// Only the key id of a bad entry is shown in errors, never key material.
fn redact(entry: &str) -> String {
    format!("{}:…", entry.split(':').next().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> SecretString {
        SecretString::from(format!("{id}:{}", BASE64.encode([byte; 32])))
    }

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let cipher = TokenCipher::from_config(&[key("k1", 7)]).unwrap();
        let sealed = cipher.encrypt("refresh-token-abc", "connection 1 refresh");
        assert!(!sealed.windows(17).any(|w| w == b"refresh-token-abc"));
        assert_eq!(
            cipher.decrypt(&sealed, "connection 1 refresh").unwrap().expose_secret(),
            "refresh-token-abc"
        );
        assert_ne!(
            sealed,
            cipher.encrypt("refresh-token-abc", "connection 1 refresh"),
            "fresh nonce each time"
        );
        assert_eq!(TokenCipher::key_id_of(&sealed), Some("k1"));
    }

    #[test]
    fn a_ciphertext_is_bound_to_its_context_and_untampered() {
        let cipher = TokenCipher::from_config(&[key("k1", 7)]).unwrap();
        let sealed = cipher.encrypt("t", "connection 1 access");
        assert_eq!(
            cipher.decrypt(&sealed, "connection 2 access").unwrap_err(),
            CipherError::Authentication
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            cipher.decrypt(&tampered, "connection 1 access").unwrap_err(),
            CipherError::Authentication
        );
        assert_eq!(
            cipher.decrypt(&sealed[..10], "connection 1 access").unwrap_err(),
            CipherError::Malformed
        );
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let old = TokenCipher::from_config(&[key("k1", 7)]).unwrap();
        let sealed_old = old.encrypt("old", "c");
        let rotated = TokenCipher::from_config(&[key("k2", 9), key("k1", 7)]).unwrap();
        assert_eq!(rotated.current_key_id(), "k2");
        assert_eq!(rotated.decrypt(&sealed_old, "c").unwrap().expose_secret(), "old");
        let sealed_new = rotated.encrypt("new", "c");
        assert_eq!(TokenCipher::key_id_of(&sealed_new), Some("k2"));
        assert_eq!(
            old.decrypt(&sealed_new, "c").unwrap_err(),
            CipherError::UnknownKey("k2".into())
        );
    }

    #[test]
    fn bad_key_configuration_is_a_clear_error_without_key_material() {
        assert_eq!(TokenCipher::from_config(&[]).unwrap_err(), CipherError::NoKeys);
        let short = SecretString::from("k1:c2hvcnQ=".to_string());
        let err = TokenCipher::from_config(&[short]).unwrap_err();
        assert_eq!(err, CipherError::BadKey("k1:…".into()));
        assert!(!err.to_string().contains("c2hvcnQ"));
        assert!(TokenCipher::from_config(&[SecretString::from("nocolon".to_string())]).is_err());
    }
}
