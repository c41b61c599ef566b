//! Who a simulator user is to Google: a `healthUserId` of their own, derived from their simulator
//! (Fitbit) id, which Google calls their `legacyUserId`.

use sha2::{Digest, Sha256};

/// A user's Google Health id: deterministic from the simulator (Fitbit) id, but never equal to
/// it — 20 hex digits of its SHA-256.
pub fn health_user_id(user_id: &str) -> String {
    let digest = Sha256::digest(user_id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect::<String>()[..20].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_health_user_id_is_stable_and_not_the_fitbit_id() {
        let id = health_user_id("SIM0001");
        assert_eq!(id, health_user_id("SIM0001"));
        assert_eq!(id.len(), 20);
        assert_ne!(id, "SIM0001");
        assert_ne!(id, health_user_id("SIM0002"));
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
