#!/usr/bin/env bash
# The goal engine's speed: (1) the pure library (criterion: user-days recomputed per second per
# core, target ≥ 1 million); (2) the goals service's event-to-goal latency through the real broker
# and PostgreSQL: one activity event per participant of a 1,000-person program, published at a
# steady rate, timed until each participant's goal event arrives. Writes docs/benchmarks.md.
#
#   bench/goals.sh [teams, default 100] [team size, default 10] [events/s, default 200]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
TEAMS=${1:-100}
TEAM_SIZE=${2:-10}
RATE=${3:-200}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
port_open "$PGHOST" "$PGPORT" && port_open "${KAFKA_BROKERS%%:*}" "${KAFKA_BROKERS##*:}" \
  || bash scripts/stack-up.sh
cargo build --quiet --release -p fitex-bench -p fitex-goals-service -p fitexctl
bin="$CARGO_TARGET_DIR/release"

echo "criterion: the pure library" >&2
cargo bench --quiet -p fitex-goals --bench goals -- --noplot 2>/dev/null | tee /tmp/fitex-goals-criterion.txt >&2 || true

run=$(date +%Y%m%d%H%M%S)
work=$(mktemp -d)
export FITEX__DATABASE__DATABASE_NAME="fitex_bench_goals_$run"
for topic in NOTIFICATIONS FETCH_RETRIES DEAD_LETTERS ACTIVITY_DAYS GOALS TEAM_PROGRESS SEASONS; do
  default=$(sed -n "s/^${topic,,} = \"\(.*\)\"/\1/p" config/base.toml)
  export "FITEX__KAFKA__TOPICS__$topic=$default.bench-$run"
done
"$bin/fitexctl" migrate >&2
"$bin/fitexctl" topics ensure >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FITEX__GOALS__PORT=$port FITEX__GOALS__GROUP_ID="bench-goals-$run" FITEX__TELEMETRY__LOG_FILTER=warn \
  "$bin/fitex-goals" >"$work/goals.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; dropdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" --if-exists --force "$FITEX__DATABASE__DATABASE_NAME" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.2; done

echo "event → goal latency ($TEAMS teams × $TEAM_SIZE, $RATE events/s)" >&2
result=$("$bin/goals-latency" --teams "$TEAMS" --team-size "$TEAM_SIZE" --rate "$RATE" | grep '^RESULT')
echo "$result" >&2
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)

python3 - "$result" "$TEAMS" "$TEAM_SIZE" "$RATE" "$rss_kb" <<'PY'
import os, re, sys, datetime
result, teams, size, rate, rss_kb = sys.argv[1:]
f = lambda k: float(re.search(r"\b" + k + r"=([0-9.]+)", result).group(1))
crit = open("/tmp/fitex-goals-criterion.txt").read() if os.path.exists("/tmp/fitex-goals-criterion.txt") else ""
lines = [l.strip() for l in crit.splitlines() if "user-days" in l or ("thrpt" in l and "%" not in l)]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
section = f"""## Goal engine (issue 5)

Run: `bench/goals.sh {teams} {size} {rate}` on {datetime.date.today()}, {os.cpu_count()} cores ({cpu}); release build.

**The pure library** (`cargo bench -p fitex-goals --bench goals`): a 56-day program with 90 days of
history per participant, one core. Target: ≥ 1 million user-days recomputed per second per core.

```
{chr(10).join(lines) if lines else "(criterion output not captured; run the command above)"}
```

**The service** — one activity event per participant of a {int(teams) * int(size)}-person program ({teams} teams of {size}),
published at up to {rate} events/s through tansu (the driver awaits each acknowledgement, so the
achieved rate is lower: see the table); each event recomputes that participant's goals (21
days of history) and their team's week, writes them and publishes through the outbox; timed from
publication to the participant's goal event for today. PostgreSQL, tansu, the service and the
driver share the {os.cpu_count()} cores.

| what | value |
|---|---|
| participants / goal events received | {int(f('participants'))} / {int(f('goal_events'))} |
| event → goal event latency p50 / p99 / max | {f('p50_ms'):.0f} / {f('p99_ms'):.0f} / {f('max_ms'):.0f} ms |
| participants recomputed per second, over the whole run (publishing included) | {f('per_second'):.0f} |
| goals service peak resident memory | {int(rss_kb) / 1024:.0f} MB |
"""
path = "docs/benchmarks.md"
text = open(path).read()
start = text.find("## Goal engine (issue 5)")
if start >= 0:
    end = text.find("\n## ", start + 1)
    text = text[:start] + section + ("\n" + text[end + 1:] if end >= 0 else "")
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
