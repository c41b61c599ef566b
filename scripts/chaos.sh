#!/usr/bin/env bash
# No-loss accounting under faults (docs/reliability.md): each scenario drives the simulator's
# cohort through the real pipeline — its own durable broker, its own database — while one fault is
# injected, then checks that nothing was lost. They restart PostgreSQL and kill processes, so they
# run one at a time and alone. The accounting's self-test (every check must report its invariant
# broken on purpose) runs with them.
#   scripts/chaos.sh            # the full run: 40 participants, 120 changes per phase
#   scripts/chaos.sh --short    # the CI form: 8 participants, 15 changes per phase
#   scripts/chaos.sh --short --repeat 20 SCENARIO
#                               # one scenario (a test name) 20 times in a row, from binaries built
#                               # once and copied aside; each run's result in
#                               # $FITEX_RUN_DIR/chaos-repeat.txt, its output in chaos-repeat-N.log
# Results: one JSON line per scenario in $FITEX_RUN_DIR/chaos-report.jsonl (and a table).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

if [[ ${1:-} == --short ]]; then
  shift
  export CHAOS_USERS=${CHAOS_USERS:-8} CHAOS_ROUNDS=${CHAOS_ROUNDS:-15}
else
  export CHAOS_USERS=${CHAOS_USERS:-40} CHAOS_ROUNDS=${CHAOS_ROUNDS:-120}
fi
repeat=0
if [[ ${1:-} == --repeat ]]; then
  repeat=${2:?--repeat N SCENARIO}
  scenario=${3:?--repeat N SCENARIO}
fi
bash scripts/stack-up.sh >/dev/null
export CHAOS_REPORT="$FITEX_RUN_DIR/chaos-report.jsonl"
# Where a consumer group's state and the services' logs go when a group does not catch up.
export CHAOS_DIAGNOSIS_DIR="${CHAOS_DIAGNOSIS_DIR:-$FITEX_RUN_DIR}"
rm -f "$CHAOS_REPORT"
cargo build --quiet --workspace --bins
status=0
if ((repeat > 0)); then
  # The test executable and the services it starts (found beside it, in ../), frozen for the runs.
  exe=$(cargo test --no-run -p fitex-e2e --test chaos --message-format=json 2>/dev/null |
    python3 -c 'import json, sys
for m in map(json.loads, sys.stdin):
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "chaos":
        print(m["executable"])')
  bin="$FITEX_RUN_DIR/chaos-repeat-bin"
  rm -rf "$bin" && mkdir -p "$bin/deps"
  cp "$exe" "$bin/deps/chaos"
  for b in fitex-subscriber fitex-fetcher fitex-goals fitexctl; do cp "$CARGO_TARGET_DIR/debug/$b" "$bin/"; done
  log="$FITEX_RUN_DIR/chaos-repeat.txt"
  : >"$log"
  passed=0
  for i in $(seq 1 "$repeat"); do
    started=$SECONDS
    if "$bin/deps/chaos" --ignored --exact "$scenario" --test-threads 1 \
      >"$FITEX_RUN_DIR/chaos-repeat-$i.log" 2>&1; then
      result=PASS passed=$((passed + 1))
    else
      result=FAIL status=1
    fi
    echo "$(date -u +%FT%TZ) run $i/$repeat $scenario: $result ($((SECONDS - started)) s)" | tee -a "$log"
  done
  echo "$passed of $repeat runs passed" | tee -a "$log"
else
  cargo nextest run -p fitex-e2e --test chaos --run-ignored only --test-threads 1 --no-fail-fast || status=$?
fi
python3 - "$CHAOS_REPORT" <<'PY'
import json, os, sys
path = sys.argv[1]
rows = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
print(f"\n{'scenario':<44} {'user-days':>9} {'notif.':>7} {'lost':>5} {'events':>14} {'bad ev.':>7} "
      f"{'outbox':>6} {'lag':>4} {'DLQ':>4} {'goals':>6} {'restarts':>8} {'rejoins':>7} {'s':>6}")
for r in rows:
    ev = r.get('events', {})
    counts = "/".join(str(ev.get(s, {}).get('events', 0)) for s in ('ActivityDays', 'Goals', 'TeamProgress'))
    goals = ('ok' if not r['goal_differences'] else 'WRONG') if r['goals_checked'] else 'n/a'
    lag = sum(l['lag'] for l in r['lagging']) if r['lag_error'] is None else '?'
    print(f"{r['scenario']:<44} {r['user_days_changed']:>9} {r['notifications_delivered']:>7} "
          f"{len(r['mismatches']):>5} {counts:>14} {len(r['event_findings']):>7} {r['outbox_left']:>6} "
          f"{lag:>4} {r['dead_letters']:>4} {goals:>6} {r['restarts']:>8} {r.get('consumer_rejoins', 0):>7} {r['seconds']:>6.1f}")
    for note in r.get('watermark_notes', []):
        print(f"    note: {note}")
    if r.get('diagnosis'):
        print(f"    consumer-group diagnosis: {r['diagnosis']}")
PY
exit $status
