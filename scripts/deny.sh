#!/usr/bin/env bash
# Dependency policy (deny.toml): licences, banned/duplicate crates and sources, checked by
# cargo-deny (installed once into $FITEX_CACHE/cargo-deny from crates.io, ~10 minutes on 2 cores).
# The RustSec advisory database cannot be fetched from this machine, so `advisories` is not among
# the default checks; where the network allows, `scripts/deny.sh advisories` (docs/security.md).
# Arguments: the checks to run (default: licenses bans sources).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

CARGO_DENY_VERSION="${CARGO_DENY_VERSION:-0.20.2}"
CARGO_DENY="$FITEX_CACHE/cargo-deny/bin/cargo-deny"
if ! [[ -x $CARGO_DENY ]] || ! "$CARGO_DENY" --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
  echo "installing cargo-deny $CARGO_DENY_VERSION into $FITEX_CACHE/cargo-deny (one-off, several minutes)…" >&2
  # A target directory of its own, so the workspace's build cache is left alone.
  CARGO_TARGET_DIR="$FITEX_CACHE/cargo-deny/target" \
    cargo install --locked --root "$FITEX_CACHE/cargo-deny" --version "$CARGO_DENY_VERSION" cargo-deny
  rm -rf "$FITEX_CACHE/cargo-deny/target"
fi
"$CARGO_DENY" --version >&2
[[ $# -gt 0 ]] || set -- licenses bans sources
exec "$CARGO_DENY" --locked check --hide-inclusion-graph "$@"
