#!/usr/bin/env bash
# `tidemark attach` on a loaded service (not a test; never in CTest). http_service.js (node:http on
# 127.0.0.1) under autocannon load (a separate process, loopback only):
#   0. a control: the same load with no attach, then heapUsed/external after a full GC (--expose-gc)
#   1. CYCLES attach/detach cycles (`tidemark attach PID --duration HOLD`) while the load runs:
#      failed requests (errors, timeouts, non-2xx), whether the service survived, its rss and
#      listening ports before and after, each attach's inspector window;
#   2. throughput attached vs not: PAIRS alternating autocannon runs of SECONDS, one unattached and
#      one with an attach held across it; the median of the per-pair ratios (target >= 0.95).
# Usage: tests/bench/attach_cycles.sh [CYCLES=50] [PAIRS=5] [SECONDS=8] [ROUTE=/json] [CONNECTIONS=50]
# Environment: HOLD=0.5 (s each cycle stays attached), VIA=inspector|ptrace (attach's --route;
# inspector by default; with ptrace each cycle reports how long the main thread was stopped, and
# the listening ports must not change even during an attach), TIDEMARK_BENCH_BIN / TIDEMARK_LIB_DIR as for
# every tracker benchmark (tracker_bench_env.sh). VIA="inspector ptrace" compares the routes under
# the same noise: the cycles alternate routes, and each pair is one unattached run followed by one
# attached run per route (a ratio per route, each against the same unattached run).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
CYCLES=${1:-50}
PAIRS=${2:-5}
SECS=${3:-8}
ROUTE=${4:-/json}
CONNS=${5:-50}
HOLD=${HOLD:-0.5}
VIA=${VIA:-inspector}
read -r -a ROUTES <<< "$VIA"
AUTOCANNON=$BENCH_DIR/node_modules/autocannon/autocannon.js
[[ -f $AUTOCANNON ]] || npm ci --prefix "$BENCH_DIR" --no-audit --no-fund >&2
source "$BENCH_DIR/tracker_bench_env.sh"
[[ -n $TIDEMARK_BIN ]] || { echo "attach_cycles: needs a built tidemark (build/*/bin/tidemark)" >&2; exit 2; }
export TIDEMARK_LIB_DIR=$LIBDIR

SVC_PID='' AC_PID=''
finish() { [[ -n $AC_PID ]] && kill "$AC_PID" 2>/dev/null; [[ -n $SVC_PID ]] && kill "$SVC_PID" 2>/dev/null; cleanup_tracking; }
trap finish EXIT

node --expose-gc "$BENCH_DIR/http_service.js" --port 0 --seconds 3600 > "$BENCH_TMP/svc.out" 2> "$BENCH_TMP/svc.err" &
SVC_PID=$!
for _ in $(seq 100); do grep -q '^listening ' "$BENCH_TMP/svc.out" && break; sleep 0.1; done
line=$(grep -m1 '^listening ' "$BENCH_TMP/svc.out") || { echo "the service did not start" >&2; exit 1; }
port=${line#listening 127.0.0.1:}; port=${port%% *}
url=http://127.0.0.1:$port$ROUTE
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$SVC_PID/status"; }
mem() {  # heapUsed and external in MiB after a full collection (the service's /memory route)
  node -e 'require("http").get(process.argv[1], (r) => { let s = ""; r.on("data", (d) => s += d).on("end", () => {
    const m = JSON.parse(s); console.log((m.heapUsed / 1048576).toFixed(2), (m.external / 1048576).toFixed(2)); }); })' \
    "http://127.0.0.1:$port/memory"
}
ports() {  # the service's listening TCP ports, sorted
  local inodes
  inodes=$(ls -l "/proc/$SVC_PID/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]/\1/p' | sort -u | tr '\n' ' ')
  awk -v ino=" $inodes" '$4 == "0A" && index(ino, " " $10 " ") {split($2, a, ":"); print a[2]}' "/proc/$SVC_PID/net/tcp" |
    while read -r hex; do echo $((16#$hex)); done | sort -n | tr '\n' ' '
}
ac() {  # ac SECONDS → "req/s errors+timeouts+non2xx requests"
  node "$AUTOCANNON" -c "$CONNS" -d "$1" --json "$url" 2>/dev/null \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s);console.log((a.requests.total/a.duration).toFixed(1), a.errors+a.timeouts+a.non2xx, a.requests.total)})'
}
cpu_us() {  # CPU µs (user + system) process $1 has used so far; 0 once it is gone
  awk -v hz="$(getconf CLK_TCK)" '{printf "%d\n", ($14 + $15) * 1e6 / hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}
ac 2 > /dev/null  # warm-up
# The control: the same load with no attach, so the cycles' figures can be told from load alone.
ctl_s=$(awk -v c="$CYCLES" -v h="$HOLD" 'BEGIN {printf "%d", c * (h + 0.4) + 5}')
ac "$ctl_s" > /dev/null
sleep 1
read -r heap0 ext0 < <(mem)
rss0=$(rss); ports0=$(ports)
echo "service pid $SVC_PID on $url; rss $((rss0 >> 20)) MiB, listening: $ports0" >&2

# 1. cycles under load
load_s=$(awk -v c="$CYCLES" -v h="$HOLD" 'BEGIN {printf "%d", c * (h + 0.4) + 5}')
( ac "$load_s" > "$BENCH_TMP/cycles_load" ) & AC_PID=$!
sleep 1
ok=0 failed=0
for via in "${ROUTES[@]}"; do : > "$BENCH_TMP/win.$via"; done
for ((i = 1; i <= CYCLES; i++)); do
  via=${ROUTES[$(( (i - 1) % ${#ROUTES[@]} ))]}
  if "$TIDEMARK_BIN" attach "$SVC_PID" --route "$via" --duration "$HOLD" --out "$BENCH_TMP/cycle.tidemark" 2> "$BENCH_TMP/attach.err"; then
    ok=$((ok + 1))
    w=$(sed -n -e 's/.*listened on 127.0.0.1:[0-9]* for \([0-9.]*\) ms.*/\1/p' \
              -e 's/.*main thread was stopped for \([0-9.]*\) ms.*/\1/p' "$BENCH_TMP/attach.err"); [[ -n $w ]] && echo "$w" >> "$BENCH_TMP/win.$via"
  else
    failed=$((failed + 1)); echo "cycle $i failed:" >&2; tail -n 3 "$BENCH_TMP/attach.err" >&2
  fi
  kill -0 "$SVC_PID" 2>/dev/null || { echo "the service died in cycle $i" >&2; exit 1; }
done
wait "$AC_PID"; AC_PID=
read -r cyc_rps cyc_bad _ < "$BENCH_TMP/cycles_load"
sleep 1
rss1=$(rss); ports1=$(ports)
read -r heap1 ext1 < <(mem)
for via in "${ROUTES[@]}"; do
  what=$([[ $via == ptrace ]] && echo "main thread stopped (both stops)" || echo "inspector window")
  echo "cycles ($via): $what median $(median < "$BENCH_TMP/win.$via") ms, max $(sort -g "$BENCH_TMP/win.$via" | tail -1) ms"
done
echo "cycles: service alive: yes; listening ports before: $ports0, after: $ports1"
echo "cycles: after a full GC, heapUsed $heap0 -> $heap1 MiB, external $ext0 -> $ext1 MiB; rss $((rss0 >> 20)) -> $((rss1 >> 20)) MiB (before = after the same load with no attach)"

# 2. throughput attached vs not, alternating. Besides req/s, the CPU per request (the service's,
# plus the attached agent's in the attached run): on a machine shared with other tenants req/s
# swings by 2x run to run with the CPU the machine gives, the CPU a request costs much less so.
for via in "${ROUTES[@]}"; do : > "$BENCH_TMP/pairs.$via"; done
for ((i = 1; i <= PAIRS; i++)); do
  c0=$(cpu_us "$SVC_PID")
  read -r bare _ n_bare < <(ac "$SECS")
  c1=$(cpu_us "$SVC_PID")
  us_bare=$(awk -v c=$((c1 - c0)) -v n="$n_bare" 'BEGIN {printf "%.2f", c / n}')
  hold=$(awk -v s="$SECS" 'BEGIN {print s + 4}')
  for via in "${ROUTES[@]}"; do
    "$TIDEMARK_BIN" attach "$SVC_PID" --route "$via" --duration "$hold" --out "$BENCH_TMP/held.tidemark" 2> "$BENCH_TMP/held.err" & APID=$!
    sleep 1.5
    c2=$(cpu_us "$SVC_PID"); a2=$(cpu_us "$APID")
    read -r att bad n_att < <(ac "$SECS")
    c3=$(cpu_us "$SVC_PID"); a3=$(cpu_us "$APID")
    wait "$APID" || { echo "the held attach failed:" >&2; tail -n 3 "$BENCH_TMP/held.err" >&2; }
    us_att=$(awk -v c=$((c3 - c2 + a3 - a2)) -v n="$n_att" 'BEGIN {printf "%.2f", c / n}')
    echo "$bare $att $us_bare $us_att" >> "$BENCH_TMP/pairs.$via"
    printf 'pair %d: unattached %s req/s %s CPU us/req, attached (%s) %s req/s %s CPU us/req (service + agent; %s failed), ratio %.3f\n' \
      "$i" "$bare" "$us_bare" "$via" "$att" "$us_att" "$bad" "$(awk -v a="$att" -v b="$bare" 'BEGIN {print a / b}')" >&2
  done
done
for via in "${ROUTES[@]}"; do
  ratio=$(awk '{print $2 / $1}' "$BENCH_TMP/pairs.$via" | median)
  cpu_ratio=$(awk '{print $3 / $4}' "$BENCH_TMP/pairs.$via" | median)
  printf '%s (%s) throughput attached / unattached: median of %d pairs %.3f (target >= 0.95)\n' "$ROUTE" "$via" "$PAIRS" "$ratio"
  printf '%s (%s) CPU per request unattached / attached (service + agent), as a throughput ratio: median %.3f\n' "$ROUTE" "$via" "$cpu_ratio"
done
echo "after everything: rss $(( $(rss) >> 20 )) MiB, listening: $(ports)"
