#!/usr/bin/env bash
# Installs the tansu Kafka-compatible broker (crates.io) into a cache outside the clone, once.
# Building it takes ~9 minutes on 2 cores, so the binary is cached under $FITEX_CACHE.
set -euo pipefail
source "$(dirname "$0")/env.sh"

TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
if [[ -x "$TANSU_BIN" ]] && "$TANSU_BIN" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  exit 0
fi
echo "installing tansu $TANSU_VERSION into $FITEX_CACHE/tansu (one-off, several minutes)…" >&2
# A development broker needs none of a production binary's build: no link-time optimisation, no
# single codegen unit, no full optimisation (level 1 keeps it far faster than the tests need) and
# no debug info. Whatever tansu's own release profile says, it then builds several times faster.
CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=false \
CARGO_PROFILE_RELEASE_INCREMENTAL=false \
cargo install --locked --root "$FITEX_CACHE/tansu" --version "$TANSU_VERSION" \
  --features dynostore,libsql tansu
"$TANSU_BIN" --version >&2
