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
  # Packages such as h2o would start their own service on install; we only want the binaries, and a
  # service would hold ports the tests use. policy-rc.d is Debian's switch for that.
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ "$added_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
