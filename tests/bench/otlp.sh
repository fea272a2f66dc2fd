#!/usr/bin/env bash
# The cost of the OTLP metrics push (issue 31): two exporters side by side
# on one bus, fed 10k series every second by the stand-in kernel
# (tests/tools/metrics_publisher), one pushing OTLP every second to the test
# receiver (tests/integration/otlp_receiver.js, which decodes every
# request), the other not. Their CPU over the same minute comes from
# /proc/PID/stat (utime + stime), as a share of one core; then both are
# scraped in turn (gzip, as Prometheus asks) and their latencies compared.
#
# usage: otlp.sh BUILD [SECONDS]
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
SECONDS_RUN=${2:-60}
source "$(dirname "$0")/../integration/lib.sh"
[ -d "$ROOT/tests/integration/otlp/node_modules" ] || (cd "$ROOT/tests/integration/otlp" && npm ci --no-audit --no-fund --loglevel=error)

BUS="ipc://$TMP/bus.ipc"; R=$(free_port); A=$(free_port); B=$(free_port)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
start recv node "$ROOT/tests/integration/otlp_receiver.js" "$R" --keep 1
start publisher "$ROOT/$BUILD/tests/tools/metrics_publisher" "$BUS" 10000 1000
exporter_start with_otlp "$BUS" "$A" --publish-interval-ms 1000 \
  --otlp-metrics-endpoint "http://127.0.0.1:$R" --otlp-metrics-interval-ms 1000
PA=$LAST_PID
exporter_start without "$BUS" "$B" --publish-interval-ms 1000; PB=$LAST_PID
wait_for 20 metric_is "$A" cam_os_kernel_up 1 && wait_for 20 metric_is "$B" cam_os_kernel_up 1 ||
  { echo "exporters never saw the publisher"; exit 1; }
sleep 3
echo "samples per scrape: $(scrape "$B" | grep -vc "^#")"
a0=$(ticks "$PA"); b0=$(ticks "$PB"); t0=$(date +%s.%N)
sleep "$SECONDS_RUN"
a1=$(ticks "$PA"); b1=$(ticks "$PB"); t1=$(date +%s.%N)
pct() { awk -v d="$1" -v hz="$HZ" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f", 100 * d / hz / (t1 - t0) }'; }
ca=$(pct $((a1 - a0))); cb=$(pct $((b1 - b0)))
sent=$(metric_value "$A" 'cam_os_otlp_exported_total{signal="metrics"}')
fail=$(metric_value "$A" 'cam_os_otlp_export_failures_total{signal="metrics"}')
bytes=$(curl -fsS "http://127.0.0.1:$R/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin)["metrics"]; print(s["ok"], s["bytes"] // max(s["ok"], 1))')
echo "over ${SECONDS_RUN} s, no scrapes: exporter with OTLP every 1 s ${ca}% of one core, without ${cb}%"
echo "OTLP push cost: $(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%.2f", a - b }')% of one core (target <= 5%)"
echo "OTLP requests accepted: ${bytes% *}, $(( ${bytes#* } / 1024 )) KiB each, $sent points, $fail lost"
echo "exporter RSS: with OTLP $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$PA/status), without $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$PB/status)"
lat() {
  local port=$1 i
  for i in $(seq 1 60); do
    curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{time_total}\n' "http://127.0.0.1:$port/metrics"
    sleep 0.05
  done
}
: >"$TMP/la"; : >"$TMP/lb"
for round in 1 2 3; do lat "$A" >>"$TMP/la"; lat "$B" >>"$TMP/lb"; done
summary() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "p50 %.2f ms, p95 %.2f ms, max %.2f ms (%d scrapes)", 1000*v[int(NR*0.5)], 1000*v[int(NR*0.95)], 1000*v[NR], NR }'; }
echo "gzip scrape latency, side by side (3 rounds of 60 each, taken in turn):"
echo "  with OTLP:    $(summary "$TMP/la")"
echo "  without OTLP: $(summary "$TMP/lb")"
