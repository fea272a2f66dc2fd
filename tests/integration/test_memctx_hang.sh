#!/usr/bin/env bash
# A Redis that stops answering (SIGSTOP) under load costs the kernel
# bounded memory, and every call meets its deadline. cam-kernel on a real
# redis-server with a Redis timeout (10 s) longer than the hang, so the
# store does not give up on Redis meanwhile: what bounds it is the cap on
# commands in flight per connection (CAM_MEMCTX_REDIS_MAX_IN_FLIGHT, here
# 256, and as many waiting) and each call's deadline. During 8 s of SIGSTOP,
# h2load keeps 1024 calls open (grpc-timeout 500 ms) and 16 grpcio threads
# write with a 0.5 s deadline:
#  - every grpcio call answers DEADLINE_EXCEEDED or UNAVAILABLE, the cap's
#    refusal among the answers; the kernel completed every context_write
#    within 2.5 s, none waiting for the Redis timeout (its operation
#    histogram; the deadline is 0.5 s, the rest the machine's scheduling),
#    and no client waited past its deadline by more than 1 s;
#  - the kernel's RSS, sampled each second, stays within a bound and stops
#    growing;
#  - after SIGCONT writes succeed again, and the kernel never restarted.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
# Every kernel keeps its state in this test's own folder.
export CAM_DATA_DIR="$TMP/data" XDG_STATE_HOME="$TMP/state"
PY=/usr/bin/python3
CC="$PY $ROOT/tests/integration/cluster_client.py"
client() { $PY "$ROOT/tests/integration/memctx_client.py" "$@"; }
json_field() { $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hist() { scrape "$PORT" | awk -v m="$1" '$1 == m { printf "%d\n", $2 }'; }

for c in redis-server h2load; do
  command -v $c >/dev/null || { not_ok "$c is installed (deps/debian.txt)"; finish; exit 1; }
done
RPORT=$(free_port)
start redis redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP" --save '' --appendonly no \
  --daemonize no
REDIS=$LAST_PID
wait_for 10 bash -c "redis-cli -p $RPORT ping | grep -q PONG" || { not_ok "redis-server starts"; finish; exit 1; }
BUS="ipc://$TMP/bus.ipc"; GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"; PORT=$(free_port)
kernel_start kernel "$BUS" --redis-url "redis://127.0.0.1:$RPORT" --memctx-redis-timeout-ms 10000 \
  --memctx-redis-max-in-flight 256 --access-log errors --access-log-error-rate 1; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 client call "$G" ping || { not_ok "kernel starts"; finish; exit 1; }

VALUE=$(head -c 100 /dev/zero | tr '\0' 'v')
$PY "$ROOT/tests/interop/make_ping_body.py" "$TMP/write.bin" context_write "namespace:hang,key:k,value:$VALUE"
load() { # SECONDS: h2load, 16 connections x 64 streams, 500 ms deadline per call
  h2load -D "$1" -c 16 -m 64 -t 1 -d "$TMP/write.bin" -H 'content-type: application/grpc' \
    -H 'te: trailers' -H 'grpc-timeout: 500m' "http://$G/cam.SyscallService/Execute" >"$TMP/h2load.out" 2>&1
}
# Warm up, so pools and buffers are as large as under load before the hang.
load 3
base=$(rss_kb "$KERNEL")
echo "  kernel RSS under load, Redis answering: $((base / 1024)) MiB"

kill -STOP "$REDIS"
load 8 &
H2=$!
$CC deadlines "$G" 8 16 0.5 >"$TMP/deadlines.out" 2>&1 &
DL=$!
samples=()
for i in 1 2 3 4 5 6 7 8; do sleep 1; samples+=("$(rss_kb "$KERNEL")"); done
wait "$DL"; wait "$H2"
kill -CONT "$REDIS"
d=$(cat "$TMP/deadlines.out")
echo "  deadlines: $d"
echo "  kernel RSS each second of the hang (KiB): ${samples[*]}"
max=0; for s in "${samples[@]}"; do [ "$s" -gt "$max" ] && max=$s; done
check "every call answered DEADLINE_EXCEEDED or UNAVAILABLE" \
  bash -c "printf '%s' '$d' | $PY -c 'import json,sys; c=json.load(sys.stdin)[\"codes\"]; sys.exit(0 if c and set(c) <= {\"DEADLINE_EXCEEDED\", \"UNAVAILABLE\"} else 1)'"
sleep 0.5  # the next snapshot holds the last calls
in_1s=$(hist 'cam_os_memory_context_operation_duration_seconds_bucket{op="write",le="1"}')
in_2s=$(hist 'cam_os_memory_context_operation_duration_seconds_bucket{op="write",le="2.5"}')
all=$(hist 'cam_os_memory_context_operation_duration_seconds_count{op="write"}')
echo "  context_write durations: $in_1s within 1 s, $in_2s within 2.5 s, of $all"
check "the kernel completed every context_write within 2.5 s, none waited for the 10 s Redis timeout ($in_2s of $all)" \
  bash -c "[ -n '$all' ] && [ '$all' -gt 0 ] && [ '$in_2s' = '$all' ]"
check "no client waited 1 s past its 0.5 s deadline (slowest $(printf '%s' "$d" | json_field '["slowest_s"]') s)" \
  [ "$(printf '%s' "$d" | $PY -c 'import json,sys; print(1 if json.load(sys.stdin)["slowest_s"] > 1.5 else 0)')" = 0 ]
check "the in-flight cap refused calls at once (CAM_MEMCTX_REDIS_MAX_IN_FLIGHT)" \
  bash -c "printf '%s' '$d' | grep -q 'not taking more' || grep -q 'not taking more' '$TMP/kernel.log'"
# Under AddressSanitizer freed memory waits in its quarantine (256 MiB)
# before it is reused: the bound is that much looser there.
bound=48; grep -q __asan_init "$ROOT/$BUILD/cam-kernel" && bound=$((48 + 256))
check "kernel RSS bounded: at most $bound MiB over the loaded baseline (max $((max / 1024)) MiB, base $((base / 1024)) MiB)" \
  [ $((max - base)) -le $((bound * 1024)) ]
check "kernel RSS stopped growing: the last 4 s added at most 4 MiB (${samples[3]} -> ${samples[7]} KiB)" \
  [ $((samples[7] - samples[3])) -le 4096 ]
wr() { client call "$G" context_write "namespace:hang,key:after,value:ok" | grep -q '^OK'; }
check "after SIGCONT writes succeed again" wait_for 15 wr
check "the kernel never restarted" kill -0 "$KERNEL"
finish
