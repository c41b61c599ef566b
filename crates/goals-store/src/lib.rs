//! The goals' storage in PostgreSQL and the engine that keeps it current: the goals service's
//! reads and writes ([`store`]), the recomputation of goals and team progress with its events
//! ([`recompute`]), and the operators' set-up of programs, teams and memberships ([`programs`]).
//!
//! The goal rules themselves are pure and live in `fitex-goals`; this crate is their I/O edge,
//! shared by the goals service and `fitexctl`.

pub mod programs;
pub mod recompute;
pub mod store;

pub use recompute::{GoalsEngine, Recomputed, OUTBOX_SOURCE};
