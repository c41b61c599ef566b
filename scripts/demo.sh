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
#
# Each step that waits for the pipeline (services answering, the cohort connected, backfill, the
# Google reconnection and catch-up, today's syncs, goals and team progress) has a time-out: a step
# that does not complete in time, or a service that exits, ends the demo with a plain message and a
# non-zero exit. DEMO_STEP_TIMEOUT_S overrides every step's time-out; DEMO_WITHOUT="fetcher" (any of
# simulator, subscriber, fetcher, goals, portal) leaves a service out, to see that failure
# (scripts/demo-smoke.sh does). scripts/demo-check.sh checks what a finished run produced.
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
for topic in NOTIFICATIONS FETCH_RETRIES DEAD_LETTERS ACTIVITY_DAYS GOALS TEAM_PROGRESS SEASONS; do
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
names=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
without=" ${DEMO_WITHOUT:-} "
# start NAME LOG COMMAND...: a service in the background (unless DEMO_WITHOUT names it).
start() {
  local name=$1 log=$2; shift 2
  if [[ $without == *" $name "* ]]; then
    echo "($name left out: DEMO_WITHOUT)"
    return 0
  fi
  "$@" >"$FITEX_RUN_DIR/$log.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}
started() { [[ $without != *" $1 "* ]]; }
# Fails the demo: a plain message, where to look, non-zero exit.
fail() {
  printf '\n' >&2
  echo "demo FAILED: $*" >&2
  echo "demo: the services' logs are $FITEX_RUN_DIR/{simulator,subscriber,fetcher,goals,portal}.log" >&2
  exit 1
}
# A service that exited is a failure at once, not a time-out later.
services_alive() {
  local i
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || fail "the ${names[$i]} exited (its log: $FITEX_RUN_DIR/${names[$i]}.log)"
  done
}
# wait_step SECONDS WHAT CHECK: runs the function CHECK every second until it succeeds; CHECK sets
# `progress` (shown as it goes). After SECONDS (or DEMO_STEP_TIMEOUT_S) the demo fails, saying what
# did not complete and what it last saw.
wait_step() {
  local timeout=${DEMO_STEP_TIMEOUT_S:-$1} what=$2 check=$3 began=$SECONDS
  progress=
  while ! "$check"; do
    printf '\r%s' "$progress"
    services_alive
    ((SECONDS - began < timeout)) || fail "$what did not complete within $timeout s (last seen: ${progress:-nothing})"
    sleep 1
  done
  printf '\r%s\n' "$progress"
}
wait_http() { # NAME URL
  local name=$1 url=$2 timeout=${DEMO_STEP_TIMEOUT_S:-30} began=$SECONDS
  started "$name" || return 0
  until curl -fs -o /dev/null "$url"; do
    services_alive
    ((SECONDS - began < timeout)) || fail "the $name did not answer at $url within $timeout s"
    sleep 0.2
  done
}
sql() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$db" -Atc "$1"; }

step "Fitbit simulator ($COHORT participants, $DAYS days), subscriber :$SUB_PORT, fetcher :$FETCH_PORT, goals :$GOALS_PORT"
start simulator simulator "$bin/provider-simulator" --port "$SIM_PORT" --cohort-size "$COHORT" --days "$DAYS" --seed 42 \
  --subscriber-url "http://127.0.0.1:$SUB_PORT/webhooks/fitbit" --client-secret "$SECRET" \
  --google-client-secret "$GOOGLE_SECRET"
start subscriber subscriber "$bin/fitex-subscriber"
start fetcher fetcher "$bin/fitex-fetcher"
# The goals service closes every season whose grace period is over, at start-up and then on its
# interval. The demo sets up a season that is already over (below) and closes it itself once its
# teams and goals are in place, so the service's own pass comes only at start-up here.
start goals goals env FITEX__GOALS__SEASON_CLOSE_INTERVAL_MS=86400000 "$bin/fitex-goals"
start portal portal "$bin/fitex-portal"
wait_http simulator "$sim/_sim/cohort"
wait_http subscriber "http://127.0.0.1:$SUB_PORT/readyz"
wait_http fetcher "http://127.0.0.1:$FETCH_PORT/readyz"
wait_http goals "http://127.0.0.1:$GOALS_PORT/readyz"
wait_http portal "http://127.0.0.1:$PORTAL_PORT/readyz"
echo "verification handshake: right code → $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SUB_PORT/webhooks/fitbit?verify=$VERIFICATION_CODE"), wrong code → $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SUB_PORT/webhooks/fitbit?verify=nope")"

step "Connecting the cohort (tokens stored encrypted; the last 28 days scheduled for backfill)"
cohort=$(curl -fsS "$sim/_sim/cohort")
# Three participants revoked FitEx's access at Fitbit: their next fetch gets a 401.
# `revoked` holds the simulator's user ids (the participants' Fitbit ids) of those whose access is
# withdrawn at the end (with Google, those who withdrew consent at Google: the three revoked at
# Fitbit reconnect through Google).
revoked=()
for user in $(python3 -c 'import json,sys; print(" ".join(u["user_id"] for u in json.load(sys.stdin)[:3]))' <<<"$cohort"); do
  refresh=$(python3 -c 'import json,sys; print(next(u["refresh_token"] for u in json.load(sys.stdin) if u["user_id"]==sys.argv[1]))' "$user" <<<"$cohort")
  curl -fsS -u "SIMCLIENT:$SECRET" -d "token=$refresh" "$sim/oauth2/revoke" >/dev/null
  echo "revoked at Fitbit: $user"
  revoked+=("$user")
done
"$bin/fitexctl" import <<<"$cohort" | tail -n 1
connected() {
  local n
  n=$(sql "SELECT count(DISTINCT participant_id) FROM provider_connections") || return 1
  progress="participants connected: $n of $COHORT"
  [[ $n == "$COHORT" ]]
}
wait_step 30 "connecting the cohort" connected

step "A FitEx season: 8 weeks from 20 days ago, FitEx miles, adaptive goals, 8 teams of 6"
# Creates a program (`fitexctl programs create` with these arguments), shows its line and prints
# its id. Shown from a variable: `tee /dev/stderr` reopens a log file the demo's output is
# redirected to, truncating what the demo printed before.
new_program() {
  local created
  created=$("$bin/fitexctl" programs create "$@") || return 1
  echo "$created" >&2
  sed -n 's/^program \([0-9]*\) .*/\1/p' <<<"$created"
}
# Creates the demo's 8 teams in program $1; prints their ids, one a line.
new_teams() {
  local name
  for name in "Blue Ridge" "Shenandoah" "Tidewater" "Piedmont" "New River" "Chesapeake" "Roanoke" "Potomac"; do
    "$bin/fitexctl" teams create --program "$1" --name "$name" | sed -n 's/^team \([0-9]*\) .*/\1/p'
  done
}
mapfile -t cohort_users < <(python3 -c 'import json,sys; print("\n".join(u["user_id"] for u in json.load(sys.stdin)))' <<<"$cohort")
program=$(new_program --name "FitEx Autumn $run" --started-days-ago 20 --weeks 8 --unit fitex_miles \
  --strategy adaptive_percentile)
mapfile -t teams < <(new_teams "$program")
i=0
for user in "${cohort_users[@]}"; do
  "$bin/fitexctl" teams add --team "${teams[$((i % 8))]}" --user "$user" >/dev/null
  i=$((i + 1))
done
"$bin/fitexctl" teams list --program "$program"

step "Backfill (within each participant's rate budget)"
backfilled() {
  progress=$("$bin/fitexctl" users summary) || return 1
  [[ $progress == *" days_pending=0 "* && $progress != *"days_stored=0 "* ]]
}
wait_step 180 "the backfill" backfilled
# The members joined their teams while their history was arriving, and the goals service counts a
# day only for a member of a team: their goals and their teams' progress from the program start,
# over everything stored (what `goals recompute` is for: members added late).
"$bin/fitexctl" goals recompute --program "$program"

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
  revoked=()
  for user in $(python3 -c 'import json,sys; print(" ".join(u["user_id"] for u in json.load(sys.stdin)[3:6]))' <<<"$google_cohort"); do
    curl -fsS -X POST "$sim/_sim/google/users/$user/revoke" >/dev/null
    echo "consent withdrawn at Google: $user"
    revoked+=("$user")
  done
  reconnected() {
    local n
    progress=$("$bin/fitexctl" users summary) || return 1
    n=$(sql "SELECT count(DISTINCT participant_id) FROM provider_connections WHERE provider = 'google_health'") || return 1
    [[ $n == "$COHORT" && $progress == *" days_pending=0 "* ]]
  }
  wait_step 180 "the reconnection through Google (connections and their backfill)" reconnected
fi
# The participants who revoked access (found by their Fitbit connection, which a Google one may
# have replaced since) and those who kept it.
revoked_sql="'$(IFS=,; echo "${revoked[*]}" | sed "s/,/','/g")'"
revoked_participants="SELECT participant_id FROM provider_connections WHERE provider_user_id IN ($revoked_sql)"
kept_access="SELECT p.id, p.time_zone FROM participants p WHERE p.id NOT IN ($revoked_participants)"

step "Today's syncs: the simulator changes today's steps and sends signed notifications"
syncs_started=$(sql "SELECT now()")
# Everyone whose access is live walks today: at Fitbit, or with Google, at Google (the three who
# revoked at Fitbit reconnected there).
python3 - "$sim" "$PROVIDER" <<'PY'
import json, random, sys, urllib.request, datetime
from zoneinfo import ZoneInfo
sim, provider = sys.argv[1], sys.argv[2]
cohort = json.load(urllib.request.urlopen(f"{sim}/_sim/{'google/' if provider == 'google' else ''}cohort"))
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
# Done when everyone who kept their access has today's day stored from these syncs ("today" is
# each participant's own date, in their time zone) and nothing is left to fetch.
synced() {
  local summary counts pending
  summary=$("$bin/fitexctl" users summary) || return 1
  pending=$(sed -n 's/.* days_pending=\([0-9]*\) .*/\1/p' <<<"$summary")
  counts=$(sql "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM activity_days d
      WHERE d.participant_id = k.id AND d.day = (now() AT TIME ZONE k.time_zone)::date
        AND d.fetched_at >= '$syncs_started'))
    FROM ($kept_access) k") || return 1
  progress="today's syncs stored: ${counts#*|} of ${counts%|*} participants who kept their access; days pending: $pending"
  [[ ${counts#*|} == "${counts%|*}" && $pending == 0 ]]
}
wait_step 120 "today's syncs" synced

if [[ $PROVIDER == google ]]; then
  caught_up() {
    local waiting
    waiting=$(sql "SELECT count(DISTINCT participant_id) FROM provider_connections
      WHERE sync_status = 'reconnect_required' AND participant_id IN ($revoked_participants)") || return 1
    progress="the catch-up has found $waiting of ${#revoked[@]} withdrawn consent(s)"
    ((waiting >= ${#revoked[@]}))
  }
  wait_step 120 "the catch-up of withdrawn consents" caught_up
fi

step "Goals (recomputed on every change)"
# Done when everyone who kept their access has a goal for their own today, every team of the season
# has progress this week, and the goals service has counted today's syncs: the week's progress of
# every team with a member who kept their access was recomputed since they arrived.
goals_done() {
  local counts with_progress teams_synced
  counts=$(sql "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM goal_history g
      WHERE g.participant_id = k.id AND g.program_id = $program
        AND g.effective_date = (now() AT TIME ZONE k.time_zone)::date))
    FROM ($kept_access) k") || return 1
  with_progress=$(sql "SELECT count(*) FROM teams t WHERE t.program_id = $program AND EXISTS (
      SELECT 1 FROM team_progress tp WHERE tp.team_id = t.id AND tp.progress > 0
        AND tp.week = (SELECT max(week) FROM team_progress x JOIN teams y ON y.id = x.team_id
                       WHERE y.program_id = $program))") || return 1
  teams_synced=$(sql "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM team_progress tp
      WHERE tp.team_id = t.id AND tp.computed_at >= '$syncs_started'))
    FROM teams t WHERE t.program_id = $program AND EXISTS (SELECT 1 FROM team_members m
      WHERE m.team_id = t.id AND m.participant_id IN (SELECT id FROM ($kept_access) k))") || return 1
  progress="participants with a goal for today: ${counts#*|} of ${counts%|*} who kept their access; teams with progress this week: $with_progress of ${#teams[@]}, counting today's syncs: ${teams_synced#*|} of ${teams_synced%|*}"
  [[ ${counts#*|} == "${counts%|*}" && $with_progress == "${#teams[@]}" && ${teams_synced#*|} == "${teams_synced%|*}" ]]
}
wait_step 120 "the goals and team progress" goals_done
"$bin/fitexctl" goals show --program "$program"

step "Leaderboard"
"$bin/fitexctl" leaderboard --program "$program"

step "A coordinator logs an activity a tracker does not count (45 minutes of swimming, tracker off)"
swimmer=${cohort_users[5]}
"$bin/fitexctl" activity add --user "$swimmer" --program "$program" --date "$(date -u -d yesterday +%F)" \
  --kind swimming --minutes 45 --intensity moderate --worn no --by "the demo's coordinator"

step "The summer season closes: 2 weeks that ended 14 days ago, its grace period shortened to 0 hours"
summer_name="FitEx Summer $run"
summer=$(new_program --name "$summer_name" --started-days-ago 27 --weeks 2 --unit fitex_miles \
  --strategy adaptive_percentile --grace-hours 0)
mapfile -t summer_teams < <(new_teams "$summer")
summer_start=$(date -u -d '27 days ago' +%F)
for t in "${!summer_teams[@]}"; do
  args=()
  for ((m = t; m < ${#cohort_users[@]}; m += 8)); do args+=(--user "${cohort_users[$m]}"); done
  "$bin/fitexctl" teams add --team "${summer_teams[$t]}" "${args[@]}" --from "$summer_start" >/dev/null
done
"$bin/fitexctl" goals recompute --program "$summer"
"$bin/fitexctl" season close --program "$summer_name"
"$bin/fitexctl" season correct --program "$summer_name" --team "Tidewater" --progress 250 \
  --by "the demo's coordinator" --reason "a tracker's week-2 sync was lost; the participant's paper log"
"$bin/fitexctl" audit list --program "$summer_name"
step "The summer season's frozen final leaderboard"
"$bin/fitexctl" leaderboard --program "$summer"

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
