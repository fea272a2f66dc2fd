#!/usr/bin/env bash
# A driver that hangs or is slow holds no syscall worker. The kernel runs
# with only 2 workers and the 1-instance hang driver; while many invokes
# hang, queue or overflow the driver's queue, and while a driver is
# unloaded under load, a steady ping stream keeps being answered at once.
# Every deferred call is still counted, timed and logged like any other,
# and a queued call whose client gives up never reaches the driver.
# Clients: Debian's python3-grpcio (drivers_load.py, grpcurl.py) and
# @grpc/grpc-js (cancel_queued.js: it can cancel a call).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

DIR="$TMP/drivers"
mkdir -p "$DIR"
cp -r "$ROOT/$BUILD"/drivers-test/hang "$DIR/"

BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
G="127.0.0.1:$GRPC_PORT"
kernel_start kernel "$BUS" --grpc-workers 2 --drivers-dir "$DIR" --drivers-autoload hang \
  --access-log-error-rate 0  # every line: the test counts them
KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }

load() { /usr/bin/python3 "$ROOT/tests/integration/drivers_load.py" "$G" "$@"; }
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
ex() { grpcurl -d "{\"verb\": \"$1\", \"payload\": \"$2\"}" "$G" cam.SyscallService/Execute; }
has() { printf '%s' "$1" | grep -q -- "$2"; }
field() { printf '%s' "$1" | sed -nE "s/.*$2=([0-9.]+).*/\1/p"; }
below() { awk -v v="$1" -v m="$2" 'BEGIN { exit !(v < m) }'; }
# Pings spread over about $1 seconds, one stream, in the background.
pings_start() { load 1 "$(( $1 * 50 ))" ping "msg:x" 20 > "$TMP/pings.txt" & PINGS=$!; sleep 0.3; }
pings_ok() { # WHAT: every ping answered, none waited on the driver
  wait "$PINGS"
  local r; r=$(cat "$TMP/pings.txt")
  check "$1: every ping answered ($r)" has "$r" "failed=0 "
  # A ping stuck behind a driver waits its 1000 ms timeout (or, with the
  # queue full, its whole gRPC deadline): it did before the workers were freed.
  check "$1: no ping waited on the driver (max $(field "$r" max_ms) ms < 250)" below "$(field "$r" max_ms)" 250
}
ready() { has "$(ex driver_invoke "driver:hang,operation:echo,payload:up")" "output:up"; }

# --- queued, not refused: 3 slow invokes on one instance run one after another
pings_start 2
r=$(load 3 1 driver_invoke "driver:hang,operation:sleep,payload:200")
check "3 concurrent 200 ms invokes on 1 instance all OK, in turn ($r)" has "$r" "ok=3 failed=0"
check "... the last waited for the other two (max $(field "$r" max_ms) ms >= 550)" below 550 "$(field "$r" max_ms)"
pings_ok "slow driver"

# --- 8 invokes hang at once: the 2 workers stay free
pings_start 2
r=$(load 8 1 driver_invoke "driver:hang,operation:hang")
check "8 hung invokes: none OK ($r)" has "$r" "ok=0 failed=8"
check "8 hung invokes: each answered by the manifest timeout, 1000 ms (max $(field "$r" max_ms) ms < 1800)" below "$(field "$r" max_ms)" 1800
pings_ok "hung driver"
check "the hung helper was recycled and answers again" wait_for 10 ready

# --- more invokes than the queue takes (64 per instance): refused at once
pings_start 2
load 80 1 driver_invoke "driver:hang,operation:sleep,payload:900" > "$TMP/overflow.txt" &
OVERFLOW=$!
metric_ge() { local v; v=$(metric_value "$PORT" "$1") && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v >= m) }'; }
check "scrape while they wait: cam_os_driver_queued_invokes{driver=\"hang\"} >= 32" \
  wait_for 5 metric_ge 'cam_os_driver_queued_invokes{driver="hang"}' 32
check "scrape: cam_os_driver_instances_busy{driver=\"hang\"} 1 of cam_os_driver_instances_up 1" \
  bash -c "m=\$(curl -fsS http://127.0.0.1:$PORT/metrics) && printf '%s\n' \"\$m\" | grep -qx 'cam_os_driver_instances_busy{driver=\"hang\"} 1' && printf '%s\n' \"\$m\" | grep -qx 'cam_os_driver_instances_up{driver=\"hang\"} 1'"
wait "$OVERFLOW"
r=$(cat "$TMP/overflow.txt")
check "80 invokes of 900 ms on 1 instance: the overflow is RESOURCE_EXHAUSTED ($r)" has "$r" "RESOURCE_EXHAUSTED:"
check "... and the queue's deadline-expired calls are DEADLINE_EXCEEDED" has "$r" "DEADLINE_EXCEEDED:"
check "... and the one that ran is OK" has "$r" "ok=[1-9]"
pings_ok "queue overflow"
wait_for 10 ready
check "the queue empties: cam_os_driver_queued_invokes{driver=\"hang\"} 0" \
  wait_for 5 metric_is "$PORT" 'cam_os_driver_queued_invokes{driver="hang"}' 0

# --- unload while an invoke runs and others wait
pings_start 2
ex driver_invoke "driver:hang,operation:sleep,payload:600" > "$TMP/running.txt" &
RUNNING=$!
sleep 0.2
ex driver_invoke "driver:hang,operation:echo,payload:queued" > "$TMP/queued.txt" &
QUEUED=$!
sleep 0.2
r=$(ex driver_unload "driver:hang")
wait "$RUNNING" "$QUEUED"
check "unload during invokes: unloaded ($r)" has "$r" "unloaded:true"
check "... the running invoke finished OK" grep -q "output:slept" "$TMP/running.txt"
check "... the queued invoke: UNAVAILABLE, being unloaded ($(cat "$TMP/queued.txt"))" \
  grep -q "ERROR: UNAVAILABLE: driver hang is being unloaded" "$TMP/queued.txt"
pings_ok "unload"
r=$(ex driver_load "driver:hang")
check "load it again" has "$r" "version:"

# --- a client that gives up on a queued invoke (grpc-js, which can cancel)
invocations() { ex driver_list "" | sed -n 's/.*hang:[^,]*invocations=\([0-9]*\).*/\1/p'; }
wait_for 10 ready
n0=$(invocations)
r=$(cd "$ROOT/tests/interop" && node cancel_queued.js "$G" 700 2>&1)
jq_is() { /usr/bin/python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(not eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
check "grpc-js: the running invoke OK, the queued one cancelled by its client ($r)" \
  jq_is "$r" 'd["a"] == "OK" and d["b"] == "CANCELLED" and d["b_ms"] < 600'
check "the kernel answered it CANCELLED without the driver (access log)" \
  wait_for 5 grep -q '"syscall":"driver_invoke".*"code":"CANCELLED"' "$TMP/kernel.log"
check 'and counted it: cam_os_driver_invocations_total{driver="hang",status="CANCELLED"} 1' \
  wait_for 5 metric_is "$PORT" 'cam_os_driver_invocations_total{driver="hang",status="CANCELLED"}' 1
check "the driver saw only the running one (invocations $n0 -> $(invocations))" \
  test "$(invocations)" = "$((n0 + 1))"

# --- deferred calls are counted, timed and logged like the rest
n_ping=$(grep -c '"syscall":"ping"' "$TMP/kernel.log")
n_inv=$(grep -c '"syscall":"driver_invoke"' "$TMP/kernel.log")
check "access log: every driver_invoke has its line ($n_inv >= 95)" test "$n_inv" -ge 95
check "access log: a queued call's DEADLINE_EXCEEDED names the queue" \
  grep -q '"syscall":"driver_invoke".*"code":"DEADLINE_EXCEEDED".*free before the deadline' "$TMP/kernel.log"
total() { metric_value "$PORT" 'cam_os_syscall_total{verb="driver_invoke"}'; }
count() { metric_value "$PORT" 'cam_os_syscall_duration_seconds_count{verb="driver_invoke"}'; }
check "cam_os_syscall_total{verb=\"driver_invoke\"} = access-log lines ($n_inv)" wait_for 5 bash -c "[ \"\$(curl -fsS http://127.0.0.1:$PORT/metrics | awk '\$1 == \"cam_os_syscall_total{verb=\\\"driver_invoke\\\"}\" {print \$2}')\" = $n_inv ]"
check "the duration histogram counts each of them" test "$(count)" = "$(total)"
check "pings logged too ($n_ping)" test "$n_ping" -ge 400

stop_pid "$KERNEL" TERM
check "kernel stop: no helper left" wait_for 5 bash -c "! ps -eo args= | grep -q '^$ROOT/$BUILD/cam-driver-host hang '"
finish
