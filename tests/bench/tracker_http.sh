#!/usr/bin/env bash
# Tracking overhead on an HTTP service: http_service.js (node:http on 127.0.0.1) loaded by
# autocannon (a separate node process, loopback only) for SECONDS after a WARMUP, bare and under
# tracking, alternating, PAIRS times per route. Prints per pair and as medians: requests/s, CPU per
# request of service+agent, and the service's peak rss / heapUsed / external / arrayBuffers; then
# the median of the per-pair ratios tracked/bare (targets: req/s /json >= 0.95, /pipe >= 0.97).
# Not a test (never registered in CTest).
# Usage: tests/bench/tracker_http.sh [ROUTE=/json|/pipe|both] [PAIRS=5] [SECONDS=10] [CONNECTIONS=50]
# Environment: WARMUP=2 (s of load before each measured run), BAD_JOB=MS (enable the service's
# periodic bad job every MS ms; off by default, the targets are for it off), TIDEMARK_BENCH_BIN /
# TIDEMARK_LIB_DIR as for every tracker benchmark (tracker_bench_env.sh).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROUTE=${1:-both}
PAIRS=${2:-5}
SECS=${3:-10}
CONNS=${4:-50}
WARMUP=${WARMUP:-2}
BAD_JOB=${BAD_JOB:-0}
case $ROUTE in
  both) routes=(/json /pipe) ;;
  /json | json) routes=(/json) ;;
  /pipe | pipe) routes=(/pipe) ;;
  *) echo "usage: $0 [/json|/pipe|both] [PAIRS] [SECONDS] [CONNECTIONS]" >&2; exit 2 ;;
esac
for v in "$PAIRS" "$SECS" "$CONNS" "$WARMUP" "$BAD_JOB"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "PAIRS, SECONDS, CONNECTIONS, WARMUP and BAD_JOB must be whole numbers" >&2; exit 2; }
done
AUTOCANNON=$BENCH_DIR/node_modules/autocannon/autocannon.js
if [[ ! -f $AUTOCANNON ]]; then
  echo "installing autocannon: npm ci --prefix tests/bench" >&2
  npm ci --prefix "$BENCH_DIR" --no-audit --no-fund >&2
fi
source "$BENCH_DIR/tracker_bench_env.sh"
SVC=$BENCH_DIR/http_service.js

# Processes of the run in progress, ended by id on any exit: the autocannon, the service (node),
# the subshell that runs it, and what that subshell started (tidemark or node; tidemark passes
# SIGTERM on to node). TERM first, KILL what is left after 2 s.
JOB_PID='' SVC_PID='' AGENT_PID='' AC_PID=''
stop_processes() {
  local p kids='' grandkids=''
  [[ -n $JOB_PID ]] && kids=$(pgrep -P "$JOB_PID" || true)
  for p in $kids; do grandkids+=" $(pgrep -P "$p" || true)"; done
  for p in $AC_PID $SVC_PID $kids; do kill -TERM "$p" 2>/dev/null || true; done
  if [[ -n $JOB_PID ]]; then  # let tidemark close its trace after the service ended
    for _ in $(seq 20); do kill -0 "$JOB_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  for p in $AC_PID $SVC_PID $AGENT_PID $grandkids $kids $JOB_PID; do kill -KILL "$p" 2>/dev/null || true; done
  JOB_PID='' SVC_PID='' AGENT_PID='' AC_PID=''
}
trap 'stop_processes; cleanup_tracking' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "tracker_http: $1" >&2
  for f in svc.out svc.err ac.err; do [[ -s $BENCH_TMP/$f ]] && { echo "--- $f:" >&2; tail -n 20 "$BENCH_TMP/$f" >&2; }; done
  exit 1
}

# run_one MODE ROUTE: MODE is env (bare) or tracked. Appends one line to $BENCH_TMP/result:
# req/s, CPU µs per request of service + agent, of the service alone, peak rss, heapUsed, external,
# arrayBuffers (bytes). CPU and requests count the whole run: startup, warm-up and measured load.
run_one() {
  local mode=$1 route=$2 line port limit=$((WARMUP + SECS + 60)) s0 s1
  local -a bad=()
  ((BAD_JOB > 0)) && bad=(--bad-job "$BAD_JOB")
  : > "$BENCH_TMP/svc.out"; : > "$BENCH_TMP/svc.err"; : > "$BENCH_TMP/ac.err"
  s0=$(sink_cpu_us)
  # The subshell's `times` reports the CPU of everything it waited for: node, and tidemark too.
  ( "$mode" node "$SVC" --port 0 --seconds "$limit" "${bad[@]}" > "$BENCH_TMP/svc.out" 2> "$BENCH_TMP/svc.err" || true
    times > "$BENCH_TMP/times" ) &
  JOB_PID=$!
  for _ in $(seq 100); do
    line=$(grep -m1 '^listening ' "$BENCH_TMP/svc.out" || true)
    [[ -n $line ]] && break
    kill -0 "$JOB_PID" 2>/dev/null || fail "the service exited before listening ($mode)"
    sleep 0.1
  done
  [[ -n $line ]] || fail "the service did not listen within 10 s ($mode)"
  port=${line#listening 127.0.0.1:}; port=${port%% *}
  SVC_PID=${line##* }
  [[ $mode == tracked && -z $SINK_PID ]] && AGENT_PID=$(awk '{print $4}' "/proc/$SVC_PID/stat" 2>/dev/null || true)
  local url=http://127.0.0.1:$port$route
  if ((WARMUP > 0)); then
    node "$AUTOCANNON" -c "$CONNS" -d "$WARMUP" --json "$url" > /dev/null 2>> "$BENCH_TMP/ac.err" & AC_PID=$!
    wait "$AC_PID" || fail "autocannon (warm-up) failed"
  fi
  node "$AUTOCANNON" -c "$CONNS" -d "$SECS" --json "$url" > "$BENCH_TMP/ac.json" 2>> "$BENCH_TMP/ac.err" & AC_PID=$!
  wait "$AC_PID" || fail "autocannon failed"
  AC_PID=
  kill -TERM "$SVC_PID" 2>/dev/null || fail "the service ended before the load did ($mode)"
  wait "$JOB_PID" || true
  JOB_PID='' SVC_PID='' AGENT_PID=''
  s1=$(sink_cpu_us)
  grep -q '^{' "$BENCH_TMP/svc.out" || fail "the service printed no figures at exit ($mode)"
  [[ $mode == tracked ]] && { grep -m1 -E '^tidemark: .* exited' "$BENCH_TMP/svc.err" | sed 's/^/  /' >&2 || true; }
  node -e '
    const fs = require("fs");
    const [acFile, svcFile, timesFile, sinkUs] = process.argv.slice(1);
    const ac = JSON.parse(fs.readFileSync(acFile, "utf8"));
    const svc = JSON.parse(fs.readFileSync(svcFile, "utf8").split("\n").find((l) => l.startsWith("{")));
    // `times` line 2: children user and sys, e.g. "0m12.345s 0m1.234s"
    const sec = (t) => { const m = /^(\d+)m([\d.]+)s$/.exec(t); return +m[1] * 60 + +m[2]; };
    const [u, s] = fs.readFileSync(timesFile, "utf8").trim().split("\n")[1].trim().split(/\s+/);
    const cpuUs = (sec(u) + sec(s)) * 1e6 + +sinkUs;
    const bad = ac.non2xx + ac.errors + ac.timeouts;
    if (bad > 0) process.stderr.write(`tracker_http: warning: ${ac.non2xx} non-2xx, ${ac.errors} errors, ${ac.timeouts} timeouts\n`);
    const rps = ac.requests.total / ac.duration;
    const p = svc.peak;
    const n = Math.max(1, svc.requests);
    console.log([rps.toFixed(1), (cpuUs / n).toFixed(2), (svc.cpu_us / n).toFixed(2), p.rss, p.heapUsed, p.external, p.arrayBuffers].join(" "));
  ' "$BENCH_TMP/ac.json" "$BENCH_TMP/svc.out" "$BENCH_TMP/times" "$((s1 - s0))" >> "$BENCH_TMP/result" \
    || fail "could not read the figures ($mode)"
}

mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
col() { awk -v c="$1" '{print $c}' "$2"; }
NC=7  # figures per run; a pair's line holds bare's then tracked's
ratio_median() { awk -v c="$1" -v n=$NC '{print ($c > 0 && $(c + n) > 0) ? $(c + n) / $c : 1}' "$2" | median; }
trk() { echo $(($1 + NC)); }

[[ $BAD_JOB -gt 0 ]] && echo "bad job on: every $BAD_JOB ms (the targets are for it off)" >&2
for route in "${routes[@]}"; do
  pairs=$BENCH_TMP/pairs${route//\//_}
  : > "$pairs"
  for ((i = 1; i <= PAIRS; i++)); do
    : > "$BENCH_TMP/result"
    run_one env "$route"
    run_one tracked "$route"
    paste -d' ' <(sed -n 1p "$BENCH_TMP/result") <(sed -n 2p "$BENCH_TMP/result") >> "$pairs"
    read -r b bc _ brss _ < <(sed -n 1p "$BENCH_TMP/result")
    read -r t tc _ trss _ < <(sed -n 2p "$BENCH_TMP/result")
    printf '%s pair %d: bare %s req/s (%s µs CPU/req, peak rss %s MiB), tracked %s req/s (%s µs CPU/req, peak rss %s MiB), ratio %.3f\n' \
      "$route" "$i" "$b" "$bc" "$(mib "$brss")" "$t" "$tc" "$(mib "$trss")" "$(awk -v a="$t" -v b="$b" 'BEGIN {print a / b}')" >&2
  done
  # columns: 1-7 bare (req/s, cpu/req total, cpu/req service, rss, heapUsed, external, arrayBuffers), 8-14 tracked
  target=0.95; [[ $route == /pipe ]] && target=0.97
  printf '%s, %s connections, %s s x %s pairs: req/s bare median %s, tracked median %s; median pair ratio tracked/bare %.3f (target >= %s)\n' \
    "$route" "$CONNS" "$SECS" "$PAIRS" "$(col 1 "$pairs" | median)" "$(col "$(trk 1)" "$pairs" | median)" "$(ratio_median 1 "$pairs")" "$target"
  printf '%s   CPU µs per request, service+agent: bare median %s, tracked median %s, ratio %.3f; service alone: %s -> %s, ratio %.3f\n' \
    "$route" "$(col 2 "$pairs" | median)" "$(col "$(trk 2)" "$pairs" | median)" "$(ratio_median 2 "$pairs")" \
    "$(col 3 "$pairs" | median)" "$(col "$(trk 3)" "$pairs" | median)" "$(ratio_median 3 "$pairs")"
  printf '%s   peak, median MiB bare -> tracked (median pair ratio): rss %s -> %s (%.2f), heapUsed %s -> %s (%.2f), external %s -> %s (%.2f), arrayBuffers %s -> %s (%.2f)\n' \
    "$route" \
    "$(mib "$(col 4 "$pairs" | median)")" "$(mib "$(col "$(trk 4)" "$pairs" | median)")" "$(ratio_median 4 "$pairs")" \
    "$(mib "$(col 5 "$pairs" | median)")" "$(mib "$(col "$(trk 5)" "$pairs" | median)")" "$(ratio_median 5 "$pairs")" \
    "$(mib "$(col 6 "$pairs" | median)")" "$(mib "$(col "$(trk 6)" "$pairs" | median)")" "$(ratio_median 6 "$pairs")" \
    "$(mib "$(col 7 "$pairs" | median)")" "$(mib "$(col "$(trk 7)" "$pairs" | median)")" "$(ratio_median 7 "$pairs")"
done
