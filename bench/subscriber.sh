#!/usr/bin/env bash
# Loads the subscriber on loopback with valid signed notifications and compares it, in the same
# run, with two baselines: a bare actix-web handler answering 204 and a raw rdkafka producer
# sending the same records to the same broker. Writes the figures to docs/benchmarks.md.
#
#   bench/subscriber.sh [seconds per run, default 20] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source bench/lib.sh
SECONDS_PER_RUN=${1:-20}
CONNECTIONS=${2:-32}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
bash scripts/stack-up.sh
cargo build --quiet --release -p fitex-subscriber -p fitex-bench -p fitexctl
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

secret="bench-client-secret-0123456789abcdef"
signed_notifications "$secret" >"$work/bodies.tsv"
export BENCH_BODIES="$work/bodies.tsv"

topic="bench.notifications.$(date +%s)"
FITEX__KAFKA__TOPICS__NOTIFICATIONS=$topic "$bin/fitexctl" topics ensure >/dev/null

run_wrk() { # url [rate] [expected latency ms, subtracted from each connection's pause]
  RATE=${2:-0} LATENCY_MS=${3:-0} CONNECTIONS=$CONNECTIONS wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" \
    -s bench/signed-notifications.lua "$1" | grep '^RESULT'
}
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }

echo "baseline 1: bare actix-web handler" >&2
"$bin/bare-http" --port 18080 --workers 2 & pids+=($!)
wait_answer http://127.0.0.1:18080/
bare=$(run_wrk http://127.0.0.1:18080/webhooks/fitbit); echo "$bare" >&2
kill "${pids[-1]}"

echo "baseline 2: raw rdkafka producer, $CONNECTIONS records in flight" >&2
raw=$("$bin/raw-producer" --brokers "$KAFKA_BROKERS" --topic "$topic" --seconds "$SECONDS_PER_RUN" \
  --concurrency "$CONNECTIONS" --payload-bytes 200); echo "$raw" >&2

echo "subscriber" >&2
FITEX__SUBSCRIBER__PORT=18081 FITEX__KAFKA__TOPICS__NOTIFICATIONS=$topic \
  FITEX__FITBIT__CLIENT_SECRETS=$secret FITEX__TELEMETRY__LOG_FILTER=warn \
  "$bin/fitex-subscriber" >"$work/subscriber.log" 2>&1 & pids+=($!)
wait_http http://127.0.0.1:18081/healthz
full=$(run_wrk http://127.0.0.1:18081/webhooks/fitbit); echo "$full" >&2

bare_rps=$(field rps "$bare"); raw_rps=$(sed -E 's/.*rate=([0-9.]+).*/\1/' <<<"$raw")
lower=$(python3 -c "print(min($bare_rps, $raw_rps))")
half=$(python3 -c "print(round($lower / 2))")
echo "subscriber at half the lower baseline ($half req/s)" >&2
halfrun=$(run_wrk http://127.0.0.1:18081/webhooks/fitbit "$half" "$(field p50_ms "$full")"); echo "$halfrun" >&2

python3 - "$bare" "$raw" "$full" "$halfrun" "$SECONDS_PER_RUN" "$CONNECTIONS" <<'PY'
import os, platform, re, subprocess, sys, datetime
bare, raw, full, half, secs, conns = sys.argv[1:]
def f(key, text):
    m = re.search(key + r"=([0-9.]+)", text); return float(m.group(1))
bare_rps, raw_rps, sub_rps = f("rps", bare), f("rate", raw), f("rps", full)
lower = min(bare_rps, raw_rps)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
section = f"""## Subscriber throughput and latency (issue 3)

Run: `bench/subscriber.sh {secs} {conns}` on {datetime.date.today()}, {os.cpu_count()} cores ({cpu}),
wrk and the services sharing the machine; {conns} connections; tansu broker (memory storage) on
loopback; release build. Each request carries one signed notification (1,000 distinct users).

| what | requests/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
| baseline: bare actix-web handler (204) | {bare_rps:.0f} | {f('p50_ms', bare):.2f} | {f('p99_ms', bare):.2f} | {int(f('non2xx', bare))} |
| baseline: raw rdkafka producer (acks=all, {conns} in flight) | {raw_rps:.0f} | {f('p50_ms', raw):.2f} | {f('p99_ms', raw):.2f} | – |
| subscriber, full load | {sub_rps:.0f} | {f('p50_ms', full):.2f} | {f('p99_ms', full):.2f} | {int(f('non2xx', full))} |
| subscriber at half the lower baseline ({lower/2:.0f} req/s offered) | {f('rps', half):.0f} | {f('p50_ms', half):.2f} | {f('p99_ms', half):.2f} | {int(f('non2xx', half))} |

Subscriber / lower baseline = **{sub_rps / lower:.2f}** (target ≥ 0.80); p99 at half load =
**{f('p99_ms', half):.2f} ms** (target < 25 ms).
"""
path = "docs/benchmarks.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nFigures are ratios against baselines measured in the same run; the machine is noisy.\n\n"
start = text.find("## Subscriber throughput and latency")
if start >= 0:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
