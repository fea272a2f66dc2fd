#!/usr/bin/env bash
# Tracing: spans from emit_trace and from traced syscalls (W3C traceparent)
# travel kernel -> bus -> exporter -> OTLP/HTTP and Zipkin v2 receivers
# (tests/integration/trace_receiver.py) with the right ids, parent links,
# names, timestamps and attributes; exemplars on
# cam_os_syscall_duration_seconds in OpenMetrics scrapes; a receiver that is
# down or slow loses nothing within the buffer and blocks nothing; a full
# buffer and sampling count what they drop.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

BUS="ipc://$TMP/bus.ipc"; GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
receiver() { start "$1" /usr/bin/python3 "$ROOT/tests/integration/trace_receiver.py" "${@:2}"; }
spans() { curl -fsS --max-time 5 "http://127.0.0.1:$1/spans"; }
TR=(--trace-flush-ms 200 --trace-retry-max-ms 400)

R1=$(free_port); R2=$(free_port); R3=$(free_port); R5=$(free_port)
E1=$(free_port); E2=$(free_port); E3=$(free_port); E4=$(free_port); E5=$(free_port)
receiver recv1 "$R1"
receiver recv5 "$R5" --delay 3
wait_for 5 spans "$R1" || not_ok "receiver starts"
kernel_start kernel "$BUS"
# E1: both formats to a good receiver. E2: OTLP to a receiver not up yet.
# E3: a buffer of 5 spans, receiver never up. E4: sampling ratio 0.
# E5: Zipkin to a receiver that takes 3 s per request.
exporter_start exp1 "$BUS" "$E1" "${TR[@]}" --otlp-endpoint "http://127.0.0.1:$R1" \
  --zipkin-endpoint "http://127.0.0.1:$R1/"
EXP1=$LAST_PID
exporter_start exp2 "$BUS" "$E2" "${TR[@]}" --otlp-endpoint "http://127.0.0.1:$R2/v1/traces"
exporter_start exp3 "$BUS" "$E3" "${TR[@]}" --otlp-endpoint "http://127.0.0.1:$R3" --trace-buffer-spans 5
exporter_start exp4 "$BUS" "$E4" "${TR[@]}" --otlp-endpoint "http://127.0.0.1:$R1" --trace-sample-ratio 0
exporter_start exp5 "$BUS" "$E5" "${TR[@]}" --zipkin-endpoint "http://127.0.0.1:$R5"
for p in "$E1" "$E2" "$E3" "$E4" "$E5"; do
  wait_for 10 metric_is "$p" cam_os_kernel_up 1 || { not_ok "kernel and exporters start"; finish; exit 1; }
done
INSTANCE=$(grep -o '"instance_id":"[0-9a-f]*"' "$TMP/kernel.log" | head -1 | cut -d'"' -f4)
T0=$(date +%s%N)

# The seed's command, as written there.
r=$(grpcurl -d '{
  "verb": "emit_trace",
  "payload": "trace_id:abc123,span_id:def456,operation:syscall_execution"
}' "$G" cam.SyscallService/Execute)
check "seed emit_trace succeeds" bash -c "printf '%s' '$r' | grep -q '\"success\": true'"
# A traced syscall: W3C traceparent metadata.
TP_TRACE=0af7651916cd43dd8448eb211c80319c; TP_SPAN=b7ad6b7169203331
grpcurl -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" -d '{"verb":"ping","payload":"msg:hi"}' "$G" \
  cam.SyscallService/Execute >/dev/null
# emit_trace with every optional key.
grpcurl -d '{"verb":"emit_trace","payload":"trace_id:4bf92f3577b34da6a3ce929d0e0e4736,span_id:00f067aa0ba902b7,parent_span_id:53995c3f42cd8ad8,operation:db.query,duration_ms:12.5,service:agent-7,status:error,attributes:db=users,rows=3"}' \
  "$G" cam.SyscallService/Execute >/dev/null
# Three more traced pings: 8 spans in all.
for i in 1 2 3; do
  grpcurl -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" -d '{"verb":"ping","payload":""}' "$G" \
    cam.SyscallService/Execute >/dev/null
done
T1=$(date +%s%N)
NSPANS=8

count_spans() { [ "$(spans "$1" | /usr/bin/python3 -c "import json,sys; print(len([s for s in json.load(sys.stdin) if s['format']=='$2']))")" = "$3" ]; }
check "OTLP receiver gets all $NSPANS spans" wait_for 10 count_spans "$R1" otlp $NSPANS
check "Zipkin receiver gets all $NSPANS spans" wait_for 10 count_spans "$R1" zipkin $NSPANS
spans "$R1" >"$TMP/r1.json"

# Everything about the spans, in both formats.
check_spans() {
  /usr/bin/python3 - "$TMP/r1.json" "$1" "$INSTANCE" "$T0" "$T1" "$TP_TRACE" "$TP_SPAN" <<'PY'
import json, sys
path, fmt, instance, t0, t1, tp_trace, tp_span = sys.argv[1:]
t0, t1 = int(t0), int(t1)
spans = [s for s in json.load(open(path)) if s["format"] == fmt]
def start_ns(s): return s["start_ns"] if fmt == "otlp" else s["start_us"] * 1000
def dur_ns(s): return s["end_ns"] - s["start_ns"] if fmt == "otlp" else s["duration_us"] * 1000
def one(pred, what):
    got = [s for s in spans if pred(s)]
    assert len(got) == 1, f"{what}: {len(got)} spans"
    return got[0]
errors = []
def expect(cond, what):
    if not cond: errors.append(what)
# The seed's span: mapped ids, the originals as attributes.
seed = one(lambda s: s["name"] == "syscall_execution", "seed span")
expect(seed["trace_id"] == "605624548bf2744df4658e996a4bdaa6", "seed trace id")
expect(seed["span_id"] == "7f1ef9d006e4a33a", "seed span id")
expect(seed["parent_id"] == "", "seed span is a root")
expect(seed["attributes"].get("cam.original_trace_id") == "abc123", "original trace id")
expect(seed["attributes"].get("cam.original_span_id") == "def456", "original span id")
expect(t0 - 10**9 <= start_ns(seed) <= t1, "seed timestamp within the test")
expect(seed["resource"].get("service.name") == "cam-os", "service.name")
if fmt == "otlp":
    expect(seed["resource"].get("service.instance.id") == instance, "service.instance.id")
    expect(seed["resource"].get("service.version"), "service.version")
else:
    expect(seed["attributes"].get("service.instance.id") == instance, "instance tag")
# The emit_trace call's own span: a child of the seed span.
sc = one(lambda s: s["name"] == "syscall emit_trace" and s["parent_id"] == "7f1ef9d006e4a33a", "emit_trace syscall span")
expect(sc["trace_id"] == seed["trace_id"], "syscall span joins the seed trace")
expect(sc["kind"] in (2, "SERVER"), "syscall span kind SERVER")
expect(sc["attributes"].get("cam.syscall") == "emit_trace", "cam.syscall attribute")
# The traced ping: a child of the traceparent's span.
pings = [s for s in spans if s["name"] == "syscall ping"]
expect(len(pings) == 4, f"4 ping spans, got {len(pings)}")
p = [s for s in pings if s["trace_id"] == tp_trace and s["parent_id"] == tp_span]
expect(len(p) == 4, "ping spans carry the traceparent's trace and parent")
expect(len({s["span_id"] for s in pings}) == 4, "ping spans have distinct ids")
for s in pings:
    expect(len(s["span_id"]) == 16 and s["span_id"] != tp_span, "fresh span id")
    expect(s["attributes"].get("rpc.grpc.status_code") == "0", "grpc status attribute")
    expect(s["attributes"].get("rpc.system") == "grpc", "rpc.system")
    expect(s["attributes"].get("cam.caller_id") == "anonymous", "caller attribute")
    expect(0 <= dur_ns(s) < 10**9, "ping duration")
    expect(t0 - 10**9 <= start_ns(s) <= t1, "ping timestamp within the test")
# Every optional key of emit_trace.
db = one(lambda s: s["name"] == "db.query", "db.query span")
expect(db["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736", "W3C trace id kept")
expect(db["span_id"] == "00f067aa0ba902b7", "W3C span id kept")
expect(db["parent_id"] == "53995c3f42cd8ad8", "parent_span_id")
expect(abs(dur_ns(db) - 12_500_000) <= 1000, f"duration 12.5 ms: {dur_ns(db)}")
expect(db["resource"].get("service.name") == "agent-7", "service from the payload")
expect(db["error"], "status:error")
expect(db["attributes"].get("db") == "users" and db["attributes"].get("rows") == "3", "attributes")
if errors:
    print("\n".join(errors)); sys.exit(1)
PY
}
check "OTLP spans: ids, parents, names, timestamps, attributes, resource" check_spans otlp
check "Zipkin spans: ids, parents, names, timestamps, tags, service" check_spans zipkin

# Exemplars: OpenMetrics only, on the bucket that holds the value.
curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' "http://127.0.0.1:$E1/metrics" >"$TMP/om.txt"
scrape "$E1" >"$TMP/text.txt"
check "OpenMetrics scrape has an exemplar with the traceparent's trace id on ping's buckets" \
  grep -Eq "^cam_os_syscall_duration_seconds_bucket\{verb=\"ping\",le=\"[^\"]+\"\} [0-9]+ # \{trace_id=\"$TP_TRACE\",span_id=\"[0-9a-f]{16}\"\} [0-9.e+-]+ [0-9]+\.[0-9]{3}$" "$TMP/om.txt"
check "the exemplar's span id is one the receiver got" bash -c "
  id=\$(grep -o 'verb=\"ping\".*span_id=\"[0-9a-f]*\"' '$TMP/om.txt' | head -1 | grep -o 'span_id=\"[0-9a-f]*' | cut -d'\"' -f2)
  grep -q \"\$id\" '$TMP/r1.json'"
check "OpenMetrics scrape with exemplars parses (prometheus_client's OpenMetrics parser)" \
  /usr/bin/python3 -c "
from prometheus_client.openmetrics.parser import text_string_to_metric_families
n = 0
for f in text_string_to_metric_families(open('$TMP/om.txt').read()):
    for s in f.samples:
        if s.exemplar: n += 1; assert s.exemplar.labels['trace_id'], s
assert n >= 2, n"
check "the text format has no exemplars, and promtool check metrics passes" \
  bash -c "! grep -q ' # {' '$TMP/text.txt' && promtool check metrics < '$TMP/text.txt'"

# A receiver that is down: spans wait and are retried, then all arrive.
failures_seen() { local v; v=$(metric_value "$E2" 'cam_os_exporter_spans_export_failures_total{destination="otlp"}') && [ "$v" != 0 ]; }
check "receiver down: exp2 counts failed attempts" wait_for 5 failures_seen
check "receiver down: exp2 holds all $NSPANS spans" wait_for 5 metric_is "$E2" 'cam_os_exporter_spans_buffered{destination="otlp"}' $NSPANS
receiver recv2 "$R2"
check "receiver up again: it gets all $NSPANS spans, none lost" wait_for 10 count_spans "$R2" otlp $NSPANS
all_exported() {
  metric_is "$E2" 'cam_os_exporter_spans_exported_total{destination="otlp"}' $NSPANS &&
    metric_is "$E2" 'cam_os_exporter_spans_buffered{destination="otlp"}' 0 &&
    metric_is "$E2" 'cam_os_exporter_spans_dropped_total{destination="otlp",reason="buffer_full"}' 0
}
check "exp2 exported $NSPANS, holds and dropped none" wait_for 5 all_exported
# A bounded buffer: 5 kept, 3 dropped and counted.
check "full buffer: 5 spans kept" wait_for 5 metric_is "$E3" 'cam_os_exporter_spans_buffered{destination="otlp"}' 5
check "full buffer: 3 dropped, counted as buffer_full" \
  wait_for 5 metric_is "$E3" 'cam_os_exporter_spans_dropped_total{destination="otlp",reason="buffer_full"}' 3
# Sampling at 0: nothing sent, every span counted.
check "sample ratio 0: $NSPANS spans sampled out" wait_for 5 metric_is "$E4" cam_os_exporter_spans_sampled_out_total $NSPANS
check "sample ratio 0: nothing exported" metric_is "$E4" 'cam_os_exporter_spans_exported_total{destination="otlp"}' 0
# A slow receiver blocks nothing: scrapes of exp5 and syscalls stay fast.
check "slow receiver: exp5's /metrics answers within 1 s" \
  bash -c "curl -fsS --max-time 1 -o /dev/null http://127.0.0.1:$E5/metrics"
check "slow receiver: it still gets all $NSPANS spans" wait_for 15 count_spans "$R5" zipkin $NSPANS
all_fast() {
  local c b
  c=$(metric_value "$E1" 'cam_os_syscall_duration_seconds_count{verb="ping"}') &&
    b=$(metric_value "$E1" 'cam_os_syscall_duration_seconds_bucket{verb="ping",le="0.1"}') &&
    [ "$c" = 4 ] && [ "$c" = "$b" ]
}
check "no syscall took 100 ms or more meanwhile" all_fast
# Prometheus with exemplar storage takes them, as Grafana will ask it.
PP=$(free_port)
printf 'global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: cam\n    static_configs: [{targets: ["127.0.0.1:%s"]}]\n' "$E1" >"$TMP/prom.yml"
start prometheus prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom" \
  --web.listen-address="127.0.0.1:$PP" --enable-feature=exemplar-storage
prom_has_exemplar() {
  local now; now=$(date +%s)
  curl -fsS "http://127.0.0.1:$PP/api/v1/query_exemplars?query=cam_os_syscall_duration_seconds_bucket&start=$((now - 300))&end=$((now + 60))" |
    grep -q "\"trace_id\":\"$TP_TRACE\""
}
check "Prometheus (exemplar storage) ingests the exemplar with the trace id" wait_for 20 prom_has_exemplar
# The kernel counts what it shipped.
check "kernel published $NSPANS spans on the bus" wait_for 5 metric_is "$E1" cam_os_trace_spans_published_total $NSPANS
# libcurl is loaded only when a trace endpoint is set: without one the
# exporter does not map it; with one and a libcurl that is not usable, it
# refuses to start and says why.
E6=$(free_port)
exporter_start exp6 "$BUS" "$E6"; EXP6=$LAST_PID
no_curl_mapped() { wait_for 10 metric_is "$E6" cam_os_kernel_up 1 && ! grep -q libcurl "/proc/$EXP6/maps"; }
check "an exporter with no trace endpoint has not loaded libcurl" no_curl_mapped
has_curl_mapped() { grep -q libcurl "/proc/$EXP1/maps"; }
check "the exporter with trace endpoints has" has_curl_mapped
mkdir -p "$TMP/badcurl"
echo 'int cam_not_curl;' | cc -shared -fPIC -x c - -o "$TMP/badcurl/libcurl.so.4"
bad_curl() {
  local out rc
  out=$(LD_LIBRARY_PATH="$TMP/badcurl" timeout 10 "$ROOT/$BUILD/cam-exporter" --bus-addr "$BUS" \
    --exporter-listen "127.0.0.1:$(free_port)" --otlp-endpoint "http://127.0.0.1:$R1" 2>&1)
  rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q 'libcurl.so.4 has no curl_global_init' <<<"$out"
}
check "with a libcurl.so.4 that is not libcurl, the exporter refuses to start, naming it" bad_curl
finish
