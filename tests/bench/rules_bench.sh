#!/usr/bin/env bash
# Rule engine throughput in one process on the detection corpus's requests, CRS 3.3.4 at PL1 and PL2:
# the compiled database vs the reference (rule-by-rule) evaluator vs libmodsecurity 3.0.9, per core, plus
# compile time and database size. Usage: tests/bench/rules_bench.sh [BUILD_DIR]   (env: ROUNDS=3)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
bin="$build/tests/rules_vs_modsec"
[ -x "$bin" ] || { echo "build the rules_vs_modsec target first ($bin)"; exit 1; }
corpus="${EP_DETECT_DIR:-$root/../shared/bench/detect}/data/dev.jsonl"
raw="$(mktemp /tmp/ep-rulesbench-XXXXXX.raw)"
trap 'rm -f "$raw"' EXIT
python3 "$root/tests/diff/corpus_to_raw.py" "$corpus" "$raw" >/dev/null
shopt -s nullglob
rules=("$root/conf/rules/edge-setup.conf" /etc/modsecurity/crs/crs-setup.conf
       /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
       /usr/share/modsecurity-crs/rules/*.conf /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf)
for pl in 1 2; do
  "$bin" bench --pl "$pl" --rounds "${ROUNDS:-3}" "$raw" "${rules[@]}"
  echo
done
