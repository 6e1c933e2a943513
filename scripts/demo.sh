#!/usr/bin/env bash
# One command for a fresh Debian 12 machine (as root): install, build, and run edgeproxy on the demo config
# with its built-in demo origins. Prints the URLs and commands to try. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
exec build/edgeproxy --demo "$@"
