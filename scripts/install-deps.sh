#!/usr/bin/env bash
# Installs the Debian packages tidemark's build, tests and demo need. Idempotent and quiet when
# everything is already present; run as root (or with sudo available).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libcli11-dev libzstd-dev catch2 libunwind-dev libfmt-dev
  libimgui-dev libglfw3-dev libgl-dev xvfb xauth
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
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
