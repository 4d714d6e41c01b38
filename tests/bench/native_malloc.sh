#!/usr/bin/env bash
# Native tracking overhead on ../shared/bench/mallocbench.cpp (a benchmark, never a test): bare,
# `tidemark run --native sampled`, `tidemark run --native full` and heaptrack (Debian's package), in
# one run, alternating, ROUNDS times; prints ns per malloc+free pair (median and best over the
# rounds) and the ratios. The bars (docs/NATIVE.md): full mode's added cost per pair <= 1/5 of
# heaptrack's; sampled <= 1.10x bare. `preload` is the library preloaded with tracking off (no
# agent): the cost of the interposition alone, the floor of any LD_PRELOAD tracker.
# On a shared machine the best of many rounds is the steadier figure (contention only adds).
# Usage: tests/bench/native_malloc.sh [BUILD_DIR=build/dev] [ROUNDS=5] [ALLOCS=20000000]
#                                      [VARIANTS="bare preload sampled full heaptrack"]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/dev}"
rounds="${2:-5}"
allocs="${3:-20000000}"
variants="${4:-bare preload sampled full heaptrack}"
lib="$build/lib/tidemark/libtidemark_native.so"
tidemark="$build/bin/tidemark"
bench="$build/bench/mallocbench"
[ -x "$tidemark" ] || { echo "native_malloc: $tidemark missing: build first (cmake --build --preset dev)" >&2; exit 2; }
[ -x "$bench" ] || { echo "native_malloc: $bench missing: build the mallocbench target" >&2; exit 2; }
case " $variants " in *" heaptrack "*)
  command -v heaptrack >/dev/null || { echo "native_malloc: heaptrack is not installed (apt-get install heaptrack)" >&2; exit 2; };;
esac
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

ns_of() { sed -n 's/.*= \([0-9.]*\) ns\/alloc+free.*/\1/p' | tail -n 1; }
declare -A runs
one() {
  case "$1" in
    bare) "$bench" "$allocs" ;;
    preload) env -u TIDEMARK_SOCKET LD_PRELOAD="$lib" "$bench" "$allocs" ;;
    sampled) "$tidemark" run --native sampled --out "$tmp/s.tidemark" -- "$bench" "$allocs" 2>/dev/null ;;
    full) "$tidemark" run --native full --out "$tmp/f.tidemark" -- "$bench" "$allocs" 2>/dev/null ;;
    heaptrack) heaptrack -o "$tmp/h" "$bench" "$allocs" 2>/dev/null; rm -f "$tmp"/h* ;;
  esac
}
for ((i = 1; i <= rounds; i++)); do
  for k in $variants; do runs[$k]+=" $(one "$k" | ns_of)"; done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
best() { tr ' ' '\n' | grep -v '^$' | sort -g | head -n 1; }
echo "mallocbench $allocs allocs, $rounds alternating rounds (ns per malloc+free pair):"
for k in $variants; do
  printf '  %-10s median %6s ns   best %6s ns   (runs:%s)\n' "$k" "$(echo "${runs[$k]}" | median)" "$(echo "${runs[$k]}" | best)" "${runs[$k]}"
done
ratio() {  # ratio NAME A B: A/B of medians and of bests
  local a="$2" b="$3"
  [ -n "${runs[$a]:-}" ] && [ -n "${runs[$b]:-}" ] || return 0
  awk -v n="$1" -v am="$(echo "${runs[$a]}" | median)" -v bm="$(echo "${runs[$b]}" | median)" \
      -v ab="$(echo "${runs[$a]}" | best)" -v bb="$(echo "${runs[$b]}" | best)" \
      'BEGIN { printf "%-26s = %.2fx (medians)   %.2fx (bests)\n", n, am / bm, ab / bb }'
}
ratio "preload / bare" preload bare
ratio "sampled / bare (bar 1.10x)" sampled bare
ratio "full / bare" full bare
ratio "heaptrack / bare" heaptrack bare
if [ -n "${runs[full]:-}" ] && [ -n "${runs[heaptrack]:-}" ]; then
  awk -v b="$(echo "${runs[bare]}" | median)" -v f="$(echo "${runs[full]}" | median)" -v h="$(echo "${runs[heaptrack]}" | median)" 'BEGIN {
    printf "full added / heaptrack added = %.1f ns / %.1f ns = %.3f   (medians; bar: <= 0.20)\n", f - b, h - b, (f - b) / (h - b)
  }'
fi
