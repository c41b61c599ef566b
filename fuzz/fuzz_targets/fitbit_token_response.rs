//! `fitex_fitbit::oauth::parse_token_response` on arbitrary bytes (the token endpoint's answer to
//! a code exchange or a refresh), at a fixed "now".
//!
//! Invariants: an accepted answer has a non-empty access token, a positive lifetime that is
//! exactly the answer's `expires_in`, an expiry that can be stored, and no empty refresh token.
#![no_main]

use fitex_fitbit::oauth::parse_token_response;
use fitex_fuzz::{assert_storable, fixed_now};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;
use serde::Deserialize;

#[derive(Deserialize)]
struct Lifetime {
    expires_in: i64,
}

fuzz_target!(|data: &[u8]| {
    let now = fixed_now();
    let Ok(grant) = parse_token_response(data, now) else { return };
    let lifetime: Lifetime =
        serde_json::from_slice(data).expect("an accepted answer has expires_in");
    assert!(!grant.access_token.expose_secret().is_empty());
    assert!(lifetime.expires_in > 0);
    assert!(grant.expires_at > now);
    assert_eq!((grant.expires_at - now).num_seconds(), lifetime.expires_in);
    assert_storable(grant.expires_at);
    if let Some(refresh) = &grant.refresh_token {
        assert!(!refresh.expose_secret().is_empty());
    }
});
