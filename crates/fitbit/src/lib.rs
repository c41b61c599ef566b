//! The Fitbit Web API's subscriber protocol, kept free of I/O so it can be tested exhaustively.
//!
//! Wire format: `shared/reference/fitbit-api.md` (and `docs/fitbit.md`).

pub mod notification;
pub mod signature;

pub use notification::{parse_notifications, Notification, NotificationParseError};
pub use signature::{sign, verify_signature, SignatureCheck};
