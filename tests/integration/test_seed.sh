#!/usr/bin/env bash
# The seed document's own commands, as written, against cam-kernel and
# cam-exporter: grpcurl-style calls with JSON and no .proto file (through
# reflection, with Debian's python3-grpcio), then a scrape. Then the
# syscall layer's refusals: each bad input gets its code and changes nothing.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
G="127.0.0.1:$GRPC_PORT"
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
kernel_start kernel "$BUS"; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }

out() { printf '%s' "$1" | grep -q -- "$2"; }

# Reflection: the services and messages, with no .proto at hand.
r=$(grpcurl "$G" list)
check "list shows cam.SyscallService and grpc.health.v1.Health" \
  bash -c "printf '%s' '$r' | grep -qx cam.SyscallService && printf '%s' '$r' | grep -qx grpc.health.v1.Health"
r=$(grpcurl "$G" describe cam.SyscallService)
check "describe cam.SyscallService shows Execute and HealthCheck" out "$r" "rpc HealthCheck(cam.HealthCheckRequest)"
r=$(grpcurl "$G" describe cam.SyscallRequest)
check "describe cam.SyscallRequest shows verb = 1, payload = 2, caller_id = 3" \
  bash -c "printf '%s' '$r' | grep -q 'verb = 1' && printf '%s' '$r' | grep -q 'payload = 2' && printf '%s' '$r' | grep -q 'caller_id = 3'"

# The seed's commands, JSON as written there.
r=$(grpcurl -d '{
  "verb": "emit_trace",
  "payload": "trace_id:abc123,span_id:def456,operation:syscall_execution"
}' "$G" cam.SyscallService/Execute)
check "seed emit_trace succeeds with stable mapped ids" out "$r" '"result": "trace_id:605624548bf2744df4658e996a4bdaa6,span_id:7f1ef9d006e4a33a'
r=$(grpcurl -d '{"caller_id": "health-check"}' "$G" cam.SyscallService/HealthCheck)
check "seed basic HealthCheck: SERVING, version, uptime" \
  bash -c "printf '%s' '$r' | grep -q '\"status\": \"SERVING\"' && printf '%s' '$r' | grep -q uptimeSeconds && ! printf '%s' '$r' | grep -q components"
r=$(grpcurl -d '{"caller_id": "health-check", "detailed": true}' "$G" cam.SyscallService/HealthCheck)
for c in "Redis Backend" "TPM Security" "Driver Runtime" "Scheduler"; do
  check "seed detailed HealthCheck has component $c" out "$r" "\"name\": \"$c\""
done
check "components not built say disabled, never healthy" \
  bash -c "printf '%s' '$r' | grep -A1 '\"name\": \"TPM Security\"' | grep -q '\"status\": \"disabled\"'"
r=$(grpcurl -d '{
  "verb": "emit_metric",
  "payload": "metric_name:custom_counter,value:1,labels:app=myapp,env=prod"
}' "$G" cam.SyscallService/Execute)
check "seed emit_metric succeeds" out "$r" '"success": true'

# What the exporter shows after them.
seen() { local m; m=$(scrape "$PORT") && printf '%s\n' "$m" | grep -qx -- "$1"; }
check 'exporter shows custom_counter{app="myapp",env="prod"} 1' wait_for 5 seen 'custom_counter{app="myapp",env="prod"} 1'
check 'exporter shows cam_os_syscall_total{verb="emit_metric"} 1' wait_for 5 seen 'cam_os_syscall_total{verb="emit_metric"} 1'
check 'exporter shows cam_os_syscall_total{verb="emit_trace"} 1' wait_for 5 seen 'cam_os_syscall_total{verb="emit_trace"} 1'
check 'exporter shows the duration histogram for emit_trace' wait_for 5 seen 'cam_os_syscall_duration_seconds_count{verb="emit_trace"} 1'
check 'exporter shows cam_os_component_up{component="Scheduler"} 1' wait_for 5 seen 'cam_os_component_up{component="Scheduler"} 1'
# The emitted span, and the span of the traced emit_trace call itself.
spans_at_least_one() { awk -v v="$(metric_value "$PORT" cam_os_trace_spans_total)" 'BEGIN { exit !(v >= 1) }'; }
check 'exporter counts the span in cam_os_trace_spans_total' wait_for 5 spans_at_least_one

# The access log line has the seed's fields.
line=$(grep '"component":"syscall_dispatcher"' "$TMP/kernel.log" | grep '"syscall":"emit_metric"' | head -1)
check "access log: seed fields on one JSON line" /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
for k in ("timestamp", "level", "component", "syscall", "caller_id", "latency_ms", "success"):
    assert k in d, k
assert d["level"] == "INFO" and d["syscall"] == "emit_metric" and d["caller_id"] == "anonymous"
assert d["success"] is True and isinstance(d["latency_ms"], float)
assert d["timestamp"].endswith("Z")' "$line"
check "access log never carries payload data" bash -c "! grep -q myapp '$TMP/kernel.log'"

# Refusals: the right code, a clear message, nothing changed.
ex() { grpcurl -d "{\"verb\": \"$1\", \"payload\": \"$2\"}" "$G" cam.SyscallService/Execute; }
refused() { local r; r=$(ex "$1" "$2"); printf '%s' "$r" | grep -q "^ERROR: $3: .*$4"; }
check "unknown verb: UNIMPLEMENTED" refused frobnicate "" UNIMPLEMENTED "unknown verb 'frobnicate'"
check "unknown verb counted as verb=unknown" wait_for 5 seen 'cam_os_syscall_errors_total{verb="unknown",code="UNIMPLEMENTED"} 1'
check "malformed payload: INVALID_ARGUMENT naming the key" refused ping "Bad-Key:1" INVALID_ARGUMENT "Bad-Key"
check "duplicate key: INVALID_ARGUMENT" refused ping "a:1,a:2" INVALID_ARGUMENT "duplicate payload key 'a'"
check "token without key: INVALID_ARGUMENT" refused ping "nokey" INVALID_ARGUMENT "has no key"
check "key a verb does not take: INVALID_ARGUMENT" refused emit_metric "metric_name:x,value:1,colour:red" INVALID_ARGUMENT "colour"
check "emit_metric cam_os_ prefix refused" refused emit_metric "metric_name:cam_os_fake,value:1" INVALID_ARGUMENT "cam_os_ prefix"
check "emit_metric kernel family refused" refused emit_metric "metric_name:process_open_fds,value:1,type:gauge" INVALID_ARGUMENT "belongs to the kernel"
check "emit_metric bad name refused" refused emit_metric "metric_name:9lives,value:1" INVALID_ARGUMENT "invalid metric_name"
check "emit_metric NaN refused" refused emit_metric "metric_name:m1,value:NaN" INVALID_ARGUMENT "finite"
check "emit_metric negative counter refused" refused emit_metric "metric_name:m1,value:-1" INVALID_ARGUMENT "only goes up"
check "emit_metric bad label name refused" refused emit_metric "metric_name:m1,value:1,labels:__x=1" INVALID_ARGUMENT "invalid label name"
check "emit_metric type clash refused" refused emit_metric "metric_name:custom_counter,value:1,type:gauge,labels:app=a,env=b" INVALID_ARGUMENT "is a counter"
check "emit_metric label clash refused" refused emit_metric "metric_name:custom_counter,value:1,labels:zone=a" INVALID_ARGUMENT "labels"
check "emit_metric gauge custom_counter_total refused: OpenMetrics shows the counter custom_counter as custom_counter_total" \
  refused emit_metric "metric_name:custom_counter_total,value:1,type:gauge" INVALID_ARGUMENT "exposed names clash"
check "emit_metric counter named just _total refused" refused emit_metric "metric_name:_total,value:1" INVALID_ARGUMENT "name before _total"
check "emit_trace without span_id refused" refused emit_trace "trace_id:abc" INVALID_ARGUMENT "span_id"
check "priority out of range refused" \
  bash -c "grpcurl() { /usr/bin/python3 '$ROOT/tests/integration/grpcurl.py' \"\$@\"; }; grpcurl -d '{\"verb\":\"ping\",\"priority\":12}' '$G' cam.SyscallService/Execute | grep -q 'ERROR: INVALID_ARGUMENT: priority 12'"
huge=$(head -c 70000 /dev/zero | tr '\0' 'x')
check "oversized payload: INVALID_ARGUMENT" refused ping "a:$huge" INVALID_ARGUMENT "more than"
sleep 0.5
check "refused emits made no family" bash -c "! curl -fsS http://127.0.0.1:$PORT/metrics | grep -qE '^(m1|cam_os_fake|9lives|custom_counter_total|_total)[ {]'"
check "custom_counter unchanged by refused emits" wait_for 5 seen 'custom_counter{app="myapp",env="prod"} 1'
check "gauge emit sets the value" bash -c "/usr/bin/python3 '$ROOT/tests/integration/grpcurl.py' -d '{\"verb\":\"emit_metric\",\"payload\":\"metric_name:queue_depth,value:7.5,type:gauge\"}' '$G' cam.SyscallService/Execute | grep -q '\"success\": true'"
check "gauge shows 7.5" wait_for 5 seen 'queue_depth 7.5'

# Series limits: a second kernel with 2 series per family.
stop_pid "$KERNEL" TERM
kernel_start kernel_limits "$BUS" --metrics-max-series-per-family 2
wait_for 10 grpcurl "$G" list
# (No `| grep -q` under pipefail: an early exit of grep fails the writer.)
ok_emit() { local r; r=$(ex emit_metric "metric_name:lim,value:1,labels:k=$1"); out "$r" '"success": true'; }
check "first series of a family accepted" ok_emit a
check "second series of a family accepted" ok_emit b
check "third series: RESOURCE_EXHAUSTED" refused emit_metric "metric_name:lim,value:1,labels:k=c" RESOURCE_EXHAUSTED "series limit"
check "refusal counted in cam_os_metrics_series_rejected_total" wait_for 5 seen 'cam_os_metrics_series_rejected_total{family="lim",reason="series_limit"} 1'
finish
