#!/usr/bin/env bash
# The main job, end to end on this machine: the local stack (tansu + PostgreSQL); the Fitbit
# simulator with a synthetic FitEx cohort (48 participants, 21 days of history, 3 whose Fitbit
# access was revoked); the subscriber, the fetcher and the goals service. A FitEx season of 8
# teams of 6 starts; the cohort is connected and backfilled, then "today's" syncs flow through
# signed notifications → subscriber → Kafka → fetcher → PostgreSQL → goals. Ends with the team
# leaderboard, every participant's goal and who must reconnect.
#
# `scripts/demo.sh --provider google` (or PROVIDER=google) plays the season across Google's switch-off
# of the Fitbit Web API: the cohort's Fitbit-era history and goals first, then the webhook is
# registered with the (simulated) Google Health API by `fitexctl google subscriber create`, the
# participants reconnect through Google (linked by their legacy Fitbit id, so history and goals
# continue), and today's syncs arrive as Google's signed notifications.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

PROVIDER=${PROVIDER:-fitbit}
while [[ $# -gt 0 ]]; do
  case $1 in
    --provider) PROVIDER=${2:-}; shift 2 ;;
    --provider=*) PROVIDER=${1#*=}; shift ;;
    *) echo "usage: $0 [--provider fitbit|google]" >&2; exit 2 ;;
  esac
done
case $PROVIDER in
  fitbit) ;;
  google | google_health) PROVIDER=google ;;
  *) echo "--provider must be fitbit or google, not '$PROVIDER'" >&2; exit 2 ;;
esac
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
COHORT=${COHORT:-48}
DAYS=${DAYS:-21}
SIM_PORT=${SIM_PORT:-8090}
SUB_PORT=${SUB_PORT:-8080}
FETCH_PORT=${FETCH_PORT:-8081}
GOALS_PORT=${GOALS_PORT:-8082}
PORTAL_PORT=${PORTAL_PORT:-8083}
# Secrets: config/base.toml's development values unless the environment sets them (as
# scripts/secrets-scan.sh does, to find any that leak into output). The simulator is given the same.
SECRET=${FITEX__FITBIT_API__CLIENT_SECRET:-dev-client-secret-change-me}
VERIFICATION_CODE=${FITEX__FITBIT__VERIFICATION_CODE:-dev-verification-code}
GOOGLE_SECRET=${FITEX__GOOGLE_HEALTH_API__CLIENT_SECRET:-sim-google-client-secret}
# /metrics asks for this bearer token when it is set.
metrics_auth=()
[[ -n ${FITEX__TELEMETRY__METRICS_TOKEN:-} ]] &&
  metrics_auth=(-H "Authorization: Bearer $FITEX__TELEMETRY__METRICS_TOKEN")

step "Local stack"
bash scripts/stack-up.sh
bin="$CARGO_TARGET_DIR/debug"

# A database and topics of this run's own, so each run starts from an empty season.
run=$(date +%Y%m%d%H%M%S)
# DEMO_NAME keeps a second demo (the test suite's smoke run) apart from one left running.
DEMO_NAME=${DEMO_NAME:-demo}
db=fitex_${DEMO_NAME//-/_}
pidfile="$FITEX_RUN_DIR/$DEMO_NAME.pids"
export FITEX__DATABASE__DATABASE_NAME=$db
dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$db"
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
# Fitbit signs notifications with the OAuth client secret: one secret serves both (a list set in
# the environment, e.g. mid-rotation, must include it).
export FITEX__FITBIT_API__CLIENT_ID=SIMCLIENT FITEX__FITBIT_API__CLIENT_SECRET=$SECRET
export FITEX__FITBIT__CLIENT_SECRETS=${FITEX__FITBIT__CLIENT_SECRETS:-$SECRET}
export FITEX__FITBIT__VERIFICATION_CODE=$VERIFICATION_CODE FITEX__TELEMETRY__LOG_FILTER=info,rdkafka=warn,sqlx=warn
export FITEX__PORTAL__AUTHORIZE_URL=$sim/oauth2/authorize
# The Google Health API and Google's OAuth, as the simulator's Google mode serves them.
export FITEX__GOOGLE_HEALTH_API__API_BASE_URL=$sim
export FITEX__GOOGLE_HEALTH_API__AUTHORIZE_URL=$sim/google/o/oauth2/v2/auth
export FITEX__GOOGLE_HEALTH_API__TOKEN_URL=$sim/google/token FITEX__GOOGLE_HEALTH_API__REVOKE_URL=$sim/google/revoke
export FITEX__GOOGLE_HEALTH_API__CLIENT_ID=sim-google-client.apps.googleusercontent.com
export FITEX__GOOGLE_HEALTH_API__CLIENT_SECRET=$GOOGLE_SECRET
export FITEX__GOOGLE_HEALTH__KEYSET_URL=$sim/googlehealthapi/webhooks/webhooks_public_keyset.json
# Google sends no notice when consent is withdrawn: the fetcher's catch-up of quiet connections
# finds out (daily in production; within seconds here).
export FITEX__FETCHER__CATCH_UP_AFTER_S=15 FITEX__FETCHER__CATCH_UP_CHECK_S=3

# Services of an earlier demo run still up: stop them first.
if [[ -f "$pidfile" ]]; then
  xargs -r kill <"$pidfile" 2>/dev/null || true
  rm -f "$pidfile"
  sleep 1
fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; echo "$1 did not answer" >&2; return 1; }

step "Fitbit simulator ($COHORT participants, $DAYS days), subscriber :$SUB_PORT, fetcher :$FETCH_PORT, goals :$GOALS_PORT"
"$bin/fitbit-simulator" --port "$SIM_PORT" --cohort-size "$COHORT" --days "$DAYS" --seed 42 \
  --subscriber-url "http://127.0.0.1:$SUB_PORT/webhooks/fitbit" --client-secret "$SECRET" \
  --google-client-secret "$GOOGLE_SECRET" \
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
echo "verification handshake: right code → $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SUB_PORT/webhooks/fitbit?verify=$VERIFICATION_CODE"), wrong code → $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SUB_PORT/webhooks/fitbit?verify=nope")"

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
# Printed from a variable: `tee /dev/stderr` reopens a log file the demo's output is redirected
# to, truncating what the demo printed before.
created=$("$bin/fitexctl" programs create --name "FitEx Autumn $run" --started-days-ago 20 --weeks 8 \
  --unit fitex_miles --strategy adaptive_percentile)
echo "$created" >&2
program=$(sed -n 's/^program \([0-9]*\) .*/\1/p' <<<"$created")
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

if [[ $PROVIDER == google ]]; then
  step "2 November: Google switches the Fitbit Web API off. The webhook is registered with Google"
  curl -fsS "$sim/_sim/google/service-account.json" >"$FITEX_RUN_DIR/service-account.json"
  export GOOGLE_APPLICATION_CREDENTIALS=$FITEX_RUN_DIR/service-account.json
  "$bin/fitexctl" google subscriber create --id fitex-demo \
    --endpoint "http://127.0.0.1:$SUB_PORT/webhooks/google-health"

  step "Participants reconnect through Google (linked to their Fitbit-era history by legacy id)"
  google_cohort=$(curl -fsS "$sim/_sim/google/cohort")
  "$bin/fitexctl" import --provider google_health <<<"$google_cohort" | tail -n 1
  # Three withdrew FitEx's access at Google: their next fetch is refused.
  for user in $(python3 -c 'import json,sys; print(" ".join(u["user_id"] for u in json.load(sys.stdin)[3:6]))' <<<"$google_cohort"); do
    curl -fsS -X POST "$sim/_sim/google/users/$user/revoke" >/dev/null
    echo "consent withdrawn at Google: $user"
  done
  for _ in $(seq 1 120); do
    summary=$("$bin/fitexctl" users summary)
    printf '\r%s' "$summary"
    [[ $summary == *" days_pending=0 "* ]] && break
    sleep 1
  done
  echo
fi

step "Today's syncs: the simulator changes today's steps and sends signed notifications"
python3 - "$sim" <<'PY'
import json, random, sys, urllib.request, datetime
from zoneinfo import ZoneInfo
sim = sys.argv[1]
cohort = json.load(urllib.request.urlopen(f"{sim}/_sim/cohort"))
random.seed(7)
statuses = {}
for user in cohort:
    # Today in the participant's own time zone.
    today = datetime.datetime.now(ZoneInfo(user["timezone"])).date().isoformat()
    steps = random.randint(2500, 13000)
    day = {"steps": steps, "distance_km": round(steps * 0.00075, 2), "sedentary_minutes": 620,
           "lightly_active_minutes": 190, "fairly_active_minutes": random.randint(0, 40),
           "very_active_minutes": random.randint(0, 30), "worn_minutes": random.randint(600, 900),
           "resting_heart_rate": 62}
    request = urllib.request.Request(f"{sim}/_sim/users/{user['user_id']}/days/{today}",
        data=json.dumps(day).encode(), method="PUT", headers={"Content-Type": "application/json"})
    answer = json.load(urllib.request.urlopen(request))
    for provider in ("deliveries", "google_deliveries"):
        for delivery in answer.get(provider, []):
            key = f"{'Google' if provider == 'google_deliveries' else 'Fitbit'} {delivery.get('status')}"
            statuses[key] = statuses.get(key, 0) + 1
print(f"{len(cohort)} syncs of today; subscriber answers: {statuses}")
PY
for _ in $(seq 1 60); do
  summary=$("$bin/fitexctl" users summary)
  printf '\r%s' "$summary"
  [[ $summary == *" days_pending=0 "* ]] && break
  sleep 1
done
sleep 2
echo

if [[ $PROVIDER == google ]]; then
  for _ in $(seq 1 60); do
    waiting=$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$db" -Atc \
      "SELECT count(*) FROM provider_connections WHERE sync_status = 'reconnect_required'")
    printf '\rthe catch-up has found %s withdrawn consent(s)' "$waiting"
    [[ $waiting -ge 3 ]] && break
    sleep 1
  done
  echo
fi

step "Goals (recomputed on every change)"
for _ in $(seq 1 60); do
  # "Today" is each participant's own date, in their time zone.
  computed=$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$db" -Atc \
    "SELECT count(DISTINCT g.participant_id) FROM goal_history g JOIN participants p ON p.id = g.participant_id
     WHERE g.effective_date = (now() AT TIME ZONE p.time_zone)::date")
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
curl -fsS "${metrics_auth[@]}" "http://127.0.0.1:$FETCH_PORT/metrics" | grep -E '^fitex_(fetcher_(days_stored|user_syncs|reconnect_required)_total|provider_requests_total|fetcher_users_reconnect_required)' || true
curl -fsS "${metrics_auth[@]}" "http://127.0.0.1:$GOALS_PORT/metrics" | grep -E '^fitex_goals_' || true
curl -fsS "${metrics_auth[@]}" "http://127.0.0.1:$SUB_PORT/metrics" | grep -E '^fitex_subscriber_(notifications_accepted|verifications)_total' || true

step "Participant pages stay up"
# The development token is shown; one from the environment only by its variable's name.
goals_token=dev-goals-api-token
[[ -n ${FITEX__GOALS__API_TOKEN:-} ]] && goals_token='$FITEX__GOALS__API_TOKEN'
printf '%s\n' "${pids[@]}" >"$pidfile"
trap - EXIT
cat <<EOT
Status pages: http://127.0.0.1:$PORTAL_PORT/ — "Connect with Google" (or "Connect your Fitbit") goes to
the simulated sign-in: pick SIM0001 (Fitbit access revoked) or SIM0004 (Google consent withdrawn, after
--provider google) to see the reconnect page turn active again, or anyone else to see their sync
status, today's goal and their team's week.
Goals API:    curl -H "Authorization: Bearer $goals_token" http://127.0.0.1:$GOALS_PORT/v1/programs/$program/leaderboard
The simulator, subscriber, fetcher, goals service and pages keep running; scripts/stack-down.sh stops
them and the broker. Logs: $FITEX_RUN_DIR/{simulator,subscriber,fetcher,goals,portal}.log
EOT
