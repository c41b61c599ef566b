#!/usr/bin/env bash
# Installs the tansu Kafka-compatible broker (crates.io) into a cache outside the clone, once.
#
#   scripts/install-tansu.sh          # the full broker: memory and sqlite storage ($TANSU_BIN)
#   scripts/install-tansu.sh memory   # memory storage only ($TANSU_MEMORY_BIN), enough for the demo
#
# The tests need sqlite storage (a broker killed and restarted keeps its records); that takes the
# libsql feature, which builds SQLite's C sources and bindgen. The demo's broker keeps nothing
# between runs, so its first run builds the smaller variant. Both share the build cache
# (CARGO_TARGET_DIR), so the second costs only the crates whose features differ.
set -euo pipefail
source "$(dirname "$0")/env.sh"

variant="${1:-full}"
case "$variant" in
  full) features="dynostore,libsql" bin="$TANSU_BIN" ;;
  memory) features="dynostore" bin="$TANSU_MEMORY_BIN" ;;
  *) echo "usage: $0 [full|memory]" >&2; exit 2 ;;
esac
root="$(dirname "$(dirname "$bin")")"

TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  exit 0
fi
echo "installing tansu $TANSU_VERSION ($variant) into $root (one-off, several minutes)…" >&2
# A development broker needs none of a production binary's build: no link-time optimisation, no
# single codegen unit, no full optimisation (level 1 keeps it far faster than the tests need) and
# no debug info. Whatever tansu's own release profile says, it then builds several times faster.
CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=false \
CARGO_PROFILE_RELEASE_INCREMENTAL=false \
cargo install --locked --root "$root" --version "$TANSU_VERSION" --features "$features" tansu
"$bin" --version >&2
