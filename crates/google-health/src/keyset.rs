//! Google's Tink JSON public keyset: key id → P-256 verifying key.

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
/// Tink `EcdsaSignatureEncoding::DER`.
const ENCODING_DER: u64 = 1;

/// Enabled ECDSA P-256 keys with the TINK output prefix, by key id.
pub type Keyset = HashMap<u32, VerifyingKey>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeysetError {
    #[error("the keyset could not be fetched: {0}")]
    Fetch(String),
    #[error("the keyset is not Tink JSON: {0}")]
    Json(String),
    #[error("key {key_id}: the key value is not base64")]
    Base64 { key_id: u32 },
    #[error("key {key_id}: malformed EcdsaPublicKey protobuf: {reason}")]
    Protobuf { key_id: u32, reason: &'static str },
    #[error("key {key_id}: not a NIST P-256 / SHA-256 key")]
    UnsupportedParams { key_id: u32 },
    #[error("key {key_id}: the coordinates are not a point on P-256")]
    BadPoint { key_id: u32 },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct TinkKeyset {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    primary_key_id: Option<u64>,
    #[serde(default)]
    key: Vec<TinkKey>,
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

/// Parses a Tink JSON public keyset. Keys that are not `ENABLED`, not ECDSA public keys, or not
/// using the `TINK` output prefix are skipped; an ECDSA key that cannot be read is an error.
pub fn parse_keyset(json: &str) -> Result<Keyset, KeysetError> {
    let keyset: TinkKeyset =
        serde_json::from_str(json).map_err(|e| KeysetError::Json(e.to_string()))?;
    let mut keys = Keyset::new();
    for key in keyset.key {
        if key.status != "ENABLED"
            || key.key_data.type_url != ECDSA_PUBLIC_KEY_TYPE_URL
            || key.output_prefix_type != "TINK"
        {
            continue;
        }
        let key_id = u32::try_from(key.key_id)
            .map_err(|_| KeysetError::Json(format!("key id {} is not a u32", key.key_id)))?;
        let bytes = STANDARD
            .decode(key.key_data.value.trim())
            .map_err(|_| KeysetError::Base64 { key_id })?;
        keys.insert(key_id, decode_ecdsa_public_key(key_id, &bytes)?);
    }
    Ok(keys)
}

/// Builds a Tink JSON public keyset (TINK prefix, ENABLED) from `(key id, key)` pairs; the first
/// is the primary. Coordinates are written with a leading 0x00, as Tink's Java encoder does.
pub fn keyset_json(keys: &[(u32, VerifyingKey)]) -> String {
    let keyset = TinkKeyset {
        primary_key_id: keys.first().map(|(id, _)| u64::from(*id)),
        key: keys
            .iter()
            .map(|(id, key)| TinkKey {
                key_data: KeyData {
                    type_url: ECDSA_PUBLIC_KEY_TYPE_URL.to_owned(),
                    value: STANDARD.encode(encode_ecdsa_public_key(key)),
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

// --- the two (four) protobuf fields we need -------------------------------------------------

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

fn decode_ecdsa_public_key(key_id: u32, bytes: &[u8]) -> Result<VerifyingKey, KeysetError> {
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
    if let Some(params) = params {
        let (mut hash, mut curve) = (None, None);
        let mut reader = Reader { buf: params };
        while let Some((number, field)) = reader.next().map_err(proto)? {
            match (number, field) {
                (1, Field::Varint(v)) => hash = Some(v),
                (2, Field::Varint(v)) => curve = Some(v),
                (3, Field::Varint(v)) if v != ENCODING_DER && v != 0 => {
                    return Err(KeysetError::UnsupportedParams { key_id })
                }
                _ => {}
            }
        }
        if hash.is_some_and(|h| h != HASH_SHA256) || curve.is_some_and(|c| c != CURVE_NIST_P256) {
            return Err(KeysetError::UnsupportedParams { key_id });
        }
    }
    let x = coordinate(x.ok_or(proto("missing x"))?).ok_or(proto("x longer than 32 bytes"))?;
    let y = coordinate(y.ok_or(proto("missing y"))?).ok_or(proto("y longer than 32 bytes"))?;
    let point = EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
    VerifyingKey::from_encoded_point(&point).map_err(|_| KeysetError::BadPoint { key_id })
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

fn encode_ecdsa_public_key(key: &VerifyingKey) -> Vec<u8> {
    let point = key.to_encoded_point(false);
    let with_zero = |c: &[u8]| [&[0u8][..], c].concat();
    let mut params = Vec::new();
    for (number, value) in [(1, HASH_SHA256), (2, CURVE_NIST_P256), (3, ENCODING_DER)] {
        put_varint(&mut params, number << 3);
        put_varint(&mut params, value);
    }
    let mut out = Vec::new();
    put_varint(&mut out, 1 << 3); // version 0
    put_varint(&mut out, 0);
    put_bytes(&mut out, 2, &params);
    put_bytes(&mut out, 3, &with_zero(point.x().expect("uncompressed point")));
    put_bytes(&mut out, 4, &with_zero(point.y().expect("uncompressed point")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;

    fn key() -> VerifyingKey {
        *SigningKey::random(&mut rand_core::OsRng).verifying_key()
    }

    #[test]
    fn a_built_keyset_parses_back() {
        let (a, b) = (key(), key());
        let keys = parse_keyset(&keyset_json(&[(7, a), (4_000_000_000, b)])).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[&7], a);
        assert_eq!(keys[&4_000_000_000], b);
    }

    #[test]
    fn disabled_and_foreign_keys_are_ignored() {
        let json = keyset_json(&[(1, key()), (2, key()), (3, key())]);
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["key"][1]["status"] = "DISABLED".into();
        value["key"][2]["keyData"]["typeUrl"] =
            "type.googleapis.com/google.crypto.tink.Ed25519PublicKey".into();
        let keys = parse_keyset(&value.to_string()).unwrap();
        assert_eq!(keys.keys().copied().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn unknown_fields_are_skipped_and_short_coordinates_padded() {
        // A key whose x has a leading zero byte stripped (31 bytes), with unknown fields of
        // every wire type around the known ones.
        let key = loop {
            let k = key();
            if k.to_encoded_point(false).x().unwrap()[0] == 0 {
                break k;
            }
        };
        let point = key.to_encoded_point(false);
        let mut proto = Vec::new();
        put_varint(&mut proto, 9 << 3 | 1); // fixed64
        proto.extend_from_slice(&[0xAA; 8]);
        put_varint(&mut proto, 10 << 3 | 5); // fixed32
        proto.extend_from_slice(&[0xBB; 4]);
        put_bytes(&mut proto, 11, b"unknown");
        put_varint(&mut proto, 12 << 3); // varint
        put_varint(&mut proto, 300);
        put_bytes(&mut proto, 3, &point.x().unwrap()[1..]);
        put_bytes(&mut proto, 4, point.y().unwrap());
        assert_eq!(decode_ecdsa_public_key(1, &proto).unwrap(), key);
    }

    #[test]
    fn malformed_keys_are_errors() {
        assert!(matches!(parse_keyset("not json"), Err(KeysetError::Json(_))));
        let json = keyset_json(&[(5, key())]);
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["key"][0]["keyData"]["value"] = "!!!".into();
        assert_eq!(parse_keyset(&value.to_string()), Err(KeysetError::Base64 { key_id: 5 }));
        value["key"][0]["keyData"]["value"] = STANDARD.encode([0x1a, 0x05, 0x01]).into();
        assert!(matches!(
            parse_keyset(&value.to_string()),
            Err(KeysetError::Protobuf { key_id: 5, .. })
        ));
        let mut proto = Vec::new();
        put_bytes(&mut proto, 3, &[1; 32]);
        put_bytes(&mut proto, 4, &[1; 32]);
        assert_eq!(decode_ecdsa_public_key(5, &proto), Err(KeysetError::BadPoint { key_id: 5 }));
        let mut p384 = Vec::new();
        put_bytes(&mut p384, 2, &[0x10, 3]); // curve = NIST_P384
        assert_eq!(
            decode_ecdsa_public_key(5, &p384),
            Err(KeysetError::UnsupportedParams { key_id: 5 })
        );
    }
}
