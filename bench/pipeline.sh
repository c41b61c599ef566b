#!/usr/bin/env bash
# The whole-pipeline benchmark (issue 8): the Fitbit simulator pushes a realistic day of syncs for N
# participants through subscriber → Kafka → fetcher → PostgreSQL → goals → goal events, release
# builds of the real binaries as processes, with a database and topics of the run's own. Reports,
# each next to a baseline measured in the same run: notifications/s (subscriber against a bare HTTP
# handler and a raw producer), provider calls all in (every call a budget pays for: data, profile,
# subscription and token calls, calls answered 401 or 429) per distinct change and per changed
# participant-day (against one call per notification plus a profile call per participant per
# day), notification → goal event latency p50/p99 (against a raw Kafka producer → consumer and a
# plain SQL upsert loop), what was lost, CPU seconds and peak resident memory per service (against
# the raw Kafka client's), each of issue 15's targets with its own quantity and "met"/"not met".
# Writes docs/benchmark-pipeline-N-Ss.png, the run's figures as docs/benchmark-runs/pipeline-N-Ss.json
# (for bench/pipeline-scaling.sh) and its part of the "Whole pipeline (issue 8)" section of
# docs/benchmarks.md (the model is described there).
#
#   bench/pipeline.sh [participants, default 1000] [seconds of load, more than 30, default 60]
#
# WAIT_SECONDS (default 120) bounds the wait for the last goal events; SETUP_TIMEOUT (default 3600)
# the backfill and first goals; BASELINE_SECONDS (default 15) the Kafka and SQL baselines;
# WRK_SECONDS (default 10) each wrk run. KEEP_LOGS=1 keeps the logs and the database (a failed run
# always keeps them). VARIANT names a run with other settings (VARIANT="fetcher concurrency 64"
# FITEX__FETCHER__CONCURRENCY=64, say): it gets a section and a plot of its own. Needs wrk (installed from Debian if missing) and matplotlib, installed from
# PyPI into $FITEX_CACHE/bench-venv (pinned below).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source bench/lib.sh
USERS=${1:-1000}
LOAD_SECONDS=${2:-60}
WAIT_SECONDS=${WAIT_SECONDS:-120}
SETUP_TIMEOUT=${SETUP_TIMEOUT:-3600}
BASELINE_SECONDS=${BASELINE_SECONDS:-15}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_CONNECTIONS=32
# The load driver's day needs its longest sync series (6 syncs, 5 s apart) to fit in the run:
# more than 30 s (bench/src/bin/pipeline-load/plan.rs). Said now, not after the setup.
[[ $LOAD_SECONDS =~ ^[0-9]+$ && $LOAD_SECONDS -gt 30 ]] || {
  echo "seconds of load must be more than 30 (6 syncs 5 s apart must fit), not $LOAD_SECONDS" >&2
  exit 2
}
TEAM_SIZE=8
MATPLOTLIB_VERSION=3.11.2
VENV="$FITEX_CACHE/bench-venv"
script_started=$(date +%s)
# The caller's own settings (before this script sets its own), named in the report.
overrides=$(env | grep -E '^FITEX__' | sort | tr '\n' ' ' | sed 's/ $//' || true)

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
port_open "$PGHOST" "$PGPORT" || bash scripts/stack-up.sh
bash scripts/install-tansu.sh
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if ! "$VENV/bin/python" -c "import matplotlib" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "matplotlib==$MATPLOTLIB_VERSION"
fi
py="$VENV/bin/python"
cargo build --quiet --release -p fitex-bench -p fitex-fetcher -p fitex-subscriber -p fitex-goals-service \
  -p fitex-provider-simulator -p fitexctl
bin="$CARGO_TARGET_DIR/release"

work=$(mktemp -d)
pids=()
ok=0
run=$(date +%Y%m%d%H%M%S)
export FITEX__DATABASE__DATABASE_NAME="fitex_bench_pipeline_$run"
trap cleanup_run EXIT

# A broker of the run's own, started empty: the shared development broker keeps every record it
# was ever sent in memory, and a long-lived one measurably slows down (a raw producer's rate fell
# 24-fold on one that had served the previous runs and a CI run).
broker_port=$(free_port)
"$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$broker_port" \
  --advertised-listener-url "tcp://127.0.0.1:$broker_port" --storage-engine memory://tansu/ \
  >"$work/tansu.log" 2>&1 & pids+=($!)
tansu_pid=$!
export KAFKA_BROKERS="127.0.0.1:$broker_port" FITEX__KAFKA__BROKERS="127.0.0.1:$broker_port"
for _ in $(seq 1 100); do port_open 127.0.0.1 "$broker_port" && break; sleep 0.1; done

for topic in NOTIFICATIONS FETCH_RETRIES DEAD_LETTERS ACTIVITY_DAYS GOALS TEAM_PROGRESS SEASONS; do
  default=$(sed -n "s/^${topic,,} = \"\(.*\)\"/\1/p" config/base.toml)
  export "FITEX__KAFKA__TOPICS__$topic=$default.bench-$run"
done
migrate_and_ensure_topics "$bin/fitexctl"

sim_port=$(free_port); sub_port=$(free_port); fetch_port=$(free_port); goals_port=$(free_port)
sim="http://127.0.0.1:$sim_port"
# Fitbit signs notifications with the OAuth client secret: one secret serves both, as in the demo.
secret="bench-client-secret-$run"
export FITEX__FITBIT_API__API_BASE_URL=$sim FITEX__FITBIT_API__TOKEN_URL="$sim/oauth2/token"
export FITEX__FITBIT_API__CLIENT_ID=SIMCLIENT FITEX__FITBIT_API__CLIENT_SECRET=$secret
export FITEX__FITBIT__CLIENT_SECRETS=$secret
# The simulator serves Google's webhook keyset too (unused here, but the subscriber fetches it).
export FITEX__GOOGLE_HEALTH__KEYSET_URL=$sim/googlehealthapi/webhooks/webhooks_public_keyset.json

echo "simulator on $sim: a cohort of $USERS with 21 days of history" >&2
RUST_LOG=warn "$bin/provider-simulator" --port "$sim_port" --cohort-size "$USERS" --days 21 --seed 42 \
  --subscriber-url "http://127.0.0.1:$sub_port/webhooks/fitbit" --client-secret "$secret" \
  --rate-limit-per-hour 1000000 >"$work/simulator.out" 2>"$work/simulator.log" & pids+=($!)
sim_pid=$!
# The subscriber fetches Google's keyset from the simulator at start.
wait_http "$sim/_sim/stats"
FITEX__SUBSCRIBER__PORT=$sub_port "$bin/fitex-subscriber" >"$work/subscriber.log" 2>&1 & pids+=($!)
sub_pid=$!
FITEX__GOALS__PORT=$goals_port FITEX__GOALS__GROUP_ID="bench-goals-$run" \
  "$bin/fitex-goals" >"$work/goals.log" 2>&1 & pids+=($!)
goals_pid=$!
wait_http "http://127.0.0.1:$sub_port/readyz"
wait_http "http://127.0.0.1:$goals_port/readyz"

# --- the season, as scripts/demo.sh sets it up --------------------------------------------------
setup_started=$(date +%s)
echo "connecting the cohort (fitexctl import)" >&2
curl -fsS "$sim/_sim/cohort" >"$work/cohort.json"
"$bin/fitexctl" import <"$work/cohort.json" >"$work/import.log"
tail -n 1 "$work/import.log" >&2
created=$("$bin/fitexctl" programs create --name "FitEx bench $run" --started-days-ago 20 --weeks 8 \
  --unit fitex_miles --strategy adaptive_percentile)
echo "$created" >&2
program=$(sed -n 's/^program \([0-9]*\) .*/\1/p' <<<"$created")
teams=$(( (USERS + TEAM_SIZE - 1) / TEAM_SIZE ))
echo "$teams teams of $TEAM_SIZE (fitexctl teams create / teams add)" >&2
mapfile -t team_ids < <(seq 1 "$teams" \
  | xargs -P 2 -I{} "$bin/fitexctl" teams create --program "$program" --name "Team {}" \
  | sed -n 's/^team \([0-9]*\) .*/\1/p' | sort -n)
[[ ${#team_ids[@]} == "$teams" ]] || { echo "created ${#team_ids[@]} of $teams teams" >&2; exit 1; }
# One `teams add` per team, naming all its members.
"$py" -c 'import json,sys; print("\n".join(u["user_id"] for u in json.load(open(sys.argv[1]))))' "$work/cohort.json" \
  | awk -v teams="${team_ids[*]}" 'BEGIN { n = split(teams, t, " ") }
      { i = (NR - 1) % n + 1; members[i] = members[i] " --user " $1 }
      END { for (i = 1; i <= n; i++) if (i in members) print t[i] members[i] }' \
  | xargs -P 2 -L 1 sh -c 'exec "$0" teams add --team "$@" >/dev/null' "$bin/fitexctl"

# The fetcher starts once the teams exist, so the backfill's activity events compute everyone's
# goals so far (as in a season under way).
echo "backfill and goals so far" >&2
FITEX__FETCHER__PORT=$fetch_port FITEX__FETCHER__GROUP_ID="bench-fetcher-$run" \
  "$bin/fitex-fetcher" >"$work/fetcher.log" 2>&1 & pids+=($!)
fetch_pid=$!
wait_http "http://127.0.0.1:$fetch_port/readyz"
db() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$FITEX__DATABASE__DATABASE_NAME" -Atc "$1"; }
# A counter from a service's /metrics (0 when absent).
metric() {
  curl -fsS "$1/metrics" | awk -v name="$2" '$1 == name { value = $2 } END { printf "%d", value + 0 }'
}
previous=""; stable=0
for _ in $(seq 1 "$SETUP_TIMEOUT"); do
  # Every activity event the fetcher published has been processed by the goals service.
  published=$(metric "http://127.0.0.1:$fetch_port" 'fitex_fetcher_days_stored_total{changed="true"}')
  processed=$(metric "http://127.0.0.1:$goals_port" 'fitex_goals_events_total{outcome="processed"}')
  state=$(db "SELECT (SELECT count(*) FROM pending_fetches) || ' ' || (SELECT count(*) FROM kafka_outbox) || ' ' ||
    (SELECT count(*) FROM activity_days) || ' ' || (SELECT count(*) FROM goal_history) || ' ' ||
    (SELECT count(DISTINCT g.participant_id) FROM goal_history g JOIN participants p ON p.id = g.participant_id
     WHERE g.effective_date = (now() AT TIME ZONE p.time_zone)::date)")
  read -r pending outbox days goals today <<<"$state"
  printf '\rdays pending %s, outbox %s, days stored %s, activity events processed %s of %s, goals %s, participants with a goal today %s   ' \
    "$pending" "$outbox" "$days" "$processed" "$published" "$goals" "$today" >&2
  state+=" $processed"
  if [[ $pending == 0 && $outbox == 0 && $days -gt 0 && $processed -ge $published && $state == "$previous" ]]; then
    stable=$((stable + 1))
    [[ $stable -ge 5 ]] && break
  else
    stable=0
  fi
  previous=$state
  sleep 1
done
echo >&2
[[ $stable -ge 5 ]] || { echo "the setup did not settle within $SETUP_TIMEOUT s" >&2; exit 1; }
setup_seconds=$(( $(date +%s) - setup_started ))

# --- the measured load --------------------------------------------------------------------------
# The machine may be busy with other work: the report states how busy when the load started.
loadavg=$(cut -d' ' -f1-3 /proc/loadavg | sed 's/ /, /g')
echo "the day: $USERS participants over ${LOAD_SECONDS}s (load average $loadavg)" >&2
"$bin/pipeline-load" --sim-url "$sim" --seconds "$LOAD_SECONDS" --wait-secs "$WAIT_SECONDS" \
  --points "$work/points.csv" >"$work/load.out" 2>"$work/load.log" &
load_pid=$!
"$py" bench/pipeline.py sample "$work/samples.csv" "$work/stop-sampling" simulator="$sim_pid" \
  subscriber="$sub_pid" fetcher="$fetch_pid" goals="$goals_pid" driver="$load_pid" \
  tansu="$tansu_pid" postgres='*' --reset subscriber,fetcher,goals,simulator &
sampler_pid=$!
pids+=($sampler_pid)
load_status=0
wait "$load_pid" || load_status=$?
touch "$work/stop-sampling"
wait "$sampler_pid" || true
cat "$work/load.log" >&2
[[ $load_status == 0 ]] || { echo "the load driver failed ($load_status)" >&2; exit 1; }
result=$(grep '^RESULT' "$work/load.out")
echo "$result" >&2
rate=$(sed -E 's/.*accepted_per_s=([0-9.]+).*/\1/' <<<"$result")

# --- baselines, same run, on the idle pipeline ----------------------------------------------------
echo "baseline: raw Kafka producer → consumer at ${rate%.*} records/s" >&2
kafka=$("$bin/kafka-latency" --topic "bench.kafka-latency.$run" --seconds "$BASELINE_SECONDS" \
  --rate "$(python3 -c "print(max(1, round($rate)))")" | grep '^RESULT'); echo "$kafka" >&2
echo "baseline: SQL upsert loop" >&2
sql=$("$bin/sql-upsert" --seconds "$BASELINE_SECONDS" | grep '^RESULT'); echo "$sql" >&2

signed_notifications "$secret" >"$work/bodies.tsv"
export BENCH_BODIES="$work/bodies.tsv"
run_wrk() {
  RATE=0 LATENCY_MS=0 CONNECTIONS=$WRK_CONNECTIONS wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" \
    -s bench/signed-notifications.lua "$1" | grep '^RESULT'
}
wrk_topic="bench.wrk.$run"
FITEX__KAFKA__TOPICS__NOTIFICATIONS=$wrk_topic "$bin/fitexctl" topics ensure >/dev/null
echo "baseline: bare actix-web handler (wrk)" >&2
bare_port=$(free_port)
"$bin/bare-http" --port "$bare_port" --workers 2 & pids+=($!)
for _ in $(seq 1 100); do port_open 127.0.0.1 "$bare_port" && break; sleep 0.1; done
bare=$(run_wrk "http://127.0.0.1:$bare_port/webhooks/fitbit"); echo "$bare" >&2
kill "${pids[-1]}"
echo "baseline: raw rdkafka producer, $WRK_CONNECTIONS in flight" >&2
raw=$("$bin/raw-producer" --brokers "$KAFKA_BROKERS" --topic "$wrk_topic" --seconds "$WRK_SECONDS" \
  --concurrency "$WRK_CONNECTIONS" --payload-bytes 200); echo "$raw" >&2
echo "the subscriber's capacity (wrk; a second instance on a scratch topic)" >&2
cap_port=$(free_port)
FITEX__SUBSCRIBER__PORT=$cap_port FITEX__KAFKA__TOPICS__NOTIFICATIONS=$wrk_topic FITEX__TELEMETRY__LOG_FILTER=warn \
  "$bin/fitex-subscriber" >"$work/subscriber-capacity.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$cap_port/readyz"
sub=$(run_wrk "http://127.0.0.1:$cap_port/webhooks/fitbit"); echo "$sub" >&2
kill "${pids[-1]}"

# What the services logged beyond plain success.
problems=""
for service in subscriber fetcher goals; do
  count=$(sed 's/\x1b\[[0-9;]*m//g' "$work/$service.log" | grep -cE '\b(WARN|ERROR)\b' || true)
  [[ $count != 0 ]] && problems+="${problems:+, }$service $count"
  sed 's/\x1b\[[0-9;]*m//g' "$work/$service.log" | grep -E '\b(WARN|ERROR)\b' | cut -c1-300 | head -5 >&2 || true
done

slug=$(tr -cs 'a-z0-9' '-' <<<"${VARIANT:-}" | sed 's/^-*//; s/-*$//')
png="docs/benchmark-pipeline-$USERS-${LOAD_SECONDS}s${slug:+-$slug}.png"
summary="docs/benchmark-runs/pipeline-$USERS-${LOAD_SECONDS}s${slug:+-$slug}.json"
load_start_ms=$(sed -E 's/.*load_start_ms=([0-9.]+).*/\1/' <<<"$result")
"$py" bench/pipeline.py plot "$work/points.csv" "$work/samples.csv" "$png" \
  "FitEx Sync pipeline: $USERS participants, ${LOAD_SECONDS} s day${VARIANT:+, $VARIANT}, $(nproc) cores ($(date +%F))" "$load_start_ms"
"$py" bench/pipeline.py report "$USERS" "$LOAD_SECONDS" "$result" "$kafka" "$sql" "$bare" "$raw" "$sub" \
  "$work/samples.csv.summary.json" "$setup_seconds" "$teams" "$png" "$(( $(date +%s) - script_started ))" \
  "$WRK_SECONDS" "$WRK_CONNECTIONS" "$BASELINE_SECONDS" "${problems:-0}" "${VARIANT:-}" "$overrides" \
  "$loadavg" "$summary"
ok=1
