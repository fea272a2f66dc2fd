#!/usr/bin/env bash
# Execute(ping) of two cam-kernel binaries by instructions executed per
# call, counted by valgrind (callgrind's Ir): a measure of CPU per call that
# other processes on the machine do not disturb, for when wall-clock and
# CPU-time figures (tests/bench/ab_ping.sh) are too noisy to compare. Each
# kernel serves a warm-up, then N1 calls in one run and N2 in another; the
# difference of the two totals over N2 - N1 cancels start and stop. Rounds
# alternate A, B. Prints every round and the B/A ratio of the medians.
#
# usage: tests/bench/ab_ping_ir.sh KERNEL_A KERNEL_B [ROUNDS]
#   IR_N1 (2000) and IR_N2 (12000) calls; h2load -c 4 -m 8.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${BUILD:-build}
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/h2load.sh"
A=${1:?usage: ab_ping_ir.sh KERNEL_A KERNEL_B [ROUNDS]}; B=${2:?usage: ab_ping_ir.sh KERNEL_A KERNEL_B [ROUNDS]}
ROUNDS=${3:-3}; N1=${IR_N1:-2000}; N2=${IR_N2:-12000}
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/ping.bin" ping "msg:hello"

# instructions LABEL BINARY CALLS: the kernel's total Ir for a run serving
# 1000 warm-up calls and then CALLS more.
instructions() {
  local label=$1 bin=$2 calls=$3 port pid url
  port=$(free_port)
  start "$label" valgrind --tool=callgrind --callgrind-out-file="$TMP/$label.cg" "$bin" \
    --bus-addr "ipc://$TMP/$label.ipc" --data-dir "$TMP/data-$label" --grpc-listen "127.0.0.1:$port" --access-log errors \
    --publish-interval-ms 1000
  pid=$LAST_PID
  wait_for 60 bash -c "echo > /dev/tcp/127.0.0.1/$port" 2>/dev/null || { echo "$label did not start" >&2; exit 1; }
  url="http://127.0.0.1:$port/cam.SyscallService/Execute"
  h2load -n 1000 -c 4 -m 8 -d "$TMP/ping.bin" "${H[@]}" "$url" >/dev/null
  h2load -n "$calls" -c 4 -m 8 -d "$TMP/ping.bin" "${H[@]}" "$url" | grep -q "$calls succeeded, 0 failed" ||
    { echo "$label: not every call succeeded" >&2; exit 1; }
  stop_pid "$pid" TERM
  grep -q '"success":false' "$TMP/$label.log" && { echo "$label: a call failed" >&2; exit 1; }
  sed -nE 's/^==[0-9]+== Collected : ([0-9]+)$/\1/p' "$TMP/$label.log"
}

median() { sort -n | awk '{a[NR]=$1} END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }

echo "== Execute(ping) instructions per call (valgrind callgrind), ($N2 - $N1 calls), h2load -c 4 -m 8"
echo "   A: $A"
echo "   B: $B"
: > "$TMP/rounds"
for i in $(seq 1 "$ROUNDS"); do
  for k in A B; do
    bin=$A; [ "$k" = B ] && bin=$B
    lo=$(instructions "$k$i-lo" "$bin" "$N1") || exit 1
    hi=$(instructions "$k$i-hi" "$bin" "$N2") || exit 1
    awk -v i="$i" -v k="$k" -v lo="$lo" -v hi="$hi" -v n=$((N2 - N1)) \
      'BEGIN { printf "%s %s %.0f\n", i, k, (hi - lo) / n }' | tee -a "$TMP/rounds"
  done
done
IA=$(awk '$2 == "A" { print $3 }' "$TMP/rounds" | median)
IB=$(awk '$2 == "B" { print $3 }' "$TMP/rounds" | median)
awk -v a="$IA" -v b="$IB" 'BEGIN { printf "median A: %.0f, B: %.0f instructions per call; B/A %.3f\n", a, b, b / a }'
