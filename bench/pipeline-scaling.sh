#!/usr/bin/env bash
# Flat cost across N (issue 15): runs bench/pipeline.sh for each N with its seconds of load, one
# after the other, then compares the runs: docs/benchmark-pipeline-scaling.png (p99 notification →
# goal event and CPU per notification, as a multiple of the raw Kafka client's CPU per record,
# per process and all pipeline processes together, against N) and the "### Flat cost across N"
# part of the whole-pipeline section of docs/benchmarks.md (each process's ratio at each N, its
# change from the smallest N, within ±25 % or not). Each run also writes its own section, plot
# and docs/benchmark-runs/pipeline-N-Ss.json, which the comparison is made from.
#
#   bench/pipeline-scaling.sh [N:SECONDS ...]   default: 1000:60 10000:60 30000:180
#
# Pairs may also come as one quoted argument ("1000:60 10000:60"); a bare N gets 60 s; seconds
# must be more than 30 (bench/pipeline.sh's rule). The
# environment reaches bench/pipeline.sh (VARIANT, WAIT_SECONDS, SETUP_TIMEOUT, FITEX__…). A run
# that fails is reported and left out; the comparison is made of the others, and the script
# then exits non-zero. Large N take long: 30,000 participants' setup alone can take most of an
# hour on 2 cores (raise SETUP_TIMEOUT if it does not settle).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
runs=("$@")
[[ ${#runs[@]} == 0 ]] && runs=("1000:60 10000:60 30000:180")
# One list of pairs, however they were passed.
read -r -a pairs <<<"${runs[*]}"
for pair in "${pairs[@]}"; do
  [[ $pair =~ ^[0-9]+(:[0-9]+)?$ ]] || { echo "not N or N:SECONDS: $pair" >&2; exit 2; }
  # bench/pipeline.sh's own rule, checked before the first run rather than hours into them.
  [[ $pair != *:* || ${pair#*:} -gt 30 ]] || { echo "$pair: seconds must be more than 30" >&2; exit 2; }
done

slug=$(tr -cs 'a-z0-9' '-' <<<"${VARIANT:-}" | sed 's/^-*//; s/-*$//')
started=$(date +%s)
summaries=()
failed=()
for pair in "${pairs[@]}"; do
  users=${pair%%:*}
  seconds=60
  [[ $pair == *:* ]] && seconds=${pair#*:}
  echo "=== N = $users, $seconds s ===" >&2
  # The same name bench/pipeline.sh gives the run's figures.
  summary="docs/benchmark-runs/pipeline-$users-${seconds}s${slug:+-$slug}.json"
  if bash bench/pipeline.sh "$users" "$seconds"; then
    # A summary left by an earlier run must not stand in for this one.
    if [[ -f $summary && $(stat -c %Y "$summary") -ge $started ]]; then
      summaries+=("$summary")
    else
      echo "N = $users: bench/pipeline.sh wrote no $summary" >&2
      failed+=("$pair")
    fi
  else
    echo "N = $users, $seconds s: bench/pipeline.sh failed ($?)" >&2
    failed+=("$pair")
  fi
done

[[ ${#summaries[@]} -gt 0 ]] || { echo "no run succeeded" >&2; exit 1; }
png="docs/benchmark-pipeline-scaling${slug:+-$slug}.png"
"$FITEX_CACHE/bench-venv/bin/python" bench/pipeline.py scaling "$png" "${summaries[@]}"
echo "wrote $png, ${summaries[*]} and the \"Flat cost across N\" part of docs/benchmarks.md" >&2
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
