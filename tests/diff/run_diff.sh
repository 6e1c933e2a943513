#!/usr/bin/env bash
# ctest wrapper: our engine vs libmodsecurity3 on the detection corpus with CRS 3.3.4 at a paranoia level.
# Fails when the share of requests with identical rule ids and disposition falls below the figure recorded
# in tests/diff/expected_identical.txt for that level (a regression guard; the goal is 99%).
# Usage: run_diff.sh RULES_VS_MODSEC PL
set -euo pipefail
bin="$1"; pl="$2"
root="$(cd "$(dirname "$0")/../.." && pwd)"
corpus="${EP_DETECT_DIR:-$root/../shared/bench/detect}/data/dev.jsonl"
if [ ! -f "$corpus" ]; then echo "corpus not found: $corpus"; exit 1; fi
raw="$(mktemp /tmp/ep-diff-XXXXXX.raw)"
trap 'rm -f "$raw"' EXIT
python3 "$root/tests/diff/corpus_to_raw.py" "$corpus" "$raw" >/dev/null
min=$(awk -v pl="PL$pl" '$1 == pl { print $2 }' "$root/tests/diff/expected_identical.txt")
shopt -s nullglob
rules=("$root/conf/rules/edge-setup.conf" /etc/modsecurity/crs/crs-setup.conf
       /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
       /usr/share/modsecurity-crs/rules/*.conf /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf)
"$bin" compare --pl "$pl" --min-identical "${min:-0}" "$raw" "${rules[@]}"
