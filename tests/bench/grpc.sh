#!/usr/bin/env bash
# gRPC front door benchmark: h2load against cam-kernel's Execute(ping) and
# Execute(emit_metric), throughput and latency percentiles from h2load's
# per-request log, the kernel's RSS before and after, and the error counts
# from a real scrape (h2load only sees HTTP 200; grpc-status is in the
# trailers, so the kernel's own counters say whether calls succeeded).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/h2load.sh"
N=${BENCH_N:-200000}
BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
# The access log is off here: this measures the syscall path, not stderr.
kernel_start kernel "$BUS" --access-log errors; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { echo "kernel did not come up"; exit 1; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$KERNEL/status"; }
URL="http://127.0.0.1:$GRPC_PORT/cam.SyscallService/Execute"


echo "kernel RSS before: $(rss) (target <= 20 MB)"
run ping ping "msg:hello" -n "$N" -c 16 -m 32
run emit_metric emit_metric "metric_name:bench_events_total,value:1,labels:app=bench" -n "$N" -c 16 -m 32
run ping_50k ping "msg:hello" -n 150000 -c 16 -m 1 --rps 3125
echo "   (that run holds 16 clients x 3125 req/s = 50k/s; target p99 <= 1 ms)"
echo "kernel RSS after: $(rss) (target <= 20 MB)"
sleep 0.5
m=$(scrape "$PORT")
printf '%s\n' "$m" | grep -E '^cam_os_syscall_total\{verb="(ping|emit_metric)"\}|^cam_os_syscall_errors_total|^bench_events_total' | sed 's/^/   /'
stop_pid "$KERNEL" TERM

# The same ping with the security gate doing real work: a bearer token
# checked (SHA-256 + constant-time compare) and a per-caller rate limit
# high enough never to refuse, so only its cost shows.
echo "$(printf %s bench-token | sha256sum | cut -d' ' -f1) bencher read 10000000 10000000" >"$TMP/tokens"
GRPC_PORT=$(free_port)
URL="http://127.0.0.1:$GRPC_PORT/cam.SyscallService/Execute"
kernel_start kernel_auth "ipc://$TMP/bus2.ipc" --access-log errors --auth-tokens-file "$TMP/tokens"; KERNEL=$LAST_PID
wait_for 10 bash -c "echo > /dev/tcp/127.0.0.1/$GRPC_PORT" 2>/dev/null
H+=(-H 'authorization: Bearer bench-token')
run ping_auth ping "msg:hello" -n "$N" -c 16 -m 32
echo "   (auth + rate limit on; compare with the first ping run)"
echo "   refusals in the kernel's log (access log on errors): $(grep -c '"success":false' "$TMP/kernel_auth.log")"
stop_pid "$KERNEL" TERM
