#!/usr/bin/env bash
# Nothing acknowledged is ever lost: cam-kernel on a real redis-server (AOF,
# appendfsync always) under a write load of 8 gRPC streams. Redis is killed
# with SIGKILL in the middle of the load and restarted; then it is hung with
# SIGSTOP for longer than the kernel's Redis timeout and resumed. After each,
# every write the kernel acknowledged reads back intact at its version, the
# kernel is still up, and its counters show the failures.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
# Every kernel keeps its state in this test's own folder.
export CAM_DATA_DIR="$TMP/data" XDG_STATE_HOME="$TMP/state"

client() { /usr/bin/python3 "$ROOT/tests/integration/memctx_client.py" "$@"; }
run_checks() {
  local out
  out=$("$@" 2>&1)
  printf '%s\n' "$out"
  PASSED=$((PASSED + $(printf '%s\n' "$out" | grep -c '^  ok ')))
  FAILED=$((FAILED + $(printf '%s\n' "$out" | grep -c '^  FAIL ')))
  printf '%s\n' "$out" | grep -qE '^  (ok|FAIL) ' || not_ok "client ran: $*"
}
sample() { scrape "$PORT" | awk -v m="$1" '$1 == m { v = $2 } END { printf "%d\n", v }'; }
redis_up() { redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; }
start_redis() {
  start redis redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP" --save '' \
    --appendonly yes --appendfsync always --daemonize no
  REDIS=$LAST_PID
  wait_for 10 redis_up
}

command -v redis-server >/dev/null || { not_ok "redis-server is installed"; finish; exit 1; }
RPORT=$(free_port); BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
G="127.0.0.1:$GRPC_PORT"
start_redis || { not_ok "redis-server starts"; finish; exit 1; }
kernel_start kernel "$BUS" --redis-url "redis://127.0.0.1:$RPORT" --memctx-redis-timeout-ms 500 \
  --memctx-keep-versions 1000 --memctx-max-keys 1000; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }

# fault NAME ACTION...: a load of 7 s with ACTION done 2 s in.
fault() {
  local name=$1; shift
  client load "$G" 7 "$TMP/acks-$name" 8 > "$TMP/load-$name.out" 2>&1 &
  local load=$!
  sleep 2
  "$@"
  wait "$load"
  cat "$TMP/load-$name.out"
  check "$name: the load saw failures while Redis was away" grep -q UNAVAILABLE "$TMP/load-$name.out"
  check "$name: and successes" grep -q 'OK [1-9]' "$TMP/load-$name.out"
  run_checks client verify "$G" "$TMP/acks-$name"
  check "$name: kernel still running" kill -0 "$KERNEL"
}
kill_and_restart() {
  echo "  (kill -9 redis, restart 1.5 s later)"
  stop_pid "$REDIS" KILL
  sleep 1.5
  start_redis || not_ok "redis-server restarts"
}
hang_and_resume() {
  echo "  (SIGSTOP redis for 2 s, past the 500 ms timeout)"
  kill -STOP "$REDIS"
  sleep 2
  kill -CONT "$REDIS"
}

fault kill9 kill_and_restart
unavail1=$(sample 'cam_os_memory_context_operations_total{op="write",status="UNAVAILABLE"}')
check "kill9: UNAVAILABLE writes counted ($unavail1)" [ "$unavail1" -gt 0 ]
reconnected() { [ "$(sample cam_os_memory_context_reconnects_total)" -gt 0 ]; }
check "kill9: reconnects counted" wait_for 10 reconnected
fault sigstop hang_and_resume
sleep 0.5
unavail2=$(sample 'cam_os_memory_context_operations_total{op="write",status="UNAVAILABLE"}')
check "sigstop: more UNAVAILABLE writes counted ($unavail1 -> $unavail2)" [ "$unavail2" -gt "$unavail1" ]
check "sigstop: the error log names the timeout" grep -q 'did not answer within 500 ms' "$TMP/kernel.log"
secret=$(printf '0-1-' | sha256sum | cut -c1-16)  # inside the first value thread 0 wrote
check "values never reach the log" bash -c "! grep -q '$secret' '$TMP/kernel.log'"
finish
