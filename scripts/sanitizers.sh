#!/usr/bin/env bash
# `make test-asan`: builds everything with AddressSanitizer + UBSan in $1
# (default build-asan) and runs the tests there, but the browser's (Chromium
# does not load a sanitized binary any differently, and it is slow) and the
# soak. Any finding (memory error, leak, undefined behaviour) fails the test
# it happens in.
# `make test-asan-units` (SCOPE=units; what CI runs): only the unit-test
# binaries (no Sage, no `salvus up`): the parsers, the router, the compute
# server's logic, the store, the registry, the monitor; a sanitized build of
# everything takes over an hour on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-asan}
JOBS=${2:-$(nproc)}
SCOPE=${SCOPE:-all}
UNITS=(salvus_core_test salvus_store_test salvus_registry_test salvus_monitor_test
  salvus_compute_test compute_server_test salvus_hub_test salvus_client_test salvus_cli_test)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSALVUS_SANITIZE=ON >/dev/null
if [ "$SCOPE" = units ]; then
  cmake --build "$BUILD" -j "$JOBS" --target "${UNITS[@]}"
else
  cmake --build "$BUILD" -j "$JOBS"
fi
# Leaks: what CPython, Sage and the libraries it loads keep until exit is
# theirs (scripts/lsan.supp). The sanitizers' options reach every process the
# tests start (salvus up, compute servers, zygotes, workers).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0:quarantine_size_mb=16:malloc_context_size=20"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$BUILD"
if [ "$SCOPE" = units ]; then
  rc=0
  for t in "${UNITS[@]}"; do
    if bin/"$t" --gtest_brief=1 >"$t.asan.log" 2>&1; then
      echo "asan: $t clean ($(grep -o '[0-9]* tests\? from [0-9]* test suites\? ran' "$t.asan.log" | head -1))"
    else
      echo "asan: $t FAILED:"
      tail -60 "$t.asan.log"
      rc=1
    fi
  done
  exit $rc
fi
ctest --output-on-failure -j 2 --timeout 900 -E '^(web_e2e|Soak\.)'
