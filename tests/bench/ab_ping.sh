#!/usr/bin/env bash
# Execute(ping) of two cam-kernel binaries side by side, to compare a
# change with its base in one run: rounds alternate A, B, A, B..., each a
# fresh kernel pinned to one core and h2load pinned to another, with the
# same flags. Per round: throughput (h2load's req/s) and the kernel's CPU
# time per call (utime + stime from /proc/PID/stat over the run, divided by
# the calls). Prints every round, then the medians and B/A ratios.
#
# usage: tests/bench/ab_ping.sh KERNEL_A KERNEL_B [ROUNDS]
#   BENCH_N (200000) calls per round, KERNEL_CPU (0) and LOAD_CPU (1).
# Every call must succeed: the kernels run with --access-log errors, and an
# error line in a kernel's log fails the run.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${BUILD:-build}
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/h2load.sh"
A=${1:?usage: ab_ping.sh KERNEL_A KERNEL_B [ROUNDS]}; B=${2:?usage: ab_ping.sh KERNEL_A KERNEL_B [ROUNDS]}
ROUNDS=${3:-5}; N=${BENCH_N:-200000}
KCPU=${KERNEL_CPU:-0}; LCPU=${LOAD_CPU:-1}
HZ=$(getconf CLK_TCK)
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/ping.bin" ping "msg:hello"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# round LABEL BINARY: one kernel, a warm-up, one measured h2load run.
round() {
  local label=$1 bin=$2 port pid t0 t1 out rps
  port=$(free_port)
  start "$label" taskset -c "$KCPU" "$bin" --bus-addr "ipc://$TMP/$label.ipc" --data-dir "$TMP/data-$label" \
    --grpc-listen "127.0.0.1:$port" --access-log errors --publish-interval-ms 1000
  pid=$LAST_PID
  wait_for 10 bash -c "echo > /dev/tcp/127.0.0.1/$port" 2>/dev/null || { echo "$label did not start"; exit 1; }
  URL="http://127.0.0.1:$port/cam.SyscallService/Execute"
  taskset -c "$LCPU" h2load -n 20000 -c 16 -m 32 -d "$TMP/ping.bin" "${H[@]}" "$URL" >/dev/null
  t0=$(ticks "$pid")
  out=$(taskset -c "$LCPU" h2load -n "$N" -c 16 -m 32 -d "$TMP/ping.bin" "${H[@]}" "$URL")
  t1=$(ticks "$pid")
  stop_pid "$pid" TERM
  if grep -q '"success":false' "$TMP/$label.log"; then
    echo "$label: a call failed:"; grep -m3 '"success":false' "$TMP/$label.log"; exit 1
  fi
  printf "%s\n" "$out" | grep -q "$N succeeded, 0 failed, 0 errored" || { echo "$label: h2load: $out"; exit 1; }
  rps=$(printf '%s\n' "$out" | sed -nE 's/.*finished in [0-9.]+[a-z]+, ([0-9.]+) req\/s.*/\1/p')
  awk -v l="$1" -v r="$rps" -v d=$((t1 - t0)) -v hz="$HZ" -v n="$N" \
    'BEGIN { printf "%s %.0f %.3f\n", l, r, d / hz * 1e6 / n }'
}

median() { sort -n | awk '{a[NR]=$1} END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }

echo "== Execute(ping), h2load -n $N -c 16 -m 32 (after a 20000-call warm-up), kernel on CPU $KCPU, h2load on CPU $LCPU"
echo "   A: $A"
echo "   B: $B"
echo "round kernel req/s cpu_us_per_call"
: > "$TMP/rounds"
for i in $(seq 1 "$ROUNDS"); do
  for k in A B; do
    bin=$A; [ "$k" = B ] && bin=$B
    r=$(round "$k$i" "$bin") || { echo "$r"; exit 1; }
    echo "$i $r" | tee -a "$TMP/rounds"
  done
done
for k in A B; do
  rps=$(awk -v k="$k" '$2 ~ "^"k { print $3 }' "$TMP/rounds" | median)
  cpu=$(awk -v k="$k" '$2 ~ "^"k { print $4 }' "$TMP/rounds" | median)
  echo "median $k: $rps req/s, $cpu us CPU per call"
  eval "RPS_$k=$rps CPU_$k=$cpu"
done
awk -v ra="$RPS_A" -v rb="$RPS_B" -v ca="$CPU_A" -v cb="$CPU_B" \
  'BEGIN { printf "B/A: throughput %.3f, CPU per call %.3f\n", rb / ra, cb / ca }'
