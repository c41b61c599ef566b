//! The Google Health API (the Fitbit Web API's successor) behind the provider seam.
//!
//! - The webhook: Google's Tink public keyset, the ECDSA P-256 signature over the raw body, the
//!   notification body and the endpoint verification handshake (`keyset`, `signature`,
//!   `notification`, `verification`, `webhook`; pure except [`KeysetCache`]'s refetch, which
//!   goes through a [`KeysetSource`]).
//! - Reading activity: daily rollups, manual entries, settings and identity as plain data
//!   (`api`), the per-user request budget (`rate`), Google OAuth with PKCE (`oauth`), and the
//!   HTTP client implementing the seam (`client`).
//! - The project's subscriber and per-user subscriptions (`subscribers`).
//!
//! Wire format: `shared/reference/google-health-api.md` and `docs/google-health.md`.

pub mod api;
mod civil;
pub mod client;
pub mod keyset;
pub mod notification;
pub mod oauth;
pub mod rate;
pub mod signature;
pub mod subscribers;
pub mod verification;
mod webhook;

pub use client::{GoogleHealthApi, GoogleHealthApiSettings, HttpKeysetSource, LEGACY_PROVIDER};
pub use keyset::{
    keyset_json, parse_keyset, read_keyset, Keyset, KeysetError, PublicKey, ReadKeyset,
    SignatureEncoding,
};
pub use notification::{notice_kind, parse_change_notices, NotificationError};
pub use oauth::{GoogleOAuth, GoogleOAuthSettings};
pub use signature::{sign, sign_ieee_p1363, verify, SignatureError};
pub use verification::{authorization_matches, is_verification_request, verification_status};
pub use webhook::{
    CacheRejection, GoogleHealthWebhook, KeysetCache, KeysetSource, DEFAULT_REFETCH_INTERVAL,
    PROVIDER, SIGNATURE_HEADERS, SKIPPED_KEYS_METRIC,
};
