//! The subscriber: the HTTPS endpoint providers call when a participant's data changes.
//!
//! It proves each call came from the provider, turns every notification into one Kafka record
//! (keyed by the provider's user id) and answers only once the records are durable: acknowledged
//! by the broker, or — when the broker cannot acknowledge within the deadline — committed to the
//! PostgreSQL outbox, which a relay publishes later. If neither works it answers 503 so the
//! provider retries.

pub mod fitbit_webhook;
pub mod google_health_webhook;
pub mod metric_names;
pub mod publisher;
pub mod settings;
pub mod startup;
pub mod webhook;

pub use settings::Settings;
pub use startup::Application;
