#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Throughput of edgeproxy (no WAF, no access log) vs Debian's h2o binary as a plain reverse proxy, both in front
# of the same loopback origin (an h2o serving a static 1 KiB file), same thread count, measured with wrk and
# alternated RUNS times. Prints each run and the median ratio edgeproxy/h2o of requests per second.
#
# usage: tests/bench/proxy_vs_h2o.sh [path/to/edgeproxy]
# env:   RUNS (default 3), DURATION seconds (default 10), WARMUP seconds (default 2), THREADS (default 2),
#        CONNECTIONS (default 64)
set -euo pipefail

EDGEPROXY=${1:-${EDGEPROXY:-build/edgeproxy}}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
H2O=${H2O:-/usr/bin/h2o}

for tool in "$H2O" wrk python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
[ -x "$EDGEPROXY" ] || { echo "edgeproxy binary not found: $EDGEPROXY" >&2; exit 2; }

WORK=$(mktemp -d /tmp/ep-bench.XXXXXX)
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

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
    for _ in $(seq 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$1/index.html" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing answers on port $1" >&2
    exit 1
}

ORIGIN_PORT=$(free_port)
H2O_PORT=$(free_port)
EP_PORT=$(free_port)
EP_ADMIN=$(free_port)

mkdir -p "$WORK/www"
head -c 1024 /dev/zero | tr '\0' 'x' >"$WORK/www/index.html"

run_as=""
[ "$(id -u)" = 0 ] && run_as="user: nobody"
chmod 755 "$WORK" "$WORK/www"; chmod 644 "$WORK/www/index.html"

cat >"$WORK/origin.conf" <<EOF
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
EOF

cat >"$WORK/h2o-proxy.conf" <<EOF
$run_as
listen:
  host: 127.0.0.1
  port: $H2O_PORT
num-threads: $THREADS
proxy.preserve-host: ON
proxy.timeout.keepalive: 2000
hosts:
  default:
    paths:
      /:
        proxy.reverse.url: http://127.0.0.1:$ORIGIN_PORT/
EOF

cat >"$WORK/edgeproxy.yaml" <<EOF
threads: $THREADS
upstreams:
  origin:
    servers: [127.0.0.1:$ORIGIN_PORT]
    keepalive_timeout: 2s
default_upstream: origin
access_log: off
admin:
  listen: 127.0.0.1:$EP_ADMIN
EOF

"$H2O" -c "$WORK/origin.conf" >"$WORK/origin.log" 2>&1 &
PIDS+=($!)
wait_port "$ORIGIN_PORT"
"$H2O" -c "$WORK/h2o-proxy.conf" >"$WORK/h2o-proxy.log" 2>&1 &
PIDS+=($!)
wait_port "$H2O_PORT"
"$EDGEPROXY" -c "$WORK/edgeproxy.yaml" --listen "127.0.0.1:$EP_PORT" >"$WORK/edgeproxy.log" 2>&1 &
PIDS+=($!)
wait_port "$EP_PORT"

measure() { # port -> requests/s
    wrk -t2 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$1/index.html" >/dev/null
    local out
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$1/index.html")
    if echo "$out" | grep -q "Non-2xx"; then
        echo "non-2xx responses on port $1:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$out" | awk '/^Requests\/sec:/ {print $2}'
}

echo "edgeproxy vs h2o $("$H2O" --version | head -1 | awk '{print $3}'): $THREADS threads, wrk -t2 -c$CONNECTIONS -d${DURATION}s, $RUNS alternations"
ratios=()
for i in $(seq "$RUNS"); do
    ep=$(measure "$EP_PORT")
    h2=$(measure "$H2O_PORT")
    r=$(python3 -c "print('%.3f' % ($ep / $h2))")
    ratios+=("$r")
    printf 'run %d: edgeproxy %10.0f req/s   h2o %10.0f req/s   ratio %s\n' "$i" "$ep" "$h2" "$r"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | python3 -c 'import sys; v=[float(x) for x in sys.stdin]; v.sort(); n=len(v); print("%.3f" % (v[n//2] if n % 2 else (v[n//2-1]+v[n//2])/2))')
echo "median ratio edgeproxy/h2o: $median"
