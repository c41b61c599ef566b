#!/usr/bin/env bash
# The subscriber's benchmark (issues 3 and 15), like for like. In one run, on one tansu broker of
# the run's own (memory storage, started empty on loopback; never the shared development broker):
#   - throughput, closed loop: wrk with CONNECTIONS connections against the subscriber and against
#     a bare actix-web handler (bench/src/bin/bare-http.rs), and the raw producer
#     (bench/src/bin/raw-producer.rs: the subscriber's own records, producer and settings, without
#     HTTP) with CONNECTIONS records in flight;
#   - latency, open loop: a constant arrival rate of half the lower baseline
#     (bench/src/bin/open-loop-http.rs, latency counted from each request's scheduled send time)
#     against the subscriber and the bare handler, and the raw producer on the same schedule.
# Every request carries one signed notification (1,000 distinct users); the subscriber's outbox is a
# database of the run's own. Rewrites the "Subscriber throughput and latency" section of
# docs/benchmarks.md.
#
#   bench/subscriber.sh [seconds per run, default 20] [connections, default 32]
#
# KEEP_LOGS=1 keeps the logs and the database (a failed run always keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source bench/lib.sh
SECONDS_PER_RUN=${1:-20}
CONNECTIONS=${2:-32}
P99_TARGET_MS=25
RATIO_TARGET=0.80

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[[ -x $TANSU_BIN ]] || bash scripts/install-tansu.sh
# PostgreSQL holds the subscriber's outbox (records the broker does not acknowledge in time).
port_open "$PGHOST" "$PGPORT" \
  || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
cargo build --quiet --release -p fitex-subscriber -p fitex-bench -p fitexctl
bin="$CARGO_TARGET_DIR/release"
# The load from elsewhere as the measurements start (1, 5 and 15 minutes).
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d)
pids=()
ok=0
run=$(date +%Y%m%d%H%M%S)
export FITEX__DATABASE__DATABASE_NAME="fitex_bench_subscriber_$run"
trap cleanup_run EXIT

# A broker of the run's own, started empty: a long-lived memory broker keeps every record it was
# sent and slows down, and the shared one serves other runs at the same time.
broker_port=$(free_port)
"$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$broker_port" \
  --advertised-listener-url "tcp://127.0.0.1:$broker_port" --storage-engine memory://tansu/ \
  >"$work/tansu.log" 2>&1 & pids+=($!)
export KAFKA_BROKERS="127.0.0.1:$broker_port" FITEX__KAFKA__BROKERS="127.0.0.1:$broker_port"
for _ in $(seq 1 100); do port_open 127.0.0.1 "$broker_port" && break; sleep 0.1; done

# The raw producer and the subscriber each write to a notifications topic of their own (8
# partitions, as `fitexctl topics ensure` creates it), so each starts on an empty one.
notifications=$(sed -n 's/^notifications = "\(.*\)"/\1/p' config/base.toml)
raw_topic="$notifications.bench-raw-$run"
sub_topic="$notifications.bench-subscriber-$run"
FITEX__KAFKA__TOPICS__NOTIFICATIONS=$raw_topic migrate_and_ensure_topics "$bin/fitexctl"
FITEX__KAFKA__TOPICS__NOTIFICATIONS=$sub_topic "$bin/fitexctl" topics ensure >/dev/null

# Fitbit signs with the client secret; the subscriber and the raw producer both verify with it.
secret="bench-client-secret-$run"
export FITEX__FITBIT__CLIENT_SECRETS=$secret
signed_notifications "$secret" >"$work/bodies.tsv"
export BENCH_BODIES="$work/bodies.tsv"

run_wrk() { # url
  RATE=0 LATENCY_MS=0 CONNECTIONS=$CONNECTIONS wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" \
    -s bench/signed-notifications.lua "$1" | grep '^RESULT'
}
run_open_loop() { # url rate
  "$bin/open-loop-http" --url "$1" --rate "$2" --seconds "$SECONDS_PER_RUN" --connections "$CONNECTIONS"
}
start_bare() { # on a fresh port, so no closing socket of the last one is in the way
  bare_port=$(free_port)
  "$bin/bare-http" --port "$bare_port" --workers 2 & pids+=($!)
  wait_answer "http://127.0.0.1:$bare_port/"
}
# A counter of the subscriber's /metrics, summed over the lines whose labels contain $2.
metric_sum() { # name label-filter
  curl -fsS "http://127.0.0.1:$sub_port/metrics" \
    | awk -v name="$1" -v filter="$2" 'index($1, name) == 1 && (filter == "" || index($1, filter)) { s += $2 }
        END { printf "%d", s }'
}

stop_last() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; }
sub_port=$(free_port)
echo "throughput 1/3: bare actix-web handler (wrk, $CONNECTIONS connections)" >&2
start_bare
bare=$(run_wrk "http://127.0.0.1:$bare_port/webhooks/fitbit"); echo "$bare" >&2
stop_last

echo "throughput 2/3: raw producer, the subscriber's records, $CONNECTIONS in flight" >&2
raw=$("$bin/raw-producer" --topic "$raw_topic" --seconds "$SECONDS_PER_RUN" --concurrency "$CONNECTIONS")
echo "$raw" >&2

echo "throughput 3/3: subscriber (wrk, $CONNECTIONS connections)" >&2
# The development settings serve Google's webhook too; its keyset comes from a closed loopback
# port rather than the internet (retried once a second; nothing leaves the machine).
FITEX__SUBSCRIBER__PORT=$sub_port FITEX__KAFKA__TOPICS__NOTIFICATIONS=$sub_topic \
  FITEX__GOOGLE_HEALTH__KEYSET_URL="http://127.0.0.1:$(free_port)/keyset.json" \
  FITEX__TELEMETRY__LOG_FILTER=warn "$bin/fitex-subscriber" >"$work/subscriber.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$sub_port/readyz"
# One notification before the clock starts, as the raw producer sends one record first: the
# producer id and the topic's metadata are fetched once per client.
IFS=$'\t' read -r signature body <"$BENCH_BODIES"
curl -fsS -o /dev/null -H 'Content-Type: application/json' -H "X-Fitbit-Signature: $signature" \
  --data-binary "$body" "http://127.0.0.1:$sub_port/webhooks/fitbit"
full=$(run_wrk "http://127.0.0.1:$sub_port/webhooks/fitbit"); echo "$full" >&2

field() { sed -E "s/.*[ ]$1=([0-9.]+).*/\1/" <<<" $2"; }
rate=$(python3 -c "print(round(min($(field rps "$bare"), $(field rate "$raw")) / 2))")

echo "open loop at $rate req/s (half the lower baseline): subscriber" >&2
sub_open=$(run_open_loop "http://127.0.0.1:$sub_port/webhooks/fitbit" "$rate"); echo "$sub_open" >&2
accepted=$(metric_sum fitex_subscriber_notifications_accepted_total '')
via_outbox=$(metric_sum fitex_subscriber_notifications_accepted_total 'delivery="outbox"')
stop_last
echo "open loop at $rate req/s: bare handler" >&2
start_bare
bare_open=$(run_open_loop "http://127.0.0.1:$bare_port/webhooks/fitbit" "$rate"); echo "$bare_open" >&2
stop_last
echo "open loop at $rate records/s: raw producer" >&2
raw_open=$("$bin/raw-producer" --topic "$raw_topic" --seconds "$SECONDS_PER_RUN" \
  --concurrency "$CONNECTIONS" --rate "$rate"); echo "$raw_open" >&2

# What the subscriber logged beyond plain success (its filter is "warn"), but for the keyset.
sed 's/\x1b\[[0-9;]*m//g' "$work/subscriber.log" | grep -E '\b(WARN|ERROR)\b' \
  | grep -v "Google's webhook keyset" >"$work/problems.log" || true
problems=$(wc -l <"$work/problems.log")
cut -c1-300 "$work/problems.log" | head -5 >&2

python3 - "$bare" "$raw" "$full" "$sub_open" "$bare_open" "$raw_open" "$SECONDS_PER_RUN" "$CONNECTIONS" \
  "$rate" "$accepted" "$via_outbox" "$problems" "$load_at_start" "$P99_TARGET_MS" "$RATIO_TARGET" <<'PY'
import datetime, os, re, sys
(bare, raw, full, sub_open, bare_open, raw_open, secs, conns, rate, accepted, via_outbox, problems,
 load, p99_target, ratio_target) = sys.argv[1:]
conns, rate, p99_target, ratio_target = int(conns), int(rate), float(p99_target), float(ratio_target)
def f(key, text):
    return float(re.search(r"(?:^| )" + key + r"=([0-9.]+)", text).group(1))
def met(ok):
    return "met" if ok else "**not met**"
bare_rps, raw_rps, sub_rps = f("rps", bare), f("rate", raw), f("rps", full)
lower = min(bare_rps, raw_rps)
ratio = sub_rps / lower
sub_p99 = f("p99_ms", sub_open)
producer_settings = ", ".join(
    f"`{k}={v}`" for k, v in (kv.split(":", 1) for kv in re.search(r"producer_settings=(\S+)", raw).group(1).split(",")))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem_gib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1)) / 1024 / 1024
section = f"""## Subscriber throughput and latency (issues 3 and 15)

Run: `bench/subscriber.sh {secs} {conns}` on {datetime.date.today()}; {os.cpu_count()} cores
({cpu}), {mem_gib:.0f} GiB; load average {load} (1, 5, 15 min) as the measurements began. Release
builds; the load driver, the service and the broker share these cores. Each figure comes from the
same run, {secs} s per measurement, against one tansu broker (memory storage) of the run's own,
started empty on loopback: never the shared development broker. The raw producer and the
subscriber each write to a notifications topic of their own (8 partitions).

What each side does:

- **Bare handler** (`bench/src/bin/bare-http.rs`): actix-web with the subscriber's worker count
  (2); its one route reads the body and answers 204. It checks no signature, parses no JSON, sends
  nothing to Kafka, touches no database, logs nothing and has none of the subscriber's request
  limits or metrics: the floor of HTTP on this machine.
- **Raw producer** (`bench/src/bin/raw-producer.rs`): no HTTP. It sends the record the subscriber
  sends for the same notifications: a `fitex.v1.ProviderNotification` protobuf of
  {int(f('record_bytes', raw))} bytes keyed by the Fitbit user id, with the headers `event_id`, `traceparent`,
  `content-type` and `provider`, built per send (new event id, receive time and span). The bodies
  are verified and parsed once at start by the subscriber's verifier (`fitex_fitbit`), which the
  subscriber does per request. The producer is the subscriber's: built by
  `KafkaSettings::recovering_producer` from the subscriber's own settings, its message timeout
  set to `publish_deadline_ms` as the subscriber sets it, and sending through
  `outbox::send_all` as the subscriber's publisher does. Its librdkafka settings:
  {producer_settings}.
  {conns} records in flight, each awaiting its acknowledgement like one webhook request. One
  record is sent and acknowledged before the clock starts (producer id, topic metadata), as one
  notification is posted to the subscriber before it is measured.
- **Subscriber**: the release binary with `config/` settings, except its port, topic, client
  secret, broker, a database of the run's own for its outbox, Google's keyset URL (a closed
  loopback port: the development settings serve Google's webhook too, and nothing may leave the
  machine) and the log filter `warn` (its one `info` line per request is off). It verifies each
  signature, parses the body, publishes and answers 204 once the broker acknowledged (or the
  outbox holds the record).

### Throughput, closed loop

wrk, 2 threads, {conns} connections, one signed notification per request from 1,000 distinct users
in turn (`bench/signed-notifications.lua`); the raw producer keeps {conns} records in flight.

| what | requests/s | p50 ms | p99 ms | non-2xx or unacknowledged |
|---|---|---|---|---|
| baseline: bare actix-web handler (204, no work) | {bare_rps:.0f} | {f('p50_ms', bare):.2f} | {f('p99_ms', bare):.2f} | {int(f('non2xx', bare))} |
| baseline: raw producer (the subscriber's records and producer, {conns} in flight) | {raw_rps:.0f} | {f('p50_ms', raw):.2f} | {f('p99_ms', raw):.2f} | {int(f('unacknowledged', raw))} |
| subscriber | {sub_rps:.0f} | {f('p50_ms', full):.2f} | {f('p99_ms', full):.2f} | {int(f('non2xx', full))} |

Subscriber / lower baseline = **{ratio:.2f}** (target ≥ {ratio_target:.2f}): {met(ratio >= ratio_target)}.
Closed-loop percentiles leave out the requests a stall kept from being sent; latency is judged below.

### Latency, open loop at half the lower baseline ({rate} per second)

`bench/src/bin/open-loop-http.rs` schedules request *i* at *i* / {rate} s and measures its
latency from that scheduled time, over {conns} keep-alive connections: a request that waits for a busy
connection waits on the clock, so a stall counts for every request scheduled during it. It sends
the same 1,000 signed bodies in turn. (oha's `-q … --latency-correction` measures the same way,
but its headers are the same for every request while each body needs its own
`X-Fitbit-Signature`: with oha every request would carry one user's notification, one Kafka key on
one partition; hence this driver.) The driver's timer resolution is 1 ms, so each figure includes
up to about 1 ms of its own wake-up delay; the bare handler's row shows that floor. The raw producer follows the same schedule with
{conns} records in flight at most.

| what | offered /s | achieved /s | p50 ms | p99 ms | max ms | non-2xx or unacknowledged |
|---|---|---|---|---|---|---|
| bare actix-web handler | {rate} | {f('rps', bare_open):.0f} | {f('p50_ms', bare_open):.2f} | {f('p99_ms', bare_open):.2f} | {f('max_ms', bare_open):.2f} | {int(f('non2xx', bare_open) + f('socket_errors', bare_open))} |
| raw producer | {rate} | {f('rate', raw_open):.0f} | {f('p50_ms', raw_open):.2f} | {f('p99_ms', raw_open):.2f} | {f('max_ms', raw_open):.2f} | {int(f('unacknowledged', raw_open))} |
| subscriber | {rate} | {f('rps', sub_open):.0f} | {f('p50_ms', sub_open):.2f} | {f('p99_ms', sub_open):.2f} | {f('max_ms', sub_open):.2f} | {int(f('non2xx', sub_open) + f('socket_errors', sub_open))} |

Subscriber p99 = **{sub_p99:.2f} ms** (target < {p99_target:.0f} ms): {met(sub_p99 < p99_target)}.
Of the {int(accepted):,} notifications the subscriber accepted in this run, {int(via_outbox):,} went
to the outbox rather than straight to the broker; it logged {problems} warnings or errors (the
keyset's aside).
"""
path = "docs/benchmarks.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nFigures are ratios against baselines measured in the same run; the machine is noisy.\n\n"
start = text.find("## Subscriber throughput and latency")
if start >= 0:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + (text[end:] if end >= 0 else "")
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
ok=1
