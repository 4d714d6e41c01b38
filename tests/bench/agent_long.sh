#!/usr/bin/env bash
# The agent over a long session (not a test): http_service.js under `tidemark run` for SECONDS,
# loaded by autocannon on 127.0.0.1 (/json, plus a light /pipe load), with the service's periodic
# bad job (for 3 s of every CYCLE s it writes 256 KiB every 50 ms ignoring write()'s false; its
# backlog is bounded at 16 MiB). Every 10 s it
# reads the agent's RSS and CPU from /proc; at the end it prints the RSS after the first minute and
# at the end, the least-squares RSS slope after the first minute (target <= 1 MB/min), the agent's
# CPU as a share of one core (target <= 5 %), the live findings it printed (the bad job must be
# named with its line), then `report` and `check` on the trace with their time and peak RSS.
# Usage: tests/bench/agent_long.sh [SECONDS=600] [CONNECTIONS=20]
# Environment: CYCLE=30 (s), TIDEMARK_BENCH_BIN / TIDEMARK_LIB_DIR as for every benchmark.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
SECS=${1:-600}
CONNS=${2:-20}
CYCLE=${CYCLE:-30}
AUTOCANNON=$BENCH_DIR/node_modules/autocannon/autocannon.js
[[ -f $AUTOCANNON ]] || npm ci --prefix "$BENCH_DIR" --no-audit --no-fund >&2
source "$BENCH_DIR/tracker_bench_env.sh"
[[ -n $TIDEMARK_BIN ]] || { echo "agent_long: needs a built tidemark (build/*/bin/tidemark)" >&2; exit 2; }
TRACE=$BENCH_TMP/long.tidemark
HZ=$(getconf CLK_TCK)

AGENT=''
AC1='' AC2=''
finish() {
  for p in $AC1 $AC2; do kill -TERM "$p" 2>/dev/null || true; done
  [[ -n $AGENT ]] && pkill -TERM -P "$AGENT" 2>/dev/null || true
}
trap 'finish; cleanup_tracking' EXIT

TIDEMARK_LIB_DIR=$LIBDIR "$TIDEMARK_BIN" run --out "$TRACE" -- node "$BENCH_DIR/http_service.js" --port 0 \
  --seconds $((SECS + 20)) --bad-job 50 --bad-job-cycle "$CYCLE" > "$BENCH_TMP/svc.out" 2> "$BENCH_TMP/agent.err" &
AGENT=$!
for _ in $(seq 100); do grep -q '^listening' "$BENCH_TMP/svc.out" 2>/dev/null && break; sleep 0.1; done
line=$(grep -m1 '^listening' "$BENCH_TMP/svc.out") || { cat "$BENCH_TMP/agent.err" >&2; exit 1; }
port=${line#listening 127.0.0.1:}; port=${port%% *}
node "$AUTOCANNON" -c "$CONNS" -d "$SECS" "http://127.0.0.1:$port/json" > /dev/null 2> "$BENCH_TMP/ac1.err" & AC1=$!
node "$AUTOCANNON" -c 2 -d "$SECS" "http://127.0.0.1:$port/pipe" > /dev/null 2> "$BENCH_TMP/ac2.err" & AC2=$!

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
start=$(date +%s.%N)
printf '%8s %12s %12s\n' "t_s" "agent_rss_MB" "agent_cpu_%" >&2
: > "$BENCH_TMP/rss.txt"
prev_t=$start prev_c=$(cpu_ticks "$AGENT")
c0=$prev_c
while kill -0 "$AC1" 2>/dev/null; do
  sleep 10
  kill -0 "$AGENT" 2>/dev/null || break
  now=$(date +%s.%N); c=$(cpu_ticks "$AGENT"); r=$(rss_kb "$AGENT")
  t=$(echo "$now - $start" | bc)
  pct=$(echo "scale=2; ($c - $prev_c) * 100 / $HZ / ($now - $prev_t)" | bc)
  printf '%8.0f %12.1f %12s\n' "$t" "$(echo "scale=1; $r / 1024" | bc)" "$pct" >&2
  echo "$t $r" >> "$BENCH_TMP/rss.txt"
  prev_t=$now prev_c=$c
done
end=$(date +%s.%N); c_end=$(cpu_ticks "$AGENT" 2>/dev/null || echo "$prev_c")
wait "$AC1" 2>/dev/null || true; wait "$AC2" 2>/dev/null || true
AC1='' AC2=''
pkill -TERM -P "$AGENT" 2>/dev/null || true
wait "$AGENT" 2>/dev/null || true
AGENT=''

echo "--- agent over ${SECS} s ---"
awk '$1 >= 60 {n++; sx+=$1; sy+=$2/1024; sxx+=$1*$1; sxy+=$1*$2/1024; if (!first) first=$2/1024; last=$2/1024}
     END {if (n > 1) {b=(n*sxy - sx*sy)/(n*sxx - sx*sx); printf "agent rss after 60 s: %.1f MB, at the end: %.1f MB, slope after the first minute: %.3f MB/min\n", first, last, b*60}}' "$BENCH_TMP/rss.txt"
echo "agent cpu over the run: $(echo "scale=2; ($c_end - $c0) * 100 / $HZ / ($end - $start)" | bc) % of a core"
echo "requests: $(tail -1 "$BENCH_TMP/svc.out" | sed -E 's/.*"requests":([0-9]+).*/\1/')"
echo "--- live findings (tidemark's stderr) ---"
grep -E '^tidemark: \[' "$BENCH_TMP/agent.err" | cut -c1-240 || echo "(none)"
grep -E '^tidemark: .*(exited|recorded)' "$BENCH_TMP/agent.err" || true
echo "trace: $(stat -c %s "$TRACE") bytes"
for cmd in "report --format json" "check --max-growth 1GB/min"; do
  /usr/bin/time -f "%e s, peak rss %M KB" -o "$BENCH_TMP/time.txt" "$TIDEMARK_BIN" $cmd "$TRACE" > "$BENCH_TMP/out.txt" 2>&1 || true
  echo "tidemark $cmd: $(cat "$BENCH_TMP/time.txt"), $(wc -c < "$BENCH_TMP/out.txt") bytes of output"
done
"$TIDEMARK_BIN" report "$TRACE" | sed -n '1,12p'
