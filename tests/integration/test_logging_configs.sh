#!/usr/bin/env bash
# The log shipper configs of monitoring/logging/ that cannot run here
# (Promtail, Alloy, Filebeat with its ingest pipeline, Splunk), checked by
# check_logging.py against the lines of two real kernels, one with the
# default JSON format and one with CAM_LOG_FORMAT=ecs, after the same calls.
# The syslog-ng configs run for real in tests/containers/test_log_shipping.sh.
# Also: a bad CAM_LOG_FORMAT stops either program at start, saying why.
#
# The audit trail's inputs too, against the trails of two more kernels (JSON
# and ECS, each with its own software TPM, so seal lines are among them)
# after the same calls: every kind of record (call, write, deny by policy,
# by authentication and by scope, admin, start, stop, seal).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

bad_format() {
  local out
  out=$(CAM_LOG_FORMAT=xml CAM_BUS_ADDR="ipc://$TMP/bad.ipc" CAM_GRPC_LISTEN=127.0.0.1:0 \
        CAM_EXPORTER_LISTEN=127.0.0.1:0 timeout 10 "$ROOT/$BUILD/$1" 2>&1); local rc=$?
  [ $rc -ne 0 ] && grep -q 'CAM_LOG_FORMAT must be json or ecs' <<<"$out" || { echo "    rc=$rc: $out"; return 1; }
}
check "cam-kernel refuses CAM_LOG_FORMAT=xml at start, naming the setting" bad_format cam-kernel
check "cam-exporter refuses CAM_LOG_FORMAT=xml at start, naming the setting" bad_format cam-exporter

GA=$(free_port); GB=$(free_port)
GRPC_PORT=$GA kernel_start json "ipc://$TMP/a.ipc"
GRPC_PORT=$GB CAM_LOG_FORMAT=ecs kernel_start ecs "ipc://$TMP/b.ipc"
listening() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -plaintext "127.0.0.1:$1" list >/dev/null; }
check "kernels with CAM_LOG_FORMAT=json and =ecs serve" bash -c \
  "$(declare -f wait_for listening); ROOT='$ROOT'; wait_for 20 listening $GA && wait_for 20 listening $GB"
check "the same 20 calls to both (pings, unknown verbs, traced calls)" \
  /usr/bin/python3 "$ROOT/tests/containers/log_load.py" cfg 20 0 "127.0.0.1:$GA" "127.0.0.1:$GB"

tok() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
printf '%s agent-a read,write\n%s root admin\n' "$(tok tok-a)" "$(tok tok-root)" >"$TMP/tokens"
TA=$(free_port_pair); TE=$(free_port_pair); AA=$(free_port); AB=$(free_port)
swtpm_start swtpm-a "$TA" "$TMP/tpm-a"; swtpm_start swtpm-e "$TE" "$TMP/tpm-e"
AUDIT=(--auth-tokens-file "$TMP/tokens" --audit-events all --audit-seal-lines 4 --audit-seal-s 0)
GRPC_PORT=$AA kernel_start audit-json "ipc://$TMP/c.ipc" "${AUDIT[@]}" \
  --tpm-tcti "swtpm:host=127.0.0.1,port=$TA"; KA=$LAST_PID
GRPC_PORT=$AB CAM_LOG_FORMAT=ecs kernel_start audit-ecs "ipc://$TMP/d.ipc" "${AUDIT[@]}" \
  --tpm-tcti "swtpm:host=127.0.0.1,port=$TE"; KE=$LAST_PID
check "two kernels with tokens, a TPM each and CAM_AUDIT_EVENTS=all serve" bash -c \
  "$(declare -f wait_for listening); ROOT='$ROOT'; wait_for 20 listening $AA && wait_for 20 listening $AB"
# (from their logs: a call would be an audit record of one kernel and not the other)
tpm_ready() { grep -q 'TPM at .* ready' "$TMP/audit-json.log" && grep -q 'TPM at .* ready' "$TMP/audit-ecs.log"; }
check "their TPMs are ready" wait_for 20 tpm_ready
check "the same calls to both: 3 rounds of pings, a write, denials (policy, token, scope), admin acts" \
  /usr/bin/python3 "$ROOT/tests/containers/log_load.py" --audit tok-a tok-root 3 "127.0.0.1:$AA" "127.0.0.1:$AB"
stop_pid "$KA"; stop_pid "$KE"   # a last seal and the stop record
AJ=$TMP/data-audit-json/audit.log; AE=$TMP/data-audit-ecs/audit.log
kinds() { grep -o '"event":"[a-z]*"' "$AJ" | sort | uniq -c | tr -s ' \n' ' '; }
echo "  JSON trail: $(wc -l <"$AJ") lines: $(kinds)"
has_kinds() {
  local e
  for e in start call write deny admin seal stop; do
    grep -q "\"event\":\"$e\"" "$AJ" || { echo "    no $e record"; return 1; }
  done
}
check "the JSON trail holds every kind of record, seals included" has_kinds
sleep 0.5
check "check_logging.py: Promtail, Alloy, Filebeat + ingest pipelines, Splunk props/inputs/indexes against those lines and trails" \
  /usr/bin/python3 "$ROOT/tests/integration/check_logging.py" "$ROOT" "$TMP/json.log" "$TMP/ecs.log" "$AJ" "$AE"
finish
