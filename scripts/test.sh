#!/usr/bin/env bash
# Builds tidemark with the `dev` preset (warnings are errors) and runs every test with CTest:
# Catch2 unit tests and the integration tests that drive the real `tidemark` binary against real
# node and native programs. Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev -j2
ctest --preset dev
