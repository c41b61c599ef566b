#!/usr/bin/env bash
# Stops what stack-up.sh and demo.sh started (the broker, the demo's services). PostgreSQL is the machine's own service and stays up
# unless --postgres is given.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
if [[ -f "$FITEX_RUN_DIR/demo.pids" ]]; then
  # The demo's services (left running so the participant pages stay up): graceful SIGTERM.
  xargs -r kill <"$FITEX_RUN_DIR/demo.pids" 2>/dev/null || true
  rm -f "$FITEX_RUN_DIR/demo.pids"
  echo "demo services stopped" >&2
fi
if [[ -f "$FITEX_RUN_DIR/tansu.pid" ]]; then
  pid=$(cat "$FITEX_RUN_DIR/tansu.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "tansu stopped" >&2
  fi
  rm -f "$FITEX_RUN_DIR/tansu.pid"
fi
if [[ "${1:-}" == "--postgres" ]]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main stop
  echo "PostgreSQL stopped" >&2
fi
