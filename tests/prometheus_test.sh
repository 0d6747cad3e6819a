#!/usr/bin/env bash
# The figures reach Prometheus: Debian's prometheus scrapes `salvus up`'s hub
# and compute server (--metrics-listen, --compute-metrics-listen) while cells
# run, and its HTTP API gives them back.
# Usage: prometheus_test.sh SALVUS_BINARY   (exit 77: skipped, no prometheus)
set -euo pipefail
bin=$1
command -v prometheus >/dev/null || { echo "no prometheus (apt-get install prometheus)"; exit 77; }
tmp=$(mktemp -d /tmp/salvus-prom-XXXXXX)
chmod 711 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hub_metrics=$(free_port)
compute_metrics=$(free_port)
prom=$(free_port)
"$bin" up --port 0 --data "$tmp/data" --kernel python --pool 1 \
  --metrics-listen "127.0.0.1:$hub_metrics" --compute-metrics-listen "127.0.0.1:$compute_metrics" \
  >"$tmp/up.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do [ -s "$tmp/data/hub.port" ] && break; sleep 0.1; done
port=$(cat "$tmp/data/hub.port")
cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: hub
    static_configs: [{targets: ["127.0.0.1:$hub_metrics"]}]
  - job_name: compute
    static_configs: [{targets: ["127.0.0.1:$compute_metrics"]}]
YML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="127.0.0.1:$prom" >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
for i in 1 2 3; do
  [ "$("$bin" exec --hub "ws://127.0.0.1:$port/ws" --kernel python "print($i*7)")" = "$((i * 7))" ]
done
# A request the hub cannot read: 400, counted.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'NOT HTTP\r\n\r\n' >&3
head -c 12 <&3 | grep -q "HTTP/1.1 400"
exec 3<&-
# The value of a PromQL query ("" until Prometheus has it).
query() {
  curl -s --get "http://127.0.0.1:$prom/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
want() {  # want QUERY AT_LEAST: waits up to 30 s
  local v=""
  for _ in $(seq 60); do
    v=$(query "$1")
    if [ -n "$v" ] && /usr/bin/python3 -c "import sys; sys.exit(0 if float('$v') >= $2 else 1)"; then
      echo "$1 = $v"
      return 0
    fi
    sleep 0.5
  done
  echo "Prometheus never had $1 >= $2 (last: '$v')"
  tail -5 "$tmp/prometheus.log"
  return 1
}
want 'salvus_hub_requests_total{kind="execute"}' 3
want 'salvus_hub_request_seconds_count{kind="execute"}' 3
want 'histogram_quantile(0.5, salvus_hub_request_seconds_bucket{kind="execute"})' 0
want 'salvus_hub_connections' 0
want 'salvus_compute_sessions_started_total' 3
want 'salvus_compute_forks_total{urgent="false"}' 1
want 'salvus_compute_worker_ready_seconds_count' 1
want 'up{job="compute"}' 1
want 'salvus_hub_websocket_messages_total{direction="in"}' 3
want 'salvus_hub_websocket_bytes_total{direction="out"}' 1
want 'salvus_hub_http_refused_total{status="400"}' 1
want 'sum(salvus_store_seconds_count)' 1
want 'salvus_compute_worker_exits_total{cause="ended_by_server"}' 1
want 'salvus_build_info{job="hub"}' 1
want 'salvus_build_info{job="compute"}' 1
