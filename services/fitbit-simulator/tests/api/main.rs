//! The simulator over real HTTP, as the fetcher and the demo use it.

mod helpers;

mod cohort;
mod data;
mod faults;
mod notifications;
mod oauth;
mod rate_limit;
mod series;
mod subscriptions;
