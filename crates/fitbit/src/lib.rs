//! The Fitbit Web API as FitEx Sync speaks it. Parsing and signatures are pure functions
//! (`signature`, `notification`, `api`, `oauth`); `client` is the HTTP edge implementing the
//! provider seam.
//!
//! Wire format: `shared/reference/fitbit-api.md` (and `docs/architecture.md`).

pub mod api;
pub mod client;
pub mod notification;
pub mod oauth;
pub mod signature;
pub mod webhook;

pub use client::{
    CodeExchangeError, FitbitApi, FitbitApiSettings, Subscription, SubscriptionCreated, TokenCheck,
};
pub use notification::{notice_kind, parse_notifications, Notification, NotificationParseError};
pub use oauth::{read_access_token_claims, AccessTokenClaims};
pub use signature::{sign, verify_signature, SignatureCheck};
pub use webhook::FitbitWebhook;
