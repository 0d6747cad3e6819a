#!/usr/bin/env bash
# `make test-asan`: builds everything with AddressSanitizer + UBSan in $1
# (default build-asan) and runs the tests there, but the browser's (Chromium
# does not load a sanitized binary any differently, and it is slow) and the
# soak. Any finding (memory error, leak, undefined behaviour) fails the test
# it happens in.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-asan}
JOBS=${2:-$(nproc)}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSALVUS_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"
# Leaks: what CPython, Sage and the libraries it loads keep until exit is
# theirs (scripts/lsan.supp). The sanitizers' options reach every process the
# tests start (salvus up, compute servers, zygotes, workers).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0:quarantine_size_mb=16:malloc_context_size=20"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$BUILD"
ctest --output-on-failure -j 2 --timeout 900 -E '^(web_e2e|Soak\.)'
