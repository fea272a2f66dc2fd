#!/usr/bin/env bash
# `make bench`: the metrics core and renderer micro-benchmarks, then the
# exporter holding 10k series (RSS, scrape throughput with wrk). Figures go
# to stdout; docs/bench.md records a run with the machine it ran on.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "== metrics core"
"$ROOT/$BUILD/tests/bench/bench_metrics"
echo "== renderer"
"$ROOT/$BUILD/tests/bench/bench_render"

echo "== exporter holding 10k series"
BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port)
start publisher "$ROOT/$BUILD/tests/tools/metrics_publisher" "$BUS" 10000 1000
exporter_start exporter "$BUS" "$PORT" --publish-interval-ms 1000; EXP=$LAST_PID
wait_for 20 metric_is "$PORT" cam_os_kernel_up 1 || { echo "exporter never saw the publisher"; exit 1; }
series=$(scrape "$PORT" | grep -vc '^#')
echo "samples per scrape: $series"
for i in 1 2 3; do scrape "$PORT" >/dev/null; done
echo "exporter RSS after text scrapes: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$EXP/status) (target <= 12 MB)"
curl -s -o /dev/null -w 'single scrape: %{time_total}s, %{size_download} bytes\n' "http://127.0.0.1:$PORT/metrics"
curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w 'single gzip scrape: %{time_total}s, %{size_download} bytes\n' "http://127.0.0.1:$PORT/metrics"
PB='Accept: application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,text/plain;q=0.3'
curl -s -o /dev/null -H "$PB" -w 'single protobuf scrape: %{time_total}s, %{size_download} bytes\n' "http://127.0.0.1:$PORT/metrics"
curl -s -o /dev/null -H "$PB" -H 'Accept-Encoding: gzip' -w 'single protobuf gzip scrape: %{time_total}s, %{size_download} bytes\n' "http://127.0.0.1:$PORT/metrics"
echo "exporter RSS with every format cached: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$EXP/status) (target <= 12 MB)"
if command -v wrk >/dev/null; then
  # Scrapes served from the per-snapshot cache (issue 17: >= 2,000 gzip scrapes/s).
  echo "-- wrk, 2 threads, 8 connections, 10 s, 10k-series /metrics"
  wrk -t2 -c8 -d10s "http://127.0.0.1:$PORT/metrics" | grep -E 'Requests/sec|Latency|Transfer'
  echo "-- wrk, gzip (target >= 2000 req/s)"
  wrk -t2 -c8 -d10s -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/metrics" | grep -E 'Requests/sec|Latency'
  echo "-- wrk, protobuf gzip (what a native-histogram Prometheus asks for)"
  wrk -t2 -c8 -d10s -H "$PB" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/metrics" | grep -E 'Requests/sec|Latency'
fi
echo "exporter RSS after load: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$EXP/status)"
if [ -x "$ROOT/tests/bench/otlp.sh" ] && command -v node >/dev/null; then
  echo "== OTLP metrics push, 10k series every second (issue 31)"
  "$ROOT/tests/bench/otlp.sh" "$BUILD"
fi
if [ -x "$ROOT/tests/bench/grpc.sh" ]; then
  echo "== gRPC front door"
  "$ROOT/tests/bench/grpc.sh" "$BUILD"
fi
if [ -x "$ROOT/tests/bench/floor.sh" ] && command -v nghttpd >/dev/null; then
  echo "== the kernel against the HTTP/2 floor (nghttpd), side by side"
  "$ROOT/tests/bench/floor.sh" "$BUILD"
  if command -v valgrind >/dev/null; then
    echo "-- instructions per call against nghttpd (callgrind; the load does not move it)"
    "$ROOT/tests/bench/ir_floor.sh" "$BUILD"
  fi
fi
if [ -x "$ROOT/tests/bench/memctx.sh" ]; then
  echo "== memory context"
  "$ROOT/tests/bench/memctx.sh" "$BUILD"
fi
if [ -x "$ROOT/tests/bench/store.sh" ]; then
  echo "== the durable store: the price of durability, reads, a 1 GiB store"
  "$ROOT/tests/bench/store.sh" "$BUILD"
fi
if [ -x "$ROOT/tests/bench/store_choice.sh" ]; then
  echo "== the embedded store for durable contexts: LMDB, SQLite, RocksDB"
  "$ROOT/tests/bench/store_choice.sh" "$BUILD"
fi

echo "== scheduler (issue 5)"
"$ROOT/$BUILD/tests/bench/bench_scheduler"
if command -v h2load >/dev/null; then
  echo "-- Execute(ping) through the scheduler: h2load -n 200000 -c 16 -m 32, access log off"
  /usr/bin/python3 "$ROOT/tests/integration/sched_client.py" body "$TMP/ping.bin" ping msg:hello
  kernel_start sched-kernel "ipc://$TMP/sched-bus.ipc" --access-log none; SK=$LAST_PID
  sleep 0.5
  port=$(grep -o '"grpc_port":[0-9]*' "$TMP/sched-kernel.log" | head -1 | cut -d: -f2)
  for i in 1 2 3; do
    h2load -n 200000 -c 16 -m 32 -d "$TMP/ping.bin" -H 'content-type: application/grpc' \
      -H 'te: trailers' "http://127.0.0.1:$port/cam.SyscallService/Execute" | grep -E 'finished in'
  done
  echo "kernel RSS after load: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$SK/status)"
  stop_pid "$SK"
fi
if [ -x "$ROOT/tests/bench/fair_share.sh" ]; then
  echo "-- fair share (issue 26): one agent at 10 x the calls of each of nine others, a full class"
  "$ROOT/tests/bench/fair_share.sh" "$BUILD"
fi
if [ -x "$ROOT/tests/bench/policy.sh" ] && command -v h2load >/dev/null; then
  echo "== agents kept apart: a 1,000-rule policy and 10,000 registered agents against none, side by side (issue 26)"
  "$ROOT/tests/bench/policy.sh" "$BUILD"
fi
if [ -x "$ROOT/tests/bench/audit.sh" ] && command -v h2load >/dev/null; then
  echo "== the audit trail: every call audited, a flood of denials (issue 27)"
  "$ROOT/tests/bench/audit.sh" "$BUILD"
fi
if [ -x "$ROOT/tests/bench/drivers.sh" ]; then
  echo "== drivers"
  "$ROOT/tests/bench/drivers.sh" "$BUILD"
fi
if [ -x "$ROOT/tests/bench/clients.sh" ]; then
  echo "== client libraries against bare gRPC calls (issue 30)"
  "$ROOT/tests/bench/clients.sh" "$BUILD"
fi
