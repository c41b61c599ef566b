//! The subscriber: the HTTPS endpoint providers call when a participant's data changes.
//!
//! It proves each call came from the provider, turns every notification into one Kafka record
//! (keyed by the provider's user id) and answers only once the records are durable: acknowledged
//! by the broker, or — when the broker cannot acknowledge within the deadline — committed to the
//! PostgreSQL outbox, which a relay publishes later. If neither works it answers 503 so the
//! provider retries.

pub mod fitbit_webhook;
pub mod google_health_webhook;
pub mod publisher;
pub mod settings;
pub mod startup;
pub mod webhook;

pub use settings::Settings;
pub use startup::Application;

/// Metric names, in one place so dashboards and code agree.
pub mod metric_names {
    /// Notifications accepted, by provider and by how they were made durable (`broker`/`outbox`).
    pub const ACCEPTED: &str = "fitex_subscriber_notifications_accepted_total";
    /// Requests rejected, by provider and reason.
    pub const REJECTED: &str = "fitex_subscriber_requests_rejected_total";
    /// Endpoint verification calls answered, by provider and outcome.
    pub const VERIFICATIONS: &str = "fitex_subscriber_verifications_total";
    /// Time from the start of publishing a request's records to their durability.
    pub const PUBLISH_SECONDS: &str = "fitex_subscriber_publish_seconds";
}
