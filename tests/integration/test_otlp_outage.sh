#!/usr/bin/env bash
# OTLP push while the endpoint is down for 30 s, then back: the exporter's
# memory stays bounded (CAM_OTLP_QUEUE_BYTES), the requests it cannot keep
# are dropped and counted (cam_os_otlp_export_failures_total), retries are
# counted, /metrics keeps answering, and once the receiver is back pushing
# resumes on its own: the queue drains in order, a log line written during
# the outage arrives, and the latest push matches the scrape.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
export CAM_DATA_DIR="$TMP/data" XDG_STATE_HOME="$TMP/state" INTERVAL_MS=500
[ -d "$ROOT/tests/integration/otlp/node_modules" ] || (cd "$ROOT/tests/integration/otlp" && npm ci --no-audit --no-fund --loglevel=error)

BUS="ipc://$TMP/bus.ipc"; GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
R=$(free_port); E=$(free_port); RECV="http://127.0.0.1:$R"
OUTAGE_S=${OUTAGE_S:-30}
QUEUE=262144
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
count() { metric_value "$E" "cam_os_otlp_$1{signal=\"$2\"}"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
received() { curl -fsS --max-time 2 "$RECV/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['ok'])"; }

start recv node "$ROOT/tests/integration/otlp_receiver.js" "$R"
RPID=$LAST_PID
wait_for 5 received metrics || { not_ok "receiver starts"; finish; exit 1; }
export CAM_OTLP_ENDPOINT="$RECV"
kernel_start kernel "$BUS"
exporter_start exp "$BUS" "$E" --otlp-metrics-interval-ms 500 --otlp-logs-flush-ms 200 \
  --otlp-queue-bytes "$QUEUE" --otlp-retry-max-ms 2000
EPID=$LAST_PID
unset CAM_OTLP_ENDPOINT
wait_for 10 metric_is "$E" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }
# Forty more series: each metrics request is tens of kilobytes.
for i in $(seq 1 40); do
  grpcurl -d "{\"verb\":\"emit_metric\",\"payload\":\"metric_name:outage_gauge,type:gauge,value:$i,labels:shard=s$i\"}" "$G" cam.SyscallService/Execute >/dev/null
done
some() { [ "$(received metrics)" -ge 3 ]; }
wait_for 10 some
BASE=$(rss_kb "$EPID")

stop_pid "$RPID" KILL
T_DOWN=$(date +%s)
MAX=$BASE
OUTAGE_TRACE=4bf92f3577b34da6a3ce929d0e0e4736
for s in $(seq 1 "$OUTAGE_S"); do
  r=$(rss_kb "$EPID"); [ "$r" -gt "$MAX" ] && MAX=$r
  [ "$s" -eq 5 ] && grpcurl -H "traceparent: 00-$OUTAGE_TRACE-00f067aa0ba902b7-01" \
    -d '{"verb":"ping","payload":"msg:during"}' "$G" cam.SyscallService/Execute >/dev/null
  sleep 1
done
echo "  exporter RSS: $((BASE / 1024)) MiB before, at most $((MAX / 1024)) MiB during $OUTAGE_S s down (queue bound $((QUEUE / 1024)) KiB)"
check "memory bounded while the endpoint is down (RSS grew < 16 MiB)" [ $((MAX - BASE)) -lt 16384 ]
check "requests past the queue bound dropped and counted" [ "$(count export_failures_total metrics)" -gt 0 ]
check "failed sends counted as retries" [ "$(count retries_total metrics)" -gt 0 ]
check "queue within its bound" [ "$(count queue_bytes metrics)" -le "$QUEUE" ]
answers() { grep -q '^cam_os_otlp_retries_total{signal="metrics"} [1-9]' <<<"$(scrape "$E")"; }
check "/metrics keeps answering during the outage" answers

BEFORE=$(count exported_total metrics)
start recv2 node "$ROOT/tests/integration/otlp_receiver.js" "$R"
check "pushing resumes once the receiver is back" wait_for 20 some
drained() { [ "$(count queue_bytes metrics)" = 0 ] && [ "$(count exported_total metrics)" -gt "$BEFORE" ]; }
check "the queue drains" wait_for 20 drained
check_js() { local what=$1; shift; check "$what" node "$ROOT/tests/integration/otlp_check.js" "$@"; }
check_js "what was queued arrives in order" ordered "$RECV"
during_arrived() { curl -fsS "$RECV/requests?signal=logs" | grep -q "$OUTAGE_TRACE"; }
check "a log line written during the outage arrives after it" wait_for 10 during_arrived
echo "  down $OUTAGE_S s; failures $(count export_failures_total metrics) points, retries $(count retries_total metrics)"
finish
