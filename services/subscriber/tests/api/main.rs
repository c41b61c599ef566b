//! The subscriber through real HTTP, a real broker (tansu) and real PostgreSQL.
mod client_address;
mod google_health;
mod helpers;
mod http_abuse;
mod outbox;
mod webhook;
