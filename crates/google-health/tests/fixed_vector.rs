//! A signed notification committed with its keyset (made once with a throwaway key): the
//! checks must keep accepting exactly these bytes, and nothing else.

use fitex_google_health::{parse_change_notices, parse_keyset, verify, SignatureError};

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
