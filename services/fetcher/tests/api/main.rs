//! The fetcher against the Fitbit simulator, a real broker (tansu) and real PostgreSQL.
mod connecting;
mod fetching;
mod google;
mod group_store;
mod helpers;
mod notices;
mod ops_http;
mod stale_fetches;
mod tokens;
mod traces;
