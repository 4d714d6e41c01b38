# Shared setup for the tracker benchmarks (sourced, not run). Finds the repo, the tracker's lib
# dir and a way to run node under tracking: `tidemark run` when build/*/bin/tidemark exists,
# otherwise wire_sink (a listener that reads and discards) plus node -r preload.js.
# Defines: REPO, LIBDIR, tracked CMD... (runs CMD under tracking), cleanup_tracking, median,
# sink_cpu_us (CPU µs wire_sink has used so far; 0 when tidemark is the agent: a `tidemark run`
# process is the parent of node, so the CPU of whoever waits for it covers it).
# TIDEMARK_LIB_DIR picks the tracker; TIDEMARK_BENCH_BIN the agent (empty: use wire_sink);
# TIDEMARK_INTERVAL_MS the sampling interval (passed to `tidemark run` as --interval).
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LIBDIR=${TIDEMARK_LIB_DIR:-}
if [[ -z $LIBDIR ]]; then  # the most recently built tracker
  newest=$(ls -t "$REPO"/build/*/lib/tidemark/tidemark_node.node 2>/dev/null | head -1)
  [[ -n $newest && -f $(dirname "$newest")/preload.js ]] && LIBDIR=$(dirname "$newest")
fi
[[ -n $LIBDIR ]] || { echo "no built tracker found under $REPO/build/*/lib/tidemark; build first" >&2; exit 2; }
TIDEMARK_BIN=${TIDEMARK_BENCH_BIN-$(ls -t "$REPO"/build/*/bin/tidemark 2>/dev/null | head -1)}
BENCH_TMP=$(mktemp -d /tmp/tidemark-bench-XXXXXX)
SINK_PID=
if [[ -z $TIDEMARK_BIN ]]; then
  c++ -std=c++20 -O2 -pthread -I"$REPO/tracker/include" "$REPO/tests/bench/wire_sink.cpp" -o "$BENCH_TMP/wire_sink"
  "$BENCH_TMP/wire_sink" "$BENCH_TMP/agent.sock" & SINK_PID=$!
  for _ in 1 2 3 4 5 6 7 8 9 10; do [[ -S $BENCH_TMP/agent.sock ]] && break; sleep 0.1; done
  echo "tracking via wire_sink (no tidemark binary yet), lib $LIBDIR" >&2
else
  echo "tracking via $TIDEMARK_BIN run" >&2
fi
tracked() {
  if [[ -n $TIDEMARK_BIN ]]; then
    TIDEMARK_LIB_DIR=$LIBDIR "$TIDEMARK_BIN" run --out "$BENCH_TMP/trace.tidemark" \
      ${TIDEMARK_INTERVAL_MS:+--interval "$TIDEMARK_INTERVAL_MS"} -- "$@"
  else
    TIDEMARK_SOCKET=$BENCH_TMP/agent.sock NODE_OPTIONS="${NODE_OPTIONS:-} --require $LIBDIR/preload.js" "$@"
  fi
}
cleanup_tracking() { [[ -n $SINK_PID ]] && kill "$SINK_PID" 2>/dev/null; rm -rf "$BENCH_TMP"; }
trap cleanup_tracking EXIT
sink_cpu_us() {
  if [[ -n $SINK_PID ]]; then
    awk -v hz="$(getconf CLK_TCK)" '{printf "%d\n", ($14 + $15) * 1e6 / hz}' "/proc/$SINK_PID/stat"
  else echo 0; fi
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
