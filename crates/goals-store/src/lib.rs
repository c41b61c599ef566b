//! The goals' storage in PostgreSQL and the engine that keeps it current: the goals service's
//! reads and writes ([`store`]), activity logged by hand ([`manual`]), the recomputation of goals and team progress with its events
//! ([`recompute`]), the operators' set-up of programs, teams and memberships ([`programs`]), a
//! season's close and its frozen results ([`season_close`]), and the operators' audit log
//! ([`audit`]).
//!
//! The goal rules themselves are pure and live in `fitex-goals`; this crate is their I/O edge,
//! shared by the goals service and `fitexctl`.

pub mod audit;
pub mod manual;
pub mod programs;
pub mod recompute;
pub mod season_close;
pub mod store;

pub use recompute::{GoalsEngine, Recomputed, OUTBOX_SOURCE};
