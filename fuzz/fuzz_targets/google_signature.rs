//! Google Health's notification signature (`fitex_google_health::verify`), the endpoint
//! verification request (`is_verification_request`, `verification_status`) and the webhook path
//! (`GoogleHealthWebhook`) with an arbitrary header and body. The input is `header \n body`.
//! (`google_signed` signs every body for real; that costs ECDSA, so it is a target of its own.)
//!
//! Invariants: a signature that verifies for a body does not verify with one of its bytes
//! flipped; the error names the header's real problem (`key_id` agrees); a verification request
//! is the JSON object `{"type":"verification",…}` and is answered 201 only with the secret; the
//! webhook refuses a wrong `Authorization`, and accepts exactly the bodies whose signature
//! verifies, answering what the parser does.
#![no_main]

use fitex_fuzz::google::{fixed, headers, SECRET};
use fitex_fuzz::{flipped_variants, now_or_never, split_header};
use fitex_google_health::signature::key_id;
use fitex_google_health::{
    is_verification_request, parse_change_notices, verification_status, verify, SignatureError,
};
use fitex_provider::{Unproven, WebhookRejection, WebhookVerifier};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    let (header_bytes, body) = split_header(data);

    if let Ok(header) = std::str::from_utf8(header_bytes) {
        for keyset in [&f.google, &f.ours] {
            match verify(keyset, body, Some(header)) {
                Ok(()) => {
                    for flipped in flipped_variants(body) {
                        assert_eq!(
                            verify(keyset, &flipped, Some(header)),
                            Err(SignatureError::BadSignature),
                            "a signature for the body also verifies with one byte flipped"
                        );
                    }
                }
                Err(SignatureError::Missing) => assert!(header.trim().is_empty()),
                Err(SignatureError::UnknownKeyId(id)) => {
                    assert!(!keyset.contains_key(&id));
                    assert_eq!(key_id(header), Ok(id));
                }
                Err(malformed @ SignatureError::Malformed(_)) => {
                    assert_eq!(key_id(header), Err(malformed));
                }
                Err(SignatureError::BadSignature) => {
                    assert!(key_id(header).is_ok_and(|id| keyset.contains_key(&id)));
                }
            }
        }
    }
    assert_eq!(verify(&f.google, body, None), Err(SignatureError::Missing));

    // The endpoint verification request.
    let secrets = [SecretString::from(SECRET)];
    let verification = is_verification_request(body);
    if verification {
        assert!(body.trim_ascii_start().starts_with(b"{"));
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            assert_eq!(value["type"], "verification");
        }
        assert_eq!(verification_status(body, None, &secrets), Some(401));
        assert_eq!(verification_status(body, Some(SECRET.as_bytes()), &secrets), Some(201));
        let status = verification_status(body, Some(header_bytes), &secrets);
        assert_eq!(status, Some(if header_bytes == SECRET.as_bytes() { 201 } else { 401 }));
    } else {
        assert_eq!(verification_status(body, Some(SECRET.as_bytes()), &secrets), None);
    }

    // The webhook: the fuzzed header as the signature, no Authorization.
    let webhook = &f.webhook;
    let fuzzed = headers(vec![("X-Healthapi-Signature", header_bytes.to_vec())]);
    let outcome = now_or_never(webhook.verify_and_parse(&fuzzed, body));
    if verification {
        assert_eq!(outcome, Err(WebhookRejection::Unproven(Unproven::AuthorizationMissing)));
    } else {
        let verified = std::str::from_utf8(header_bytes)
            .is_ok_and(|h| verify(&webhook.keyset.keys(), body, Some(h)).is_ok());
        match (&outcome, parse_change_notices(body)) {
            (Ok(notices), Ok(expected)) => assert!(verified && *notices == expected),
            (Err(WebhookRejection::InvalidBody(_)), Err(_)) => assert!(verified),
            (Err(WebhookRejection::Unproven(_)), _) => assert!(!verified),
            (outcome, parsed) => panic!("webhook {outcome:?} but parser {parsed:?}"),
        }
    }
    // The fuzzed header as the Authorization (with the fixture's signature): only the
    // configured secret passes.
    let authorized = headers(vec![("Authorization", header_bytes.to_vec())]);
    let outcome = now_or_never(webhook.verify_and_parse(&authorized, body));
    if header_bytes != SECRET.as_bytes() {
        assert_eq!(outcome, Err(WebhookRejection::Unproven(Unproven::AuthorizationMismatch)));
    } else if verification {
        assert_eq!(outcome, Ok(Vec::new()));
    }
});
