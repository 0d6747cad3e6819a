#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets (fuzz/*_fuzz.cc) with clang, libFuzzer,
# ASan and UBSan in a build folder of their own, then runs each for
# FUZZ_SECONDS, two at a time, from its seed corpus (fuzz/corpus/<name>) and
# what earlier runs found ($FUZZ_BUILD/corpus/<name>); the Python loop over
# the interact value adapters runs as one more target. Prints each target's
# executions and coverage (libFuzzer's cov: and ft:), and fails if any
# target crashed: its input is kept as $FUZZ_BUILD/crashes/<name>-*, its log
# as $FUZZ_BUILD/logs/<name>.log. Replay a crash with
#   $FUZZ_BUILD/bin/fuzz_<name> $FUZZ_BUILD/crashes/<name>-crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
PARALLEL=${FUZZ_PARALLEL:-2}
# clang 19, not 15: clang before 19 cannot use libstdc++ 12's std::expected.
CXX=${FUZZ_CXX:-clang++-19}

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX" \
  -DSALVUS_FUZZ=ON "${launcher[@]}" >/dev/null
cmake --build "$BUILD" -j "$PARALLEL"

mapfile -t targets < <(ls fuzz/*_fuzz.cc | sed 's|fuzz/\(.*\)_fuzz.cc|\1|')
rm -rf "$BUILD/logs"
mkdir -p "$BUILD/logs" "$BUILD/crashes"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local t=$1 log="$BUILD/logs/$1.log" rc=0
  if [ "$t" = interact_values ]; then
    /usr/bin/python3 fuzz/interact_values_fuzz.py --seconds "$SECONDS_EACH" >"$log" 2>&1 || rc=$?
  else
    mkdir -p "$BUILD/corpus/$t"
    # -timeout: an input that takes this long counts as a crash (a hang).
    "$BUILD/bin/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$t-" \
      "$BUILD/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  fi
  echo "$rc" >"$BUILD/logs/$t.rc"
}

echo "fuzzing ${#targets[@]} targets and interact_values, ${SECONDS_EACH} s each, $PARALLEL at once"
for t in "${targets[@]}" interact_values; do
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
  run_one "$t" &
done
wait

failed=0
printf '%-16s %12s %8s %8s %8s  %s\n' target executions cov ft corpus result
for t in "${targets[@]}" interact_values; do
  log="$BUILD/logs/$t.log"
  rc=$(cat "$BUILD/logs/$t.rc" 2>/dev/null || echo 1)
  if [ "$t" = interact_values ]; then
    execs=$(sed -n 's/^interact_values: \([0-9]*\) updates.*/\1/p' "$log" | tail -1)
    cov=- ft=- corp=-
  else
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' "$log" | tail -1)
    status=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$status")
  fi
  result=ok
  if [ "$rc" != 0 ]; then
    result="CRASHED (rc $rc; log $log)"
    failed=1
  fi
  printf '%-16s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$result"
done
if [ $failed -ne 0 ]; then
  echo "fuzz: a target crashed; its input is in $BUILD/crashes/, its output in $BUILD/logs/"
  for t in "${targets[@]}" interact_values; do
    if [ "$(cat "$BUILD/logs/$t.rc" 2>/dev/null || echo 1)" != 0 ]; then
      echo "---- $t"
      grep -E -A12 'ERROR|FUZZ_CHECK|runtime error|FAILED|deadly signal|Traceback' \
        "$BUILD/logs/$t.log" | head -40
    fi
  done
  exit 1
fi
echo "fuzz: no crash"
