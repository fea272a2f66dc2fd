#!/usr/bin/env bash
# OTLP push: metrics and logs from cam-exporter to an OTLP/HTTP receiver on
# loopback (otlp_receiver.js, which decodes with the OpenTelemetry
# project's generated code) beside the scrape. Checks (otlp_check.js) every
# family's type, temporality, unit and values against the exporter's own
# protobuf exposition of the same snapshots, exponential histograms bucket
# by bucket against the native ones, exemplars, the resource, log records
# with the trace and span ids of the call that wrote them, a kernel
# restart, 429 with Retry-After, a refusal, TLS, gzip, the OTEL_*
# variables, and settings that are wrong.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
export CAM_DATA_DIR="$TMP/data" XDG_STATE_HOME="$TMP/state"
# Snapshots every 500 ms (stale after 1.5 s): on a loaded machine 200 ms
# ones go stale now and then, and a push then has no kernel resource.
export INTERVAL_MS=500

NODE_MODULES="$ROOT/tests/integration/otlp/node_modules"
[ -d "$NODE_MODULES" ] || (cd "$ROOT/tests/integration/otlp" && npm ci --no-audit --no-fund --loglevel=error) \
  || { not_ok "npm ci in tests/integration/otlp"; finish; exit 1; }
BUS="ipc://$TMP/bus.ipc"; GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
R=$(free_port); R2=$(free_port); E=$(free_port); E2=$(free_port)
RECV="http://127.0.0.1:$R"
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
check_js() { local what=$1; shift; check "$what" node "$ROOT/tests/integration/otlp_check.js" "$@"; }
stats() { curl -fsS --max-time 5 "$1/stats"; }
export_count() { metric_value "$E" "cam_os_otlp_$1_total{signal=\"$2\"}"; }

start recv node "$ROOT/tests/integration/otlp_receiver.js" "$R"
wait_for 5 stats "$RECV" || { not_ok "receiver starts"; finish; exit 1; }

# One switch on both programs; the resource from OTEL_RESOURCE_ATTRIBUTES
# and the pod settings; an API key header.
export CAM_OTLP_ENDPOINT="$RECV"
kernel_start kernel "$BUS"
KPID=$LAST_PID
OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test,team=a%2Cb" \
  exporter_start exp "$BUS" "$E" --otlp-metrics-interval-ms 500 --otlp-logs-flush-ms 200 \
  --otlp-headers "x-api-key=s3cret" --k8s-pod-name cam-os-0 --k8s-namespace cam-os \
  --otlp-retry-max-ms 1000
unset CAM_OTLP_ENDPOINT
wait_for 10 metric_is "$E" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }
INSTANCE=$(grep -o '"instance_id":"[0-9a-f]*"' "$TMP/kernel.log" | head -1 | cut -d'"' -f4)

# Traffic: custom families of every kind (a native histogram with zeros
# for the zero bucket), a failing call, then a traced ping last.
TP_TRACE=0af7651916cd43dd8448eb211c80319c; TP_SPAN=b7ad6b7169203331
for v in 0 0 0.001 0.004 0.02 0.3 2.5 2.5 7; do
  grpcurl -d "{\"verb\":\"emit_metric\",\"payload\":\"metric_name:render_seconds,type:histogram,native:true,value:$v,labels:stage=draw\"}" "$G" cam.SyscallService/Execute >/dev/null
  grpcurl -d "{\"verb\":\"emit_metric\",\"payload\":\"metric_name:job_seconds,type:histogram,value:$v\"}" "$G" cam.SyscallService/Execute >/dev/null
done
grpcurl -d '{"verb":"emit_metric","payload":"metric_name:custom_counter,value:3,labels:app=myapp,env=prod"}' "$G" cam.SyscallService/Execute >/dev/null
grpcurl -d '{"verb":"emit_metric","payload":"metric_name:queue_depth,type:gauge,value:17"}' "$G" cam.SyscallService/Execute >/dev/null
grpcurl -d '{"verb":"nosuch","payload":""}' "$G" cam.SyscallService/Execute >/dev/null 2>&1
grpcurl -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" -d '{"verb":"ping","payload":"msg:hi"}' "$G" \
  cam.SyscallService/Execute >/dev/null
sleep 1.5

check_js "metrics mapping (otlp_check.js mapping)" mapping "$RECV" "http://127.0.0.1:$E" "$TP_TRACE" \
  '{"service.name":"cam-kernel","service.version":"0.1.0","service.instance.id":"'"$INSTANCE"'","k8s.pod.name":"cam-os-0","k8s.namespace.name":"cam-os","deployment.environment":"test","team":"a,b"}'
check "log lines reach the receiver" wait_for 10 bash -c "[ \$(curl -fsS '$RECV/stats' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"logs\"][\"ok\"])') -gt 0 ]"
check_js "log records (otlp_check.js logs)" logs "$RECV" "$TP_TRACE"
nothing_lost() { [ "$(export_count export_failures metrics)" = 0 ] && [ "$(export_count exported logs)" -gt 0 ]; }
check "nothing lost, pushes counted" nothing_lost
check "the kernel counts the lines it put on the bus" wait_for 10 \
  bash -c "curl -fsS http://127.0.0.1:$E/metrics | grep -q '^cam_os_log_bus_lines_published_total [1-9]'"

# 429 with Retry-After: 2 s, then the push goes on; nothing lost.
curl -fsS -X POST -d '{"status":429,"retry_after":2,"count":1}' "$RECV/fail" >/dev/null
sleep 0.6
check_js "429 + Retry-After honoured" retry-after "$RECV" metrics 1900
retried_not_lost() { [ "$(export_count retries metrics)" -ge 1 ] && [ "$(export_count export_failures metrics)" = 0 ]; }
check "the 429 counted as a retry, not a loss" retried_not_lost
# 400: refused for good, the request's points are counted as lost.
curl -fsS -X POST -d '{"status":400,"count":1}' "$RECV/fail" >/dev/null
points_lost() { [ "$(export_count export_failures metrics)" -gt 0 ]; }
check "a 400 drops the request and counts its points" wait_for 5 points_lost
check_js "pushes stay in order through retries" ordered "$RECV"

# A kernel restart: new instance id and start time, never a counter going back.
stop_pid "$KPID" KILL
check "kernel_up 0 pushed while the kernel is away" wait_for 10 bash -c \
  "curl -fsS '$RECV/requests?signal=metrics' | python3 -c 'import json,sys; r=json.load(sys.stdin)[-1][\"body\"][\"resourceMetrics\"]; n=[x for x in r if any(a[\"value\"].get(\"stringValue\")==\"cam-kernel\" for a in x[\"resource\"][\"attributes\"])]; e=[m for x in r for s in x[\"scopeMetrics\"] for m in s[\"metrics\"] if m[\"name\"]==\"cam_os_kernel_up\"]; sys.exit(0 if not n and e[0][\"gauge\"][\"dataPoints\"][0][\"asDouble\"]==0 else 1)'"
CAM_OTLP_ENDPOINT="$RECV" kernel_start kernel2 "$BUS"
check_js "restart (otlp_check.js restart)" restart "$RECV" "$INSTANCE"

# TLS to a receiver with its own CA, gzip, and only OTEL_* variables.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1
start recv2 node "$ROOT/tests/integration/otlp_receiver.js" "$R2" --tls "$TMP/tls.crt" "$TMP/tls.key"
RECV2="https://127.0.0.1:$R2"
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT="$RECV2/v1/metrics" OTEL_EXPORTER_OTLP_CERTIFICATE="$TMP/tls.crt" \
OTEL_EXPORTER_OTLP_COMPRESSION=gzip OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20t0k" \
OTEL_SERVICE_NAME=cam-edge OTEL_METRIC_EXPORT_INTERVAL=300 \
  exporter_start exp2 "$BUS" "$E2"
recv2_got() { curl -fsSk "$RECV2/requests?signal=metrics" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r and r[-1]["headers"]["content-encoding"] == "gzip" and r[-1]["headers"]["authorization"] == "Bearer t0k"
names = [a["value"]["stringValue"] for x in r[-1]["body"]["resourceMetrics"] for a in x["resource"]["attributes"] if a["key"] == "service.name"]
assert "cam-edge" in names, names'; }
check "TLS with CAM's CA file, gzip, OTEL_* endpoint, headers and service name" wait_for 10 recv2_got
check "the logs signal stays off without its endpoint" bash -c "! grep -q otlp_logs_url '$TMP/exp2.log'"

# Wrong settings stop the exporter at start with a clear message.
bad() {
  local want=$1 out; shift
  out=$(env "$@" timeout 5 "$ROOT/$BUILD/cam-exporter" --exporter-listen 127.0.0.1:0 2>&1)
  [ $? -eq 2 ] && grep -q "$want" <<<"$out"
}
check "CAM_OTLP_ENDPOINT not http(s)" bad "CAM_OTLP_ENDPOINT must be an http" CAM_OTLP_ENDPOINT=ftp://x
check "OTEL_EXPORTER_OTLP_PROTOCOL=grpc refused" bad "http/protobuf only" CAM_OTLP_ENDPOINT=http://127.0.0.1:1 OTEL_EXPORTER_OTLP_PROTOCOL=grpc
check "CAM_OTLP_HEADERS without =" bad "is not key=value" CAM_OTLP_ENDPOINT=http://127.0.0.1:1 CAM_OTLP_HEADERS=oops
check "an unreadable CA file" bad "cannot read" CAM_OTLP_ENDPOINT=https://127.0.0.1:1 CAM_OTLP_CERTIFICATE=/nonexistent
finish
