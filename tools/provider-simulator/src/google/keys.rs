//! The notification signing keys: ECDSA P-256 keys with Tink key ids. The primary signs; every
//! current key is published in the keyset (primary first) so that a receiver that cached the
//! keyset before a rotation can still check notifications signed just before it.

use std::collections::BTreeSet;

use p256::ecdsa::SigningKey;
use rand::Rng;

use crate::google::model::GoogleKeys;

pub(crate) struct SigningKeys {
    /// Primary first.
    keys: Vec<(u32, SigningKey)>,
}

impl Default for SigningKeys {
    fn default() -> Self {
        let mut keys = SigningKeys { keys: Vec::new() };
        keys.rotate();
        keys
    }
}

impl SigningKeys {
    /// A fresh key id, unused here (Tink ids are random u32s).
    pub fn unused_key_id(&self) -> u32 {
        let taken: BTreeSet<u32> = self.keys.iter().map(|(id, _)| *id).collect();
        let mut rng = rand::rng();
        loop {
            let id = rng.random::<u32>();
            if id != 0 && !taken.contains(&id) {
                return id;
            }
        }
    }

    /// Adds a new key, which signs from now on; the old ones stay published.
    pub fn rotate(&mut self) -> u32 {
        let id = self.unused_key_id();
        self.keys.insert(0, (id, SigningKey::random(&mut rand_core::OsRng)));
        id
    }

    /// Unpublishes every key but the primary.
    pub fn retire(&mut self) {
        self.keys.truncate(1);
    }

    pub fn primary(&self) -> (u32, SigningKey) {
        self.keys.first().cloned().expect("there is always a primary key")
    }

    pub fn summary(&self) -> GoogleKeys {
        GoogleKeys {
            primary_key_id: self.primary().0,
            key_ids: self.keys.iter().map(|(id, _)| *id).collect(),
        }
    }

    /// The Tink JSON public keyset, as Google publishes it.
    pub fn keyset_json(&self) -> String {
        let public: Vec<_> =
            self.keys.iter().map(|(id, key)| (*id, *key.verifying_key())).collect();
        fitex_google_health::keyset_json(&public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_adds_a_primary_and_retiring_keeps_only_it() {
        let mut keys = SigningKeys::default();
        let first = keys.primary().0;
        let second = keys.rotate();
        assert_eq!(
            keys.summary(),
            GoogleKeys { primary_key_id: second, key_ids: vec![second, first] }
        );
        let parsed = fitex_google_health::parse_keyset(&keys.keyset_json()).unwrap();
        assert_eq!(parsed.len(), 2);
        let body = br#"{"data":{}}"#;
        let (id, key) = keys.primary();
        let header = fitex_google_health::sign(&key, id, body);
        assert_eq!(fitex_google_health::verify(&parsed, body, Some(&header)), Ok(()));
        keys.retire();
        assert_eq!(keys.summary().key_ids, vec![second]);
        assert_ne!(keys.unused_key_id(), second);
    }
}
