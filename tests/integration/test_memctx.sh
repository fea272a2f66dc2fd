#!/usr/bin/env bash
# The memory context verbs through gRPC with an independent client (Debian's
# python3-grpcio, memctx_client.py), once per backend: the durable lmdb
# store (the default), in memory, then a real redis-server this test starts on a free port. Then Redis down and
# back: the verbs answer UNAVAILABLE quickly, everything else keeps working,
# and service resumes by itself. Metrics and health through the exporter.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
# Every kernel keeps its state in this test's own folder.
export CAM_DATA_DIR="$TMP/data" XDG_STATE_HOME="$TMP/state"

client() { /usr/bin/python3 "$ROOT/tests/integration/memctx_client.py" "$@"; }
# run_checks CMD...: runs a client check and counts its ok/FAIL lines.
run_checks() {
  local out line
  out=$("$@" 2>&1)
  printf '%s\n' "$out"
  PASSED=$((PASSED + $(printf '%s\n' "$out" | grep -c '^  ok ')))
  FAILED=$((FAILED + $(printf '%s\n' "$out" | grep -c '^  FAIL ')))
  if ! printf '%s\n' "$out" | grep -qE '^  (ok|FAIL) '; then not_ok "client ran: $*"; fi
}
seen() { local m; m=$(scrape "$PORT") && printf '%s\n' "$m" | grep -q -- "$1"; }
sample() { scrape "$PORT" | awk -v m="$1" '$1 == m { print $2 }'; }
health() {
  /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -d '{"detailed": true}' "$G" \
    cam.SyscallService/HealthCheck | tr -d '\n' | grep -o '"name": "Redis Backend",[^}]*'
}
redis_up() { redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; }
start_redis() {
  start redis redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP" --save '' \
    --appendonly yes --appendfsync always --daemonize no
  REDIS=$LAST_PID
  wait_for 10 redis_up
}

LIMITS=(--memctx-max-value-bytes 2048 --memctx-max-keys 4)

for backend in lmdb memory redis; do
  echo "-- backend: $backend"
  BUS="ipc://$TMP/bus-$backend.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
  G="127.0.0.1:$GRPC_PORT"
  extra=()
  [ $backend = memory ] && extra=(--memctx-backend memory)
  if [ $backend = redis ]; then
    command -v redis-server >/dev/null || { not_ok "redis-server is installed"; break; }
    RPORT=$(free_port)
    start_redis || { not_ok "redis-server starts"; break; }
    extra=(--redis-url "redis://127.0.0.1:$RPORT" --memctx-redis-timeout-ms 300 --memctx-redis-ping-ms 200)
  fi
  kernel_start "kernel-$backend" "$BUS" "${LIMITS[@]}" "${extra[@]+"${extra[@]}"}"; KERNEL=$LAST_PID
  exporter_start "exporter-$backend" "$BUS" "$PORT"; EXPORTER=$LAST_PID
  wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "$backend: kernel and exporter start"; continue; }

  run_checks client check "$G" $backend
  run_checks client race "$G" 16 15

  check "$backend: operations counted by op and status" \
    wait_for 5 seen 'cam_os_memory_context_operations_total{op="write",status="ok"}'
  check "$backend: ABORTED and RESOURCE_EXHAUSTED counted" \
    bash -c "$(declare -f scrape); m=\$(scrape $PORT); printf '%s' \"\$m\" | grep -q 'op=\"write\",status=\"ABORTED\"' && printf '%s' \"\$m\" | grep -q 'op=\"write\",status=\"RESOURCE_EXHAUSTED\"'"
  check "$backend: versions_total counts writes" \
    bash -c "v=\$($(declare -f scrape); scrape $PORT | awk '\$1==\"cam_os_memory_context_versions_total\" {print \$2}'); [ \"\${v%.*}\" -ge 10 ]"
  check "$backend: size gauge labelled backend=$backend" wait_for 5 seen "cam_os_memory_context_size_bytes{backend=\"$backend\"}"
  check "$backend: operation duration histogram" wait_for 5 seen 'cam_os_memory_context_operation_duration_seconds_count{op="read"}'
  check "$backend: reconnects counter exported" wait_for 5 seen '^cam_os_memory_context_reconnects_total '
  check "$backend: access log never carries values" bash -c "! grep -q 'find water' '$TMP/kernel-$backend.log'"
  h=$(health)
  if [ $backend != redis ]; then
    check "$backend: Redis Backend component is disabled" bash -c "printf '%s' '$h' | grep -q '\"status\": \"disabled\"'"
  else
    check "redis: Redis Backend component is healthy with PING latency" \
      bash -c "printf '%s' '$h' | grep -q '\"status\": \"healthy\"' && printf '%s' '$h' | grep -q PING"

    # Redis down: UNAVAILABLE quickly, the rest of the kernel unaffected.
    client call "$G" context_write "namespace:persist,key:k,value:kept" >/dev/null
    stop_pid "$REDIS" KILL
    t0=$(date +%s%N)
    r=$(client call "$G" context_write "namespace:down,key:k,value:v")
    t1=$(date +%s%N)
    check "redis down: context_write answers UNAVAILABLE" bash -c "printf '%s' '$r' | grep -q '^UNAVAILABLE'"
    check "redis down: within a second ($(( (t1 - t0) / 1000000 )) ms with client start)" [ $(( (t1 - t0) / 1000000 )) -lt 1500 ]
    r=$(client call "$G" context_read "namespace:down,key:k")
    check "redis down: context_read answers UNAVAILABLE" bash -c "printf '%s' '$r' | grep -q '^UNAVAILABLE'"
    r=$(client call "$G" ping "msg:still here")
    check "redis down: ping still works" bash -c "printf '%s' '$r' | grep -q '^OK'"
    sleep 0.5
    h=$(health)
    check "redis down: Redis Backend component unhealthy" bash -c "printf '%s' '$h' | grep -q '\"status\": \"unhealthy\"'"
    check "redis down: UNAVAILABLE counted" wait_for 5 seen 'cam_os_memory_context_operations_total{op="write",status="UNAVAILABLE"}'
    start_redis || not_ok "redis-server restarts"
    wr() { client call "$G" context_write "namespace:down,key:k,value:back" | grep -q '^OK'; }
    check "redis back: service resumes by itself" wait_for 10 wr
    r=$(client call "$G" context_read "namespace:persist,key:k")
    check "redis back: data acknowledged before the kill is still there" \
      bash -c "printf '%s' '$r' | grep -q 'value:kept'"
    reconnected() { local v; v=$(sample cam_os_memory_context_reconnects_total); [ "${v%.*}" -ge 1 ]; }
    check "redis back: reconnects counted" wait_for 5 reconnected
    check "redis back: kernel never crashed" kill -0 "$KERNEL"
  fi
  stop_pid "$EXPORTER"
  stop_pid "$KERNEL"
done
finish
