#!/usr/bin/env bash
# The C++ format (.clang-format, clang-format 14 from Debian) over every
# tracked C++ file. `scripts/format.sh` rewrites them; `scripts/format.sh
# --check` changes nothing and fails, naming the files, if any differs
# (`make test` runs the check, so CI fails on unformatted C++).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cc' '*.h' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "not formatted (run scripts/format.sh or make format):"
    printf '  %s\n' "${bad[@]}"
    exit 1
  fi
  echo "format: ${#files[@]} files ok"
else
  clang-format --style=file -i "${files[@]}"
fi
