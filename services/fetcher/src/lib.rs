//! The fetcher: consumes provider notifications, fetches the changed days from the provider with
//! the participant's token (refreshed single-flight, within the rate budget), stores them and
//! publishes an activity event per changed day.

pub mod coalesce;
pub mod connect;
pub mod consumer;
pub mod error;
pub mod notices;
pub mod pending;
pub mod providers;
pub mod purge;
pub mod retry;
pub mod settings;
pub mod settle;
pub mod startup;
pub mod store;
pub mod sync;
pub mod traces;

pub use settings::Settings;
pub use startup::Application;
