//! Metric names, in one place so dashboards and code agree.

/// Notifications accepted, by provider and by how they were made durable (`broker`/`outbox`).
pub const ACCEPTED: &str = "fitex_subscriber_notifications_accepted_total";
/// Requests rejected, by provider and reason.
pub const REJECTED: &str = "fitex_subscriber_requests_rejected_total";
/// Endpoint verification calls answered, by provider and outcome.
pub const VERIFICATIONS: &str = "fitex_subscriber_verifications_total";
/// Time from the start of publishing a request's records to their durability.
pub const PUBLISH_SECONDS: &str = "fitex_subscriber_publish_seconds";
