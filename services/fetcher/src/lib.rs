//! The fetcher: consumes provider notifications, fetches the changed days from the provider with
//! the participant's token (refreshed single-flight, within the rate budget), stores them and
//! publishes an activity event per changed day.
//!
//! Connections, their tokens, the provider registry and the days waiting to be fetched are the
//! connection core (`fitex_connections`), shared with the portal and `fitexctl`; the fetcher holds
//! one ([`sync::Fetcher::connections`]).

pub mod coalesce;
pub mod consumer;
pub mod group_commit;
pub mod notices;
pub mod pending;
pub mod retry;
pub mod settings;
pub mod settle;
pub mod startup;
pub mod store;
pub mod sync;
pub mod traces;

pub use settings::Settings;
pub use startup::Application;
