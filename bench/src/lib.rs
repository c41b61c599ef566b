//! Baseline programs for `bench/*.sh`; see `docs/benchmarks.md`.
