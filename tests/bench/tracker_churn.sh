#!/usr/bin/env bash
# Cost of tracking short-lived streams (http-style churn): churn_streams.js creates, writes, ends
# and drops PassThroughs in batches across macrotasks for 2 s, bare and under tracking,
# alternating; prints the CPU µs per stream of each and their ratio. Not a test.
# Usage: tests/bench/tracker_churn.sh [PAIRS=3]
set -euo pipefail
source "$(dirname "$0")/tracker_bench_env.sh"
PAIRS=${1:-3}
app="$REPO/tests/bench/churn_streams.js"
: > "$BENCH_TMP/churn"
for ((i = 1; i <= PAIRS; i++)); do
  b=$(node "$app" | awk '{print $4}')
  t=$(tracked node "$app" 2>/dev/null | awk '/cpu_us_per_stream/ {print $4}')
  echo "pair $i: bare $b µs/stream, tracked $t µs/stream" >&2
  echo "$b $t" >> "$BENCH_TMP/churn"
done
mb=$(awk '{print $1}' "$BENCH_TMP/churn" | median)
mt=$(awk '{print $2}' "$BENCH_TMP/churn" | median)
printf 'stream churn: bare median %s µs CPU per stream, tracked median %s, ratio %.2f\n' "$mb" "$mt" \
  "$(awk -v a="$mt" -v b="$mb" 'BEGIN {print a / b}')"
