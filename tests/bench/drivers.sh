#!/usr/bin/env bash
# driver_invoke against ping: h2load throughput and latency percentiles of
# Execute(ping) and Execute(driver_invoke) on text_transform (2 helper
# instances) and kv_cache (1 instance), same connections and concurrency.
# The gap is the cost of a round trip to the driver's helper process.
# Then ping again, with 2 workers, while 16 streams keep the 1-instance
# hang driver hung: no worker waits on a driver, so ping should not move.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/h2load.sh"
N=${BENCH_N:-50000}
BUS="ipc://$TMP/bus.ipc"; GRPC_PORT=$(free_port)
mkdir -p "$TMP/drivers"
cp -r "$ROOT/$BUILD"/drivers/text_transform "$ROOT/$BUILD"/drivers/kv_cache \
  "$ROOT/$BUILD"/drivers-test/hang "$TMP/drivers/"
kernel_start kernel "$BUS" --access-log errors --grpc-workers "${BENCH_WORKERS:-2}" \
  --drivers-dir "$TMP/drivers" --drivers-autoload text_transform,kv_cache,hang
KERNEL=$LAST_PID
wait_for 10 /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "127.0.0.1:$GRPC_PORT" list ||
  { echo "kernel did not come up"; exit 1; }
URL="http://127.0.0.1:$GRPC_PORT/cam.SyscallService/Execute"

run ping ping "msg:hello" -n "$N" -c 8 -m 8
run text_transform driver_invoke "driver:text_transform,operation:upper,payload:hello world" -n "$N" -c 8 -m 8
run kv_cache driver_invoke "driver:kv_cache,operation:size" -n "$N" -c 8 -m 8
/usr/bin/python3 "$ROOT/tests/integration/drivers_load.py" "127.0.0.1:$GRPC_PORT" 16 8 \
  driver_invoke "driver:hang,operation:hang" > "$TMP/hung.txt" &
HUNG=$!
sleep 0.5
run ping_while_hung ping "msg:hello" -n "$N" -c 8 -m 8
wait "$HUNG"
echo "   meanwhile, the hung invokes: $(cat "$TMP/hung.txt")"
r=$(/usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -d '{"verb": "driver_list"}' "127.0.0.1:$GRPC_PORT" cam.SyscallService/Execute)
printf '%s\n' "$r" | grep -o 'text_transform:[^,"]*\|kv_cache:[^,"]*' | sed 's/^/   /'
stop_pid "$KERNEL" TERM
