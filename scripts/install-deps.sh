#!/usr/bin/env bash
# Installs everything edgeproxy needs to build, test and benchmark on Debian 12 (run as root).
# Idempotent: packages already present are skipped by apt.
set -euo pipefail
packages=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libh2o-evloop-dev libssl-dev libpcre2-dev libmaxminddb-dev libcmocka-dev libyaml-dev
  modsecurity-crs libmodsecurity-dev
  python3 curl openssl wrk nghttp2-client h2o
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian h2o package starts a service on install; we never use it, and it must not hold ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet h2o 2>/dev/null; then
  systemctl stop h2o || true
fi
