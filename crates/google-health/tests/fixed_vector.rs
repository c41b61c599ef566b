//! A signed notification committed with its keyset (made once with a throwaway key, published as
//! Google publishes its keys: `EcdsaParams` `08 03 10 02 18 02`, no version field): the checks
//! must keep accepting exactly these bytes, and nothing else. And Google's own keyset, in the
//! form it is published.

use fitex_google_health::{
    parse_change_notices, parse_keyset, read_keyset, verify, SignatureEncoding, SignatureError,
};

struct Vector {
    keyset: String,
    body: String,
    signature: String,
}

fn vector() -> Vector {
    let text = include_str!("fixtures/signed-notification.json");
    let json: serde_json::Value = serde_json::from_str(text).expect("fixture is JSON");
    Vector {
        keyset: json["keyset"].to_string(),
        body: json["body"].as_str().expect("body").to_owned(),
        signature: json["signature"].as_str().expect("signature").to_owned(),
    }
}

#[test]
fn the_committed_vector_verifies_and_parses() {
    let v = vector();
    let keys = parse_keyset(&v.keyset).unwrap();
    assert_eq!(keys.len(), 1);
    verify(&keys, v.body.as_bytes(), Some(&v.signature)).unwrap();
    let notices = parse_change_notices(v.body.as_bytes()).unwrap();
    let dates: Vec<String> = notices.iter().map(|n| n.date.unwrap().to_string()).collect();
    assert_eq!(dates, ["2026-11-27", "2026-11-28"], "the interval crosses midnight");
    assert!(notices.iter().all(|n| n.owner_id == "7f3c2a91d04e5b86c1a2"));
}

#[test]
fn any_other_bytes_are_refused() {
    let v = vector();
    let keys = parse_keyset(&v.keyset).unwrap();
    let mut flipped = v.body.clone().into_bytes();
    flipped[40] ^= 0x01;
    assert_eq!(verify(&keys, &flipped, Some(&v.signature)), Err(SignatureError::BadSignature));
    // The same JSON, serialised again (keys reordered), is not what Google signed.
    let reserialized =
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&v.body).unwrap())
            .unwrap();
    assert_ne!(reserialized, v.body);
    assert_eq!(
        verify(&keys, reserialized.as_bytes(), Some(&v.signature)),
        Err(SignatureError::BadSignature)
    );
    assert_eq!(verify(&keys, v.body.as_bytes(), None), Err(SignatureError::Missing));
}

/// Google's webhook keyset as a public client quotes it from
/// `https://www.gstatic.com/googlehealthapi/webhooks/webhooks_public_keyset.json`, byte for byte
/// in the form Tink's JSON writer gives (compact, then a newline).
const GOOGLE_PUBLISHED_KEYSET: &str = include_str!("fixtures/google-published-keyset.json");

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn googles_published_keyset_is_read_as_published() {
    let read = read_keyset(GOOGLE_PUBLISHED_KEYSET).unwrap();
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    assert_eq!(read.keys.len(), 1);
    let key = &read.keys[&4_193_570_438];
    assert_eq!(key.encoding, SignatureEncoding::Der, "params 08 03 10 02 18 02: DER is 2");
    let point = key.key.to_encoded_point(false);
    assert_eq!(
        point.x().unwrap().to_vec(),
        hex("6e5b3c2a29b05e3731ca0e713e510c988bec5915bc870f42fb12422af7c9f3f3")
    );
    assert_eq!(
        point.y().unwrap().to_vec(),
        hex("8acfc868f6ce7878fd1cbad1a23e2519de63cfdb2e822e1b633e28b31b153f57")
    );
}

#[test]
fn the_committed_keyset_carries_googles_params() {
    let v = vector();
    let json: serde_json::Value = serde_json::from_str(&v.keyset).unwrap();
    let value = json["key"][0]["keyData"]["value"].as_str().unwrap();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value).unwrap();
    assert_eq!(bytes[..8], [0x12, 0x06, 0x08, 0x03, 0x10, 0x02, 0x18, 0x02]);
}
