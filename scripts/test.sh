#!/usr/bin/env bash
# Runs every test of sessionhub on a fresh Debian 12 machine:
#   1. installs what is missing (scripts/setup.sh),
#   2. builds Release (build/) and runs all its tests (unit + integration),
#      plus the browser snippet's tests (Node's runner) and the browser tests (Chromium),
#   3. builds the unit and integration tests with AddressSanitizer + UndefinedBehaviorSanitizer
#      (build-asan/) and runs them again,
#   4. builds the libFuzzer targets with clang (build-fuzz/, fuzz/README.md) and runs each on
#      its committed seeds and then for a short while (SESSIONHUB_FUZZ_SECONDS, default 15),
# and ends with one line "total: N passed, M failed". Exit status 0 only when all passed.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

jobs=$(nproc)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== npm ci (web-client, tests/e2e)"
(cd web-client && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

echo "== Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSESSIONHUB_BROWSER_TESTS=ON >/dev/null
cmake --build build -j"$jobs"

echo "== ASan+UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSESSIONHUB_SANITIZE=ON \
  -DSESSIONHUB_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j"$jobs" --target unit_tests integration_tests cluster_tests sessionhub

echo "== fuzz build (clang, libFuzzer + ASan + UBSan)"
cmake -S . -B build-fuzz -DSESSIONHUB_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSESSIONHUB_FUZZ_SECONDS="${SESSIONHUB_FUZZ_SECONDS:-15}" \
  >/dev/null
cmake --build build-fuzz -j"$jobs"

passed=0
failed=0
status=0
run_suite() {  # name, build dir
  local log
  log=$(mktemp)
  echo "== tests: $1"
  set +e
  ctest --test-dir "$2" -j"$jobs" --output-on-failure --timeout 300 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  # ctest's summary: "100% tests passed, 0 tests failed out of 57"
  local line total bad
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [ -n "$line" ]; then
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    passed=$((passed + total - bad))
    failed=$((failed + bad))
  else
    failed=$((failed + 1))
  fi
  rm -f "$log"
  [ "$rc" -eq 0 ] || status=1
}

run_suite "Release" build
run_suite "ASan+UBSan" build-asan
run_suite "fuzz" build-fuzz

echo "total: ${passed} passed, ${failed} failed"
exit "$status"
