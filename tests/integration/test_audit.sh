#!/usr/bin/env bash
# The audit trail as an operator meets it:
# - a kernel with a software TPM (swtpm), tokens and small seal and rotation
#   thresholds: writes, denials, admin acts; its trail verifies with
#   build/cam-audit across the rotated files and the TPM's public key, and
#   every seal verifies with openssl alone;
# - each kind of tampering is caught: a byte changed, a line removed, two
#   lines swapped, the file cut after a seal, a seal re-signed by another key;
# - records hold the A59 fields and never values or tokens; exactly one deny
#   line per denied call under a flood;
# - fail closed: with /dev/full as the trail, admin verbs are refused
#   UNAVAILABLE, denials stay denials, pings work, failures are counted and
#   the Audit Log component is degraded; CAM_LOG_FORMAT=ecs gives ECS names.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

AUDIT="$ROOT/$BUILD/cam-audit"
py() { /usr/bin/python3 "$@"; }
call() { py "$ROOT/tests/integration/audit_call.py" "$G" "$@"; } # TOKEN VERB PAYLOAD
tok() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
scrape_has() { scrape "$PORT" | grep -qE "$1"; }
health() {
  py "$ROOT/tests/integration/grpcurl.py" -d '{"detailed": true}' "$G" \
    cam.SyscallService/HealthCheck | tr -d '\n' | grep -o '"name": "Audit Log",[^}]*'
}

printf '%s agent-a read,write\n%s root admin\n' "$(tok tok-a)" "$(tok tok-root)" >"$TMP/tokens"
TPM_PORT=$(free_port_pair); BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
G="127.0.0.1:$GRPC_PORT"
swtpm_start swtpm "$TPM_PORT" "$TMP/tpmstate"
LOG="$TMP/data-k/audit.log"
kernel_start k "$BUS" --auth-tokens-file "$TMP/tokens" \
  --tpm-tcti "swtpm:host=127.0.0.1,port=$TPM_PORT" \
  --audit-events deny,admin,auth,write --audit-seal-lines 10 --audit-seal-s 1 \
  --audit-max-bytes 6000; K=$LAST_PID
exporter_start x "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }
tpm_ready() { call tok-root tpm_public_key "" | grep -q '^OK'; }
check "the TPM answers" wait_for 20 tpm_ready

echo "-- a day's work"
for i in $(seq 1 15); do
  call tok-a context_write "namespace:agent-a,key:k$i,value:secret-value-$i" >/dev/null
  call tok-a context_read "namespace:root,key:k$i" >/dev/null          # denied: not its own
  call bad-token ping "" >/dev/null                                     # unauthenticated
done
r=$(call tok-a tune_system "workers:2"); check "an agent's admin verb is PERMISSION_DENIED" grep -q '^PERMISSION_DENIED' <<<"$r"
r=$(call tok-root agent_register "agent:agent-z,scopes:read"); check "root registers an agent" grep -q '^OK' <<<"$r"
py "$ROOT/tests/integration/audit_call.py" "$G" tok-root tpm_public_key "" --data >"$TMP/tpm.pem"
check "tpm_public_key gives a PEM" grep -q "BEGIN PUBLIC KEY" "$TMP/tpm.pem"
sleep 1.5   # a seal by time
stop_pid "$K"   # a last seal, and the stop record
FILES=$(ls "$TMP"/data-k/audit.log.* 2>/dev/null | sort | tr '\n' ' ')
check "the trail was rotated at 6000 bytes ($(echo $FILES | wc -w) rotated files)" [ -n "$FILES" ]
ALL="$FILES $LOG"
out=$("$AUDIT" verify $ALL --tpm-public-key "$TMP/tpm.pem"); rc=$?
echo "  $out" | tr '\n' ' '; echo
check "cam-audit verify: the chain across the rotated files and every seal hold (exit 0)" [ "$rc" -eq 0 ]
seals=$(grep -h '"event":"seal"' $ALL | wc -l)
check "seals were made ($seals) by count, by time and at stop" [ "$seals" -ge 3 ]
n=$(py "$ROOT/tests/integration/audit_tamper.py" seals "$TMP/tpm.pem" $ALL); rc=$?
check "every seal verifies with openssl against tpm_public_key ($n)" [ "$rc" -eq 0 ]
check "the trail is made 0600" [ "$(stat -c %a "$LOG")" = 600 ]
all_lines=$(cat $ALL)
check "records hold the A59 fields" grep -q '"principal":"agent-a","identified_by":"token","resource":"namespace:root","matched_rule":"default","authorized":false' <<<"$all_lines"
check "changes say namespace, key, version and size" grep -q '"namespace":"agent-a","key":"k3","version":3,"size":14' <<<"$all_lines"
check "never a value" bash -c "! grep -q 'secret-value' <<<'$all_lines'"
check "never a token" bash -c "! grep -qE 'tok-a|tok-root|bad-token' <<<'$all_lines'"
check "15 unauthenticated calls, 15 deny lines" [ "$(grep -c '"code":"UNAUTHENTICATED"' <<<"$all_lines")" -eq 15 ]
check "the admin act and the registration are recorded" grep -q '"event":"admin","verb":"agent_register","principal":"root"' <<<"$all_lines"
check "kernel start and stop are recorded" bash -c "grep -q '\"event\":\"start\"' <<<'$all_lines' && grep -q '\"event\":\"stop\"' <<<'$all_lines'"

echo "-- tampering"
while read -r case files; do
  out=$("$AUDIT" verify $files --tpm-public-key "$TMP/tpm.pem"); rc=$?
  check "$case: caught (exit $rc): $(tail -1 <<<"$out" | cut -c1-110)" [ "$rc" -eq 1 ]
done < <(py "$ROOT/tests/integration/audit_tamper.py" copies "$TMP/tampered" $ALL)
[ -d "$TMP/tampered/resigned" ] || not_ok "the tampered copies were all made"

echo "-- a flood of denials"
kernel_start k2 "ipc://$TMP/b2.ipc" --auth-tokens-file "$TMP/tokens" --grpc-listen "127.0.0.1:$(free_port)"
K2=$LAST_PID
P2=$(wait_for 10 grep -q grpc_port "$TMP/k2.log" && grep -o '"grpc_port":[0-9]*' "$TMP/k2.log" | cut -d: -f2)
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/ping.bin" ping ""
h2load -n 5000 -c 8 -m 16 -t 1 -d "$TMP/ping.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
  -H 'authorization: Bearer not-a-token' "http://127.0.0.1:$P2/cam.SyscallService/Execute" >/dev/null
stop_pid "$K2"
check "5000 denied calls: exactly 5000 deny lines" \
  [ "$(grep -c '"event":"deny"' "$TMP/data-k2/audit.log")" -eq 5000 ]
check "and the trail verifies" "$AUDIT" verify "$TMP/data-k2/audit.log"

echo "-- fail closed"
GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"; PORT=$(free_port)
kernel_start k3 "ipc://$TMP/b3.ipc" --auth-tokens-file "$TMP/tokens" --audit-log /dev/full
exporter_start x3 "ipc://$TMP/b3.ipc" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || not_ok "a kernel starts with /dev/full as its trail"
r=$(call tok-root agent_register "agent:agent-q,scopes:read")
check "an admin verb is refused UNAVAILABLE: audit log unavailable" grep -q '^UNAVAILABLE audit log unavailable' <<<"$r"
r=$(call tok-root agent_list "")
check "and did not run (agent-q not registered)" bash -c "! grep -q agent-q <<<'$r'"
r=$(call tok-a context_read "namespace:root,key:x")
check "a denial stays PERMISSION_DENIED" grep -q '^PERMISSION_DENIED' <<<"$r"
r=$(call tok-a ping "msg:hi")
check "a ping still works" grep -q '^OK' <<<"$r"
check "failures counted in cam_os_audit_write_failures_total" wait_for 5 scrape_has '^cam_os_audit_write_failures_total [1-9]'
h=$(health)
check "the Audit Log component says degraded" grep -q '"status": "degraded"' <<<"$h"

echo "-- ECS names"
GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
kernel_start k4 "ipc://$TMP/b4.ipc" --auth-tokens-file "$TMP/tokens" --log-format ecs
K4=$LAST_PID
wait_for 10 bash -c "$(declare -f call py); G=$G ROOT=$ROOT; call tok-a ping '' | grep -q '^OK'"
call tok-a context_read "namespace:root,key:x" >/dev/null
stop_pid "$K4"
check "CAM_LOG_FORMAT=ecs: event.category, event.outcome, user.name" \
  grep -q '"event.outcome":"failure".*"user.name":"agent-a"' "$TMP/data-k4/audit.log"
check "and the trail verifies" "$AUDIT" verify "$TMP/data-k4/audit.log"

echo "-- no TPM: nothing to seal, the writer sleeps"
GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
kernel_start k5 "ipc://$TMP/b5.ipc" --auth-tokens-file "$TMP/tokens" --audit-seal-s 1
K5=$LAST_PID
wait_for 10 bash -c "$(declare -f call py); G=$G ROOT=$ROOT; call tok-a ping '' | grep -q '^OK'"
call tok-a context_read "namespace:root,key:x" >/dev/null   # a line, and a seal time that passes
sleep 1.5
audit_ticks() { # utime+stime of the kernel's cam-audit thread, in clock ticks
  local t; for t in /proc/"$K5"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = cam-audit ] && awk '{print $14 + $15}' "$t/stat"; done
}
t0=$(audit_ticks); sleep 2; t1=$(audit_ticks)
check "the audit writer used at most 0.1 s of CPU in 2 s past a seal time with no TPM ($t0 -> $t1 ticks)" \
  test "${t0:+yes}" = yes -a "$(( ${t1:-0} - ${t0:-0} ))" -le 10
stop_pid "$K5"

finish
