#!/usr/bin/env bash
# WAF throughput against its peers, one script, one origin, alternated runs:
#   edgeproxy + default WAF (CRS 3.3.4 PL1) | edgeproxy without WAF | Debian h2o as a bare reverse proxy |
#   Debian nginx + ModSecurity 3 + CRS 3.3.4 PL1
# for three loads: a benign GET with typical browser headers, a 2 KB form POST, a 4 KB JSON POST.
# Prints requests/s, p50/p99 latency and proxy CPU microseconds per request (median of the rounds) and each
# proxy's requests/s as a ratio to bare h2o. Every proxy runs 1 worker thread/process so the load generator
# and the origin have the other core; the origin is an nginx answering 200 with 1 KiB to any method.
# Usage: tests/bench/waf_vs_peers.sh [BUILD_DIR]   (env: ROUNDS=3 DURATION=8 CONNS=32 VARY=0)
# VARY=1 makes the requests differ, as real traffic does: 10,000 variants per load, built before the run (so
# the load generator stays cheap) and sent in turn, each with its own query value and session cookie (GET) or
# field values (form, JSON); the browser headers stay, as one browser repeats them. Without it every request
# of a load is the same bytes, which flatters any memo of values seen before.
# Installs what it needs (nginx, libnginx-mod-http-modsecurity, wrk, h2o) on first run. Loopback only.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
rounds="${ROUNDS:-3}" duration="${DURATION:-8}" conns="${CONNS:-32}" vary="${VARY:-0}"
edgeproxy="$build/edgeproxy"
[ -x "$edgeproxy" ] || { echo "build edgeproxy first ($edgeproxy)"; exit 1; }

need=()
for p in nginx libnginx-mod-http-modsecurity wrk h2o modsecurity-crs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work="$(mktemp -d /tmp/ep-wafbench-XXXXXX)"
keep="${KEEP:-0}"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

port_origin=18600 port_ep_waf=18601 port_ep_plain=18602 port_h2o=18603 port_nginx=18604

# ---- origin: nginx, 1 KiB answer to any method (it discards request bodies) ----
mkdir -p "$work/origin/logs"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/origin/body.txt"
cat >"$work/origin/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/origin/nginx.pid;
error_log $work/origin/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$port_origin;
    keepalive_requests 100000;
    location / { default_type text/plain; return 200 "$(cat "$work/origin/body.txt")"; }
  }
}
EOF
nginx -p "$work/origin" -c "$work/origin/nginx.conf" -e "$work/origin/logs/error.log" &
pids+=($!)

# ---- edgeproxy with and without WAF ----
shopt -s nullglob
crs_files=(/etc/modsecurity/crs/crs-setup.conf /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
           /usr/share/modsecurity-crs/rules/*.conf /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf)
for mode in waf plain; do
  port=$([ "$mode" = waf ] && echo $port_ep_waf || echo $port_ep_plain)
  {
    echo "listen: [\"127.0.0.1:$port\"]"
    echo "threads: 1"
    echo "admin: { enabled: false }"
    echo "access_log: off" # h2o and nginx log nothing either
    echo "upstreams: { origin: { servers: [\"127.0.0.1:$port_origin\"] } }"
    echo "routes: [ { path_prefix: /, upstream: origin } ]"
    if [ "$mode" = waf ]; then
      echo "waf:"
      echo "  default_ruleset: crs-pl1"
      echo "  rulesets:"
      echo "    crs-pl1:"
      echo "      paranoia_level: 1"
      echo "      files:"
      echo "        - $root/conf/rules/edge-setup.conf"
      for f in "${crs_files[@]}"; do echo "        - $f"; done
      [ -f "$root/conf/rules/edge-policy.conf" ] && echo "        - $root/conf/rules/edge-policy.conf"
    fi
  } >"$work/ep-$mode.yaml"
  "$edgeproxy" -c "$work/ep-$mode.yaml" >"$work/ep-$mode.log" 2>&1 &
  pids+=($!)
  eval "pid_ep_$mode=$!"
done

# ---- bare h2o reverse proxy ----
cat >"$work/h2o.conf" <<EOF
listen: { host: 127.0.0.1, port: $port_h2o }
num-threads: 1
proxy.timeout.keepalive: 2000
hosts:
  default:
    paths:
      /:
        proxy.reverse.url: http://127.0.0.1:$port_origin/
        proxy.preserve-host: ON
EOF
h2o -c "$work/h2o.conf" >"$work/h2o.log" 2>&1 &
pids+=($!)
pid_h2o=$!

# ---- nginx + ModSecurity + CRS PL1 ----
mkdir -p "$work/nginx/logs"
{
  echo "Include $root/conf/rules/edge-setup.conf"
  echo 'SecAction "id:100090,phase:1,pass,nolog,t:none,setvar:tx.paranoia_level=1"'
  for f in "${crs_files[@]}"; do echo "Include $f"; done
  echo "SecAuditEngine Off"
} >"$work/nginx/modsec.conf"
cat >"$work/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_modsecurity_module.so;
worker_processes 1;
master_process off; # one process does the work, so its CPU time is what we read
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_buffer_size 64k;
  upstream origin { server 127.0.0.1:$port_origin; keepalive 64; }
  server {
    listen 127.0.0.1:$port_nginx;
    keepalive_requests 100000;
    modsecurity on;
    modsecurity_rules_file $work/nginx/modsec.conf;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host; }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" &
pids+=($!)
pid_nginx=$!

# ---- loads ----
form_body=""
while [ ${#form_body} -lt 2000 ]; do
  form_body+="first_name=Maria&last_name=Garcia&email=maria.garcia%40example.com&city=Springfield&zip=12345&"
  form_body+="comment=Looking+forward+to+the+delivery+next+week%2C+thanks+a+lot&newsletter=yes&"
done
form_body="${form_body:0:2048}"
json_body='{"order":{"id":48213,"customer":{"name":"Maria Garcia","email":"maria.garcia@example.com"},"items":['
while [ ${#json_body} -lt 3900 ]; do
  json_body+='{"sku":"AB-1234","name":"Blue cotton shirt","quantity":2,"price":19.99},'
done
json_body="${json_body%,}],\"note\":\"please deliver after five pm\"}}"

browser_headers='wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-US,en;q=0.5"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
wrk.headers["Cookie"] = "session=3f1c2a9be7d44c1e8e0f; theme=dark; consent=1"
wrk.headers["Referer"] = "https://shop.example.com/products/shirts?page=2"
wrk.headers["Upgrade-Insecure-Requests"] = "1"'
lua_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
cat >"$work/get.lua" <<EOF
wrk.method = "GET"
wrk.path = "/products/shirts?color=blue&size=m&page=2"
$browser_headers
EOF
cat >"$work/form.lua" <<EOF
wrk.method = "POST"
wrk.path = "/checkout/address"
$browser_headers
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "$(lua_escape "$form_body")"
EOF
cat >"$work/json.lua" <<EOF
wrk.method = "POST"
wrk.path = "/api/orders"
$browser_headers
wrk.headers["Content-Type"] = "application/json"
wrk.body = "$(lua_escape "$json_body")"
EOF

if [ "$vary" = 1 ]; then
  for load in get form json; do
    cat >>"$work/$load.lua" <<'EOF'
-- wrk.format replaces wrk.headers with the table it is given: start from a copy
local function headers_with_session(tag)
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["Cookie"] = "session=" .. tag .. "e7d44c1e8e0f; theme=dark; consent=1"
  return h
end
local pool, npool, next_index = {}, 10000, 0
EOF
  done
  cat >>"$work/get.lua" <<'EOF'
function init(args)
  for i = 1, npool do
    local tag = string.format("%08x", math.random(0, 0x7fffffff))
    pool[i] = wrk.format(nil, "/products/shirts?color=blue&size=m&page=" .. (i % 40) .. "&ref=" .. tag,
                         headers_with_session(tag))
  end
end
EOF
  cat >>"$work/form.lua" <<'EOF'
function init(args)
  for i = 1, npool do
    local tag = string.format("%08x", math.random(0, 0x7fffffff))
    local body = (string.gsub(wrk.body, "Maria", "Maria" .. tag))
    body = (string.gsub(body, "12345", tostring(10000 + i)))
    pool[i] = wrk.format(nil, nil, headers_with_session(tag), body)
  end
end
EOF
  cat >>"$work/json.lua" <<'EOF'
function init(args)
  for i = 1, npool do
    local tag = string.format("%08x", math.random(0, 0x7fffffff))
    local body = (string.gsub(wrk.body, "Maria Garcia", "Maria " .. tag))
    body = (string.gsub(body, "48213", tostring(i)))
    body = (string.gsub(body, '"quantity":2', '"quantity":' .. (i % 9 + 1)))
    pool[i] = wrk.format(nil, nil, headers_with_session(tag), body)
  end
end
EOF
  for load in get form json; do
    cat >>"$work/$load.lua" <<'EOF'
function request()
  next_index = next_index % npool + 1
  return pool[next_index]
end
EOF
  done
fi

wait_port() {
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1"; return 1
}
for p in $port_origin $port_ep_waf $port_ep_plain $port_h2o $port_nginx; do wait_port "$p"; done

targets="edgeproxy+waf:$port_ep_waf:$pid_ep_waf edgeproxy:$port_ep_plain:$pid_ep_plain h2o:$port_h2o:$pid_h2o nginx+modsec:$port_nginx:$pid_nginx"

# Each target must pass each benign load with 200 (we measure the pass path, not block pages).
for t in $targets; do
  IFS=: read -r name port _ <<<"$t"
  for load in get form json; do
    case $load in
      get) code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/products/shirts?color=blue&size=m&page=2") ;;
      form) code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
                 --data-binary "$form_body" "http://127.0.0.1:$port/checkout/address") ;;
      json) code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
                 --data-binary "$json_body" "http://127.0.0.1:$port/api/orders") ;;
    esac
    [ "$code" = 200 ] || { echo "$name answers $code to the benign $load load; aborting"; exit 1; }
  done
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
to_us() { # "1.23ms" / "456.00us" / "1.2s" -> microseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1e6; else print n }'
}
results="$work/results.txt"
: >"$results"
for r in $(seq 1 "$rounds"); do
  for load in get form json; do
    for t in $targets; do
      IFS=: read -r name port pid <<<"$t"
      c0=$(cpu_ticks "$pid")
      out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$work/$load.lua" "http://127.0.0.1:$port" 2>&1)
      c1=$(cpu_ticks "$pid")
      rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
      total=$(awk '/requests in/ { print $1 }' <<<"$out")
      non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
      p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
      p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
      cpu_us=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v n="$total" 'BEGIN { printf "%.1f", (b - a) / t * 1e6 / (n ? n : 1) }')
      echo "$load $name $rps $p50 $p99 $cpu_us ${non2xx:-0}" >>"$results"
      echo "round $r $load $name: $rps req/s p50=${p50}us p99=${p99}us cpu=${cpu_us}us/req non2xx=${non2xx:-0}" >&2
    done
  done
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
[ "$vary" = 1 ] && printf '\nrequests vary (VARY=1: 10,000 variants per load)'
printf '\n%-6s %-14s %10s %8s %9s %9s %11s\n' load proxy "req/s" "vs h2o" "p50 us" "p99 us" "cpu us/req"
for load in get form json; do
  base=$(awk -v l="$load" '$1 == l && $2 == "h2o" { print $3 }' "$results" | median)
  for name in edgeproxy+waf edgeproxy h2o nginx+modsec; do
    rps=$(awk -v l="$load" -v n="$name" '$1 == l && $2 == n { print $3 }' "$results" | median)
    p50=$(awk -v l="$load" -v n="$name" '$1 == l && $2 == n { print $4 }' "$results" | median)
    p99=$(awk -v l="$load" -v n="$name" '$1 == l && $2 == n { print $5 }' "$results" | median)
    cpu=$(awk -v l="$load" -v n="$name" '$1 == l && $2 == n { print $6 }' "$results" | median)
    ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN { printf "%.3f", b ? a / b : 0 }')
    printf '%-6s %-14s %10.0f %8s %9.0f %9.0f %11.1f\n' "$load" "$name" "$rps" "$ratio" "$p50" "$p99" "$cpu"
  done
done
# a figure is only worth reading when every request passed: say so when some did not
awk '$7 > 0 { printf "warning: %s answered %d non-2xx responses on the %s load (one round)\n", $2, $7, $1 }' "$results"
