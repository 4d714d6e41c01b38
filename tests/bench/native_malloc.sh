#!/usr/bin/env bash
# Native tracking overhead on ../shared/bench/mallocbench.cpp (a benchmark, never a test): bare,
# `tidemark run --native sampled`, `tidemark run --native full` and heaptrack (Debian's package), in
# one run, alternating, ROUNDS times; prints ns per malloc+free pair (median over the rounds) and
# the ratios. The bars (docs/NATIVE.md): full mode's added cost per pair <= 1/5 of heaptrack's;
# sampled <= 1.10x bare.
# Usage: tests/bench/native_malloc.sh [BUILD_DIR=build/dev] [ROUNDS=5] [ALLOCS=20000000]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/dev}"
rounds="${2:-5}"
allocs="${3:-20000000}"
tidemark="$build/bin/tidemark"
bench="$build/bench/mallocbench"
[ -x "$tidemark" ] || { echo "native_malloc: $tidemark missing: build first (cmake --build --preset dev)" >&2; exit 2; }
[ -x "$bench" ] || { echo "native_malloc: $bench missing: build the mallocbench target" >&2; exit 2; }
command -v heaptrack >/dev/null || { echo "native_malloc: heaptrack is not installed (apt-get install heaptrack)" >&2; exit 2; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

ns_of() { sed -n 's/.*= \([0-9.]*\) ns\/alloc+free.*/\1/p' | tail -n 1; }
declare -A runs
for ((i = 1; i <= rounds; i++)); do
  runs[bare]+=" $("$bench" "$allocs" | ns_of)"
  runs[sampled]+=" $("$tidemark" run --native sampled --out "$tmp/s.tidemark" -- "$bench" "$allocs" 2>/dev/null | ns_of)"
  runs[full]+=" $("$tidemark" run --native full --out "$tmp/f.tidemark" -- "$bench" "$allocs" 2>/dev/null | ns_of)"
  runs[heaptrack]+=" $(heaptrack -o "$tmp/h" "$bench" "$allocs" 2>/dev/null | ns_of)"
  rm -f "$tmp"/h*
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
bare=$(echo "${runs[bare]}" | median); sampled=$(echo "${runs[sampled]}" | median)
full=$(echo "${runs[full]}" | median); heap=$(echo "${runs[heaptrack]}" | median)
echo "mallocbench $allocs allocs, $rounds alternating rounds (median ns per malloc+free pair):"
for k in bare sampled full heaptrack; do printf '  %-10s %6s ns   (runs:%s)\n' "$k" "$(echo "${runs[$k]}" | median)" "${runs[$k]}"; done
awk -v b="$bare" -v s="$sampled" -v f="$full" -v h="$heap" 'BEGIN {
  printf "sampled / bare            = %.2fx   (bar: <= 1.10x)\n", s / b
  printf "full / bare               = %.2fx\n", f / b
  printf "heaptrack / bare          = %.2fx\n", h / b
  printf "full added / heaptrack added = %.1f ns / %.1f ns = %.3f   (bar: <= 0.20)\n", f - b, h - b, (f - b) / (h - b)
}'
