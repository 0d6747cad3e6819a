#!/usr/bin/env bash
# `make test` (ctest 'tree'): README.md's layout table names every folder
# that holds tracked files, and no source file passes 500 lines.
set -euo pipefail
cd "$(dirname "$0")/.."
rc=0
table=$(sed -n '/^## Layout$/,/^## /p' README.md)
while read -r dir; do
  if ! grep -qF "| \`$dir\` |" <<<"$table"; then
    echo "README.md's layout table does not name the folder $dir"
    rc=1
  fi
done < <(git ls-files | xargs -n1 dirname | sort -u)
while read -r lines file; do
  [ "$file" = total ] && continue
  if [ "$lines" -gt 500 ]; then
    echo "$file has $lines lines (more than 500: split it along its seams)"
    rc=1
  fi
done < <(git ls-files -- '*.cc' '*.h' '*.py' '*.ts' '*.mjs' '*.sh' '*.proto' | xargs wc -l)
[ $rc -eq 0 ] && echo "tree: every folder in README.md's layout, no source file over 500 lines"
exit $rc
