#!/usr/bin/env bash
# Memory context benchmark: context_write and context_read through gRPC
# (h2load against cam-kernel's Execute) on both backends, side by side with
# redis-benchmark SET/GET on the same redis-server in the same run.
# Throughput from h2load, p50/p99 from its per-request log. h2load only sees
# HTTP 200 (grpc-status is in the trailers), so each run is checked against
# the store itself: the version counter must have moved by the number of
# writes, and a read must succeed.
#
# usage: tests/bench/memctx.sh [BUILD]   (BENCH_N requests per run, default 50000)
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
# Every kernel keeps its state in this test's own folder.
export CAM_DATA_DIR="$TMP/data" XDG_STATE_HOME="$TMP/state"
N=${BENCH_N:-50000}
C=${BENCH_CLIENTS:-8}
M=${BENCH_STREAMS:-8}
read -r -a KARGS <<<"${BENCH_KERNEL_ARGS:-}"   # e.g. BENCH_KERNEL_ARGS="--grpc-workers 8"
VALUE=$(head -c 100 /dev/zero | tr '\0' 'v')   # 100-byte value, like redis-benchmark -d 100
H=(-H 'content-type: application/grpc' -H 'te: trailers')
client() { /usr/bin/python3 "$ROOT/tests/integration/memctx_client.py" "$@"; }
redis_up() { redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; }

percentiles() {
  awk '$2 == 200 {print $3}' "$1" | sort -n | awk '{a[NR]=$1} END {
    if (NR == 0) { print "no samples"; exit }
    printf "p50 %.3f ms  p99 %.3f ms", a[int(NR*0.50)]/1000, a[int(NR*0.99)]/1000 }'
}

# h2run NAME VERB PAYLOAD: one h2load run; prints "req/s  p50  p99".
h2run() {
  local name=$1 verb=$2 payload=$3 rps
  /usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/$name.bin" "$verb" "$payload"
  rps=$(h2load -n "$N" -c "$C" -m "$M" -t 1 -d "$TMP/$name.bin" "${H[@]}" \
    --log-file="$TMP/$name.log" "http://127.0.0.1:$GRPC_PORT/cam.SyscallService/Execute" |
    awk '/finished in/ {for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) print $(i-1)}')
  printf '%-28s %10s req/s   %s\n' "$name" "$rps" "$(percentiles "$TMP/$name.log")"
}

command -v redis-server >/dev/null && command -v h2load >/dev/null ||
  { echo "memctx bench needs redis-server and h2load"; exit 1; }
RPORT=$(free_port)
start redis redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP" --save '' \
  --appendonly no --daemonize no
wait_for 10 redis_up || { echo "redis-server did not start"; exit 1; }

echo "== machine: $(nproc) cores; $N requests per run, h2load $C connections x $M streams, 100-byte values"
echo "== kernel: ${BENCH_KERNEL_ARGS:-default settings (one gRPC worker per core)}"
echo "== redis $(redis-server --version | grep -o 'v=[0-9.]*'), no persistence (same server for every row)"
for backend in memory redis; do
  BUS="ipc://$TMP/bus-$backend.ipc"; GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
  extra=()
  [ $backend = redis ] && extra=(--redis-url "redis://127.0.0.1:$RPORT")
  kernel_start "kernel-$backend" "$BUS" --access-log errors "${extra[@]+"${extra[@]}"}" \
    "${KARGS[@]+"${KARGS[@]}"}"; KERNEL=$LAST_PID
  wait_for 10 client call "$G" ping || { echo "kernel ($backend) did not come up"; exit 1; }
  client call "$G" context_write "namespace:bench-$backend,key:k,value:$VALUE" >/dev/null
  h2run "context_write ($backend)" context_write "namespace:bench-$backend,key:k,value:$VALUE"
  h2run "context_read ($backend)" context_read "namespace:bench-$backend,key:k"
  r=$(client call "$G" context_read "namespace:bench-$backend,key:k")
  ver=$(printf '%s' "$r" | grep -o 'version:[0-9]*' | cut -d: -f2)
  echo "   check: latest version ${ver:-none} (expected $((N + 1)): one per acknowledged write)"
  stop_pid "$KERNEL" TERM
done
redis-benchmark -p "$RPORT" -t set,get -n "$N" -c $((C * M)) -d 100 --csv 2>/dev/null |
  awk -F, 'NR > 1 { gsub(/"/, ""); printf "%-28s %10s req/s   p50 %.3f ms  p99 %.3f ms\n",
    "redis-benchmark " $1, $2, $5, $7 }'
echo "   (redis-benchmark: $((C * M)) connections, one request each in flight, -d 100)"
