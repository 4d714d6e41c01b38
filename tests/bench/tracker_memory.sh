#!/usr/bin/env bash
# Observer effect of tracking on memory (a benchmark, not a test): peak heapUsed, external,
# arrayBuffers and rss of a target run bare vs under tracking, alternating in the same run, for
#   upload-incident  examples/upload-incident.js (the README's incident; ~6 s, ~200 MB)
#   broadcast        tests/bench/broadcast.js (a WebSocket-style broadcast with slow clients)
# Every run preloads peak_memory.js through NODE_OPTIONS (tracked runs: `tidemark run` appends
# its own --require to the NODE_OPTIONS it inherits, so both preloads load, ours first). Prints
# per run and per pair (stderr) and the median over pairs (stdout) of tracked/bare per peak.
# Target: every median ratio within 0.95–1.05. Pairs alternate the order (odd: bare first; even:
# tracked first). Both workloads buffer an amount that depends on how fast they run; each run's
# own count is printed next to its peaks, and a difference between bare and tracked is flagged.
# Usage: tests/bench/tracker_memory.sh [PAIRS=3]   (APPS="upload-incident broadcast" to pick)
set -euo pipefail
source "$(dirname "$0")/tracker_bench_env.sh"
PAIRS=${1:-3}
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [PAIRS=3]" >&2; exit 2; }
APPS=${APPS:-upload-incident broadcast}
PRELOAD=$REPO/tests/bench/peak_memory.js
# NODE_OPTIONS as Node parses it: a double-quoted path, backslashes and quotes escaped.
PRELOAD_OPT="--require \"$(printf '%s' "$PRELOAD" | sed 's/[\\"]/\\&/g')\""
RUN_NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }$PRELOAD_OPT"  # for the measured runs only

app_script() {
  case $1 in
    upload-incident) echo "$REPO/examples/upload-incident.js" ;;
    broadcast) echo "$REPO/tests/bench/broadcast.js" ;;
    *) echo "unknown app $1 (upload-incident, broadcast)" >&2; exit 2 ;;
  esac
}

# parse OUT ERR SCRIPT APP: one line "heapUsed external arrayBuffers rss vmhwm wall_ms app_bytes
# app note..." (the note, last, may contain spaces) from the peak_memory line of SCRIPT's process and the app's own report.
parse() {
  node -e '
    const fs = require("fs");
    const [out, err, script, app] = process.argv.slice(1);
    const lines = fs.readFileSync(err, "utf8").split("\n").filter((l) => l.startsWith("peak_memory "));
    const peaks = lines.map((l) => JSON.parse(l.slice("peak_memory ".length)));
    const p = peaks.find((x) => x.script === script) || peaks[0];
    if (!p) { console.error("no peak_memory line in " + err); process.exit(1); }
    const stdout = fs.readFileSync(out, "utf8");
    let bytes = 0, note = "-";
    if (app === "upload-incident") {
      const m = stdout.match(/stopping the demo: (\d+) MB still waiting/);
      const ts = [...stdout.matchAll(/^t=([\d.]+)s/gm)];
      if (m) { bytes = +m[1] * 1e6; note = `${m[1]} MB in the upload buffer at stop (t=${ts.length ? ts[ts.length - 1][1] : "?"} s)`; }
    } else {
      const m = stdout.match(/^broadcast (\{.*\})$/m);
      if (m) {
        const b = JSON.parse(m[1]);
        bytes = b.peak_buffered;
        note = `peak buffered ${(b.peak_buffered / 1048576).toFixed(1)} MiB, ${b.messages} messages` +
               ` in ${(b.broadcast_ms / 1000).toFixed(1)} s, ${b.capped_sockets} sockets capped`;
      }
    }
    console.log([p.heapUsed, p.external, p.arrayBuffers, p.rss, p.vmhwm || 0, p.wall_ms, bytes, note].join(" "));
  ' "$@"
}

mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
ratio() { awk -v t="$1" -v b="$2" 'BEGIN {printf "%.3f", (b > 0) ? t / b : 0}'; }
in_target() { awk -v r="$1" 'BEGIN {print (r >= 0.95 && r <= 1.05) ? "ok" : "OUTSIDE 0.95-1.05"}'; }

# run_one APP MODE PAIR: runs APP bare or tracked, appends "pair mode fields..." to $BENCH_TMP/APP.
run_one() {
  local app=$1 mode=$2 pair=$3 script
  script=$(app_script "$app")
  local out=$BENCH_TMP/$app.out err=$BENCH_TMP/$app.err rc=0
  if [[ $mode == bare ]]; then NODE_OPTIONS=$RUN_NODE_OPTIONS node "$script" >"$out" 2>"$err" || rc=$?
  else NODE_OPTIONS=$RUN_NODE_OPTIONS tracked node "$script" >"$out" 2>"$err" || rc=$?; fi
  if ((rc != 0)); then
    echo "$app pair $pair $mode: exit status $rc; its stderr:" >&2; tail -20 "$err" >&2; exit 1
  fi
  local f; f=$(NODE_OPTIONS= parse "$out" "$err" "$script" "$app")
  echo "$pair $mode $f" >> "$BENCH_TMP/$app"
  read -r hu ex ab rss hwm wall bytes note <<< "$f"
  printf '%s pair %d %-7s: heapUsed %s MiB, external %s, arrayBuffers %s, rss %s (VmHWM %s); %.1f s; app: %s\n' \
    "$app" "$pair" "$mode" "$(mib "$hu")" "$(mib "$ex")" "$(mib "$ab")" "$(mib "$rss")" "$(mib "$hwm")" \
    "$(awk -v w="$wall" 'BEGIN {print w / 1000}')" "$note" >&2
  if [[ $mode == tracked ]]; then
    grep -m1 -E '^tidemark: .* exited' "$err" | sed 's/^/  /' >&2 || true
    rm -f "$BENCH_TMP/trace.tidemark"
  fi
}

echo "tracker_memory: $PAIRS pairs per app; load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs" >&2
for app in $APPS; do
  app_script "$app" > /dev/null
  : > "$BENCH_TMP/$app"
  for ((i = 1; i <= PAIRS; i++)); do
    if ((i % 2)); then run_one "$app" bare "$i"; run_one "$app" tracked "$i"
    else run_one "$app" tracked "$i"; run_one "$app" bare "$i"; fi
  done
  # One row per pair: the ratios tracked/bare of heapUsed external arrayBuffers rss vmhwm app_bytes.
  awk '{ for (c = 3; c <= 9; c++) v[$1, $2, c] = $c; pairs[$1] = 1 }
       END { for (p in pairs) { printf "%d", p;
               for (c = 3; c <= 9; c++) { if (c == 8) continue;
                 b = v[p, "bare", c]; t = v[p, "tracked", c]; printf " %.4f", (b > 0) ? t / b : 0 }
               printf "\n" } }' "$BENCH_TMP/$app" | sort -n > "$BENCH_TMP/$app.ratios"
  while read -r p hu ex ab rss hwm bytes; do
    printf '%s pair %d ratio tracked/bare: heapUsed %.3f, external %.3f, arrayBuffers %.3f, rss %.3f (VmHWM %.3f); app buffered %.3f\n' \
      "$app" "$p" "$hu" "$ex" "$ab" "$rss" "$hwm" "$bytes" >&2
  done < "$BENCH_TMP/$app.ratios"
  med() { awk -v c="$1" '{print $c}' "$BENCH_TMP/$app.ratios" | median; }
  mhu=$(med 2) mex=$(med 3) mab=$(med 4) mrss=$(med 5) mhwm=$(med 6) mbytes=$(med 7)
  printf '%s, %d pairs, median ratio tracked/bare: heapUsed %.3f (%s), external %.3f (%s), arrayBuffers %.3f (%s), rss %.3f (%s); VmHWM %.3f\n' \
    "$app" "$PAIRS" "$mhu" "$(in_target "$mhu")" "$mex" "$(in_target "$mex")" "$mab" "$(in_target "$mab")" \
    "$mrss" "$(in_target "$mrss")" "$mhwm"
  # The same as differences, in MiB: a fixed cost (the tracker's own code and records) is a large
  # ratio on a small heap.
  awk '{ for (c = 3; c <= 7; c++) v[$1, $2, c] = $c; pairs[$1] = 1 }
       END { for (p in pairs) { printf "%d", p;
               for (c = 3; c <= 7; c++) printf " %.3f", (v[p, "tracked", c] - v[p, "bare", c]) / 1048576
               printf "\n" } }' "$BENCH_TMP/$app" > "$BENCH_TMP/$app.diffs"
  dmed() { awk -v c="$1" '{print $c}' "$BENCH_TMP/$app.diffs" | median; }
  printf '%s   median difference tracked - bare, MiB: heapUsed %+.1f, external %+.1f, arrayBuffers %+.1f, rss %+.1f; VmHWM %+.1f\n' \
    "$app" "$(dmed 2)" "$(dmed 3)" "$(dmed 4)" "$(dmed 5)" "$(dmed 6)"
  # The app's own buffered bytes: the peaks follow them, so say when bare and tracked differ.
  printf '%s   app buffered (its own count), median MiB bare %s -> tracked %s, median pair ratio %.3f' "$app" \
    "$(mib "$(awk '$2 == "bare" {print $9}' "$BENCH_TMP/$app" | median)")" \
    "$(mib "$(awk '$2 == "tracked" {print $9}' "$BENCH_TMP/$app" | median)")" "$mbytes"
  if awk -v r="$mbytes" 'BEGIN {exit !(r < 0.98 || r > 1.02)}'; then
    norm() { awk -v c="$1" '{print ($7 > 0) ? $c / $7 : 0}' "$BENCH_TMP/$app.ratios" | median; }
    printf ' -- differs by more than 2 %%: the runs went at different speeds, so the peak ratios above carry that; per app-buffered byte (median over pairs): external %.3f, arrayBuffers %.3f, rss %.3f\n' \
      "$(norm 3)" "$(norm 4)" "$(norm 5)"
  else
    printf ' (within 2 %%: same amount buffered)\n'
  fi
  off=$(awk '$7 < 0.98 || $7 > 1.02' "$BENCH_TMP/$app.ratios" | wc -l)
  ((off == 0)) || printf '%s   %d of %d pairs buffered more than 2 %% apart (see the per-pair lines)\n' "$app" "$off" "$PAIRS"
done
