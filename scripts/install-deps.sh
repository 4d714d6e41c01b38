#!/usr/bin/env bash
# Installs the Debian packages tidemark's build, tests and demo need. Idempotent and quiet when
# everything is already present; run as root (or with sudo available).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libcli11-dev libzstd-dev catch2 libunwind-dev libdw-dev libelf-dev libfmt-dev
  libwebsocketpp-dev libasio-dev
  libimgui-dev libglfw3-dev libgl-dev libstb-dev fonts-dejavu-core xvfb xauth xdotool
  nodejs
)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js 20 may come from another packaging (e.g. nodesource); accept any node ≥ 20 with headers.
if command -v node >/dev/null 2>&1 && [ -f /usr/include/node/node_api.h ]; then
  missing=("${missing[@]/nodejs}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The userland stream libraries the tracker's coverage tests run against (through2, readable-stream
# v3 and v4), pinned by tests/fixtures/npm/package-lock.json; installed once, again when the lock
# changes. npm comes with Debian's nodejs or with NodeSource's.
fixtures_npm="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/npm"
if [ -f "$fixtures_npm/package-lock.json" ] &&
   ! cmp -s "$fixtures_npm/package-lock.json" "$fixtures_npm/node_modules/.tidemark-installed-lock" 2>/dev/null; then
  if ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "install-deps: npm ci in tests/fixtures/npm" >&2
  (cd "$fixtures_npm" && npm ci --no-audit --no-fund --loglevel=error >/dev/null &&
   cp package-lock.json node_modules/.tidemark-installed-lock)
fi
