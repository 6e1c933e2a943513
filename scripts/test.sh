#!/usr/bin/env bash
# One command for a fresh Debian 12 machine (as root): install, build, and run every test, twice:
# a normal build (warnings as errors) and an AddressSanitizer + UndefinedBehaviorSanitizer build.
# Benchmarks are not part of it (tests/bench, run by hand: see README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "== format check"
find proxy modules rules tests fuzz -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run -Werror

echo "== build (RelWithDebInfo, -Werror)"
scripts/build.sh build
echo "== tests"
(cd build && ctest --output-on-failure --timeout 600 -j 2)

echo "== build (ASan + UBSan)"
scripts/build.sh build-asan -DEP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
echo "== tests under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --timeout 900 -j 2 -LE slow)
