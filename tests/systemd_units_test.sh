#!/usr/bin/env bash
# `systemd-analyze verify` is clean on deploy/systemd's units, with the built
# binary and man pages standing in for the installed ones.
# Then salvus-vault.service's command line starts a vault as systemd would.
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

# salvus-vault.service's command line, run as systemd would run it (its
# $$ are the shell's $; the directories and credentials as systemd makes
# them): the vault opens its keys with the passphrase on descriptor 3.
state="$tmp/state" creds="$tmp/creds"
mkdir -m 0700 "$state" "$creds"
printf 'a unit test passphrase' >"$creds/passphrase"
printf 'unit-test-token-0123456789\n' >"$creds/token"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -keyout "$creds/tls.key" -out "$creds/tls.crt" >/dev/null 2>&1
"$bin" vault init --keys "$state/keys" --kdf interactive --passphrase-fd 3 \
  3<"$creds/passphrase" >/dev/null
line=$(sed -n 's/^ExecStart=//p' "$src"/deploy/systemd/salvus-vault.service)
line=${line//\$\$/\$}
line=${line//\/usr\/bin\/salvus/$bin}
[[ $line == "/bin/sh -c '"*"'" ]] || { echo "unexpected ExecStart: $line"; exit 1; }
script=${line#/bin/sh -c \'}
script=${script%\'}
STATE_DIRECTORY=$state CREDENTIALS_DIRECTORY=$creds \
  SALVUS_VAULT_ARGS="--listen 127.0.0.1:0 --port-file $tmp/port --mail-dir $tmp/mail" \
  timeout 60 /bin/sh -c "$script" >"$tmp/vault.out" 2>&1 &
vault=$!
for _ in $(seq 300); do
  [ -s "$tmp/port" ] && break
  kill -0 $vault 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$tmp/port" ]; then
  echo "the vault did not start from salvus-vault.service's command line:"
  cat "$tmp/vault.out"
  exit 1
fi
kill $vault
wait $vault || true
grep -q "keys opened\|vault listening" "$tmp/vault.out" || { cat "$tmp/vault.out"; exit 1; }
[ "$(stat -c %a "$state/vault.db")" = 600 ] || { echo "vault.db is not 0600"; exit 1; }
echo "salvus-vault.service: its command line starts the vault (port $(cat "$tmp/port"))"
