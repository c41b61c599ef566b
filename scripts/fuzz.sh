#!/usr/bin/env bash
# Fuzzes what FitEx Sync reads from outside (webhook bodies and signatures, tokens, provider
# answers): every cargo-fuzz target in fuzz/, one after the other, for a fixed time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   # default 60
#   scripts/fuzz.sh --short                # 10 s per target, for CI
#   FUZZ_TARGETS="fitbit_signature google_api" scripts/fuzz.sh 300
#
# Prints one line per target (executions, executions per second, coverage, features, corpus,
# crashes) and exits non-zero if any target crashed, i.e. panicked, broke an invariant it asserts,
# timed out or ran out of memory. Generated corpus, crashing inputs and logs stay out of the repo,
# under ~/.cache/fitex-sync/fuzz; the committed seeds are fuzz/corpus/<target>. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

usage="usage: scripts/fuzz.sh [SECONDS_PER_TARGET | --short]"
seconds=60
case "${1:-}" in
  "") ;;
  --short) seconds=10 ;;
  -h | --help) echo "$usage"; exit 0 ;;
  *[!0-9]* | 0) echo "$usage" >&2; exit 2 ;;
  *) seconds=$1 ;;
esac

CARGO_FUZZ_VERSION=0.13.2
fuzz_root=$FITEX_CACHE/cargo-fuzz
if ! "$fuzz_root/bin/cargo-fuzz" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION into $fuzz_root (once; about a minute)" >&2
  # Built in a temporary target dir, not the workspace's.
  env -u CARGO_TARGET_DIR cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked \
    --root "$fuzz_root" --quiet
fi
export PATH="$fuzz_root/bin:$PATH"

# cargo-fuzz passes rustc flags that only nightly accepts (-Z...); the machine has only stable
# Rust, which takes them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1 RUSTUP_TOOLCHAIN=stable
# The targets are safe Rust: no sanitizer (several times the executions); FUZZ_SANITIZER=address
# adds AddressSanitizer. Debug assertions and overflow checks are always on.
sanitizer=${FUZZ_SANITIZER:-none}
# A target dir of its own (one per sanitizer): the instrumented build must not invalidate the
# workspace's cache, nor the two sanitizers' builds each other's.
export CARGO_TARGET_DIR=$FITEX_CACHE/fuzz-target
[[ $sanitizer == none ]] || CARGO_TARGET_DIR+="-$sanitizer"
work=$FITEX_CACHE/fuzz
mkdir -p "$work/logs"

all_targets=$(cd fuzz && cargo fuzz list)
targets=${FUZZ_TARGETS:-$all_targets}
for target in $targets; do
  grep -qx "$target" <<<"$all_targets" || { echo "no fuzz target $target" >&2; exit 2; }
done

echo "building the fuzz targets (sanitizer: $sanitizer)" >&2
if ! (cd fuzz && cargo fuzz build --sanitizer "$sanitizer" --debug-assertions \
  --target-dir "$CARGO_TARGET_DIR") >"$work/logs/build.log" 2>&1; then
  tail -n 40 "$work/logs/build.log" >&2
  exit 1
fi
bin_dir=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release

# libFuzzer's final statistics (-print_final_stats) and its last status line ("#N ... cov: ...").
final_stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }
status_field() { sed -n "s/.* $1: \([0-9]*\).*/\1/p" <<<"$2"; }

echo "fuzzing each target for ${seconds}s on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-22s %12s %9s %6s %7s %7s %6s  %s\n' \
  target executions execs/s cov features corpus new crashes
failed=()
for target in $targets; do
  corpus=$work/corpus/$target
  artifacts=$work/artifacts/$target
  log=$work/logs/$target.log
  mkdir -p "$corpus" "$artifacts"
  # New inputs go to the first corpus directory (the cache); the committed seeds only seed.
  status=0
  "$bin_dir/$target" "$corpus" "fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    >"$log" 2>&1 || status=$?
  # The inputs libFuzzer kept as failures (it also writes slow-unit-* files: not failures).
  written=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
    grep -E '/(crash|timeout|oom|leak)-[^/]*$' || true)
  crashes=$(grep -c . <<<"$written" || true)
  if ((status != 0)) && ((crashes == 0)); then crashes=1; fi
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
  printf '%-22s %12s %9s %6s %7s %7s %6s  %s\n' "$target" \
    "$(final_stat number_of_executed_units "$log")" "$(final_stat average_exec_per_sec "$log")" \
    "$(status_field cov "$last")" "$(status_field ft "$last")" "$(status_field corp "$last")" \
    "$(final_stat new_units_added "$log")" "$crashes"
  if ((crashes > 0)); then
    failed+=("$target")
    grep -m 1 -A 3 'panicked at' "$log" | sed 's/^/    /' || true
    for file in $written; do
      echo "    input: $file"
      echo "    again: $bin_dir/$target $file"
    done
    echo "    log:   $log"
  fi
done

if ((${#failed[@]} > 0)); then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
echo "no crashes"
