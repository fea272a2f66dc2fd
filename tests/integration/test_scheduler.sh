#!/usr/bin/env bash
# The priority scheduler end to end, with independent clients (Debian's
# python3-grpcio, raw and through reflection; h2load) against cam-kernel
# with one worker, and the figures as a real scrape through cam-exporter
# shows them: think against hand-computed scores, ordering with every
# class backlogged (low still progresses), tune_system good and bad, queue
# full, expiry while queued (the handler never runs, yet the call is
# counted and logged like any syscall), explain_action, the
# Scheduler health component, and queue and priority metrics moving under
# a mixed-priority h2load run.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
G="127.0.0.1:$GRPC_PORT"
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
sched() { /usr/bin/python3 "$ROOT/tests/integration/sched_client.py" "$G" "$@"; }
exec_verb() { grpcurl -d "{\"verb\": \"$1\", \"payload\": \"$2\"}" "$G" cam.SyscallService/Execute 2>&1; }
json() { printf '%s' "$1" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }
has() { printf '%s' "$1" | grep -q -- "$2"; }

kernel_start kernel "$BUS" --grpc-workers 1; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }

# think: 0.30u + 0.25i + 0.15e + 0.10n + 0.20t, factors not given count 0.5.
r=$(exec_verb think "urgency:0.9,importance:0.8,efficiency:0.6,energy:0.4,trust:0.7")
check "think 0.9/0.8/0.6/0.4/0.7 = score 0.7400, priority 7, high" \
  has "$r" 'score:0.7400,priority:7,class:high'
check "think gives each factor's contribution (urgency 0.2700, trust 0.1400)" \
  bash -c "printf '%s' '$r' | grep -q contribution_urgency:0.2700 && printf '%s' '$r' | grep -q contribution_trust:0.1400"
r=$(exec_verb think "urgency:1")
check "think urgency 1, rest default = 0.6500, priority 6, normal" has "$r" 'score:0.6500,priority:6,class:normal'
check "think names the defaulted factors" has "$r" 'defaulted:importance+efficiency+energy+trust'
r=$(exec_verb think "urgency:0.1,importance:0,efficiency:0.2,energy:0.3,trust:0.1")
check "think 0.1/0/0.2/0.3/0.1 = 0.1100, priority 1, low" has "$r" 'score:0.1100,priority:1,class:low'
r=$(exec_verb think "urgency:2")
check "think urgency 2 is INVALID_ARGUMENT" has "$r" 'INVALID_ARGUMENT'
r=$(exec_verb think "task:nothing to score")
check "think with no factor is INVALID_ARGUMENT" has "$r" 'INVALID_ARGUMENT'

# Ordering: 30 calls per class queued behind one held worker.
r=$(sched order 30)
echo "  order, 30 per class, weights 8:4:1, 1 worker: $r"
check "every queued call finished (30 per class)" \
  test "$(json "$r" "d['high']['done'] + d['normal']['done'] + d['low']['done']")" = 90
check "high finishes first on average, then normal, then low" \
  test "$(json "$r" "int(d['high']['mean_rank'] < d['normal']['mean_rank'] < d['low']['mean_rank'])")" = 1
check "low keeps progressing: some low calls finish before the last high" \
  test "$(json "$r" "int(d['low_before_last_high'] >= 2 and d['low']['first'] <= 13)")" = 1

# tune_system: good values, then the queue-full case (four callers fill a
# class of 4: one call each is their share, a quarter of the class).
r=$(exec_verb tune_system "queue_limit:4")
check "tune_system queue_limit:4 returns the settings in force" \
  has "$r" 'weights:8:4:1,queue_limit:4:4:4,queue_limit_per_caller:1:1:1,workers:1,stall_ms:5000,changed:true'
r=$(sched full)
echo "  queue full: $r"
check "a full class answers RESOURCE_EXHAUSTED at once" \
  test "$(json "$r" "int(d['over_limit'] == 'RESOURCE_EXHAUSTED' and d['over_limit_seconds'] < 0.1)")" = 1
check "another class still takes calls" test "$(json "$r" "d['high']")" = OK
seen() { local m; m=$(scrape "$PORT") && printf '%s\n' "$m" | grep -qx -- "$1"; }
check 'scrape: cam_os_scheduler_rejected_total{class="low",reason="queue_full"} 1' \
  wait_for 5 seen 'cam_os_scheduler_rejected_total{class="low",reason="queue_full"} 1'
check 'the refused call is a syscall too: cam_os_syscall_errors_total{verb="ping",code="RESOURCE_EXHAUSTED"} 1' \
  wait_for 5 seen 'cam_os_syscall_errors_total{verb="ping",code="RESOURCE_EXHAUSTED"} 1'
check "... with its access-log line" \
  grep -q '"syscall":"ping".*"code":"RESOURCE_EXHAUSTED"' "$TMP/kernel.log"

# Out of bounds: INVALID_ARGUMENT and nothing changes.
for bad in "workers:0" "workers:257" "weights:0:1:1" "weights:8:4" "queue_limit:16385" \
           "stall_ms:50" "weight_low:1001" "workers:two" "workers:2,queue_limit:0" \
           "queue_limit_per_caller:16385" "queue_limit_per_caller:1:2" "queue_limit_per_caller_low:x"; do
  r=$(exec_verb tune_system "$bad")
  check "tune_system $bad is INVALID_ARGUMENT" has "$r" 'INVALID_ARGUMENT'
done
r=$(exec_verb tune_system "")
check "after the refusals the settings are unchanged" \
  has "$r" 'weights:8:4:1,queue_limit:4:4:4,queue_limit_per_caller:1:1:1,workers:1,stall_ms:5000,changed:false'

# A deadline that passes in the queue: DEADLINE_EXCEEDED, the handler never runs.
r=$(sched expire)
echo "  expiry in queue: $r"
check "a call whose deadline passes while queued gets DEADLINE_EXCEEDED" \
  test "$(json "$r" "d['code']")" = DEADLINE_EXCEEDED
check 'scrape: cam_os_scheduler_rejected_total{class="normal",reason="deadline_exceeded"} 1' \
  wait_for 5 seen 'cam_os_scheduler_rejected_total{class="normal",reason="deadline_exceeded"} 1'
check "the expired call is logged: its caller, DEADLINE_EXCEEDED, expired in the queue" \
  grep -q '"syscall":"ping","caller_id":"expired-in-queue".*"code":"DEADLINE_EXCEEDED".*"error":"deadline exceeded while queued"' "$TMP/kernel.log"
check 'and counted: cam_os_syscall_errors_total{verb="ping",code="DEADLINE_EXCEEDED"} 1' \
  wait_for 5 seen 'cam_os_syscall_errors_total{verb="ping",code="DEADLINE_EXCEEDED"} 1'
check "it never reached its handler (a ping with a delay would log it: one line only)" \
  test "$(grep -c expired-in-queue "$TMP/kernel.log")" = 1

# explain_action by request id and by trace id.
r=$(grpcurl -d '{"verb": "ping", "payload": "msg:x", "priority": 8}' "$G" cam.SyscallService/Execute)
rid=$(json "$r" "d['requestId']")
r=$(exec_verb explain_action "request_id:$rid")
check "explain_action $rid: priority 8 from the field, class high" \
  has "$r" "request_id:$rid,verb:ping,priority:8,class:high,source:priority_field,queue_length:0"
check "explain_action says why in words" has "$r" 'reason:priority 8 from the'
TP=4bf92f3577b34da6a3ce929d0e0e4736
grpcurl -H "traceparent: 00-$TP-00f067aa0ba902b7-01" \
  -d '{"verb": "ping", "payload": "urgency:0.1,importance:0.1"}' "$G" cam.SyscallService/Execute >/dev/null
r=$(exec_verb explain_action "trace_id:$TP")
check "explain_action by trace id: priority from factors, low" \
  has "$r" "trace_id:$TP,verb:ping,priority:2,class:low,source:factors,score:0.2800"
r=$(exec_verb explain_action "request_id:00000000-999999")
check "explain_action of an unknown id is NOT_FOUND" has "$r" 'NOT_FOUND'

# Back to roomy queues and two workers, at run time.
r=$(exec_verb tune_system "queue_limit:1024,workers:2,weights:8:4:1")
check "tune_system workers:2 takes effect" has "$r" 'workers:2'
check "observe reports 2 workers" wait_for 5 bash -c \
  "/usr/bin/python3 '$ROOT/tests/integration/grpcurl.py' -d '{\"verb\": \"observe\"}' '$G' cam.SyscallService/Execute | grep -q 'workers:2,'"
check 'scrape: cam_os_scheduler_workers 2' wait_for 5 seen 'cam_os_scheduler_workers 2'
r=$(grpcurl -d '{"detailed": true}' "$G" cam.SyscallService/HealthCheck)
check "HealthCheck: Scheduler healthy" \
  bash -c "printf '%s' '$r' | grep -A1 '\"name\": \"Scheduler\"' | grep -q '\"status\": \"healthy\"'"

# Mixed priorities under h2load; the queue and priority metrics move.
if command -v h2load >/dev/null; then
  val() { printf '%s\n' "$1" | awk -v m="$2" '$1 == m { print $2 }'; }
  before=$(scrape "$PORT")
  c0=$(val "$before" cam_os_scheduler_priority_distribution_count)
  loads=()
  for p in 1 5 8; do
    /usr/bin/python3 "$ROOT/tests/integration/sched_client.py" body "$TMP/p$p.bin" ping delay_ms:1 $p
    h2load -n 1500 -c 2 -m 64 -d "$TMP/p$p.bin" -H 'content-type: application/grpc' \
      -H 'te: trailers' "http://$G/cam.SyscallService/Execute" >"$TMP/h2load-$p.log" 2>&1 &
    loads+=("$!"); PIDS+=("$!")
  done
  running() { local p; for p in "${loads[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
  maxq=(0 0 0); n=0
  while running && [ $n -lt 300 ]; do
    m=$(scrape "$PORT") || true
    i=0
    for c in high normal low; do
      q=$(val "$m" "cam_os_scheduler_queue_size{class=\"$c\"}"); q=${q%.*}
      [ "${q:-0}" -gt "${maxq[$i]}" ] && maxq[$i]=$q
      i=$((i + 1))
    done
    n=$((n + 1)); sleep 0.2
  done
  wait "${loads[@]}"
  echo "  h2load mixed 1/5/8, 1500 each: largest queue sizes scraped high ${maxq[0]}, normal ${maxq[1]}, low ${maxq[2]}"
  check "h2load: every call of every priority succeeded" \
    bash -c "grep -h 'requests:' $TMP/h2load-*.log | grep -c '1500 succeeded' | grep -qx 3"
  check "scrape during load: queue size above 0 in every class" \
    test "${maxq[0]}" -gt 0 -a "${maxq[1]}" -gt 0 -a "${maxq[2]}" -gt 0
  sleep 0.6
  after=$(scrape "$PORT")
  c1=$(val "$after" cam_os_scheduler_priority_distribution_count)
  b7=$(val "$after" 'cam_os_scheduler_priority_distribution_bucket{le="7"}')
  b8=$(val "$after" 'cam_os_scheduler_priority_distribution_bucket{le="8"}')
  check "scrape: priority distribution counted all 4500 calls" test "$((c1 - c0))" -ge 4500
  check "scrape: the le=8 bucket holds the 1500 priority-8 calls" test "$((b8 - b7))" -ge 1500
  check 'scrape: low waited and ran (cam_os_scheduler_wait_seconds_count{class="low"})' \
    test "$(val "$after" 'cam_os_scheduler_wait_seconds_count{class="low"}')" -ge 1500
  check "scrape after load: every queue back to 0" wait_for 5 bash -c \
    "curl -fsS 'http://127.0.0.1:$PORT/metrics' | grep '^cam_os_scheduler_queue_size' | awk '{ s += \$2 } END { exit s != 0 }'"
else
  not_ok "h2load (nghttp2-client) is not installed"
fi

# Inline: calls that never block run on their I/O thread; ones that may
# block (ping with delay_ms) go to a worker.
inline_count() { exec_verb observe "" | grep -o 'ran_inline:[0-9]*' | cut -d: -f2; }
i0=$(inline_count)
for n in 1 2 3 4 5; do exec_verb ping "n:$n" >/dev/null; done
i1=$(inline_count)
for n in 1 2 3; do exec_verb ping "delay_ms:1,n:$n" >/dev/null; done
i2=$(inline_count)
# observe itself runs inline, so each reading counts one more.
check "5 plain pings ran inline on the I/O thread (ran_inline $i0 -> $i1)" test $((i1 - i0)) -ge 6
check "3 pings with delay_ms went to a worker (ran_inline $i1 -> $i2)" test $((i2 - i1)) -eq 1
check "cam_os_scheduler_inline_total counts them by class" wait_for 5 bash -c \
  "curl -fsS 'http://127.0.0.1:$PORT/metrics' | awk '\$1 ~ /^cam_os_scheduler_inline_total\\{class=\"normal\"\\}/ { exit !(\$2 >= 6) }'"

stop_pid "$KERNEL"
check "kernel stops cleanly after all this" bash -c "! grep -q '\"level\":\"ERROR\"' '$TMP/kernel.log'"
finish
