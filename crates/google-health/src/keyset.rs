//! Google's Tink JSON public keyset: key id → P-256 verifying key and its signature encoding.
//!
//! Wire facts (Tink `proto/ecdsa.proto`, `proto/common.proto`): `EcdsaPublicKey` is `version = 1`,
//! `params = 2` (`EcdsaParams`: `hash_type = 1`, `curve = 2`, `encoding = 3`), `x = 3`, `y = 4`;
//! `HashType::SHA256 = 3`, `EllipticCurveType::NIST_P256 = 2`,
//! `EcdsaSignatureEncoding::IEEE_P1363 = 1` (r ‖ s) and `DER = 2`. Google's live keys carry
//! params `08 03 10 02 18 02`: SHA-256, P-256, DER. A key that cannot be read is skipped and
//! reported ([`read_keyset`]); the other keys are still trusted.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use p256::ecdsa::VerifyingKey;
use p256::EncodedPoint;
use serde::{Deserialize, Serialize};

pub const ECDSA_PUBLIC_KEY_TYPE_URL: &str = "type.googleapis.com/google.crypto.tink.EcdsaPublicKey";

/// Tink `EllipticCurveType::NIST_P256`.
const CURVE_NIST_P256: u64 = 2;
/// Tink `HashType::SHA256`.
const HASH_SHA256: u64 = 3;
/// Tink `EcdsaSignatureEncoding::IEEE_P1363`.
const ENCODING_IEEE_P1363: u64 = 1;
/// Tink `EcdsaSignatureEncoding::DER`.
const ENCODING_DER: u64 = 2;

/// How a key's signatures are encoded (Tink `EcdsaSignatureEncoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// `IEEE_P1363 = 1`: r ‖ s, each zero-padded to 32 bytes (64 bytes in all).
    IeeeP1363,
    /// `DER = 2`: an ASN.1 `SEQUENCE { r INTEGER, s INTEGER }` — what Google's live keys use.
    Der,
}

impl SignatureEncoding {
    fn tink_value(self) -> u64 {
        match self {
            SignatureEncoding::IeeeP1363 => ENCODING_IEEE_P1363,
            SignatureEncoding::Der => ENCODING_DER,
        }
    }
}

/// One trusted key: the P-256 point and how signatures made with it are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    pub key: VerifyingKey,
    pub encoding: SignatureEncoding,
}

impl PublicKey {
    /// A key whose signatures are DER-encoded, as Google's are.
    pub fn der(key: VerifyingKey) -> Self {
        PublicKey { key, encoding: SignatureEncoding::Der }
    }
}

impl From<VerifyingKey> for PublicKey {
    /// DER, as Google publishes its keys.
    fn from(key: VerifyingKey) -> Self {
        PublicKey::der(key)
    }
}

/// Enabled ECDSA P-256 / SHA-256 keys with the TINK output prefix, by key id.
pub type Keyset = HashMap<u32, PublicKey>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeysetError {
    #[error("the keyset could not be fetched: {0}")]
    Fetch(String),
    #[error("the keyset is not Tink JSON: {0}")]
    Json(String),
    /// A `key` entry that is not a Tink key object (or whose key id is not a u32).
    #[error("key entry {index}: {reason}")]
    MalformedEntry { index: usize, reason: String },
    #[error("key {key_id}: the key value is not base64")]
    Base64 { key_id: u32 },
    #[error("key {key_id}: malformed EcdsaPublicKey protobuf: {reason}")]
    Protobuf { key_id: u32, reason: &'static str },
    #[error("key {key_id}: not a NIST P-256 / SHA-256 key with DER or IEEE P1363 signatures")]
    UnsupportedParams { key_id: u32 },
    #[error("key {key_id}: the coordinates are not a point on P-256")]
    BadPoint { key_id: u32 },
}

impl KeysetError {
    /// A short metric label for a key that was skipped.
    pub fn reason(&self) -> &'static str {
        match self {
            KeysetError::Fetch(_) => "fetch",
            KeysetError::Json(_) => "json",
            KeysetError::MalformedEntry { .. } => "malformed_entry",
            KeysetError::Base64 { .. } => "base64",
            KeysetError::Protobuf { .. } => "protobuf",
            KeysetError::UnsupportedParams { .. } => "unsupported_params",
            KeysetError::BadPoint { .. } => "bad_point",
        }
    }

    /// The key id the error is about, when one was readable.
    pub fn key_id(&self) -> Option<u32> {
        match self {
            KeysetError::Base64 { key_id }
            | KeysetError::Protobuf { key_id, .. }
            | KeysetError::UnsupportedParams { key_id }
            | KeysetError::BadPoint { key_id } => Some(*key_id),
            _ => None,
        }
    }
}

/// A keyset as read: the keys to trust, and the keys that were skipped because they could not be
/// read (each with why).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadKeyset {
    pub keys: Keyset,
    pub skipped: Vec<KeysetError>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct TinkKeyset<K> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    primary_key_id: Option<u64>,
    #[serde(default)]
    key: Vec<K>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct TinkKey {
    key_data: KeyData,
    status: String,
    key_id: u64,
    output_prefix_type: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyData {
    type_url: String,
    value: String,
    #[serde(default)]
    key_material_type: String,
}

/// Reads a Tink JSON public keyset. Keys that are not `ENABLED`, not ECDSA public keys, or not
/// using the `TINK` output prefix are ignored (they are not meant for us). An ECDSA key that
/// cannot be read — a malformed entry, bad base64 or protobuf, parameters other than SHA-256 /
/// P-256 / DER or IEEE P1363, a point off the curve — is skipped and listed in
/// [`ReadKeyset::skipped`]; the other keys are kept. Only a document that is not a keyset at all
/// is an error.
pub fn read_keyset(json: &str) -> Result<ReadKeyset, KeysetError> {
    let keyset: TinkKeyset<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| KeysetError::Json(e.to_string()))?;
    let mut read = ReadKeyset::default();
    for (index, entry) in keyset.key.into_iter().enumerate() {
        match read_key(index, entry) {
            Ok(Some((key_id, key))) => {
                read.keys.insert(key_id, key);
            }
            Ok(None) => {}
            Err(error) => read.skipped.push(error),
        }
    }
    Ok(read)
}

/// [`read_keyset`]'s keys alone (the skipped ones are dropped silently; the webhook's
/// [`crate::KeysetCache`] logs and counts them).
pub fn parse_keyset(json: &str) -> Result<Keyset, KeysetError> {
    read_keyset(json).map(|read| read.keys)
}

/// One entry: `Ok(None)` when it is not for us, `Err` when it is but cannot be read.
fn read_key(
    index: usize,
    entry: serde_json::Value,
) -> Result<Option<(u32, PublicKey)>, KeysetError> {
    let malformed = |reason: String| KeysetError::MalformedEntry { index, reason };
    let key: TinkKey = serde_json::from_value(entry).map_err(|e| malformed(e.to_string()))?;
    if key.status != "ENABLED"
        || key.key_data.type_url != ECDSA_PUBLIC_KEY_TYPE_URL
        || key.output_prefix_type != "TINK"
    {
        return Ok(None);
    }
    let key_id = u32::try_from(key.key_id)
        .map_err(|_| malformed(format!("key id {} is not a u32", key.key_id)))?;
    let bytes =
        STANDARD.decode(key.key_data.value.trim()).map_err(|_| KeysetError::Base64 { key_id })?;
    Ok(Some((key_id, decode_ecdsa_public_key(key_id, &bytes)?)))
}

/// Builds a Tink JSON public keyset (TINK prefix, ENABLED) from `(key id, key)` pairs; the first
/// is the primary. Written as Tink writes Google's: no `version` field (0, omitted), params
/// first, coordinates with a leading 0x00. A bare [`VerifyingKey`] is written as a DER key.
pub fn keyset_json<K: Copy + Into<PublicKey>>(keys: &[(u32, K)]) -> String {
    let keyset = TinkKeyset {
        primary_key_id: keys.first().map(|(id, _)| u64::from(*id)),
        key: keys
            .iter()
            .map(|(id, key)| TinkKey {
                key_data: KeyData {
                    type_url: ECDSA_PUBLIC_KEY_TYPE_URL.to_owned(),
                    value: STANDARD.encode(encode_ecdsa_public_key(&(*key).into())),
                    key_material_type: "ASYMMETRIC_PUBLIC".to_owned(),
                },
                status: "ENABLED".to_owned(),
                key_id: u64::from(*id),
                output_prefix_type: "TINK".to_owned(),
            })
            .collect(),
    };
    serde_json::to_string(&keyset).expect("a keyset always serialises")
}

// --- the few protobuf fields we need ---------------------------------------------------------

struct Reader<'a> {
    buf: &'a [u8],
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Skipped,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self.buf.split_first().ok_or("truncated varint")?;
            self.buf = rest;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.buf.len() < n {
            return Err("truncated field");
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next `(field number, value)`, or `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, &'static str> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let number = tag >> 3;
        if number == 0 {
            return Err("field number 0");
        }
        let field = match tag & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Skipped
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                Field::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Field::Skipped
            }
            _ => return Err("unsupported wire type"),
        };
        Ok(Some((number, field)))
    }
}

fn decode_ecdsa_public_key(key_id: u32, bytes: &[u8]) -> Result<PublicKey, KeysetError> {
    let proto = |reason| KeysetError::Protobuf { key_id, reason };
    let (mut x, mut y, mut params) = (None, None, None);
    let mut reader = Reader { buf: bytes };
    while let Some((number, field)) = reader.next().map_err(proto)? {
        match (number, field) {
            (2, Field::Bytes(b)) => params = Some(b),
            (3, Field::Bytes(b)) => x = Some(b),
            (4, Field::Bytes(b)) => y = Some(b),
            (2..=4, _) => return Err(proto("wrong wire type for a known field")),
            _ => {}
        }
    }
    // Tink requires the params; without them neither the hash nor the encoding is known.
    let encoding = signature_encoding(key_id, params.unwrap_or_default())?;
    let x = coordinate(x.ok_or(proto("missing x"))?).ok_or(proto("x longer than 32 bytes"))?;
    let y = coordinate(y.ok_or(proto("missing y"))?).ok_or(proto("y longer than 32 bytes"))?;
    let point = EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
    let key =
        VerifyingKey::from_encoded_point(&point).map_err(|_| KeysetError::BadPoint { key_id })?;
    Ok(PublicKey { key, encoding })
}

/// Reads `EcdsaParams`: SHA-256 and NIST P-256 are required; the encoding says how signatures
/// are laid out. Absent fields are proto3 zeros, Tink's `UNKNOWN_*`, which no key may have.
fn signature_encoding(key_id: u32, params: &[u8]) -> Result<SignatureEncoding, KeysetError> {
    let proto = |reason| KeysetError::Protobuf { key_id, reason };
    let (mut hash, mut curve, mut encoding) = (0, 0, 0);
    let mut reader = Reader { buf: params };
    while let Some((number, field)) = reader.next().map_err(proto)? {
        match (number, field) {
            (1, Field::Varint(v)) => hash = v,
            (2, Field::Varint(v)) => curve = v,
            (3, Field::Varint(v)) => encoding = v,
            (1..=3, _) => return Err(proto("wrong wire type in EcdsaParams")),
            _ => {}
        }
    }
    match (hash, curve, encoding) {
        (HASH_SHA256, CURVE_NIST_P256, ENCODING_DER) => Ok(SignatureEncoding::Der),
        (HASH_SHA256, CURVE_NIST_P256, ENCODING_IEEE_P1363) => Ok(SignatureEncoding::IeeeP1363),
        _ => Err(KeysetError::UnsupportedParams { key_id }),
    }
}

/// A big-endian unsigned integer (maybe with leading zeros) as exactly 32 bytes.
fn coordinate(bytes: &[u8]) -> Option<[u8; 32]> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[start..];
    if digits.len() > 32 {
        return None;
    }
    let mut out = [0u8; 32];
    out[32 - digits.len()..].copy_from_slice(digits);
    Some(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    put_varint(out, number << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The `EcdsaPublicKey` bytes as Tink serialises them: `version` 0 left out (proto3), then
/// params, x and y (each with a leading 0x00).
fn encode_ecdsa_public_key(key: &PublicKey) -> Vec<u8> {
    let point = key.key.to_encoded_point(false);
    let with_zero = |c: &[u8]| [&[0u8][..], c].concat();
    let mut params = Vec::new();
    for (number, value) in [(1, HASH_SHA256), (2, CURVE_NIST_P256), (3, key.encoding.tink_value())]
    {
        put_varint(&mut params, number << 3);
        put_varint(&mut params, value);
    }
    let mut out = Vec::new();
    put_bytes(&mut out, 2, &params);
    put_bytes(&mut out, 3, &with_zero(point.x().expect("uncompressed point")));
    put_bytes(&mut out, 4, &with_zero(point.y().expect("uncompressed point")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;

    /// An `EcdsaPublicKey` value from Google's live keyset, as a public client's test quotes it
    /// (`webhooks_public_keyset.json`): params `08 03 10 02 18 02`, no version field.
    const GOOGLE_KEY_VALUE: &str = "EgYIAxACGAIaIQBDWg3kaiabjtrVXbSSbcn6e3QqiCLD+B4GuhC/Z1C6miIhACarm0VQv9WjNZG/AB0itXCIGFW5ddInmBFUjK/8w0v3";

    fn key() -> VerifyingKey {
        *SigningKey::random(&mut rand_core::OsRng).verifying_key()
    }

    fn entry(key_id: u64, value: &str) -> serde_json::Value {
        serde_json::json!({"keyData": {"typeUrl": ECDSA_PUBLIC_KEY_TYPE_URL, "value": value,
            "keyMaterialType": "ASYMMETRIC_PUBLIC"}, "status": "ENABLED", "keyId": key_id,
            "outputPrefixType": "TINK"})
    }

    #[test]
    fn a_built_keyset_parses_back() {
        let (a, b) = (key(), key());
        let p1363 = PublicKey { key: b, encoding: SignatureEncoding::IeeeP1363 };
        let keys =
            parse_keyset(&keyset_json(&[(7, PublicKey::der(a)), (4_000_000_000, p1363)])).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[&7], PublicKey { key: a, encoding: SignatureEncoding::Der });
        assert_eq!(keys[&4_000_000_000], p1363);
        // A bare verifying key is written as Google writes its keys: DER.
        assert_eq!(
            parse_keyset(&keyset_json(&[(3, a)])).unwrap()[&3].encoding,
            SignatureEncoding::Der
        );
    }

    #[test]
    fn the_params_byte_for_byte_as_google_publishes_them() {
        let bytes = STANDARD.decode(GOOGLE_KEY_VALUE).unwrap();
        // Field 2 (params), 6 bytes: hash SHA256 (3), curve NIST_P256 (2), encoding DER (2).
        assert_eq!(bytes[..8], [0x12, 0x06, 0x08, 0x03, 0x10, 0x02, 0x18, 0x02]);
        let key = decode_ecdsa_public_key(1, &bytes).unwrap();
        assert_eq!(key.encoding, SignatureEncoding::Der);
        let point = key.key.to_encoded_point(false);
        assert_eq!(&point.x().unwrap()[..4], [0x43, 0x5a, 0x0d, 0xe4]);
        assert_eq!(&point.y().unwrap()[..4], [0x26, 0xab, 0x9b, 0x45]);
        // What we write is what Google publishes, to the byte.
        assert_eq!(STANDARD.encode(encode_ecdsa_public_key(&key)), GOOGLE_KEY_VALUE);
    }

    #[test]
    fn the_tink_encoding_numbers_are_tinks() {
        let params = |encoding: u8| [0x08, 0x03, 0x10, 0x02, 0x18, encoding];
        assert_eq!(signature_encoding(1, &params(2)), Ok(SignatureEncoding::Der));
        assert_eq!(signature_encoding(1, &params(1)), Ok(SignatureEncoding::IeeeP1363));
        for unknown in [0, 3] {
            assert_eq!(
                signature_encoding(1, &params(unknown)),
                Err(KeysetError::UnsupportedParams { key_id: 1 })
            );
        }
        // SHA-512, or P-384, or no params at all: not ours to verify.
        for params in
            [&[0x08, 0x04, 0x10, 0x02, 0x18, 0x02][..], &[0x08, 0x03, 0x10, 0x03, 0x18, 0x02], &[]]
        {
            assert_eq!(
                signature_encoding(9, params),
                Err(KeysetError::UnsupportedParams { key_id: 9 })
            );
        }
    }

    #[test]
    fn an_unreadable_key_is_skipped_and_the_others_kept() {
        let mine = key();
        let mut p384 = STANDARD.decode(GOOGLE_KEY_VALUE).unwrap();
        p384[5] = 0x03; // curve NIST_P384
        let mut off_curve = STANDARD.decode(GOOGLE_KEY_VALUE).unwrap();
        *off_curve.last_mut().unwrap() ^= 0x01;
        let json = serde_json::json!({"primaryKeyId": 4193570438u64, "key": [
            entry(4193570438, GOOGLE_KEY_VALUE),
            entry(11, "!!!"),
            entry(12, &STANDARD.encode(p384)),
            entry(13, &STANDARD.encode(off_curve)),
            entry(14, &STANDARD.encode([0x1a, 0x05, 0x01])),
            {"keyData": "not an object", "keyId": 15},
            entry(16, GOOGLE_KEY_VALUE).as_object().unwrap().clone().into_iter()
                .map(|(k, v)| if k == "keyId" { (k, serde_json::json!(-16)) } else { (k, v) })
                .collect::<serde_json::Map<_, _>>(),
            entry(1 << 33, GOOGLE_KEY_VALUE),
            serde_json::from_str::<serde_json::Value>(&keyset_json(&[(17, mine)])).unwrap()["key"][0],
        ]});
        let read = read_keyset(&json.to_string()).unwrap();
        let mut ids: Vec<u32> = read.keys.keys().copied().collect();
        ids.sort();
        assert_eq!(ids, [17, 4193570438]);
        assert_eq!(read.keys[&17].key, mine);
        let reasons: Vec<(&str, Option<u32>)> =
            read.skipped.iter().map(|e| (e.reason(), e.key_id())).collect();
        assert_eq!(
            reasons,
            [
                ("base64", Some(11)),
                ("unsupported_params", Some(12)),
                ("bad_point", Some(13)),
                ("protobuf", Some(14)),
                ("malformed_entry", None),
                ("malformed_entry", None),
                ("malformed_entry", None),
            ]
        );
        assert_eq!(parse_keyset(&json.to_string()).unwrap().len(), 2);
    }

    #[test]
    fn disabled_and_foreign_keys_are_ignored_not_skipped() {
        let json = keyset_json(&[(1, key()), (2, key()), (3, key()), (4, key())]);
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["key"][1]["status"] = "DISABLED".into();
        value["key"][2]["keyData"]["typeUrl"] =
            "type.googleapis.com/google.crypto.tink.Ed25519PublicKey".into();
        value["key"][3]["outputPrefixType"] = "LEGACY".into();
        let read = read_keyset(&value.to_string()).unwrap();
        assert_eq!(read.keys.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert!(read.skipped.is_empty());
    }

    #[test]
    fn unknown_fields_are_skipped_and_short_coordinates_padded() {
        // A key whose x has a leading zero byte stripped (31 bytes), with unknown fields of
        // every wire type around the known ones, and a version field.
        let key = loop {
            let k = key();
            if k.to_encoded_point(false).x().unwrap()[0] == 0 {
                break k;
            }
        };
        let point = key.to_encoded_point(false);
        let mut proto = Vec::new();
        put_varint(&mut proto, 1 << 3); // version 0, written out
        put_varint(&mut proto, 0);
        put_varint(&mut proto, 9 << 3 | 1); // fixed64
        proto.extend_from_slice(&[0xAA; 8]);
        put_varint(&mut proto, 10 << 3 | 5); // fixed32
        proto.extend_from_slice(&[0xBB; 4]);
        put_bytes(&mut proto, 11, b"unknown");
        put_varint(&mut proto, 12 << 3); // varint
        put_varint(&mut proto, 300);
        put_bytes(&mut proto, 2, &[0x08, 0x03, 0x10, 0x02, 0x18, 0x02, 0x20, 0x07]);
        put_bytes(&mut proto, 3, &point.x().unwrap()[1..]);
        put_bytes(&mut proto, 4, point.y().unwrap());
        assert_eq!(decode_ecdsa_public_key(1, &proto).unwrap(), PublicKey::der(key));
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(matches!(read_keyset("not json"), Err(KeysetError::Json(_))));
        assert!(matches!(read_keyset(r#"{"key": {}}"#), Err(KeysetError::Json(_))));
        let mut proto = Vec::new();
        put_bytes(&mut proto, 2, &[0x08, 0x03, 0x10, 0x02, 0x18, 0x02]);
        put_bytes(&mut proto, 3, &[1; 32]);
        put_bytes(&mut proto, 4, &[1; 32]);
        assert_eq!(decode_ecdsa_public_key(5, &proto), Err(KeysetError::BadPoint { key_id: 5 }));
    }
}
