//! The Google Health API (the Fitbit Web API's successor) webhook behind the provider seam:
//! Google's Tink public keyset, the ECDSA P-256 signature over the raw body, the notification
//! body, and the endpoint verification handshake. Everything here is pure except
//! [`KeysetCache`]'s refetch, which goes through a [`KeysetSource`] so HTTP stays at the edge.

pub mod keyset;
pub mod notification;
pub mod signature;
pub mod verification;
mod webhook;

pub use keyset::{keyset_json, parse_keyset, Keyset, KeysetError};
pub use notification::{parse_change_notices, NotificationError};
pub use signature::{sign, verify, SignatureError};
pub use verification::{authorization_matches, is_verification_request, verification_status};
pub use webhook::{
    CacheRejection, GoogleHealthWebhook, KeysetCache, KeysetSource, DEFAULT_REFETCH_INTERVAL,
    PROVIDER, SIGNATURE_HEADERS,
};
