#!/usr/bin/env bash
# The main job, end to end on this machine: the local stack (tansu + PostgreSQL); the Fitbit
# simulator with a synthetic FitEx cohort (48 participants, 21 days of history, 3 whose Fitbit
# access was revoked); the subscriber, the fetcher and the goals service. A FitEx season of 8
# teams of 6 starts; the cohort is connected and backfilled, then "today's" syncs flow through
# signed notifications → subscriber → Kafka → fetcher → PostgreSQL → goals. Ends with the team
# leaderboard, every participant's goal and who must reconnect.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
COHORT=${COHORT:-48}
DAYS=${DAYS:-21}
SIM_PORT=${SIM_PORT:-8090}
SUB_PORT=${SUB_PORT:-8080}
FETCH_PORT=${FETCH_PORT:-8081}
GOALS_PORT=${GOALS_PORT:-8082}
PORTAL_PORT=${PORTAL_PORT:-8083}
SECRET=dev-client-secret-change-me   # config/base.toml's development webhook secret

step "Local stack"
bash scripts/stack-up.sh
bin="$CARGO_TARGET_DIR/debug"

# A database and topics of this run's own, so each run starts from an empty season.
run=$(date +%Y%m%d%H%M%S)
export FITEX__DATABASE__DATABASE_NAME=fitex_demo
dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force fitex_demo
for topic in NOTIFICATIONS FETCH_RETRIES DEAD_LETTERS ACTIVITY_DAYS GOALS TEAM_PROGRESS; do
  default=$(sed -n "s/^${topic,,} = \"\(.*\)\"/\1/p" config/base.toml)
  export "FITEX__KAFKA__TOPICS__$topic=$default.demo-$run"
done
"$bin/fitexctl" migrate
"$bin/fitexctl" topics ensure >/dev/null
export FITEX__SUBSCRIBER__PORT=$SUB_PORT FITEX__FETCHER__PORT=$FETCH_PORT FITEX__GOALS__PORT=$GOALS_PORT
export FITEX__PORTAL__PORT=$PORTAL_PORT FITEX__PORTAL__PUBLIC_BASE_URL=http://127.0.0.1:$PORTAL_PORT
sim="http://127.0.0.1:$SIM_PORT"
export FITEX__FITBIT_API__API_BASE_URL=$sim FITEX__FITBIT_API__TOKEN_URL=$sim/oauth2/token
# Fitbit signs notifications with the OAuth client secret: one secret serves both.
export FITEX__FITBIT_API__CLIENT_ID=SIMCLIENT FITEX__FITBIT_API__CLIENT_SECRET=$SECRET
export FITEX__FITBIT__CLIENT_SECRETS=$SECRET FITEX__TELEMETRY__LOG_FILTER=info,rdkafka=warn,sqlx=warn
export FITEX__PORTAL__AUTHORIZE_URL=$sim/oauth2/authorize

# Services of an earlier demo run still up: stop them first.
if [[ -f "$FITEX_RUN_DIR/demo.pids" ]]; then
  xargs -r kill <"$FITEX_RUN_DIR/demo.pids" 2>/dev/null || true
  rm -f "$FITEX_RUN_DIR/demo.pids"
  sleep 1
fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; echo "$1 did not answer" >&2; return 1; }

step "Fitbit simulator ($COHORT participants, $DAYS days), subscriber :$SUB_PORT, fetcher :$FETCH_PORT, goals :$GOALS_PORT"
"$bin/fitbit-simulator" --port "$SIM_PORT" --cohort-size "$COHORT" --days "$DAYS" --seed 42 \
  --subscriber-url "http://127.0.0.1:$SUB_PORT/webhooks/fitbit" --client-secret "$SECRET" \
  >"$FITEX_RUN_DIR/simulator.log" 2>&1 & pids+=($!)
"$bin/fitex-subscriber" >"$FITEX_RUN_DIR/subscriber.log" 2>&1 & pids+=($!)
"$bin/fitex-fetcher" >"$FITEX_RUN_DIR/fetcher.log" 2>&1 & pids+=($!)
"$bin/fitex-goals" >"$FITEX_RUN_DIR/goals.log" 2>&1 & pids+=($!)
"$bin/fitex-portal" >"$FITEX_RUN_DIR/portal.log" 2>&1 & pids+=($!)
wait_http "$sim/_sim/cohort"
wait_http "http://127.0.0.1:$SUB_PORT/readyz"
wait_http "http://127.0.0.1:$FETCH_PORT/readyz"
wait_http "http://127.0.0.1:$GOALS_PORT/readyz"
wait_http "http://127.0.0.1:$PORTAL_PORT/readyz"
echo "verification handshake: right code → $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SUB_PORT/webhooks/fitbit?verify=dev-verification-code"), wrong code → $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SUB_PORT/webhooks/fitbit?verify=nope")"

step "Connecting the cohort (tokens stored encrypted; the last 28 days scheduled for backfill)"
cohort=$(curl -fsS "$sim/_sim/cohort")
# Three participants revoked FitEx's access at Fitbit: their next fetch gets a 401.
for user in $(python3 -c 'import json,sys; print(" ".join(u["user_id"] for u in json.load(sys.stdin)[:3]))' <<<"$cohort"); do
  refresh=$(python3 -c 'import json,sys; print(next(u["refresh_token"] for u in json.load(sys.stdin) if u["user_id"]==sys.argv[1]))' "$user" <<<"$cohort")
  curl -fsS -u "SIMCLIENT:$SECRET" -d "token=$refresh" "$sim/oauth2/revoke" >/dev/null
  echo "revoked at Fitbit: $user"
done
"$bin/fitexctl" import <<<"$cohort" | tail -n 1

step "A FitEx season: 8 weeks from 20 days ago, FitEx miles, adaptive goals, 8 teams of 6"
program=$("$bin/fitexctl" programs create --name "FitEx Autumn $run" --started-days-ago 20 --weeks 8 \
  --unit fitex_miles --strategy adaptive_percentile | tee /dev/stderr | sed -n 's/^program \([0-9]*\) .*/\1/p')
teams=()
for name in "Blue Ridge" "Shenandoah" "Tidewater" "Piedmont" "New River" "Chesapeake" "Roanoke" "Potomac"; do
  teams+=("$("$bin/fitexctl" teams create --program "$program" --name "$name" | sed -n 's/^team \([0-9]*\) .*/\1/p')")
done
i=0
for user in $(python3 -c 'import json,sys; print(" ".join(u["user_id"] for u in json.load(sys.stdin)))' <<<"$cohort"); do
  "$bin/fitexctl" teams add --team "${teams[$((i % 8))]}" --user "$user" >/dev/null
  i=$((i + 1))
done
"$bin/fitexctl" teams list --program "$program"

step "Backfill (within each participant's rate budget)"
for _ in $(seq 1 120); do
  summary=$("$bin/fitexctl" users summary)
  printf '\r%s' "$summary"
  [[ $summary == *" days_pending=0 "* && $summary != *"days_stored=0 "* ]] && break
  sleep 1
done
echo

step "Today's syncs: the simulator changes today's steps and sends signed notifications"
python3 - "$sim" <<'PY'
import json, random, sys, urllib.request, datetime
sim = sys.argv[1]
cohort = json.load(urllib.request.urlopen(f"{sim}/_sim/cohort"))
random.seed(7)
today = datetime.date.today().isoformat()
statuses = {}
for user in cohort:
    steps = random.randint(2500, 13000)
    day = {"steps": steps, "distance_km": round(steps * 0.00075, 2), "sedentary_minutes": 620,
           "lightly_active_minutes": 190, "fairly_active_minutes": random.randint(0, 40),
           "very_active_minutes": random.randint(0, 30), "worn_minutes": random.randint(600, 900),
           "resting_heart_rate": 62}
    request = urllib.request.Request(f"{sim}/_sim/users/{user['user_id']}/days/{today}",
        data=json.dumps(day).encode(), method="PUT", headers={"Content-Type": "application/json"})
    for delivery in json.load(urllib.request.urlopen(request))["deliveries"]:
        statuses[delivery.get("status")] = statuses.get(delivery.get("status"), 0) + 1
print(f"{len(cohort)} syncs for {today}; subscriber answers: {statuses}")
PY
for _ in $(seq 1 60); do
  summary=$("$bin/fitexctl" users summary)
  printf '\r%s' "$summary"
  [[ $summary == *" days_pending=0 "* ]] && break
  sleep 1
done
sleep 2
echo

step "Goals (recomputed on every change)"
for _ in $(seq 1 60); do
  computed=$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d fitex_demo -Atc \
    "SELECT count(DISTINCT participant_id) FROM goal_history WHERE effective_date = current_date")
  printf '\rparticipants with a goal for today: %s' "$computed"
  [[ $computed -ge $((COHORT - 3)) ]] && break
  sleep 1
done
sleep 2
echo
"$bin/fitexctl" goals show --program "$program"

step "Leaderboard"
"$bin/fitexctl" leaderboard --program "$program"

step "Participants"
"$bin/fitexctl" users list

step "Who must reconnect"
"$bin/fitexctl" users list | grep -A1 reconnect_required || echo "nobody"

step "Metrics"
curl -fsS "http://127.0.0.1:$FETCH_PORT/metrics" | grep -E '^fitex_(fetcher_(days_stored|user_syncs|reconnect_required)_total|provider_requests_total|fetcher_users_reconnect_required)' || true
curl -fsS "http://127.0.0.1:$GOALS_PORT/metrics" | grep -E '^fitex_goals_' || true

step "Participant pages stay up"
printf '%s\n' "${pids[@]}" >"$FITEX_RUN_DIR/demo.pids"
trap - EXIT
cat <<EOT
Status pages: http://127.0.0.1:$PORTAL_PORT/ — "Connect your Fitbit" goes to the simulated Fitbit
sign-in: pick SIM0001 (whose access was revoked: see the reconnect page turn active again) or any
other participant to see their sync status, today's goal and their team's week.
Goals API:    curl -H 'Authorization: Bearer dev-goals-api-token' http://127.0.0.1:$GOALS_PORT/v1/programs/$program/leaderboard
The simulator, subscriber, fetcher, goals service and pages keep running; scripts/stack-down.sh stops
them and the broker. Logs: $FITEX_RUN_DIR/{simulator,subscriber,fetcher,goals,portal}.log
EOT
