//! The goals service through a real broker (tansu) and real PostgreSQL.
mod helpers;
mod http_abuse;
mod read_api;
mod recompute;
