//! `X-Fitbit-Signature` (`fitex_fitbit::verify_signature`) and the whole Fitbit webhook path
//! (`FitbitWebhook`) with an arbitrary header and body. The input is `header \n body`.
//!
//! Invariants: the outcome follows from the header's shape (Malformed exactly when it is not
//! base64 of 20 bytes); Valid names the secret that really produced it; a body signed under any
//! configured secret verifies and, with one byte flipped, does not; the webhook refuses every
//! body whose signature does not verify and otherwise answers exactly what the parser does.
#![no_main]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use fitex_fitbit::{parse_notifications, sign, verify_signature, FitbitWebhook, SignatureCheck};
use fitex_fuzz::{flipped_variants, now_or_never, split_header};
use fitex_provider::{WebhookRejection, WebhookVerifier};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

/// The reference secret (shared/reference/fitbit-api.md) and an older one still listed.
const SECRETS: [&str; 2] = ["123ab4567c890d123e4567f8abcdef9a", "older-secret-000000000000000000"];

fn secrets() -> Vec<SecretString> {
    SECRETS.iter().map(|s| SecretString::from(*s)).collect()
}

fn mac(secret: &str, body: &[u8]) -> Vec<u8> {
    BASE64.decode(sign(secret, body)).expect("sign writes base64")
}

fn signature_header(value: Vec<u8>) -> impl Fn(&str) -> Option<Vec<u8>> + Send + Sync {
    move |name: &str| name.eq_ignore_ascii_case("X-Fitbit-Signature").then(|| value.clone())
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = split_header(data);
    let secrets = secrets();

    let check = verify_signature(&secrets, body, Some(header));
    let claimed = BASE64.decode(header.trim_ascii()).ok().filter(|mac| mac.len() == 20);
    match (check, &claimed) {
        (SignatureCheck::Malformed, None) => {}
        (SignatureCheck::Valid { secret_index }, Some(claimed)) => {
            assert_eq!(&mac(SECRETS[secret_index], body), claimed);
            for flipped in flipped_variants(body) {
                assert_eq!(
                    verify_signature(&secrets, &flipped, Some(header)),
                    SignatureCheck::Mismatch,
                    "a signature for the body also verifies with one byte flipped"
                );
            }
        }
        (SignatureCheck::Mismatch, Some(claimed)) => {
            assert!(SECRETS.iter().all(|s| &mac(s, body) != claimed));
        }
        (check, claimed) => panic!("{check:?} for a header decoding to {claimed:?}"),
    }
    assert_eq!(verify_signature(&secrets, body, None), SignatureCheck::Missing);
    assert!(!verify_signature(&[], body, Some(header)).is_valid());

    // Every body, signed under each configured secret, verifies as that secret's; one flipped
    // byte breaks it.
    for (secret_index, secret) in SECRETS.iter().enumerate() {
        let signature = sign(secret, body);
        assert_eq!(
            verify_signature(&secrets, body, Some(signature.as_bytes())),
            SignatureCheck::Valid { secret_index }
        );
        for flipped in flipped_variants(body) {
            assert_eq!(
                verify_signature(&secrets, &flipped, Some(signature.as_bytes())),
                SignatureCheck::Mismatch
            );
        }
    }

    // The webhook path: the fuzzed header, then a genuine signature.
    let webhook = FitbitWebhook { client_secrets: secrets };
    let outcome = now_or_never(webhook.verify_and_parse(&signature_header(header.to_vec()), body));
    if let Some(why) = check.unproven() {
        assert_eq!(outcome, Err(WebhookRejection::Unproven(why)));
        assert_eq!(why.label(), check.reason());
    }
    let signed = signature_header(sign(SECRETS[0], body).into_bytes());
    match (now_or_never(webhook.verify_and_parse(&signed, body)), parse_notifications(body)) {
        (Ok(notices), Ok(parsed)) => {
            assert_eq!(notices.len(), parsed.len());
            for (notice, parsed) in notices.iter().zip(&parsed) {
                assert!(!notice.owner_id.is_empty(), "a notice without an owner id");
                assert_eq!(notice.owner_id, parsed.owner_id);
                assert_eq!(notice.date, parsed.date);
                assert_eq!(notice.kind, fitex_fitbit::notice_kind(&parsed.collection_type));
            }
        }
        (Err(WebhookRejection::InvalidBody(_)), Err(_)) => {}
        (outcome, parsed) => panic!("webhook {outcome:?} but parser {parsed:?}"),
    }
});
