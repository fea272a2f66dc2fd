#!/usr/bin/env bash
# The kernel against the HTTP/2 floor: cam-kernel's Execute and nghttpd
# (Debian's nghttp2-server, the library the kernel is built on) serving an
# 11-byte file, side by side in one run, under the same h2load flags and
# pinning, in interleaved rounds. Reports calls/s and the server's CPU per
# call (utime + stime from /proc, over the requests done, and each apart),
# and their ratio; then open-loop latency at 50k calls/s, unpinned, for
# -m 1 and -m 8, with h2load's own CPU (one h2load thread drives all 16
# clients: at ~100% of a core it, not the server, sets the rate).
#
# Each ratio is taken within a round (the two runs back to back) and the
# median of the rounds' ratios is reported with their range: the machine's
# speed drifts between rounds more than between two neighbouring runs.
#
# FLOOR_ROUNDS (5), FLOOR_OPEN_ROUNDS (3), FLOOR_N (100000). Needs 2 CPUs for the pinned part:
# server on CPU 1, h2load on CPU 0.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/h2load.sh"
ROUNDS=${FLOOR_ROUNDS:-5}
OPEN_ROUNDS=${FLOOR_OPEN_ROUNDS:-3}
N=${FLOOR_N:-100000}
TCK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }

mkdir -p "$TMP/www" && printf 'hello world' >"$TMP/www/index.html"
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/ping.bin" ping "msg:hello"
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/emit.bin" emit_metric \
  "metric_name:bench_events_total,value:1,labels:app=bench"

# serve NAME PIN ARGS...: starts a server under taskset (PIN may be "").
kernel_up() { # kernel_up NAME CPUS IO_THREADS
  local port; port=$(free_port)
  if [ -n "$2" ]; then
    start "$1" taskset -c "$2" "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/$1.ipc" --data-dir "$TMP/data-$1" \
      --grpc-listen "127.0.0.1:$port" --access-log errors --grpc-io-threads "$3"
  else
    start "$1" "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/$1.ipc" --data-dir "$TMP/data-$1" \
      --grpc-listen "127.0.0.1:$port" --access-log errors --grpc-io-threads "$3"
  fi
  SPID=$LAST_PID; SPORT=$port
  wait_for 10 bash -c "echo > /dev/tcp/127.0.0.1/$port" 2>/dev/null
}
nghttpd_up() { # nghttpd_up NAME CPUS
  local port; port=$(free_port)
  if [ -n "$2" ]; then
    start "$1" taskset -c "$2" nghttpd --no-tls -d "$TMP/www" "$port"
  else
    start "$1" nghttpd --no-tls -d "$TMP/www" "$port"
  fi
  SPID=$LAST_PID; SPORT=$port
  wait_for 10 bash -c "echo > /dev/tcp/127.0.0.1/$port" 2>/dev/null
}

# pct LOG Q: the Q quantile of the request times in an h2load log, ms.
pct() { awk '{print $3}' "$1" | sort -n | awk -v q="$2" '{a[NR]=$1} END { printf "%.3f", a[int(NR*q)]/1000 }'; }
# Fields of a results line: 1 label, 2 round, 3 calls/s, 4 us CPU/call,
# 5 us system CPU/call, 6 h2load CPU %, 7 p50 ms, 8 p99 ms.
median() { grep "^$1 " "$TMP/results" | awk '{print $'"$2"'}' | sort -n |
  awk '{a[NR]=$1} END { print NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
# ratio A B FIELD: "median (min-max)" of A's FIELD over B's, round by round.
ratio() {
  awk -v a="$1" -v b="$2" -v f="$3" '$1 == a { x[$2] = $f } $1 == b { y[$2] = $f }
    END { for (r in x) if (r in y && y[r] > 0) v[++n] = x[r] / y[r]
          for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
          med = n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
          if (n) printf "%.2fx (%.2f-%.2f over %d rounds)", med, v[1], v[n], n; else printf "?" }' "$TMP/results"
}

# measure LABEL KIND BODY H2LOAD_ARGS...: one h2load run; prints calls/s,
# server CPU per call, and latency percentiles. KIND grpc or file.
measure() {
  local label=$1 kind=$2 body=$3; shift 3
  local url t0 t1 s0 s1 out rps done_n
  if [ "$kind" = grpc ]; then
    url="http://127.0.0.1:$SPORT/cam.SyscallService/Execute"
    set -- "$@" -d "$body" "${H[@]}"
  else
    url="http://127.0.0.1:$SPORT/index.html"
  fi
  local log="$TMP/$label.r${R:-1}.log"
  rm -f "$log"
  t0=$(cpu_ticks "$SPID"); s0=$(sys_ticks "$SPID")
  out=$(/usr/bin/time -f 'h2load_cpu %P' ${PIN_CLIENT:+taskset -c $PIN_CLIENT} h2load "$@" \
    --log-file="$log" "$url" 2>&1)
  t1=$(cpu_ticks "$SPID"); s1=$(sys_ticks "$SPID")
  rps=$(printf '%s\n' "$out" | sed -n 's/.*finished in .*, \([0-9.]*\) req\/s.*/\1/p')
  done_n=$(printf '%s\n' "$out" | sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p')
  [ -n "$done_n" ] && [ "$done_n" -gt 0 ] || { echo "   $label: h2load failed: $(printf '%s' "$out" | tail -3)"; return; }
  local us sys hcpu
  us=$(awk -v d="$((t1 - t0))" -v t="$TCK" -v n="$done_n" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  sys=$(awk -v d="$((s1 - s0))" -v t="$TCK" -v n="$done_n" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  hcpu=$(printf '%s\n' "$out" | sed -n 's/^h2load_cpu \([0-9]*\)%.*/\1/p')
  printf '   %-28s %9.0f calls/s  %6s us CPU/call (%s sys)  h2load %s%%  %s\n' "$label" "${rps:-0}" \
    "$us" "$sys" "${hcpu:-?}" "$(percentiles "$log")"
  echo "$label ${R:-1} $rps $us $sys ${hcpu:-0} $(pct "$log" 0.50) $(pct "$log" 0.99)" >>"$TMP/results"
}

echo "== pinned: server on CPU 1, h2load on CPU 0, -n $N -c 16 -m 32, $ROUNDS interleaved rounds"
PIN_CLIENT=0
kernel_up k1 1 1; K1=$SPID; K1P=$SPORT
kernel_up k2 1 2; K2=$SPID; K2P=$SPORT
nghttpd_up ng 1; NG=$SPID; NGP=$SPORT
for R in $(seq 1 "$ROUNDS"); do
  SPID=$K1 SPORT=$K1P measure "kernel.ping.1io" grpc "$TMP/ping.bin" -n "$N" -c 16 -m 32
  SPID=$NG SPORT=$NGP measure "nghttpd.file" file "" -n "$N" -c 16 -m 32
  SPID=$K1 SPORT=$K1P measure "kernel.emit_metric.1io" grpc "$TMP/emit.bin" -n "$N" -c 16 -m 32
  SPID=$K2 SPORT=$K2P measure "kernel.ping.2io" grpc "$TMP/ping.bin" -n "$N" -c 16 -m 32
done
stop_pid "$K1"; stop_pid "$K2"; stop_pid "$NG"

echo "== summary (medians over rounds; ratios within each round)"
for l in kernel.ping.1io kernel.emit_metric.1io kernel.ping.2io nghttpd.file; do
  printf '   %-24s %9.0f calls/s  %6s us CPU/call (%s sys)  h2load at %s%% of its core  %s nghttpd\n' \
    "$l" "$(median "$l" 3)" "$(median "$l" 4)" "$(median "$l" 5)" "$(median "$l" 6)" \
    "$(ratio "$l" nghttpd.file 4)"
done
# h2load near 100% of CPU 0: the client is at its own limit as well.
printf '   2 I/O threads vs 1: CPU per call %s (target within 1.10x)\n' \
  "$(ratio kernel.ping.2io kernel.ping.1io 4)"

echo "== open loop, 50k calls/s (16 clients x 3125/s), unpinned, h2load on the same machine"
# nghttpd serves with one thread; the kernel is measured with one I/O
# thread too (the same thread count) and with its default (one per core):
# on a 2-core machine that h2load shares, two I/O threads and h2load's
# are three runnable threads on two cores, and the tail is the wait for a
# time slice.
PIN_CLIENT=
kernel_up k3 "" 1; K3=$SPID; K3P=$SPORT
kernel_up k4 "" 0; K4=$SPID; K4P=$SPORT
nghttpd_up ng2 ""; NG2=$SPID; NG2P=$SPORT
for R in $(seq 1 "$OPEN_ROUNDS"); do
  for m in 1 8; do
    SPID=$K3 SPORT=$K3P measure "kernel.ping.50k.m$m" grpc "$TMP/ping.bin" -n 150000 -c 16 -m "$m" --rps 3125
    SPID=$NG2 SPORT=$NG2P measure "nghttpd.50k.m$m" file "" -n 150000 -c 16 -m "$m" --rps 3125
    SPID=$K4 SPORT=$K4P measure "kernel.ping.50k.m$m.default_io" grpc "$TMP/ping.bin" -n 150000 -c 16 -m "$m" --rps 3125
  done
done
stop_pid "$K3"; stop_pid "$K4"; stop_pid "$NG2"
echo "== open-loop summary (medians over $OPEN_ROUNDS rounds; p99 ratios within each round)"
for m in 1 8; do
  for k in "kernel.ping.50k.m$m 1 I/O thread" "kernel.ping.50k.m$m.default_io $(nproc) I/O threads"; do
    set -- $k
    printf '   -m %s, kernel with %s %s: p50 %s ms p99 %s ms; nghttpd p50 %s ms p99 %s ms: p99 %s nghttpd (target <= 1.5x)\n' \
      "$m" "$2" "$3 $4" "$(median "$1" 7)" "$(median "$1" 8)" "$(median nghttpd.50k.m$m 7)" \
      "$(median nghttpd.50k.m$m 8)" "$(ratio "$1" nghttpd.50k.m$m 8)"
  done
done
# -m 1 holds one call per client in flight, so the rate is 16 over the
# round trip; h2load's one thread spends ~20 us of its own per call there.
kh=$(median kernel.ping.50k.m1 6); nh=$(median nghttpd.50k.m1 6)
printf '   -m 1 rate (target 50k/s): kernel %.0f/s with h2load at %s%% of a core, nghttpd %.0f/s with h2load at %s%%' \
  "$(median kernel.ping.50k.m1 3)" "$kh" "$(median nghttpd.50k.m1 3)" "$nh"
if [ "${kh:-0}" -ge 90 ] && [ "${nh:-0}" -ge 90 ]; then
  echo ": the client's one thread is saturated for both"
else
  echo
fi
