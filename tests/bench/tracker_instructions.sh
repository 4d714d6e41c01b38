#!/usr/bin/env bash
# Tracking cost in instructions, not time (not a test; never in CTest): inproc_http.js (server and
# client in one node process) under valgrind's callgrind, bare and under `tidemark run`, for N and
# 2N requests; the per-request cost is the slope (start-up cancels out). Instruction counts repeat
# to ~0.01 % run to run, so this works on a loaded machine where timed benchmarks cannot — with one
# caveat: the tracker's 100 ms ticks follow wall time, and under valgrind a run takes ~50x longer,
# so tick costs are inflated; the number of ticks (ProcessSamples) is printed with each run so a
# comparison can correct for it (~0.8 M instructions per tick measured here).
# Usage: tests/bench/tracker_instructions.sh [N=3000] [ROUTE=/json]   (each run takes ~1 min)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
N=${1:-3000}
ROUTE=${2:-/json}
command -v valgrind > /dev/null || { echo "needs valgrind" >&2; exit 2; }
source "$BENCH_DIR/tracker_bench_env.sh"
[[ -n $TIDEMARK_BIN ]] || { echo "needs a built tidemark (build/*/bin/tidemark)" >&2; exit 2; }
instr() {  # instr MODE COUNT → "instructions ticks"
  local out=$BENCH_TMP/cg.out ticks=0 total
  if [[ $1 == tracked ]]; then
    total=$(TIDEMARK_LIB_DIR=$LIBDIR "$TIDEMARK_BIN" run --out "$BENCH_TMP/t.tidemark" -- \
      valgrind --tool=callgrind --callgrind-out-file="$out" node "$BENCH_DIR/inproc_http.js" "$2" "$ROUTE" 2>&1 |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    ticks=$("$TIDEMARK_BIN" dump "$BENCH_TMP/t.tidemark" | grep -c ProcessSample || true)
  else
    total=$(valgrind --tool=callgrind --callgrind-out-file="$out" node "$BENCH_DIR/inproc_http.js" "$2" "$ROUTE" 2>&1 |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  fi
  echo "$total $ticks"
}
read -r b1 _ < <(instr bare "$N"); read -r b2 _ < <(instr bare $((2 * N)))
read -r t1 k1 < <(instr tracked "$N"); read -r t2 k2 < <(instr tracked $((2 * N)))
echo "bare:    $N requests $b1 instructions, $((2 * N)) requests $b2"
echo "tracked: $N requests $t1 instructions ($k1 ticks), $((2 * N)) requests $t2 ($k2 ticks)"
awk -v n="$N" -v b1="$b1" -v b2="$b2" -v t1="$t1" -v t2="$t2" 'BEGIN {
  b = (b2 - b1) / n; t = (t2 - t1) / n
  printf "%s per request: bare %.1f K instructions, tracked %.1f K (+%.1f K, %.3fx); start-up bare %.0f M, tracked %.0f M\n",
    "'"$ROUTE"'", b / 1000, t / 1000, (t - b) / 1000, t / b, (b1 - n * b) / 1e6, (t1 - n * t) / 1e6 }'
