#!/usr/bin/env bash
# The audit trail's price and its floods (issue 27), side by side in one run:
#
# 1. Every call audited: Execute(ping) on a kernel with CAM_AUDIT_EVENTS=all
#    against the same kernel with the default events (deny,admin,auth),
#    under the same h2load flags and pinning (kernels on CPU 1, h2load on
#    CPU 0), in interleaved rounds (the order swapped every round); then the
#    same kernels and h2load unpinned (the trail's writer thread free to run
#    beside the I/O thread). Per round: calls/s of each, their ratio (target
#    >= 0.8) and the kernel's CPU per call (utime + stime from /proc over
#    the calls made). Then the "all" kernel's trail is counted: one "call"
#    line per ping it answered
#    (h2load sees only HTTP 200, so the count is the kernel's
#    cam_os_syscall_total{verb="ping"}), and `cam-audit verify` checks it.
#    Then instructions per call of both (valgrind callgrind, all threads,
#    as tests/bench/ir_floor.sh): a figure the machine's load does not move
#    (AUDIT_IR=0 skips it). Valgrind's CPU has no SHA extensions, so the
#    trail's SHA-256 costs more instructions there than natively.
# 2. A flood of denied calls: AUDIT_FLOOD_N (50,000) Execute(ping) with a
#    bearer token the kernel does not know, AUDIT_FLOODS (2) times, on a
#    kernel with a tokens file and the default events, and side by side the
#    same kernel with CAM_AUDIT_EVENTS=none (what the trail itself costs).
#    After each: exactly that many more deny lines (none dropped, none
#    sampled); the kernels' VmRSS and RssAnon before, at their highest
#    during (sampled every 20 ms) and after, against the kernel's RSS
#    budget (20 MB, the target since issue 4; the trail's queue holds at
#    most 1 MiB by design).
#
# Every kernel has its own data directory under $TMP, on the machine's disk
# (the trail is fdatasync'ed in groups). Knobs: AUDIT_ROUNDS (5), AUDIT_N
# (100000 calls per run), AUDIT_FLOOD_N, AUDIT_FLOODS, IR_N1/IR_N2.
#
# usage: tests/bench/audit.sh [BUILD]
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
ROUNDS=${AUDIT_ROUNDS:-5}
N=${AUDIT_N:-100000}
FLOOD_N=${AUDIT_FLOOD_N:-50000}
FLOODS=${AUDIT_FLOODS:-2}
TCK=$(getconf CLK_TCK)
H=(-H 'content-type: application/grpc' -H 'te: trailers')
AUDIT=$ROOT/$BUILD/cam-audit

command -v h2load >/dev/null || { echo "the audit bench needs h2load (nghttp2-client)"; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "the audit bench pins kernels and h2load apart: it needs 2 CPUs"; exit 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
sample() { scrape "$1" | awk -v m="$2" '$1 == m { printf "%d\n", $2 }'; }
median() { sort -g | awk '{a[NR]=$1} END {printf "%s (%s-%s)", a[int((NR+1)/2)], a[1], a[NR]}'; }
trail() { ls "$1".* 2>/dev/null | sort; echo "$1"; }

echo "== machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); data directories in $TMP ($(df -T "$TMP" | awk 'NR==2 {print $2}'))"
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/ping.bin" ping "msg:hello"

# ------------------------------------------------------------ every call audited
# up NAME EVENTS [ARGS...]: a kernel pinned to CPU 1, its exporter unpinned.
declare -A KP GP XP
up() {
  local name=$1 events=$2; shift 2
  GP[$name]=$(free_port); XP[$name]=$(free_port)
  start "$name" taskset -c 1 "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/$name.ipc" \
    --data-dir "$TMP/data-$name" --grpc-listen "127.0.0.1:${GP[$name]}" --access-log errors \
    --grpc-io-threads 1 --audit-events "$events" --publish-interval-ms 200 "$@"
  KP[$name]=$LAST_PID
  exporter_start "x-$name" "ipc://$TMP/$name.ipc" "${XP[$name]}"
  wait_for 10 metric_is "${XP[$name]}" cam_os_kernel_up 1 || { echo "kernel $name did not start"; exit 1; }
}
# run NAME: one h2load run; appends "NAME ROUND calls/s us-CPU/call" to results.
run() {
  local name=$1 t0 t1 out rps n
  t0=$(cpu_ticks "${KP[$name]}")
  out=$(${PIN0-taskset -c 0} h2load -n "$N" -c 16 -m 32 -d "$TMP/ping.bin" "${H[@]}" \
    "http://127.0.0.1:${GP[$name]}/cam.SyscallService/Execute" 2>&1)
  t1=$(cpu_ticks "${KP[$name]}")
  rps=$(sed -n 's/.*finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
  n=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
  [ "${n:-0}" -gt 0 ] || { echo "   $name: h2load failed: $(tail -3 <<<"$out")"; return 1; }
  awk -v l="$name" -v r="$R" -v q="$rps" -v d="$((t1 - t0))" -v t="$TCK" -v n="$n" \
    'BEGIN {printf "%s %d %.0f %.2f\n", l, r, q, d / t * 1e6 / n}' >>"$TMP/results"
}
field() { awk -v l="$1" -v r="$2" -v f="$3" '$1 == l && $2 == r {print $f}' "$TMP/results"; }

echo "== every call audited: Execute(ping), h2load -n $N -c 16 -m 32, kernels on CPU 1 (1 I/O thread), h2load on CPU 0, $ROUNDS interleaved rounds"
up default deny,admin,auth
up all all
: >"$TMP/results"
for R in $(seq "$ROUNDS"); do
  if [ $((R % 2)) = 1 ]; then run default; run all; else run all; run default; fi
  d=$(field default "$R" 3); a=$(field all "$R" 3)
  printf '   round %d: default %7s calls/s %6s us CPU/call | all %7s calls/s %6s us CPU/call | all / default %s\n' \
    "$R" "$d" "$(field default "$R" 4)" "$a" "$(field all "$R" 4)" \
    "$(awk -v a="$a" -v d="$d" 'BEGIN {printf "%.2f", a / d}')" | tee -a "$TMP/rounds"
  awk -v a="$a" -v d="$d" 'BEGIN {printf "%.3f\n", a / d}' >>"$TMP/ratios"
done
# The same kernels, unpinned (the trail's writer free to run beside the I/O
# thread), h2load unpinned too: three threads that want a core on two cores.
for k in default all; do taskset -a -p -c "0-$(($(nproc) - 1))" "${KP[$k]}" >/dev/null; done
echo "-- the same kernels and h2load unpinned, $ROUNDS interleaved rounds"
PIN0=
for R in $(seq $((ROUNDS + 1)) $((2 * ROUNDS))); do
  if [ $((R % 2)) = 1 ]; then run default; run all; else run all; run default; fi
  d=$(field default "$R" 3); a=$(field all "$R" 3)
  printf '   round %d: default %7s calls/s %6s us CPU/call | all %7s calls/s %6s us CPU/call | all / default %s\n' \
    "$((R - ROUNDS))" "$d" "$(field default "$R" 4)" "$a" "$(field all "$R" 4)" \
    "$(awk -v a="$a" -v d="$d" 'BEGIN {printf "%.2f", a / d}')"
  awk -v a="$a" -v d="$d" 'BEGIN {printf "%.3f\n", a / d}' >>"$TMP/ratios-unpinned"
done
sleep 0.6   # one more snapshot (publish interval 200 ms)
pings=$(sample "${XP[all]}" 'cam_os_syscall_total{verb="ping"}')
recs=$(sample "${XP[all]}" 'cam_os_audit_records_total{event="call"}')
fails=$(sample "${XP[all]}" cam_os_audit_write_failures_total)
drecs=$(sample "${XP[default]}" 'cam_os_audit_records_total{event="call"}')
stop_pid "${KP[all]}"; stop_pid "${KP[default]}"
lines=$(cat $(trail "$TMP/data-all/audit.log") | grep -c '"event":"call","verb":"ping"')
files=$(trail "$TMP/data-all/audit.log" | wc -l)
verify=$("$AUDIT" verify $(trail "$TMP/data-all/audit.log") 2>&1 | grep -E '^(OK|FAIL)')
echo "== summary"
pinned() { awk -v l="$1" -v n="$ROUNDS" -v f="$2" '$1 == l && $2 <= n {print $f}' "$TMP/results"; }
unpinned() { awk -v l="$1" -v n="$ROUNDS" -v f="$2" '$1 == l && $2 > n {print $f}' "$TMP/results"; }
echo "   pinned, calls/s          : default $(pinned default 3 | median), every call $(pinned all 3 | median)"
echo "   pinned, all / default    : $(tr '\n' ' ' <"$TMP/ratios")-> median $(median <"$TMP/ratios") (target >= 0.8)"
echo "   pinned, kernel CPU/call  : default $(pinned default 4 | median) us, all $(pinned all 4 | median) us"
echo "   unpinned, calls/s        : default $(unpinned default 3 | median), every call $(unpinned all 3 | median)"
echo "   unpinned, all / default  : $(tr '\n' ' ' <"$TMP/ratios-unpinned")-> median $(median <"$TMP/ratios-unpinned") (target >= 0.8)"
echo "   unpinned, kernel CPU/call: default $(unpinned default 4 | median) us, all $(unpinned all 4 | median) us"
echo "   the 'all' kernel answered $pings pings, counted $recs call records, $fails write failures;" \
     "its trail holds $lines ping call lines in $files files"
echo "   cam-audit verify: $verify"
echo "   (the default kernel wrote $drecs call records, as it should: none)"

# Instructions per call (valgrind callgrind's Ir, user space, every thread:
# the trail's writer too), as tests/bench/ir_floor.sh measures them: a
# figure the machine's load does not move. Each kernel serves IR_N1 calls
# in one run and IR_N2 in another; the difference cancels start and stop.
if command -v valgrind >/dev/null && [ "${AUDIT_IR:-1}" = 1 ]; then
  N1=${IR_N1:-2000}; N2=${IR_N2:-12000}
  ir() { # ir LABEL EVENTS CALLS: total Ir of a kernel serving 1000 warm-up calls, then CALLS more
    local port pid; port=$(free_port)
    start "$1" valgrind --tool=callgrind --callgrind-out-file="$TMP/$1.cg" \
      "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/$1.ipc" --data-dir "$TMP/data-$1" \
      --grpc-listen "127.0.0.1:$port" --access-log errors --publish-interval-ms 1000 --grpc-io-threads 1 \
      --audit-events "$2"
    pid=$LAST_PID
    wait_for 60 bash -c "echo > /dev/tcp/127.0.0.1/$port" 2>/dev/null || { echo "$1 did not start" >&2; return 1; }
    h2load -n 1000 -c 16 -m 32 -d "$TMP/ping.bin" "${H[@]}" "http://127.0.0.1:$port/cam.SyscallService/Execute" >/dev/null
    h2load -n "$3" -c 16 -m 32 -d "$TMP/ping.bin" "${H[@]}" "http://127.0.0.1:$port/cam.SyscallService/Execute" |
      grep -q "$3 succeeded, 0 failed" || { echo "$1: not every call succeeded" >&2; return 1; }
    stop_pid "$pid" TERM
    sed -nE 's/^==[0-9]+== Collected : ([0-9]+)$/\1/p' "$TMP/$1.log"
  }
  echo "-- instructions per call (callgrind, user space, all threads), h2load -c 16 -m 32, $((N2 - N1)) calls"
  for ev in deny,admin,auth all; do
    tag=${ev%%,*}
    lo=$(ir "ir-$tag-lo" "$ev" "$N1") && hi=$(ir "ir-$tag-hi" "$ev" "$N2") || { echo "   callgrind run failed"; break; }
    awk -v lo="$lo" -v hi="$hi" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f\n", (hi - lo) / n }' >"$TMP/ir-$tag"
  done
  if [ -s "$TMP/ir-deny" ] && [ -s "$TMP/ir-all" ]; then
    echo "   default events $(cat "$TMP/ir-deny"), every call $(cat "$TMP/ir-all") instructions per call:" \
         "$(awk -v d="$(cat "$TMP/ir-deny")" -v a="$(cat "$TMP/ir-all")" 'BEGIN {printf "+%d for the audit line, default / all %.2f", a - d, d / a}')"
  fi
fi

# --------------------------------------------------------------- a flood of denials
echo "== a flood of denied calls: $FLOODS x h2load -n $FLOOD_N -c 8 -m 16 with an unknown bearer token,"
echo "   on a kernel with the default events and, side by side, the same kernel with CAM_AUDIT_EVENTS=none"
printf '%s bencher read\n' "$(printf %s bench-token | sha256sum | cut -d' ' -f1)" >"$TMP/tokens"
declare -A FK FG FX
for k in flood flood-none; do
  ev=deny,admin,auth; [ $k = flood-none ] && ev=none
  FG[$k]=$(free_port); FX[$k]=$(free_port)
  GRPC_PORT=${FG[$k]} kernel_start "$k" "ipc://$TMP/$k.ipc" --auth-tokens-file "$TMP/tokens" --audit-events "$ev"
  FK[$k]=$LAST_PID
  exporter_start "x-$k" "ipc://$TMP/$k.ipc" "${FX[$k]}"
  wait_for 10 metric_is "${FX[$k]}" cam_os_kernel_up 1 || { echo "kernel $k did not start"; exit 1; }
done
FLOG=$TMP/data-flood/audit.log
denies() { cat $(trail "$FLOG") | grep -c '"event":"deny"'; }
mem() { echo "VmRSS $(mib "$(kb "$1" VmRSS)") (RssAnon $(mib "$(kb "$1" RssAnon)"), RssFile $(mib "$(kb "$1" RssFile)"))"; }
for k in flood flood-none; do echo "   $k, before: $(mem "${FK[$k]}")"; done
flood() { # flood KERNEL: one flood; prints its line and the RSS peaks
  local k=$1 pid=${FK[$1]} t0 t1 out peak panon
  touch "$TMP/flooding"
  # the highest VmRSS and RssAnon while the flood runs, every 20 ms
  ( peak=0; panon=0
    while [ -e "$TMP/flooding" ]; do
      r=$(kb "$pid" VmRSS); a=$(kb "$pid" RssAnon)
      [ "${r:-0}" -gt "$peak" ] && peak=$r; [ "${a:-0}" -gt "$panon" ] && panon=$a
      sleep 0.02
    done
    echo "$peak $panon" >"$TMP/peak" ) &
  local sp=$!
  t0=$(cpu_ticks "$pid")
  out=$(h2load -n "$FLOOD_N" -c 8 -m 16 -d "$TMP/ping.bin" "${H[@]}" -H 'authorization: Bearer not-a-token' \
    "http://127.0.0.1:${FG[$k]}/cam.SyscallService/Execute" 2>&1)
  t1=$(cpu_ticks "$pid")
  rm -f "$TMP/flooding"; wait "$sp"
  sleep 1   # the writer's last group, the exporter's next snapshot
  read -r peak panon <"$TMP/peak"
  printf '   %-10s %s, %s us CPU/call; VmRSS peak %s, after %s; RssAnon peak %s, after %s\n' "$k" \
    "$(sed -n 's/.*finished in \([0-9.]*m\?s\), \([0-9.]*\) req\/s.*/\1, \2 calls\/s/p' <<<"$out")" \
    "$(awk -v d="$((t1 - t0))" -v t="$TCK" -v n="$FLOOD_N" 'BEGIN {printf "%.1f", d / t * 1e6 / n}')" \
    "$(mib "$peak")" "$(mib "$(kb "$pid" VmRSS)")" "$(mib "$panon")" "$(mib "$(kb "$pid" RssAnon)")"
}
for f in $(seq "$FLOODS"); do
  before=$(denies)
  flood flood
  after=$(denies)
  echo "      flood $f: deny lines +$((after - before)) (want $FLOOD_N exactly: $([ $((after - before)) = "$FLOOD_N" ] && echo exact || echo WRONG))"
  flood flood-none
done
for k in flood flood-none; do
  echo "   $k: cam_os_audit_records_total{event=\"deny\"} $(sample "${FX[$k]}" 'cam_os_audit_records_total{event="deny"}' | grep . || echo '- (no trail)')," \
       "write failures $(sample "${FX[$k]}" cam_os_audit_write_failures_total | grep . || echo -)," \
       "auth failures $(scrape "${FX[$k]}" | awk '/^cam_os_security_auth_failures_total/ {s += $2} END {print s}')," \
       "after: $(mem "${FK[$k]}") (budget: VmRSS 20 MB)"
done
stop_pid "${FK[flood]}"; stop_pid "${FK[flood-none]}"
echo "   the flooded trail: $(wc -l <"$FLOG") lines; cam-audit verify: $("$AUDIT" verify $(trail "$FLOG") 2>&1 | grep -E '^(OK|FAIL)')"
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
