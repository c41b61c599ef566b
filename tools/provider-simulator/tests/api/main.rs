//! The simulator over real HTTP, as the fetcher and the demo use it.

mod helpers;

mod cohort;
mod data;
mod faults;
mod google_data;
mod google_helpers;
mod google_notifications;
mod google_oauth;
mod google_rate_limit;
mod google_service_account;
mod google_subscribers;
mod google_users;
mod notifications;
mod oauth;
mod rate_limit;
mod series;
mod subscriptions;
