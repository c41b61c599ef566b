//! The connection core: everything about a participant's provider connections that more than one
//! process needs.
//!
//! - [`store`]: the `provider_connections` table — the only home of SQL on it — and the model read
//!   from it ([`Connection`], [`SyncStatus`], [`TokenKind`]), tokens encrypted at rest.
//! - [`Connections`] ([`keeper`]): connecting an account (identity, time zone, backfill) and
//!   keeping its tokens usable, refreshed single-flight under the connection's row lock.
//! - [`providers`]: the provider registry and the API clients built from [`settings`] (the
//!   `[fitbit_api]`, `[google_health_api]` and `[tokens]` sections every process shares).
//! - [`pending`]: the days waiting to be fetched (`pending_fetches`).
//! - [`purge`]: deleting a participant everywhere (soft first, purged later, restorable until).
//! - [`token_keys`] and [`reports`]: what operators' key rotation and reports read.
//!
//! It is a library, not part of the fetcher, because the fetcher, the participant portal and
//! `fitexctl` all connect participants, refresh their tokens and delete them, and the end-to-end
//! tests and load drivers set connections up: each depends on this crate, and no service depends
//! on another. The fetcher keeps what only it does — consuming notifications, fetching and storing
//! days, publishing activity events.

pub mod connect;
pub mod error;
pub mod keeper;
pub mod pending;
pub mod providers;
pub mod purge;
pub mod reports;
pub mod settings;
pub mod status;
pub mod store;
pub mod token_keys;

pub use error::{SetupError, SyncError};
pub use keeper::Connections;
pub use providers::Providers;
pub use settings::ConnectionsSettings;
pub use status::{reconnect_reason, SyncStatus, TokenKind};
pub use store::{Connection, ConnectionView};
