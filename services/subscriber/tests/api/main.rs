//! The subscriber through real HTTP, a real broker (tansu) and real PostgreSQL.
mod helpers;
mod outbox;
mod webhook;
