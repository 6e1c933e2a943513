#!/usr/bin/env bash
# Configures and builds edgeproxy. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEP_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
