#!/usr/bin/env bash
# The .deb (cpack) installs into a copy of this machine — an overlay over /
# in a mount namespace of its own, thrown away afterwards, so the packages it
# depends on are there and nothing of the install stays — and `salvus up`
# runs from the installed files: factor(2^64+1) through the installed binary,
# with the installed web client served.
# Usage: deb_install_test.sh BUILD_DIR   (root; exit 77: skipped)
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "needs root (a mount namespace, dpkg)"; exit 77; }
build=$1
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls -t "$build"/salvus_*_amd64.deb | head -1)
tmp=$(mktemp -d /tmp/salvus-deb-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$deb" "$tmp/salvus.deb"
cat >"$tmp/inside.sh" <<'INSIDE'
set -euo pipefail
dpkg -i /salvus.deb >/dev/null
for f in /usr/bin/salvus /usr/share/salvus/web/index.html /usr/share/man/man1/salvus-up.1.gz \
         /usr/lib/systemd/system/salvus-compute.service; do
  [ -e "$f" ] || { echo "not installed: $f"; exit 1; }
done
salvus --version
zcat /usr/share/man/man1/salvus-up.1.gz | grep -qF 'pool\-max' || { echo "salvus-up(1) lacks --pool-max"; exit 1; }
mkdir -m 711 /srv/salvus-deb-test
salvus up --port 0 --data /srv/salvus-deb-test/data >/srv/up.log 2>&1 &
up=$!
for _ in $(seq 1800); do
  [ -s /srv/salvus-deb-test/data/hub.port ] && break
  kill -0 $up 2>/dev/null || { cat /srv/up.log; exit 1; }
  sleep 0.1
done
port=$(cat /srv/salvus-deb-test/data/hub.port)
page=$(curl -s "http://127.0.0.1:$port/" || true)
answer=$(salvus exec --hub "ws://127.0.0.1:$port/ws" 'factor(2^64+1)')
kill $up
wait $up || true
[[ "$page" == *"<html"* || "$page" == *"<!doctype html"* || "$page" == *"<!DOCTYPE html"* ]] ||
  { echo "the installed page was not served: ${page:0:200}"; exit 1; }
echo "factor(2^64+1) = $answer"
[ "$answer" = "274177 * 67280421310721" ]
INSIDE
unshare --mount --fork bash -euo pipefail -c '
  tmp=$1
  mount --make-rprivate /
  mkdir -p "$tmp"/ov
  mount -t tmpfs tmpfs "$tmp"/ov
  mkdir -p "$tmp"/ov/upper "$tmp"/ov/work "$tmp"/ov/root
  mount -t overlay overlay -o lowerdir=/,upperdir="$tmp"/ov/upper,workdir="$tmp"/ov/work "$tmp"/ov/root
  root="$tmp"/ov/root
  mount --rbind /dev "$root"/dev
  mount --rbind /sys "$root"/sys
  mount -t proc proc "$root"/proc
  mount -t tmpfs tmpfs "$root"/run
  mount -t tmpfs -o mode=1777 tmpfs "$root"/tmp
  cp "$tmp"/salvus.deb "$tmp"/inside.sh "$root"/
  chroot "$root" bash /inside.sh
' bash "$tmp" 2>&1 | tail -20
