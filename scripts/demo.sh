#!/usr/bin/env bash
# The main job: builds tidemark (release preset), records the bundled upload-service incident
# (examples/upload-incident.js: a Transform that ignores write()'s false towards a slow sink —
# bounded, it stops by itself) with `tidemark run`, then prints the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2
mkdir -p build/demo
trace=build/demo/upload-incident.tidemark
status=0
build/release/bin/tidemark run --out "$trace" -- node examples/upload-incident.js || status=$?
echo "tidemark run exited with $status (the target's own status)"
build/release/bin/tidemark report "$trace"
