#!/usr/bin/env bash
# `make run`: until the hub lands, starts one compute server on
# 127.0.0.1:6000 (data in ./data) and shows how to talk to it.
set -euo pipefail
BUILD=${1:-build}
DATA=${2:-data}
mkdir -p "$DATA"
# Session uids must be able to pass through to their homes in $DATA/compute.
chmod 711 "$DATA"
if [ ! -s "$DATA/token" ]; then
  (umask 077; head -c 32 /dev/urandom | base64 > "$DATA/token")
fi
PORT=${SALVUS_COMPUTE_PORT:-6000}
cat <<TXT
Starting a compute server on 127.0.0.1:$PORT (Ctrl-C stops it).
In another terminal:
  $BUILD/bin/salvus exec --compute 127.0.0.1:$PORT --token-file $DATA/token 'factor(2^64+1)'
  echo 'for i in range(5): print(i)' | $BUILD/bin/salvus exec --compute 127.0.0.1:$PORT --token-file $DATA/token -
TXT
exec "$BUILD/bin/salvus" compute --listen "127.0.0.1:$PORT" --token-file "$DATA/token" \
  --state-dir "$DATA/compute"
