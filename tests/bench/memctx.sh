#!/usr/bin/env bash
# Memory context benchmark (issues 7 and 28): context_write and
# context_read through gRPC (build/tests/tools/grpc_load against
# cam-kernel's Execute: 8 connections x 8 streams, 100-byte values, a call
# counted only with grpc-status 0), side by side in one run with what the
# same redis-server does by itself at the same concurrency:
#
#  1. one Redis: the memory backend for reference; the Redis backend; and
#     redis-benchmark with 64 connections running the kernel's own write and
#     read scripts (EVALSHA, the same keys, arguments and value size; the
#     scripts and slot tags from build/tests/tools/redis_script), then plain
#     SET / GET. Targets: kernel >= 0.8 x redis-benchmark's scripts in
#     calls/s, p50 <= 1.5 x theirs.
#  2. the same Redis with one replica: context_write with
#     CAM_REDIS_MIN_REPLICAS_ACK=0 and =1 (one WAIT per batch). Target: with
#     the WAIT >= 0.5 x without.
#  3. Redis Cluster: context_write over 64 namespaces (request i writes
#     namespace i % 64) on a cluster of 1 master, then of 3 masters. Target:
#     3 masters >= 1.5 x 1.
#
# Each comparison runs BENCH_ROUNDS (3) rounds that alternate its two sides,
# so that the load others put on the machine weighs on both alike, and
# gives the median of the rounds' ratios. Each kernel row also gives the
# CPU time per call of the kernel, of the
# redis-server(s) and of the load generator (utime + stime from /proc), so
# what the machine could give is plain: on 2 cores the three share them.
# Every process is started and stopped by PID (lib.sh).
#
# usage: tests/bench/memctx.sh [BUILD]   (BENCH_N requests per run, default 50000)
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
# Every kernel keeps its state in this run's own folder.
export CAM_DATA_DIR="$TMP/data" XDG_STATE_HOME="$TMP/state"
N=${BENCH_N:-50000}
C=${BENCH_CLIENTS:-8}
M=${BENCH_STREAMS:-8}
read -r -a KARGS <<<"${BENCH_KERNEL_ARGS:-}"   # e.g. BENCH_KERNEL_ARGS="--grpc-workers 8"
VALUE=$(head -c 100 /dev/zero | tr '\0' 'v')   # 100-byte value, like redis-benchmark -d 100
TOOL="$ROOT/$BUILD/tests/tools/redis_script"
LOAD="$ROOT/$BUILD/tests/tools/grpc_load"
client() { /usr/bin/python3 "$ROOT/tests/integration/memctx_client.py" "$@"; }
rcli() { redis-cli -p "$1" "${@:2}" 2>/dev/null; }
redis_up() { rcli "$1" ping | grep -q PONG; }

cpu_s() { # PID...: their utime + stime, in seconds
  local p t=0
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  awk -v t=$t -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}
# row NAME RPS P50 P99 [CPU]: one line of the table.
declare -A RPS P50
row() {
  RPS[$1]=$2; P50[$1]=$3
  printf '%-42s %8.0f calls/s  p50 %6s ms  p99 %6s ms  %s\n' "$1" "$2" "$3" "$4" "${5:-}"
}
# run NAME VERB PAYLOAD [VARIANTS]: one grpc_load run against $GRPC_PORT,
# with the CPU per call of the kernel, the redis-server(s) in $RPIDS and
# the load generator.
run() {
  local name=$1 k0 r0 out cpu rps p50 p99
  k0=$(cpu_s "$KERNEL"); r0=$(cpu_s $RPIDS)
  out=$( { TIMEFORMAT='client %U %S'; time "$LOAD" -c "$C" -m "$M" -n "$N" -k "${4:-1}" \
    "127.0.0.1:$GRPC_PORT" "$2" "$3"; } 2>&1)
  cpu=$(awk -v k="$(cpu_s "$KERNEL")" -v k0="$k0" -v r="$(cpu_s $RPIDS)" -v r0="$r0" -v n="$N" \
    '/^client/ { c = $2 + $3 } END { printf "cpu us/call: kernel %.1f, redis %.1f, client %.1f",
      (k - k0) * 1e6 / n, (r - r0) * 1e6 / n, c * 1e6 / n }' <<<"$out")
  read -r rps p50 p99 < <(awk '/^requests/ { print $7, $10, $13 }' <<<"$out")
  row "$name" "${rps:-0}" "${p50:--}" "${p99:--}" "$cpu"
  grep -q ' failed 0 ' <<<"$out" || echo "   FAILED calls: $(grep -E '^(requests|first)' <<<"$out" | tr '\n' ' ')"
}
# kstart NAME ARGS...: a kernel on a new port, serving; sets KERNEL, GRPC_PORT.
kstart() {
  local name=$1; shift
  GRPC_PORT=$(free_port)
  kernel_start "$name" "ipc://$TMP/$name.ipc" --access-log errors "$@" \
    "${KARGS[@]+"${KARGS[@]}"}"; KERNEL=$LAST_PID
  wait_for 10 client call "127.0.0.1:$GRPC_PORT" ping || { echo "kernel $name did not come up"; exit 1; }
}
# versions NS: the namespace's latest version of key k (the writes it took).
versions() { client call "127.0.0.1:$GRPC_PORT" context_read "namespace:$1,key:k" | grep -o 'version:[0-9]*' | cut -d: -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
redis_start() { # NAME PORT [ARGS...]: sets LAST_PID
  local name=$1 port=$2; shift 2
  mkdir -p "$TMP/$name"
  start "$name" redis-server --port "$port" --bind 127.0.0.1 --dir "$TMP/$name" --save '' \
    --appendonly no --daemonize no "$@"
  wait_for 10 redis_up "$port" || { echo "redis-server $name did not start"; exit 1; }
}

for c in redis-server redis-benchmark; do
  command -v $c >/dev/null || { echo "memctx bench needs $c (deps/debian.txt)"; exit 1; }
done
[ -x "$TOOL" ] && [ -x "$LOAD" ] || { echo "memctx bench needs $TOOL and $LOAD (make tools)"; exit 1; }
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $N calls per run, $C connections x $M streams, 100-byte values"
echo "== kernel: ${BENCH_KERNEL_ARGS:-default settings} (CAM_MEMCTX_REDIS_IO_THREADS 1, MAX_IN_FLIGHT 1024)"
echo "== redis $(redis-server --version | grep -o 'v=[0-9.]*'), no persistence"

# use NAME: the next runs go to kernel NAME (kstart'ed as NAME).
declare -A KPID KPORT
use() { KERNEL=${KPID[$1]}; GRPC_PORT=${KPORT[$1]}; }
kstart_as() { kstart "$@"; KPID[$1]=$KERNEL; KPORT[$1]=$GRPC_PORT; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A RATIOS
# note KEY RATIO: one round's ratio, for the median at the end.
note() { RATIOS[$1]="${RATIOS[$1]:-} $2"; }
summary() { # KEY TEXT TARGET
  local r; r=$(median ${RATIOS[$1]})
  echo "   $2: median $r x over $ROUNDS rounds (each: ${RATIOS[$1]# }) (target $3)"
}
ROUNDS=${BENCH_ROUNDS:-3}

# --------------------------------------------------------------- 1. one Redis
echo "-- 1. one Redis: the kernel against redis-benchmark running the kernel's scripts"
RPORT=$(free_port)
redis_start redis "$RPORT"; REDIS=$LAST_PID; RPIDS=$REDIS
kstart_as k-memory --memctx-backend memory
client call "127.0.0.1:$GRPC_PORT" context_write "namespace:bench,key:k,value:$VALUE" >/dev/null
run "context_write, memory backend" context_write "namespace:bench,key:k,value:$VALUE"
run "context_read, memory backend" context_read "namespace:bench,key:k"
stop_pid "$KERNEL"
kstart_as k-redis --redis-url "redis://127.0.0.1:$RPORT"
client call "127.0.0.1:$GRPC_PORT" context_write "namespace:bench,key:k,value:$VALUE" >/dev/null
# The kernel's scripts as redis-benchmark's commands: the keys of
# namespace "bench", the arguments the kernel sends for a 100-byte value
# (expected -1: any; keep 10; 10000 keys; the byte limit's room; the time).
wsha=$(rcli "$RPORT" script load "$("$TOOL" write)")
rsha=$(rcli "$RPORT" script load "$("$TOOL" read)")
tag=$("$TOOL" --tag bench)
WKEYS=("cam:v2:{bench}" "cam:v2:{bench}:idx" "cam:v2:{bench}:val" "cam:v2:{$tag}:used")
rb() { # NAME ARGS...: redis-benchmark at the kernel's concurrency
  local rps p50 p99 r0 r1
  r0=$(cpu_s "$REDIS")
  read -r rps p50 p99 < <(redis-benchmark -p "$RPORT" -c $((C * M)) -n "$N" --csv "${@:2}" 2>/dev/null |
    awk -F, 'NR > 1 { gsub(/"/, ""); print $2, $5, $7 }')
  r1=$(cpu_s "$REDIS")
  row "$1" "${rps:-0}" "${p50:--}" "${p99:--}" "$(awk -v a="$r0" -v b="$r1" -v n="$N" \
    'BEGIN { printf "cpu us/call: redis %.1f", (b - a) * 1e6 / n }')"
}
# Rounds alternate the kernel and redis-benchmark, so that the load others
# put on the machine weighs on both sides of each ratio alike.
for round in $(seq 1 "$ROUNDS"); do
  use k-redis
  v0=$(versions bench)
  run "context_write, Redis #$round" context_write "namespace:bench,key:k,value:$VALUE"
  v1=$(versions bench)
  [ $((v1 - v0)) = "$N" ] || echo "   FAILED check: $((v1 - v0)) versions written, not $N"
  rb "redis-benchmark EVALSHA write script #$round" EVALSHA "$wsha" 4 "${WKEYS[@]}" k "$VALUE" -1 10 \
    10000 268435456 "$(date +%s)000" bench 0 0
  run "context_read, Redis #$round" context_read "namespace:bench,key:k"
  rb "redis-benchmark EVALSHA read script #$round" EVALSHA "$rsha" 2 "cam:v2:{bench}:idx" \
    "cam:v2:{bench}:val" k 0
  for op in write read; do
    k="context_${op}, Redis #$round"; b="redis-benchmark EVALSHA $op script #$round"
    note "$op-rps" "$(ratio "${RPS[$k]}" "${RPS[$b]}")"
    note "$op-p50" "$(ratio "${P50[$k]}" "${P50[$b]}")"
  done
done
rb "redis-benchmark SET" SET "bench:k" "$VALUE"
rb "redis-benchmark GET" GET "bench:k"
echo "   (redis-benchmark: $((C * M)) connections, one request each in flight, -d 100)"
echo "   every round checked: the write runs made $N versions each"
summary write-rps "context_write / redis-benchmark's write script, calls/s" ">= 0.8"
summary write-p50 "context_write / redis-benchmark's write script, p50" "<= 1.5"
summary read-rps "context_read / redis-benchmark's read script, calls/s" ">= 0.8"
summary read-p50 "context_read / redis-benchmark's read script, p50" "<= 1.5"
stop_pid "$KERNEL"
stop_pid "$REDIS"

# ----------------------------------------------------- 2. WAIT for a replica
echo "-- 2. one replica: context_write without and with CAM_REDIS_MIN_REPLICAS_ACK=1"
RPORT=$(free_port); R2=$(free_port)
redis_start primary "$RPORT"; P1=$LAST_PID
redis_start replica "$R2" --replicaof 127.0.0.1 "$RPORT"; P2=$LAST_PID; RPIDS="$P1 $P2"
wait_for 20 bash -c "redis-cli -p $R2 info replication | grep -q master_link_status:up" ||
  echo "   (the replica did not come up)"
for acks in 0 1; do
  kstart_as "k-acks$acks" --redis-url "redis://127.0.0.1:$RPORT" --redis-min-replicas-ack "$acks"
  client call "127.0.0.1:$GRPC_PORT" context_write "namespace:acks$acks,key:k,value:$VALUE" >/dev/null
done
for round in $(seq 1 "$ROUNDS"); do
  for acks in 0 1; do
    use "k-acks$acks"
    run "context_write, MIN_REPLICAS_ACK=$acks #$round" context_write "namespace:acks$acks,key:k,value:$VALUE"
  done
  note acks "$(ratio "${RPS[context_write, MIN_REPLICAS_ACK=1 #$round]}" "${RPS[context_write, MIN_REPLICAS_ACK=0 #$round]}")"
done
summary acks "with WAIT for 1 replica / without, calls/s" ">= 0.5"
for acks in 0 1; do stop_pid "${KPID[k-acks$acks]}"; done
stop_pid "$P2"; stop_pid "$P1"

# ------------------------------------------------------------ 3. Redis Cluster
echo "-- 3. Redis Cluster: context_write over 64 namespaces, 1 master against 3 masters"
bus_free_port() {
  local p
  while :; do
    p=$(free_port)
    [ $((p + 10000)) -le 65535 ] || continue
    /usr/bin/python3 -c "import socket; socket.socket().bind(('127.0.0.1', $((p + 10000))))" 2>/dev/null && break
  done
  echo "$p"
}
cluster_ok() { rcli "$1" cluster info | grep -q cluster_state:ok; }
declare -A CPIDS
for masters in 1 3; do
  ports=(); pids=()
  for i in $(seq 1 "$masters"); do
    p=$(bus_free_port); ports+=("$p")
    redis_start "c$masters-$i" "$p" --cluster-enabled yes --cluster-config-file nodes.conf; pids+=("$LAST_PID")
  done
  CPIDS[$masters]="${pids[*]}"
  if [ "$masters" = 1 ]; then  # redis-cli --cluster create wants 3 masters at least
    rcli "${ports[0]}" cluster addslotsrange 0 16383 >/dev/null
  else
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-yes </dev/null \
      >"$TMP/create$masters.log" 2>&1
  fi
  wait_for 20 cluster_ok "${ports[0]}" || echo "   (cluster of $masters did not come up)"
  kstart_as "k-cluster$masters" --redis-cluster "$(printf '127.0.0.1:%s,' "${ports[@]}" | sed 's/,$//')"
done
for round in $(seq 1 "$ROUNDS"); do
  for masters in 1 3; do
    use "k-cluster$masters"; RPIDS=${CPIDS[$masters]}
    run "context_write, 64 namespaces, $masters master(s) #$round" context_write \
      "namespace:spread-%d,key:k,value:$VALUE" 64
  done
  note cluster "$(ratio "${RPS[context_write, 64 namespaces, 3 master(s) #$round]}" "${RPS[context_write, 64 namespaces, 1 master(s) #$round]}")"
done
for masters in 1 3; do
  use "k-cluster$masters"
  writes=0; for i in $(seq 0 63); do writes=$((writes + $(versions "spread-$i"))); done
  echo "   check, $masters master(s): $writes versions written over 64 namespaces (expected $((N * ROUNDS)))"
  stop_pid "$KERNEL"
  for p in ${CPIDS[$masters]}; do stop_pid "$p"; done
done
summary cluster "3 masters / 1 master, calls/s" ">= 1.5"
