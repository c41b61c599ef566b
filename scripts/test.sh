#!/usr/bin/env bash
# Runs every test: brings the local stack up first (installing what is missing), then the whole
# workspace's unit, integration and end-to-end tests against the real broker and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# The tests restart brokers with sqlite storage: they need the full broker build.
FITEX_BROKER_BUILD=full bash scripts/stack-up.sh

# Databases left by earlier runs' tests (each test creates its own).
psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -Atc \
  "SELECT datname FROM pg_database WHERE datname LIKE 'fitex_test_%'" |
  while read -r db; do dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists "$db" || true; done

# The participant pages are tested in headless Chromium (found on PATH under any of its names, or
# where CHROMIUM says; Debian's package is installed when there is none), driven by playwright-core
# from npm under Node.js (it uses that Chromium; no browser download), and checked with axe-core
# from npm. This script installs every tool the tests look for, so a test that still misses one
# fails, here as under CI (FITEX_REQUIRE_TOOLS; crates/testkit/src/tools.rs), instead of passing
# without running.
export FITEX_REQUIRE_TOOLS=1
find_chromium() {
  local name
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$name" && return 0
  done
  return 1
}
if [[ -z ${CHROMIUM:-} ]]; then
  if ! CHROMIUM=$(find_chromium); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    CHROMIUM=$(find_chromium) ||
      { echo "test.sh: no Chromium on PATH even after apt-get install chromium" >&2; exit 1; }
  fi
fi
export CHROMIUM
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
export PLAYWRIGHT_CORE="$FITEX_CACHE/node/node_modules/playwright-core"
export AXE_CORE="$FITEX_CACHE/node/node_modules/axe-core"
[[ -d $PLAYWRIGHT_CORE && -f $AXE_CORE/axe.min.js ]] ||
  npm install --silent --no-audit --no-fund --prefix "$FITEX_CACHE/node" \
    playwright-core@1.64.1 axe-core@4.14.1

cargo fmt --all -- --check
# The workspace lints ([workspace.lints] in Cargo.toml) and clippy's defaults, every warning an error.
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Architecture: no package under services/ depends on another (shared code lives under crates/).
python3 scripts/check-service-deps.py --self-test
python3 scripts/check-service-deps.py
# No two source files of a crate import each other in a loop (the dependency graph runs one way).
python3 scripts/check-module-cycles.py --self-test
python3 scripts/check-module-cycles.py crates/* services/* tools/* tests bench
# The goals API's OpenAPI description must be a valid OpenAPI 3 document.
python3 -c 'import openapi_spec_validator' 2>/dev/null ||
  pip install --quiet --disable-pip-version-check --root-user-action=ignore openapi-spec-validator==0.9.0
python3 -m openapi_spec_validator services/goals/openapi.json
# Deployment: rendered Kubernetes manifests against the schemas, the Dockerfile linted,
# docker-compose.yml checked against the services' configuration.
bash scripts/check-deploy.sh
# Dependencies: licences, duplicate/wildcard crates, sources (advisories need the network: docs/security.md).
bash scripts/deny.sh
# The event contract other teams consume: buf lint, and buf breaking against the previous commit.
bash scripts/check-events.sh
# End-to-end tests start the real service binaries.
cargo build --workspace --bins
# nextest runs each test in a process of its own: tests that read a service's metrics need that
# (one process's metrics registry is global), so it is installed, not optional.
cargo nextest --version >/dev/null 2>&1 ||
  cargo install --quiet --locked --root "$FITEX_CACHE/tools" cargo-nextest --version 0.9.151
cargo nextest run --workspace --no-fail-fast --test-threads 4
# Fuzzing, short form: every fuzz target for 10 s (docs/fuzzing.md); fails on any crash.
bash scripts/fuzz.sh --short
# The main job itself, with either provider.
bash scripts/demo-smoke.sh
# No secret or participant token in any output of either provider's demo (own ports and logs).
bash scripts/secrets-scan.sh
# No-loss accounting under faults, short form (it restarts PostgreSQL: nothing else may run).
bash scripts/chaos.sh --short
