#!/usr/bin/env bash
# `systemd-analyze verify` is clean on deploy/systemd's units, with the built
# binary and man pages standing in for the installed ones.
# Usage: systemd_units_test.sh SOURCE_DIR SALVUS_BINARY MANPATH
set -euo pipefail
src=$1
bin=$2
man=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$src"/deploy/systemd/*.service "$tmp"/
sed -i "s|/usr/bin/salvus|$bin|g" "$tmp"/*.service
out=$(cd "$tmp" && MANPATH="$man" systemd-analyze verify "$tmp"/*.service 2>&1) || true
if [ -n "$out" ]; then
  echo "$out"
  exit 1
fi
echo "systemd units: systemd-analyze verify is clean on $(ls "$tmp" | tr '\n' ' ')"
