//! The goals service through a real broker (tansu) and real PostgreSQL.
mod error_answers;
mod helpers;
mod http_abuse;
mod kafka_metrics;
mod read_api;
mod recompute;
mod season_close;
