#!/usr/bin/env bash
# Runs the real pipeline on loopback — Fitbit simulator → subscriber → Kafka → fetcher →
# PostgreSQL — with N connected users syncing over a minute in realistic bursts (duplicates, several
# dates at once), and measures provider calls per changed user-day against the naive one call per
# notification, throughput, and the latency from a day's last change to its stored row. Each run
# has its own database and topics. Writes the figures to docs/benchmarks.md.
#
#   bench/fetcher.sh [users, default 1000] [seconds, default 60]
# WAIT_SECONDS (default 120) bounds the wait for the last days; KEEP_LOGS=1 keeps the logs and the
# database of a successful run too (a failed run always keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source bench/lib.sh
USERS=${1:-1000}
LOAD_SECONDS=${2:-60}
WAIT_SECONDS=${WAIT_SECONDS:-120}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
port_open "$PGHOST" "$PGPORT" && port_open "${KAFKA_BROKERS%%:*}" "${KAFKA_BROKERS##*:}" \
  || bash scripts/stack-up.sh
cargo build --quiet --release -p fitex-bench -p fitex-fetcher -p fitex-subscriber -p fitex-provider-simulator
bin="$CARGO_TARGET_DIR/release"
if ! cargo build --quiet --release -p fitexctl; then
  # The operators' CLI is only needed for `migrate` and `topics ensure`.
  [[ -x $bin/fitexctl ]] || exit 1
  echo "fitexctl did not build; using the existing $bin/fitexctl" >&2
fi
work=$(mktemp -d)
pids=()
ok=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ $ok == 1 && -z ${KEEP_LOGS:-} ]]; then
    rm -rf "$work"
    psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$FITEX__DATABASE__DATABASE_NAME\"" 2>/dev/null || true
  else
    echo "logs kept in $work (database ${FITEX__DATABASE__DATABASE_NAME:-none} kept)" >&2
  fi
}
trap cleanup EXIT

run=$(date +%Y%m%d%H%M%S)
export FITEX__DATABASE__DATABASE_NAME="fitex_bench_$run"
export FITEX__KAFKA__TOPICS__NOTIFICATIONS="bench.provider-notifications.$run"
export FITEX__KAFKA__TOPICS__FETCH_RETRIES="bench.fetch-retries.$run"
export FITEX__KAFKA__TOPICS__DEAD_LETTERS="bench.dead-letters.$run"
export FITEX__KAFKA__TOPICS__ACTIVITY_DAYS="bench.activity-days.$run"
migrate_and_ensure_topics "$bin/fitexctl"

sim_port=$(free_port); sub_port=$(free_port); fetch_port=$(free_port)
sim="http://127.0.0.1:$sim_port"
secret="bench-client-secret-$run"

echo "simulator on $sim" >&2
RUST_LOG=warn "$bin/provider-simulator" --port "$sim_port" \
  --subscriber-url "http://127.0.0.1:$sub_port/webhooks/fitbit" --client-secret "$secret" \
  --rate-limit-per-hour 150 >"$work/simulator.out" 2>"$work/simulator.log" & pids+=($!)

echo "subscriber on 127.0.0.1:$sub_port" >&2
FITEX__SUBSCRIBER__PORT=$sub_port FITEX__FITBIT__CLIENT_SECRETS=$secret \
  FITEX__TELEMETRY__LOG_FILTER=warn "$bin/fitex-subscriber" >"$work/subscriber.log" 2>&1 & pids+=($!)

echo "fetcher (health on 127.0.0.1:$fetch_port)" >&2
FITEX__FETCHER__PORT=$fetch_port FITEX__FETCHER__GROUP_ID="bench-fetcher-$run" \
  FITEX__FITBIT_API__API_BASE_URL=$sim FITEX__FITBIT_API__TOKEN_URL="$sim/oauth2/token" \
  FITEX__FITBIT_API__CLIENT_ID=SIMCLIENT FITEX__FITBIT_API__CLIENT_SECRET=sim-client-secret \
  FITEX__TELEMETRY__LOG_FILTER="info,rdkafka=warn,sqlx=warn" \
  "$bin/fitex-fetcher" >"$work/fetcher.log" 2>&1 & pids+=($!)

wait_http "$sim/_sim/stats"
wait_http "http://127.0.0.1:$sub_port/readyz"
wait_http "http://127.0.0.1:$fetch_port/readyz"

echo "driving $USERS users for ${LOAD_SECONDS}s" >&2
burst_flag=()
[[ -n ${DUPLICATE_BURSTS:-} ]] && burst_flag=(--duplicate-bursts)
result=$("$bin/fetch-load" "${burst_flag[@]}" --sim-url "$sim" --users "$USERS" --seconds "$LOAD_SECONDS" \
  --wait-secs "$WAIT_SECONDS" | grep '^RESULT')
echo "$result" >&2

# What the fetcher's log says about anything but plain success.
sed 's/\x1b\[[0-9;]*m//g' "$work/fetcher.log" >"$work/fetcher.txt"
problems=$(grep -cE '\b(WARN|ERROR)\b' "$work/fetcher.txt" || true)
if [[ $problems != 0 ]]; then
  echo "fetcher logged $problems warnings/errors:" >&2
  grep -E '\b(WARN|ERROR)\b' "$work/fetcher.txt" | cut -c1-300 | head -20 >&2
fi
read -r concurrency batch_window batch_max settle quiet < <(python3 - <<'PY'
import os, tomllib
c = tomllib.load(open("config/base.toml", "rb"))["fetcher"]
e = os.environ.get
print(e("FITEX__FETCHER__CONCURRENCY", c["concurrency"]), e("FITEX__FETCHER__BATCH_WINDOW_MS", c["batch_window_ms"]),
      e("FITEX__FETCHER__BATCH_MAX", c["batch_max"]), e("FITEX__FETCHER__SETTLE_MS", c["settle_ms"]),
      e("FITEX__FETCHER__QUIET_MS", c["quiet_ms"]))
PY
)

python3 - "$result" "$USERS" "$LOAD_SECONDS" "$problems" "$concurrency" "$batch_window" "$batch_max" "$settle" "${DUPLICATE_BURSTS:-}" "$quiet" <<'PY'
import os, re, sys, datetime
result, users, secs, problems, concurrency, window, batch_max, settle, duplicates, quiet = sys.argv[1:]
def f(key):
    m = re.search(r"\b" + key + r"=([^ ]+)", result); return m.group(1)
n = lambda key: float(f(key))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
missing = int(n("missing"))
kind = "duplicate bursts" if duplicates else "changing bursts"
quiet_text = f", quiet {quiet} ms" if int(quiet) > 0 else ""
heading = f"## Fetcher: 1,000 users syncing within a minute, {kind}, settle {settle} ms{quiet_text} (issue 4)"
section = f"""{heading}

Run: `{"DUPLICATE_BURSTS=1 " if duplicates else ""}FITEX__FETCHER__SETTLE_MS={settle} FITEX__FETCHER__QUIET_MS={quiet} bench/fetcher.sh {users} {secs}` on {datetime.date.today()}, {os.cpu_count()} cores ({cpu}); the
Fitbit simulator (150 calls/user/hour), the subscriber (2 workers), the fetcher (concurrency
{concurrency}, batches of up to {batch_max} notifications or {window} ms, settle period {settle} ms,
quiet period {quiet} ms),
PostgreSQL, the tansu broker
(memory storage) and the load driver all share those {os.cpu_count()} cores; release build, loopback only.
{int(n('users'))} users connected without backfill; over {secs} s each user syncs at a random moment:
{int(n('single_users'))} one day once, {int(n('burst_users'))} the same day 2–5 times within ≤ 6 s
({"the same data each time, as Fitbit's duplicate notifications" if duplicates else "a new step count each time"}), {int(n('multi_users'))} 2–3 dates at once. Every sync is a
signed notification the simulator pushes to the subscriber; the driver (`bench/src/bin/fetch-load.rs`,
≤ 64 changes in flight) then waits until every changed user-day is stored with its latest steps.

| what | value |
|---|---|
| notifications delivered (simulator → subscriber) | {int(n('notifications'))} ({int(n('failed_deliveries'))} not 2xx) |
| changed user-days | {int(n('changed_user_days'))} |
| stored with the latest steps | {int(n('stored'))} ({missing} missing after {n('waited_s'):.0f} s of waiting) |
| provider data calls (all but `profile`) | {int(n('data_calls'))} (`{f('calls_by_endpoint')}`) |
| profile calls (time zone, once a day per user) | {int(n('profile_calls'))} |
| calls per changed user-day | **{n('calls_per_day'):.3f}** (target ≤ 1.0) |
| naive: one call per notification, per changed user-day | {n('naive_calls_per_day'):.3f} |
| calls per changed user-day / naive | **{n('ratio'):.3f}** |
| throughput (user-days stored per second, first change → last row) | {n('throughput'):.1f} |
| latency, last change → row's `fetched_at`, p50 / p99 / max | {n('p50_ms'):.0f} / {n('p99_ms'):.0f} / {n('max_ms'):.0f} ms |
| last row stored after the last change | {n('drain_s'):.1f} s |
| 429s / token refreshes | {int(n('rate_limited'))} / {int(n('token_refreshes'))} |
| fetcher warnings and errors logged | {problems} |

Throughput is bounded by the offered load (about {n('changed_user_days') / float(secs):.0f} changed user-days/s
here), not by the fetcher; the latency includes the webhook delivery, Kafka and the batch window.
"""
if missing:
    section += f"\n**{missing} changed user-days were not stored with their latest steps** (see the run's output).\n"
path = "docs/benchmarks.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nFigures are ratios against baselines measured in the same run; the machine is noisy.\n\n"
start = text.find(heading)
if start >= 0:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + ("\n" + text[end + 1:] if end >= 0 else "")
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
# Keep the logs and the database of a run that left days unstored.
[[ $(sed -E 's/.*missing=([0-9]+).*/\1/' <<<"$result") == 0 ]] && ok=1
