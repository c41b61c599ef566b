//! `fitex_google_health::parse_keyset` (Google's Tink JSON public keyset, with the EcdsaPublicKey
//! protobuf inside). The first byte picks the mode: even, the rest is the keyset text; odd, the
//! rest is the protobuf bytes of one otherwise well-formed ENABLED/TINK ECDSA key (so the fuzzer
//! reaches the protobuf reader directly).
//!
//! Invariants: the keys read are written back by `keyset_json` and read back the same; the
//! protobuf mode yields exactly one key or one skipped key (an unreadable key is skipped, never
//! an error of the whole keyset).
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fitex_google_health::keyset::ECDSA_PUBLIC_KEY_TYPE_URL;
use fitex_google_health::{keyset_json, parse_keyset, read_keyset};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let protobuf = mode & 1 == 1;
    let text = if protobuf {
        serde_json::json!({"primaryKeyId": 1, "key": [{
            "keyData": {"typeUrl": ECDSA_PUBLIC_KEY_TYPE_URL, "value": STANDARD.encode(rest),
                        "keyMaterialType": "ASYMMETRIC_PUBLIC"},
            "status": "ENABLED", "keyId": 1, "outputPrefixType": "TINK"}]})
        .to_string()
    } else {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        text.to_owned()
    };
    let Ok(read) = read_keyset(&text) else {
        assert!(!protobuf, "a keyset document around one key is always readable");
        return;
    };
    let keys = read.keys;
    if protobuf {
        match (keys.keys().copied().collect::<Vec<_>>().as_slice(), read.skipped.as_slice()) {
            ([1], []) => {}
            ([], [skipped]) => assert_eq!(skipped.key_id(), Some(1)),
            other => panic!("one key in, {other:?} out"),
        }
    }
    let mut pairs: Vec<_> = keys.iter().map(|(id, key)| (*id, *key)).collect();
    pairs.sort_by_key(|(id, _)| *id);
    let again = parse_keyset(&keyset_json(&pairs)).expect("a written keyset reads back");
    assert_eq!(again, keys);
});
