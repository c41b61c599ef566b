#!/usr/bin/env bash
# The demo (the main job) with either provider, small and on ports of its own, checked for its
# outcome: the demo itself must finish (each of its steps fails it on a time-out), and
# scripts/demo-check.sh must find, in its database, today's goal for every participant who kept
# their access, all 8 teams with progress on the leaderboard, and exactly the revoked participants
# reconnect_required. Then two runs that must fail, to show that these checks can: the check on a
# copy of the database with one goal deleted, one team's progress zeroed and one revoked participant
# made active; and the demo without its fetcher, which must stop at the backfill. Its services are
# stopped afterwards. Part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

export DEMO_NAME=demo-smoke COHORT=12 SIM_PORT=18090 SUB_PORT=18080 FETCH_PORT=18081 GOALS_PORT=18082 PORTAL_PORT=18083
db=fitex_${DEMO_NAME//-/_}
broken_db=${db}_broken
sql() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -v ON_ERROR_STOP=1 -Atc "$2" "$1"; }
# Stops the demo's services and waits (up to 10 s each) until they have let go of the database.
stop_demo() {
  local pidfile="$FITEX_RUN_DIR/$DEMO_NAME.pids" pid
  [[ -f $pidfile ]] || return 0
  xargs -r kill <"$pidfile" 2>/dev/null || true
  for pid in $(cat "$pidfile"); do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -f "$pidfile"
}
cleanup() {
  stop_demo
  dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$broken_db" 2>/dev/null || true
}
trap cleanup EXIT

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
  if ! bash scripts/demo.sh --provider "$provider" >"$log" 2>&1; then
    echo "demo smoke ($provider): the demo failed ($log):" >&2
    tr '\r' '\n' <"$log" | tail -n 25 >&2
    exit 1
  fi
  stop_demo
  expect "$log" "== Leaderboard" "rank  team" "reconnect_required" "Participant pages stay up"
  if [[ $provider == google ]]; then
    expect "$log" "Google verified the endpoint" "ACTIVE" "12 account(s) connected" \
      "replaced by the Google Health connection; history continues" \
      "Your Google Health access has expired or was revoked" "'Google 204'"
  fi
  bash scripts/demo-check.sh --provider "$provider" --log "$log" --db "$db"
done

# The check must catch a wrong outcome: the Google run's database, copied and spoilt three ways.
echo "demo smoke: the check on a spoilt copy of the database must fail"
PGOPTIONS="-c client_min_messages=warning" dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$broken_db"
createdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -T "$db" "$broken_db"
sql "$broken_db" "
  DELETE FROM goal_history g USING participants p, provider_connections c
   WHERE p.id = g.participant_id AND c.participant_id = p.id AND c.superseded_by IS NULL
     AND c.sync_status = 'active' AND g.effective_date = (now() AT TIME ZONE p.time_zone)::date
     AND p.id = (SELECT min(participant_id) FROM provider_connections
                 WHERE superseded_by IS NULL AND sync_status = 'active');
  UPDATE team_progress SET progress = 0 WHERE team_id = (SELECT min(id) FROM teams);
  UPDATE provider_connections SET sync_status = 'active'
   WHERE id = (SELECT min(id) FROM provider_connections WHERE sync_status = 'reconnect_required');" >/dev/null
spoilt_log="$FITEX_RUN_DIR/demo-smoke-check-spoilt.log"
if bash scripts/demo-check.sh --provider google --log "$FITEX_RUN_DIR/demo-smoke-google.log" \
  --db "$broken_db" >"$spoilt_log" 2>&1; then
  echo "demo smoke: the check passed a database with a goal missing, a team without progress and a revoked participant active ($spoilt_log)" >&2
  exit 1
fi
expect "$spoilt_log" "have no goal for today" "with no progress" "revoked but not reconnect_required"
sed -n 's/^  - /  (as it must) /p' "$spoilt_log"
dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$broken_db"

# The demo must fail, plainly, when a step does not complete: here without its fetcher.
echo "demo smoke: the demo without its fetcher must fail at the backfill"
stalled_log="$FITEX_RUN_DIR/demo-smoke-no-fetcher.log"
if DEMO_WITHOUT=fetcher DEMO_STEP_TIMEOUT_S=15 bash scripts/demo.sh --provider fitbit >"$stalled_log" 2>&1; then
  echo "demo smoke: the demo succeeded without a fetcher ($stalled_log)" >&2
  exit 1
fi
expect "$stalled_log" "demo FAILED: the backfill did not complete within 15 s"
grep -a '^demo FAILED' "$stalled_log" | sed 's/^/  (as it must) /'
echo "demo smoke: both providers ran the season with the outcome they must have; the checks fail when it is wrong"
