//! Shared foundations of the FitEx Sync services: each service's `main` wires these together.

pub mod api_tokens;
pub mod client_address;
pub mod config;
pub mod consume;
pub mod crash_point;
pub mod database;
pub mod dead_letter;
pub mod health;
pub mod http;
pub mod http_limits;
pub mod http_security;
pub mod kafka;
pub mod kafka_stats;
pub mod log_safe;
pub mod metrics;
pub mod outbox;
pub mod run;
pub mod secrets;
pub mod shutdown;
pub mod telemetry;
pub mod token_cipher;
pub mod trace_context;
pub mod zone;
