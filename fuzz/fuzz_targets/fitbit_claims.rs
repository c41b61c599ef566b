//! The JWT `exp` reader, `fitex_fitbit::oauth::read_access_token_claims` (a token pasted on the
//! participant pages). The first byte picks the mode: even, the rest is the token text as pasted;
//! odd, the rest is the claims JSON inside an otherwise well-formed JWT (so the fuzzer spends its
//! time in the claims).
//!
//! Invariants: `expires_at` is exactly `exp` (whole seconds), in range for every use the callers
//! make of it (comparison with now, display, storing as `timestamptz`); scopes are non-empty words.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use fitex_fitbit::oauth::read_access_token_claims;
use fitex_fuzz::assert_storable;
use libfuzzer_sys::fuzz_target;
fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let token = if mode & 1 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        text.to_owned()
    } else {
        format!("eyJhbGciOiJIUzI1NiJ9.{}.c2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(rest))
    };
    let Ok(claims) = read_access_token_claims(&token) else { return };

    // `exp` as the claims state it: `{"exp":…}`, or `[sub, exp, scopes]` (serde reads a struct
    // from an array too; see docs/fuzzing.md). Claims that serde_json::Value cannot hold (numbers
    // past f64 in other fields) are only checked for range below.
    let payload = token.trim().split('.').nth(1).expect("a JWT has a payload");
    let payload = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).expect("base64url");
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&payload) {
        let exp = value.get("exp").or_else(|| value.get(1)).and_then(serde_json::Value::as_i64);
        assert_eq!(Some(claims.expires_at.timestamp()), exp);
    }
    assert_eq!(claims.expires_at.timestamp_subsec_nanos(), 0);
    assert_storable(claims.expires_at);
    // What the participant pages do with it.
    let _ = claims.expires_at <= Utc::now();
    let _ = claims.expires_at.signed_duration_since(Utc::now());
    assert!(!claims.expires_at.format("%-d %B %Y at %H:%M").to_string().is_empty());

    assert!(claims.scopes.iter().all(|s| !s.is_empty() && !s.contains(char::is_whitespace)));
    assert_eq!(claims.has_activity_scope(), claims.scopes.iter().any(|s| s == "wact"));
});
