#!/usr/bin/env bash
# Stream-tracking overhead on throughput: runs pump.js (Readable → 3 Transforms → Writable with
# pipeline()) bare and under tracking, alternating, and prints the median MB/s of each and the
# ratio tracked/bare (target ≥ 0.97). Not a test: timing lives here, never in ctest.
# Usage: tests/bench/tracker_pump.sh [PUMP_JS] [MB=256] [PAIRS=5]
set -euo pipefail
source "$(dirname "$0")/tracker_bench_env.sh"
PUMP=${1:-$REPO/../shared/bench/pump.js}
MB=${2:-256}
PAIRS=${3:-5}
[[ -f $PUMP ]] || { echo "pump.js not found at $PUMP (pass its path as the first argument)" >&2; exit 2; }
bare=() ; trk=()
for ((i = 1; i <= PAIRS; i++)); do
  b=$(node "$PUMP" "$MB" | awk '{print $1}')
  t=$(tracked node "$PUMP" "$MB" | awk '/MB\/s/ {print $1}')
  echo "pair $i: bare $b MB/s, tracked $t MB/s" >&2
  bare+=("$b"); trk+=("$t")
done
mb=$(printf '%s\n' "${bare[@]}" | median)
mt=$(printf '%s\n' "${trk[@]}" | median)
echo "pump.js ${MB} MB x ${PAIRS} pairs: bare median ${mb} MB/s, tracked median ${mt} MB/s, ratio $(awk -v a="$mt" -v b="$mb" 'BEGIN {printf "%.3f", a / b}') (target >= 0.97)"
