#!/usr/bin/env bash
# Stream-tracking overhead on throughput: runs pump.js (Readable → 3 Transforms → Writable with
# pipeline()) bare and under tracking, alternating, and prints the median MB/s of each, the ratio
# tracked/bare (target ≥ 0.97), the median of the per-pair ratios, and the ratio of the target's
# CPU time per run (bare/tracked; less sensitive to other load on the machine). Not a test.
# Usage: tests/bench/tracker_pump.sh [PUMP_JS] [MB=256] [PAIRS=5]
set -euo pipefail
source "$(dirname "$0")/tracker_bench_env.sh"
PUMP=${1:-$REPO/../shared/bench/pump.js}
MB=${2:-256}
PAIRS=${3:-5}
[[ -f $PUMP ]] || { echo "pump.js not found at $PUMP (pass its path as the first argument)" >&2; exit 2; }
export NODE_OPTIONS="--require $REPO/tests/bench/cpu_report.js"
run_one() {  # prints "MB/s cpu_us"
  "$@" node "$PUMP" "$MB" 2> "$BENCH_TMP/err" > "$BENCH_TMP/out" || { cat "$BENCH_TMP/err" >&2; exit 1; }
  echo "$(awk '/MB\/s/ {print $1}' "$BENCH_TMP/out") $(sed -n 's/^cpu_us=//p' "$BENCH_TMP/err")"
}
: > "$BENCH_TMP/pairs"
for ((i = 1; i <= PAIRS; i++)); do
  read -r b bc < <(run_one env)
  read -r t tc < <(run_one tracked)
  echo "pair $i: bare $b MB/s ($((bc / 1000)) ms CPU), tracked $t MB/s ($((tc / 1000)) ms CPU)" >&2
  echo "$b $t $bc $tc" >> "$BENCH_TMP/pairs"
done
mb=$(awk '{print $1}' "$BENCH_TMP/pairs" | median)
mt=$(awk '{print $2}' "$BENCH_TMP/pairs" | median)
pr=$(awk '{print $2 / $1}' "$BENCH_TMP/pairs" | median)
cr=$(awk '{print $3 / $4}' "$BENCH_TMP/pairs" | median)
printf 'pump.js %s MB x %s pairs: bare median %s MB/s, tracked median %s MB/s, ratio %.3f; median pair ratio %.3f; CPU ratio bare/tracked %.3f (target >= 0.97)\n' \
  "$MB" "$PAIRS" "$mb" "$mt" "$(awk -v a="$mt" -v b="$mb" 'BEGIN {print a / b}')" "$pr" "$cr"
