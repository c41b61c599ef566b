#!/usr/bin/env bash
# The demo (the main job) with either provider, small and on ports of its own, checked for what it
# must show; its services are stopped afterwards. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

export DEMO_NAME=demo-smoke COHORT=12 SIM_PORT=18090 SUB_PORT=18080 FETCH_PORT=18081 GOALS_PORT=18082 PORTAL_PORT=18083
stop_demo() {
  if [[ -f "$FITEX_RUN_DIR/$DEMO_NAME.pids" ]]; then
    xargs -r kill <"$FITEX_RUN_DIR/$DEMO_NAME.pids" 2>/dev/null || true
    rm -f "$FITEX_RUN_DIR/$DEMO_NAME.pids"
  fi
}
trap stop_demo EXIT

expect() { # expect LOG TEXT...: every text appears in the log
  local log=$1; shift
  for text in "$@"; do
    # No `grep -q`: it stops reading early and, under pipefail, the SIGPIPE to `tr` reads as a miss.
    if ! tr '\r' '\n' <"$log" | grep -aF -- "$text" >/dev/null; then
      echo "demo smoke: '$text' missing from the demo's output ($log)" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
  done
}

for provider in fitbit google; do
  log="$FITEX_RUN_DIR/demo-smoke-$provider.log"
  echo "demo smoke ($provider): $log"
  bash scripts/demo.sh --provider "$provider" >"$log" 2>&1
  stop_demo
  expect "$log" "== Leaderboard" "rank  team" "reconnect_required" "Participant pages stay up"
  if [[ $provider == google ]]; then
    expect "$log" "Google verified the endpoint" "ACTIVE" "12 account(s) connected" \
      "replaced by the Google Health connection; history continues" \
      "Your Google Health access has expired or was revoked" "'Google 204'"
  fi
done
echo "demo smoke: both providers ran the season"
