#!/usr/bin/env bash
# Profiles the whole-pipeline benchmark under its measured load (issue 15): runs
# `bench/pipeline.sh N SECONDS` and, while its load runs, samples every process on the machine with
# `perf record -a` (Debian's linux-perf), then writes, per process, the functions that took the most
# CPU (self time) and a flame graph (inferno, from crates.io), and PostgreSQL's statements by total
# time (pg_stat_statements, when the server loads it; see docs/benchmarks.md for how to enable it).
#
#   bench/pipeline-profile.sh [participants, default 10000] [seconds of load, default 60] [out dir]
#
# The out dir (default $FITEX_CACHE/profiles/<date>-N) keeps perf.data, top-<process>.txt,
# flame.svg and statements.txt. The benchmark's own report goes where bench/pipeline.sh puts it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
USERS=${1:-10000}
LOAD_SECONDS=${2:-60}
out=${3:-$FITEX_CACHE/profiles/$(date +%Y%m%d-%H%M%S)-$USERS}
mkdir -p "$out"
INFERNO_VERSION=0.12.3

command -v perf >/dev/null ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null; }
tools="$FITEX_CACHE/tools"
[[ -x $tools/bin/inferno-flamegraph ]] ||
  cargo install --quiet --locked --root "$tools" inferno --version "$INFERNO_VERSION"

psql_q() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$1" -Atc "$2"; }
statements=0
if [[ $(psql_q postgres "SHOW shared_preload_libraries") == *pg_stat_statements* ]]; then
  statements=1
  psql_q postgres "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
else
  echo "pg_stat_statements is not loaded: no statement profile (docs/benchmarks.md says how)" >&2
fi

log="$out/pipeline.log"
bash bench/pipeline.sh "$USERS" "$LOAD_SECONDS" 2>"$log" &
pipeline=$!
# The load starts once the setup has settled: the benchmark says "the day: ...".
until grep -q '^the day:' "$log" 2>/dev/null; do
  kill -0 "$pipeline" 2>/dev/null || { cat "$log" >&2; echo "the benchmark ended before its load" >&2; exit 1; }
  sleep 1
done
[[ $statements == 1 ]] && psql_q postgres "SELECT pg_stat_statements_reset()" >/dev/null
echo "profiling the load (${LOAD_SECONDS} s, every process)" >&2
for name in fitex-fetcher fitex-goals fitex-subscribe postgres tansu provider-simula; do
  echo "$name $(pgrep -x "$name" | tr '\n' ' ')"
done >"$out/pids.txt"
perf record -a -g -F 199 -o "$out/perf.data" -- sleep "$LOAD_SECONDS" 2>"$out/perf-record.log"
if [[ $statements == 1 ]]; then
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -c "
    SELECT round(total_exec_time::numeric, 0) AS total_ms, calls,
           round((total_exec_time / greatest(calls, 1))::numeric, 3) AS mean_ms,
           left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS statement
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25" >"$out/statements.txt"
fi
wait "$pipeline" || { cat "$log" >&2; exit 1; }

# Who took the CPU, then each process's own top functions (by process id: tokio's worker threads
# share one thread name across services).
perf report -i "$out/perf.data" --no-children --sort pid --stdio 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -30 >"$out/top-processes.txt"
for name in fitex-fetcher fitex-goals fitex-subscribe postgres tansu provider-simula; do
  pids=$(grep -E "^$name " "$out/pids.txt" | cut -d' ' -f2- | xargs | tr ' ' ',')
  [[ -n $pids ]] || continue
  perf report -i "$out/perf.data" --no-children --pid "$pids" --sort dso,symbol --stdio 2>/dev/null |
    grep -v '^#' | grep -E '^ +[0-9]' | head -30 >"$out/top-$name.txt" || true
done
perf script -i "$out/perf.data" 2>/dev/null | "$tools/bin/inferno-collapse-perf" |
  "$tools/bin/inferno-flamegraph" --title "FitEx Sync pipeline, N = $USERS, ${LOAD_SECONDS} s load" >"$out/flame.svg"
echo "profile in $out" >&2
tail -n 3 "$log" >&2
