# Shared settings for the project's scripts (sourced, not run).
export FITEX_CACHE="${FITEX_CACHE:-$HOME/.cache/fitex-sync}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FITEX_CACHE/target}"
# The full broker (memory and sqlite storage; the tests need both) and the memory-only one the
# demo builds on a first run (scripts/install-tansu.sh).
export TANSU_BIN="$FITEX_CACHE/tansu/bin/tansu"
export TANSU_MEMORY_BIN="$FITEX_CACHE/tansu-memory/bin/tansu"
export FITEX_RUN_DIR="${FITEX_RUN_DIR:-$FITEX_CACHE/run}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-postgres}"
# Tools the scripts install from crates.io (cargo-nextest, oha, inferno) live here.
export PATH="$FITEX_CACHE/tools/bin:$PATH"
