#!/usr/bin/env bash
# Instructions per call (valgrind callgrind's Ir, user space only), of
# cam-kernel's Execute(ping) and Execute(emit_metric) and of nghttpd
# serving an 11-byte file, under the same h2load flags: a CPU-per-call
# comparison that the machine's load does not move (tests/bench/floor.sh
# measures CPU time, which includes the system calls callgrind does not
# see). Each server serves IR_N1 calls in one run and IR_N2 in another;
# the difference over IR_N2 - IR_N1 cancels start, warm-up and stop. Run
# at -c 4 -m 8 and at floor.sh's -c 16 -m 32 (512 streams in flight).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/h2load.sh"
N1=${IR_N1:-2000}; N2=${IR_N2:-12000}
mkdir -p "$TMP/www" && printf 'hello world' >"$TMP/www/index.html"
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/ping.bin" ping "msg:hello"
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/emit.bin" emit_metric \
  "metric_name:bench_events_total,value:1,labels:app=bench"

# ir LABEL KIND CALLS: total Ir of a server run serving 1000 warm-up calls,
# then CALLS more. KIND: ping, emit or file.
ir() {
  local label=$1 kind=$2 calls=$3 port pid url args
  port=$(free_port)
  if [ "$kind" = file ]; then
    start "$label" valgrind --tool=callgrind --callgrind-out-file="$TMP/$label.cg" \
      nghttpd --no-tls -d "$TMP/www" "$port"
    url="http://127.0.0.1:$port/index.html"; args=()
  else
    start "$label" valgrind --tool=callgrind --callgrind-out-file="$TMP/$label.cg" \
      "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/$label.ipc" --data-dir "$TMP/data-$label" --grpc-listen "127.0.0.1:$port" \
      --access-log errors --publish-interval-ms 1000 --grpc-io-threads 1
    url="http://127.0.0.1:$port/cam.SyscallService/Execute"
    args=(-d "$TMP/$kind.bin" "${H[@]}")
  fi
  pid=$LAST_PID
  wait_for 60 bash -c "echo > /dev/tcp/127.0.0.1/$port" 2>/dev/null || { echo "$label did not start" >&2; exit 1; }
  h2load -n 1000 $CM "${args[@]}" "$url" >/dev/null
  h2load -n "$calls" $CM "${args[@]}" "$url" | grep -q "$calls succeeded, 0 failed" ||
    { echo "$label: not every call succeeded" >&2; exit 1; }
  stop_pid "$pid" TERM
  sed -nE 's/^==[0-9]+== Collected : ([0-9]+)$/\1/p' "$TMP/$label.log"
}

for CM in "-c 4 -m 8" "-c 16 -m 32"; do
echo "== instructions per call (valgrind callgrind, user space), h2load $CM, $((N2 - N1)) calls"
unset floor
for kind in ${IR_KINDS:-file ping emit}; do
  tag=$(printf '%s' "$CM" | tr -d ' -')
  lo=$(ir "$kind-lo-$tag" "$kind" "$N1") || exit 1
  hi=$(ir "$kind-hi-$tag" "$kind" "$N2") || exit 1
  per=$(awk -v lo="$lo" -v hi="$hi" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f", (hi - lo) / n }')
  echo "$kind $per" >>"$TMP/ir"
  [ "$kind" = file ] && floor=$per
  floor=${floor:-$per}
  name=$kind; [ "$kind" = file ] && name="nghttpd (11-byte file)"
  [ "$kind" = ping ] && name="cam-kernel Execute(ping)"
  [ "$kind" = emit ] && name="cam-kernel Execute(emit_metric)"
  printf '   %-34s %7s instructions per call  %5.2fx nghttpd\n' "$name" "$per" \
    "$(awk -v a="$per" -v b="$floor" 'BEGIN { print a / b }')"
done
done
