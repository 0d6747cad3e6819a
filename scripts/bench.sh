#!/usr/bin/env bash
# `make bench`: runs every benchmark and prints their JSON.
set -euo pipefail
BUILD=${1:-build}
"$BUILD/bin/compute_bench"
"$BUILD/bin/hub_bench"
"$BUILD/bin/burst_bench"
"$BUILD/bin/store_bench" --benchmark_format=json
"$BUILD/bin/monitor_bench"
"$BUILD/bin/accounts_bench"
if [ "$(id -u)" = 0 ]; then "$BUILD/bin/sandbox_bench"; fi
