//! The fetcher against the Fitbit simulator, a real broker (tansu) and real PostgreSQL.
mod fetching;
mod helpers;
mod tokens;
