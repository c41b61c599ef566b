//! The goals service: recomputes individual and team goals on every activity change (in each
//! participant's own time zone), stores their history, publishes goal and team-progress events,
//! and serves them through a read API.

pub mod api;
pub mod closer;
pub mod consumer;
pub mod settings;
pub mod startup;

pub use settings::Settings;
pub use startup::Application;
