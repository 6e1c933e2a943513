#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tenant routing and canary at scale.
#  1. The tenant map alone (tests/bench/tenants_scale.c, compiled here with -O2): load time, memory and lookup
#     cost for a 100,000-tenant map (targets: load < 1 s, < 50 MB, constant-time lookups).
#  2. Proxy throughput with tenant routing (100,000-tenant map, host wildcard) + a canary service at 10% versus
#     the same proxy without them, in front of the same loopback origin (Debian's h2o serving 1 KiB), wrk,
#     alternated RUNS times; prints the median ratio on/off (target >= 0.95).
#
# usage: tests/bench/tenants_scale.sh [path/to/edgeproxy]
# env:   TENANTS (100000), LOOKUPS (10000000), RUNS (3), DURATION seconds (10), WARMUP (2), THREADS (2),
#        CONNECTIONS (64), SKIP_PROXY=1 to run part 1 only
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
EDGEPROXY=${1:-${EDGEPROXY:-$SRC/build/edgeproxy}}
TENANTS=${TENANTS:-100000}
LOOKUPS=${LOOKUPS:-10000000}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
H2O=${H2O:-/usr/bin/h2o}
CC=${CC:-cc}

WORK=$(mktemp -d /tmp/ep-tenants-bench.XXXXXX)
PIDS=()
cleanup() {
    # stop only what this script started, by pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== 1. tenant map: $TENANTS tenants, $LOOKUPS lookups"
"$CC" -O2 -std=gnu11 -I"$SRC/modules" -I"$SRC/rules" "$SRC/tests/bench/tenants_scale.c" "$SRC/modules/tenant_map.c" \
    "$SRC/rules/util/util.c" -o "$WORK/tenants_scale"
"$WORK/tenants_scale" "$TENANTS" "$LOOKUPS"
[ "${SKIP_PROXY:-0}" = 1 ] && exit 0

for tool in "$H2O" wrk python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
[ -x "$EDGEPROXY" ] || { echo "edgeproxy binary not found: $EDGEPROXY" >&2; exit 2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
    for _ in $(seq 100); do
        if curl -s -o /dev/null -H "Host: tenant-0000042.bench.test" "http://127.0.0.1:$1/index.html" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing answers on port $1" >&2
    exit 1
}

ORIGIN_PORT=$(free_port)
OFF_PORT=$(free_port)
ON_PORT=$(free_port)
mkdir -p "$WORK/www"
head -c 1024 /dev/zero | tr '\0' 'x' >"$WORK/www/index.html"
run_as=""
[ "$(id -u)" = 0 ] && run_as="user: nobody"
chmod 755 "$WORK" "$WORK/www"
chmod 644 "$WORK/www/index.html"
cat >"$WORK/origin.conf" <<EOC
$run_as
listen:
  host: 127.0.0.1
  port: $ORIGIN_PORT
num-threads: 1
hosts:
  default:
    paths:
      /:
        file.dir: $WORK/www
EOC

python3 - "$TENANTS" >"$WORK/tenants.yaml" <<'EOP'
import sys
n = int(sys.argv[1])
out = []
for i in range(n):
    out.append("tenant-%07d: multi" % i if i % 10 else "tenant-%07d: {placement: single, upstream: single}" % i)
print("\n".join(out))
EOP

common() { # admin port
    cat <<EOC
threads: $THREADS
upstreams:
  origin:
    servers: [127.0.0.1:$ORIGIN_PORT]
    keepalive_timeout: 2s
  origin-canary:
    servers: [127.0.0.1:$ORIGIN_PORT]
    keepalive_timeout: 2s
  single:
    servers: [127.0.0.1:$ORIGIN_PORT]
    keepalive_timeout: 2s
default_upstream: origin
access_log: off
admin:
  listen: 127.0.0.1:$1
EOC
}
common "$(free_port)" >"$WORK/off.yaml"
{
    common "$(free_port)"
    cat <<EOC
tenants:
  map: tenants.yaml
  shared_upstream: origin
  hosts: ["*.bench.test"]
canary:
  services:
    app:
      hosts: ["*.bench.test"]
      stable: origin
      canary: origin-canary
      weight: 10
      sticky: {header: X-User}
EOC
} >"$WORK/on.yaml"

"$H2O" -c "$WORK/origin.conf" >"$WORK/origin.log" 2>&1 &
PIDS+=($!)
"$EDGEPROXY" -c "$WORK/off.yaml" --listen "127.0.0.1:$OFF_PORT" >"$WORK/off.log" 2>&1 &
PIDS+=($!)
t0=$(date +%s%N)
"$EDGEPROXY" -c "$WORK/on.yaml" --listen "127.0.0.1:$ON_PORT" >"$WORK/on.log" 2>&1 &
PIDS+=($!)
wait_port "$ON_PORT"
echo "proxy with the $TENANTS-tenant map answering after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
wait_port "$OFF_PORT"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
echo "RSS: without tenants $(rss "${PIDS[1]}") KiB, with the map $(rss "${PIDS[2]}") KiB"

# a multi-tenant host: tenant lookup, canary split (sticky header), upstream choice on every request
measure() { # port -> requests/s
    local args=(-t2 -c"$CONNECTIONS" -H "Host: tenant-0000042.bench.test" -H "X-User: u42")
    wrk "${args[@]}" -d"${WARMUP}s" "http://127.0.0.1:$1/index.html" >/dev/null
    local out
    out=$(wrk "${args[@]}" -d"${DURATION}s" "http://127.0.0.1:$1/index.html")
    if echo "$out" | grep -q "Non-2xx"; then
        echo "non-2xx responses on port $1:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$out" | awk '/^Requests\/sec:/ {print $2}'
}

echo "== 2. throughput: routing + canary on vs off, $THREADS threads, wrk -t2 -c$CONNECTIONS -d${DURATION}s, $RUNS alternations"
ratios=()
for i in $(seq "$RUNS"); do
    off=$(measure "$OFF_PORT")
    on=$(measure "$ON_PORT")
    r=$(python3 -c "print('%.3f' % ($on / $off))")
    ratios+=("$r")
    printf 'run %d: on %10.0f req/s   off %10.0f req/s   ratio %s\n' "$i" "$on" "$off" "$r"
done
median=$(printf '%s\n' "${ratios[@]}" | python3 -c 'import sys; v=sorted(float(x) for x in sys.stdin); n=len(v); print("%.3f" % (v[n//2] if n % 2 else (v[n//2-1]+v[n//2])/2))')
echo "median ratio on/off: $median (target >= 0.95)"
