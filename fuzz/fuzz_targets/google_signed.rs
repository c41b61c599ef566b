//! Every fuzzed body, signed for real with a fixed key of our own, through
//! `fitex_google_health::{sign, verify}` and the webhook (`GoogleHealthWebhook`). ECDSA makes
//! this slow (hundreds of inputs a second), which is why it is apart from `google_signature`.
//!
//! Invariants: the signature verifies for the body under our key, names a key Google's keyset
//! lacks, and does not verify with one body byte flipped; the webhook, given it, answers exactly
//! what the notification parser does (or treats a verification request as one).
#![no_main]

use fitex_fuzz::google::{fixed, headers, OUR_KEY_ID};
use fitex_fuzz::now_or_never;
use fitex_google_health::{
    is_verification_request, parse_change_notices, sign, verify, SignatureError,
};
use fitex_provider::{Unproven, WebhookRejection, WebhookVerifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let f = fixed();
    let signature = sign(&f.key, OUR_KEY_ID, body);
    assert_eq!(verify(&f.ours, body, Some(&signature)), Ok(()));
    assert_eq!(
        verify(&f.google, body, Some(&signature)),
        Err(SignatureError::UnknownKeyId(OUR_KEY_ID))
    );
    // One flipped byte (the middle one) is enough here: every check is an ECDSA verification.
    if !body.is_empty() {
        let mut flipped = body.to_vec();
        flipped[body.len() / 2] ^= 0x01;
        assert_eq!(verify(&f.ours, &flipped, Some(&signature)), Err(SignatureError::BadSignature));
    }

    let signed = headers(vec![("X-HEALTHAPI-SIGNATURE", signature.into_bytes())]);
    let outcome = now_or_never(f.webhook.verify_and_parse(&signed, body));
    if is_verification_request(body) {
        assert_eq!(outcome, Err(WebhookRejection::Unproven(Unproven::AuthorizationMissing)));
        return;
    }
    match (outcome, parse_change_notices(body)) {
        (Ok(notices), Ok(expected)) => {
            assert_eq!(notices, expected);
            assert!(notices.iter().all(|n| !n.owner_id.is_empty()));
        }
        (Err(WebhookRejection::InvalidBody(_)), Err(_)) => {}
        (outcome, parsed) => panic!("webhook {outcome:?} but parser {parsed:?}"),
    }
});
