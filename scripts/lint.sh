#!/usr/bin/env bash
# `make lint`: clang-tidy (.clang-tidy: bugprone-*, a few performance-*) over
# every C++ source of the build. Fails on any finding.
# Usage: scripts/lint.sh BUILD_DIR [FILE...]
set -euo pipefail
BUILD=${1:-build}
shift || true
cd "$(dirname "$0")/.."
# clang-tidy 19 (Debian 12 has it): 14 cannot read libstdc++ 12's
# std::expected. It reads the g++ build's flags; it needs C++23 by its own
# name and, with libstdc++, to be told that Boost 1.74's asio may use the
# standard coroutines (asio looks for them only under g++).
EXTRA=(-extra-arg=-std=c++2b -extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1
       -extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE=1 -extra-arg=-Wno-unknown-warning-option)
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- 'src/*.cc' 'tests/*.cc' 'bench/*.cc')
fi
set +e
out=$(run-clang-tidy-19 -quiet -clang-tidy-binary clang-tidy-19 -p "$BUILD" -j "$(nproc)" "${EXTRA[@]}" "${files[@]}" 2>&1)
rc=$?
set -e
grep -v -e '^[0-9]* warnings\? \(and [0-9]* errors\? \)\?generated' -e '^Suppressed [0-9]* warnings' \
  -e '^Use -header-filter=' -e '^\[ *[0-9]*/[0-9]*\]\[[0-9.]*s\] clang-tidy-19 ' -e '^Running clang-tidy' -e '^$' <<<"$out" || true
if [ $rc -ne 0 ]; then
  echo "lint: clang-tidy found problems (above)"
  exit 1
fi
echo "lint: ${#files[@]} files clean"
