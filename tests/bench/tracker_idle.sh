#!/usr/bin/env bash
# Sampling cost with many idle streams: runs idle_streams.js (N live idle streams, S seconds)
# bare and under tracking at TIDEMARK_INTERVAL_MS (default 100 = 10 Hz) and prints the tracker's
# CPU share while idling = (CPU tracked − CPU bare) / wall time (target < 2 % of a core), plus the
# one-time cost of tracking stream creation. Not a test.
# Usage: tests/bench/tracker_idle.sh [N=10000] [SECONDS=10]
set -euo pipefail
source "$(dirname "$0")/tracker_bench_env.sh"
N=${1:-10000}
S=${2:-10}
W=$REPO/tests/bench/idle_streams.js
bare=$(node "$W" "$N" "$S")
trk=$(tracked node "$W" "$N" "$S" | grep '^{')
echo "bare:    $bare" >&2
echo "tracked: $trk" >&2
node -e '
const b = JSON.parse(process.argv[1]), t = JSON.parse(process.argv[2]);
const share = (t.idle_cpu_us - b.idle_cpu_us) / t.idle_wall_us * 100;
console.log(`${t.streams} idle streams for ${(t.idle_wall_us / 1e6).toFixed(1)} s: tracker CPU share ${share.toFixed(2)} % of a core (target < 2 %); ` +
  `creation ${(b.create_wall_us / 1e3).toFixed(0)} ms bare vs ${(t.create_wall_us / 1e3).toFixed(0)} ms tracked ` +
  `(${((t.create_wall_us - b.create_wall_us) / t.streams).toFixed(1)} µs per stream)`);
' "$bare" "$trk"
