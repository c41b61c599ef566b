//! Google's token answer: `serde_json::from_slice::<oauth2::basic::BasicTokenResponse>` (what the
//! oauth2 crate does with the token endpoint's body) then `fitex_google_health::oauth::grant`, at a
//! fixed "now", with and without a previous refresh token.
//!
//! Invariants: a grant has a non-empty access token; it expires after exactly the answer's
//! `expires_in`, or after an hour when the answer names none (or one that cannot be represented),
//! never before now, at a time that can be stored; the refresh token is the answer's, else the
//! previous one.
#![no_main]

use fitex_fuzz::{assert_storable, fixed_now};
use fitex_google_health::oauth::grant;
use libfuzzer_sys::fuzz_target;
use oauth2::basic::BasicTokenResponse;
use oauth2::TokenResponse;
use secrecy::{ExposeSecret, SecretString};

const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

fuzz_target!(|data: &[u8]| {
    let Ok(answer) = serde_json::from_slice::<BasicTokenResponse>(data) else { return };
    let now = fixed_now();
    let previous = SecretString::from("1//previous-refresh-token");
    for previous in [None, Some(&previous)] {
        let Ok(grant) = grant(answer.clone(), previous, now) else {
            assert!(answer.access_token().secret().is_empty(), "refused a usable answer");
            continue;
        };
        assert!(!grant.access_token.expose_secret().is_empty());
        assert!(grant.expires_at >= now);
        assert_storable(grant.expires_at);
        let lifetime = (grant.expires_at - now).to_std().expect("not negative");
        match answer.expires_in() {
            Some(expires_in) => assert!(lifetime == expires_in || lifetime == HOUR),
            None => assert_eq!(lifetime, HOUR),
        }
        let refresh = grant.refresh_token.as_ref().map(|t| t.expose_secret().to_owned());
        let expected = match answer.refresh_token() {
            Some(token) => Some(token.secret().clone()),
            None => previous.map(|t| t.expose_secret().to_owned()),
        };
        assert_eq!(refresh, expected);
        assert!(grant.user_id.is_empty(), "Google's answer names no user");
    }
});
