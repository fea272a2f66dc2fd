#!/usr/bin/env bash
# Hostile requests to the syscall layer (issue 15), sent as raw frames
# (syscall_strict.py, h2_hostile.py): strings that are not UTF-8 text,
# repeated credentials, a call without a token whose body never comes to
# be buffered, and a flood of failing calls that must not flood the log.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
H="$ROOT/tests/integration"
grpc_port_of() {
  wait_for 10 grep -q '"grpc_port"' "$1" || return 1
  sed -n 's/.*"grpc_port": *\([0-9][0-9]*\).*/\1/p' "$1" | head -1
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

kernel_start k1 "ipc://$TMP/k1.ipc"
K1=$LAST_PID
P1=$(grpc_port_of "$TMP/k1.log") || { not_ok "kernel starts"; finish; exit; }
EPORT=$(free_port)
exporter_start e1 "ipc://$TMP/k1.ipc" "$EPORT"

"$PY" "$H/syscall_strict.py" "$P1" strings >"$TMP/strings.json"
j() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/strings.json" "$1"; }
for c in payload_nul:payload payload_bad_utf8:payload payload_overlong:payload verb_nul:verb \
         caller_bad_utf8:caller_id context_value_nul:payload health_caller_nul:caller_id; do
  name=${c%%:*} field=${c#*:}
  check "$name: INVALID_ARGUMENT naming field $field" \
    bash -c "[ '$(j "d['$name']['status']")' = 3 ] && [[ '$(j "d['$name']['message']")' == *'field $field '* ]]"
done
check "valid UTF-8 is served and echoed intact: $(j "d['good_utf8']['result']")" \
  bash -c "[ '$(j "d['good_utf8']['status']")' = 0 ] && [ '$(j "d['good_utf8']['result']")' = 'msg:h'$'\xc3\xa9''llo '$'\xe2\x98\x83' ]"
check "context_write of a value with a NUL stored nothing" \
  bash -c "! grep -q '\"syscall\":\"context_write\",[^}]*\"success\":true' '$TMP/k1.log'"

"$PY" "$H/syscall_strict.py" "$P1" twoauth >"$TMP/twoauth.json"
check "two authorization headers are UNAUTHENTICATED (no tokens file)" \
  grep -q '"status": "16", "message": "more than one authorization header"' "$TMP/twoauth.json"

# emit_metric refuses reserved and misleading names and labels, numbers
# that are not plain decimals, and a counter's overflow to +Inf.
emit() { /usr/bin/python3 "$H/grpcurl.py" -plaintext -d "{\"verb\":\"emit_metric\",\"payload\":\"$1\"}" \
  "127.0.0.1:$P1" cam.SyscallService/Execute 2>&1; }
refused_emit() { local r; r=$(emit "$1"); printf '%s' "$r" | grep -q "ERROR: $2: .*$3"; }
check "emit_metric up is refused" refused_emit "metric_name:up,value:1,type:gauge" INVALID_ARGUMENT "Prometheus itself"
check "emit_metric scrape_duration_seconds is refused" \
  refused_emit "metric_name:scrape_duration_seconds,value:1,type:gauge" INVALID_ARGUMENT "Prometheus itself"
check "emit_metric x_bucket is refused" refused_emit "metric_name:x_bucket,value:1" INVALID_ARGUMENT "_bucket"
check "emit_metric an le label on a counter is refused" \
  refused_emit "metric_name:x_hits_total,value:1,labels:le=1" INVALID_ARGUMENT "label le"
check "emit_metric value 0x10 is refused" refused_emit "metric_name:x_hits_total,value:0x10" INVALID_ARGUMENT "decimal"
check "emit_metric value ' 5' is refused" refused_emit "metric_name:x_hits_total,value: 5" INVALID_ARGUMENT "decimal"
emit "metric_name:x_big_total,value:1e308" >/dev/null
check "emit_metric 1e308 twice: the second is OUT_OF_RANGE" \
  refused_emit "metric_name:x_big_total,value:1e308" OUT_OF_RANGE "largest finite"
wait_for 10 metric_is "$EPORT" cam_os_kernel_up 1
check "the counter stays finite (x_big_total 1e+308)" wait_for 5 metric_is "$EPORT" x_big_total 1e+308
for r in reserved_name reserved_label invalid_value; do
  check "cam_os_metrics_series_rejected_total{family=\"\",reason=\"$r\"} counts them" \
    wait_for 5 bash -c "curl -fsS http://127.0.0.1:$EPORT/metrics | grep -qE '^cam_os_metrics_series_rejected_total\\{family=\"\",reason=\"$r\"\\} [1-9]'"
done
check 'cam_os_metrics_series_rejected_total{family="x_big_total",reason="overflow"} 1' \
  wait_for 5 metric_is "$EPORT" 'cam_os_metrics_series_rejected_total{family="x_big_total",reason="overflow"}' 1

# A flood of failing calls from one client: every error counted, few lines.
"$PY" "$H/syscall_strict.py" "$P1" flood 4 >"$TMP/flood.json"
sleep 0.5
SENT=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["answered"])' "$TMP/flood.json")
LINES=$(grep -c '"syscall":"unknown"' "$TMP/k1.log")
wait_for 10 metric_is "$EPORT" cam_os_kernel_up 1
ERRS=$(metric_value "$EPORT" 'cam_os_syscall_errors_total{verb="unknown",code="UNIMPLEMENTED"}')
SUPP=$(metric_value "$EPORT" cam_os_access_log_suppressed_total)
check "flood: $SENT failing calls answered, all counted in cam_os_syscall_errors_total ($ERRS)" \
  test "${ERRS%.*}" -ge "$SENT"
check "flood: only $LINES access-log lines for them (10/s per caller, bursts of 20)" \
  test "$LINES" -le 80
check "flood: the lines held back are counted (cam_os_access_log_suppressed_total $SUPP)" \
  test "${SUPP%.*}" -ge $((SENT - LINES))
check "flood: a later line says how many of the caller's lines were held back" \
  grep -qE '"syscall":"unknown".*"suppressed":[1-9]' "$TMP/k1.log"
stop_pid "$K1"

# With tokens: a call without one is refused at its headers; bodies of 4 MB
# messages from 6 such connections are never buffered.
echo "$(printf %s good-token | sha256sum | cut -d' ' -f1) agent read" >"$TMP/tokens"
kernel_start k2 "ipc://$TMP/k2.ipc" --auth-tokens-file "$TMP/tokens"
K2=$LAST_PID
P2=$(grpc_port_of "$TMP/k2.log") || { not_ok "kernel with tokens starts"; finish; exit; }
BASE=$(rss_kb "$K2")
"$PY" "$H/h2_hostile.py" unfinished "$P2" 6 3 4000000 4 >"$TMP/notoken.json"
AFTER=$(rss_kb "$K2")
cat "$TMP/notoken.json"
check "no token, 18 unfinished 4 MB messages: each refused at HEADERS (missing bearer token)" \
  grep -q '"refusals": 18, "kinds": \["missing bearer token' "$TMP/notoken.json"
check "no token: RSS grew $(( (AFTER - BASE) / 1024 )) MiB (nothing of the bodies kept)" \
  test $((AFTER - BASE)) -lt $((8 * 1024))
"$PY" "$H/h2_hostile.py" unfinished "$P2" 1 1 1000 1 authorization="Bearer good-token" >"$TMP/token.json"
check "the valid token's call is not refused at HEADERS" grep -q '"refusals": 0' "$TMP/token.json"
finish
