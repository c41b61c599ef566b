#!/usr/bin/env bash
# No-loss accounting under faults (docs/reliability.md): each scenario drives the simulator's
# cohort through the real pipeline — its own durable broker, its own database — while one fault is
# injected, then checks that nothing was lost. They restart PostgreSQL and kill processes, so they
# run one at a time and alone.
#   scripts/chaos.sh            # the full run: 40 participants, 120 changes per phase
#   scripts/chaos.sh --short    # the CI form: 8 participants, 15 changes per phase
# Results: one JSON line per scenario in $FITEX_RUN_DIR/chaos-report.jsonl (and a table).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if [[ ${1:-} == --short ]]; then
  export CHAOS_USERS=${CHAOS_USERS:-8} CHAOS_ROUNDS=${CHAOS_ROUNDS:-15}
else
  export CHAOS_USERS=${CHAOS_USERS:-40} CHAOS_ROUNDS=${CHAOS_ROUNDS:-120}
fi
bash scripts/stack-up.sh >/dev/null
export CHAOS_REPORT="$FITEX_RUN_DIR/chaos-report.jsonl"
rm -f "$CHAOS_REPORT"
cargo build --quiet --workspace --bins
status=0
cargo nextest run -p fitex-e2e --test chaos --run-ignored only --test-threads 1 --no-fail-fast || status=$?
python3 - "$CHAOS_REPORT" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])] if sys.argv[1] else []
print(f"\n{'scenario':<44} {'user-days':>9} {'notif.':>7} {'lost':>5} {'dup':>4} {'outbox':>6} {'DLQ':>4} {'goals':>6} {'restarts':>8} {'s':>6}")
for r in rows:
    print(f"{r['scenario']:<44} {r['user_days_changed']:>9} {r['notifications_delivered']:>7} "
          f"{len(r['mismatches']):>5} {r['duplicate_rows']:>4} {r['outbox_left']:>6} {r['dead_letters']:>4} "
          f"{'ok' if r['goals_consistent'] else 'WRONG':>6} {r['restarts']:>8} {r['seconds']:>6.1f}")
PY
exit $status
