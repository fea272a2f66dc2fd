#!/usr/bin/env bash
# driver_invoke against ping: h2load throughput and latency percentiles of
# Execute(ping) and Execute(driver_invoke) on text_transform (2 helper
# instances) and kv_cache (1 instance), same connections and concurrency.
# The gap is the cost of a round trip to the driver's helper process.
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
N=${BENCH_N:-50000}
BUS="ipc://$TMP/bus.ipc"; GRPC_PORT=$(free_port)
kernel_start kernel "$BUS" --access-log errors --drivers-dir "$ROOT/$BUILD/drivers" \
  --drivers-autoload text_transform,kv_cache
KERNEL=$LAST_PID
wait_for 10 /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "127.0.0.1:$GRPC_PORT" list ||
  { echo "kernel did not come up"; exit 1; }
URL="http://127.0.0.1:$GRPC_PORT/cam.SyscallService/Execute"
H=(-H 'content-type: application/grpc' -H 'te: trailers')

percentiles() {
  awk '{print $3}' "$1" | sort -n | awk '{a[NR]=$1} END {
    if (NR == 0) { print "no samples"; exit }
    printf "p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d requests)\n",
      a[int(NR*0.50)]/1000, a[int(NR*0.99)]/1000, a[NR]/1000, NR }'
}
run() {
  local name=$1 verb=$2 payload=$3; shift 3
  /usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/$name.bin" "$verb" "$payload"
  echo "-- $name: h2load $*"
  h2load "$@" -d "$TMP/$name.bin" "${H[@]}" --log-file="$TMP/$name.log" "$URL" |
    grep -E 'finished in|requests:' | sed 's/^/   /'
  echo "   latency: $(percentiles "$TMP/$name.log")"
}
run ping ping "msg:hello" -n "$N" -c 8 -m 8
run text_transform driver_invoke "driver:text_transform,operation:upper,payload:hello world" -n "$N" -c 8 -m 8
run kv_cache driver_invoke "driver:kv_cache,operation:size" -n "$N" -c 8 -m 8
r=$(/usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -d '{"verb": "driver_list"}' "127.0.0.1:$GRPC_PORT" cam.SyscallService/Execute)
printf '%s\n' "$r" | grep -o 'text_transform:[^,"]*\|kv_cache:[^,"]*' | sed 's/^/   /'
stop_pid "$KERNEL" TERM
