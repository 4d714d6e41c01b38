#!/usr/bin/env bash
# Whole-run cost of tracking many idle streams: runs idle_streams.js (creates N live idle streams,
# settles 1 s, idles S seconds) bare and under tracking, alternating, PAIRS times, at the default
# 100 ms interval (TIDEMARK_INTERVAL_MS overrides it), and prints the median over the pairs of
#   (CPU tracked (node + agent) − CPU bare (node)) / wall time of the bare run, in % of a core
# over the WHOLE run — node startup, loading the tracker, registering the N streams, idling, exit
# — target ≤ 3 % of a core. CPU is what a subshell that runs the command waited for (bash `times`,
# getrusage(RUSAGE_CHILDREN)): node, and the `tidemark run` process that is node's parent; with
# wire_sink as the agent (TIDEMARK_BENCH_BIN=) its /proc CPU over the run is added. Also prints the
# split: target (node's process.cpuUsage() at its last line, tracked − bare) and agent+exit (the
# rest: the agent, plus node's exit work after that line — the tracker's final sample), the target's
# share in the idle window alone (the old figure) and the one-time cost of tracking stream creation.
# The whole-run share shrinks as SECONDS grows (startup and registration are paid once): the target
# is for the defaults. Not a test.
# Usage: tests/bench/tracker_idle.sh [N=10000] [SECONDS=10] [PAIRS=3]
set -euo pipefail
source "$(dirname "$0")/tracker_bench_env.sh"
N=${1:-10000}
S=${2:-10}
PAIRS=${3:-3}
W=$REPO/tests/bench/idle_streams.js

# measure MODE: runs idle_streams.js bare (MODE env) or under tracking (MODE tracked); appends one
# JSON line to $BENCH_TMP/runs: the workload's own line plus run_wall_us and run_cpu_us (all of it).
measure() {
  local s0 s1 t0 t1
  s0=$(sink_cpu_us)
  t0=$EPOCHREALTIME
  ( "$1" node "$W" "$N" "$S" > "$BENCH_TMP/idle.out" 2> "$BENCH_TMP/idle.err"; times > "$BENCH_TMP/times" ) \
    || { echo "tracker_idle: the $1 run failed:" >&2; tail -n 20 "$BENCH_TMP/idle.err" >&2; exit 1; }
  t1=$EPOCHREALTIME
  s1=$(sink_cpu_us)
  node -e '
    const fs = require("fs");
    const [out, times, t0, t1, sinkUs] = process.argv.slice(1);
    const w = JSON.parse(fs.readFileSync(out, "utf8").split("\n").find((l) => l.startsWith("{")));
    const sec = (t) => { const m = /^(\d+)m([\d.]+)s$/.exec(t); return +m[1] * 60 + +m[2]; };
    const [u, s] = fs.readFileSync(times, "utf8").trim().split("\n")[1].trim().split(/\s+/);
    w.run_wall_us = (+t1 - +t0) * 1e6;
    w.run_cpu_us = (sec(u) + sec(s)) * 1e6 + +sinkUs;
    console.log(JSON.stringify(w));
  ' "$BENCH_TMP/idle.out" "$BENCH_TMP/times" "$t0" "$t1" "$((s1 - s0))" >> "$BENCH_TMP/runs"
}

: > "$BENCH_TMP/runs"
for ((i = 1; i <= PAIRS; i++)); do
  measure env
  measure tracked
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const median = (a) => { const s = [...a].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const pct = (us, wallUs) => us / wallUs * 100;
const rows = [];
for (let i = 0; i + 1 < lines.length; i += 2) {
  const b = lines[i], t = lines[i + 1];
  const wall = b.run_wall_us;
  const r = {
    total: pct(t.run_cpu_us - b.run_cpu_us, wall),
    target: pct(t.total_cpu_us - b.total_cpu_us, wall),
    // what the subshell saw beyond node itself: the agent, plus node exit after its last line
    agent: pct((t.run_cpu_us - t.total_cpu_us) - (b.run_cpu_us - b.total_cpu_us), wall),
    idle: pct(t.idle_cpu_us - b.idle_cpu_us, t.idle_wall_us),
    createUs: (t.create_wall_us - b.create_wall_us) / t.streams,
  };
  rows.push(r);
  process.stderr.write(`pair ${i / 2 + 1}: bare ${(b.run_cpu_us / 1e3).toFixed(0)} ms CPU in ${(b.run_wall_us / 1e6).toFixed(2)} s, ` +
    `tracked ${(t.run_cpu_us / 1e3).toFixed(0)} ms CPU (node ${(t.total_cpu_us / 1e3).toFixed(0)} ms) in ${(t.run_wall_us / 1e6).toFixed(2)} s: ` +
    `whole-run share ${r.total.toFixed(2)} % (target ${r.target.toFixed(2)} %, agent+exit ${r.agent.toFixed(2)} %), idle window ${r.idle.toFixed(2)} %\n`);
}
const m = (k) => median(rows.map((r) => r[k]));
const b0 = lines[0];
console.log(`${b0.streams} idle streams, ${(b0.idle_wall_us / 1e6).toFixed(0)} s idle, ${rows.length} pairs: tracking CPU over the whole run ` +
  `(startup, registration, idle; target + agent) ${m("total").toFixed(2)} % of a core (target <= 3 %): ` +
  `target ${m("target").toFixed(2)} %, agent+exit ${m("agent").toFixed(2)} %; idle window alone (target only) ${m("idle").toFixed(2)} %; ` +
  `creation +${m("createUs").toFixed(1)} µs per stream`);
' "$BENCH_TMP/runs"
