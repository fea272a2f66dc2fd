#!/usr/bin/env bash
# Logs into Loki, Elasticsearch and Splunk with a real shipper: Debian's
# syslog-ng (http module) runs the configs of monitoring/logging/syslog-ng/
# as they are, reading the kernel's log file (what journald, a file or
# `kubectl logs` would hold) and posting to tests/containers/log_receiver.py,
# which checks every request against the documented format of Loki's push
# API, Elasticsearch's _bulk and Splunk's HEC event endpoint.
#
# Two kernels under load: one with the default JSON lines (to Loki and
# Splunk), one with CAM_LOG_FORMAT=ecs (to Elasticsearch). The load runs in
# three phases: receivers up, then 10 s with the receivers killed while the
# load goes on, then up again. Every access line of the load must arrive,
# once, with every field intact (log_compare.py).
#
# The audit trail too: both kernels audit every call (CAM_AUDIT_EVENTS=all)
# and rotate their trail every 64 KiB, so the shippers follow it across
# several renames, outage included. Every line of every file of the trail
# must arrive in the audit destination (Loki stream {job="cam-os-audit",
# log_type="audit"}, index cam-os-audit, sourcetype cam_os:audit with index
# cam_os_audit) byte for byte, none in the access log's and none of the
# access log's in it; the trail put back together from each store by seq
# must verify with build/cam-audit.
#
# No Loki, Elasticsearch or Splunk server can be installed here: the
# receivers stand in for them; the Promtail, Alloy, Filebeat and Universal
# Forwarder configs are only checked (test_logging_configs.sh).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/../integration/lib.sh"
here=$ROOT/tests/containers
conf=$ROOT/monitoring/logging/syslog-ng

if ! command -v syslog-ng >/dev/null || [ ! -e /usr/lib/syslog-ng/3.38/libhttp.so ]; then
  not_ok "syslog-ng with its http module not found (make deps installs syslog-ng-core and syslog-ng-mod-http)"
  finish; exit
fi
R=$TMP/received; mkdir -p "$R"
LP=$(free_port); EP=$(free_port); HP=$(free_port); TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
receiver_up() {
  start receiver /usr/bin/python3 "$here/log_receiver.py" "$R" "$LP" "$EP" "$HP" "$TOKEN"
  RPID=$LAST_PID
  wait_for 10 curl -fsS "http://127.0.0.1:$HP/"
}
check "receivers for Loki, Elasticsearch and Splunk HEC listening" receiver_up

GA=$(free_port); GB=$(free_port)
AUDIT=(--audit-events all --audit-max-bytes 65536)
GRPC_PORT=$GA kernel_start kernel-json "ipc://$TMP/bus-a.ipc" "${AUDIT[@]}"
GRPC_PORT=$GB CAM_LOG_FORMAT=ecs kernel_start kernel-ecs "ipc://$TMP/bus-b.ipc" "${AUDIT[@]}"
AJ=$TMP/data-kernel-json/audit.log; AE=$TMP/data-kernel-ecs/audit.log
listening() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -plaintext "127.0.0.1:$1" list >/dev/null; }
check "a kernel with JSON lines and one with CAM_LOG_FORMAT=ecs serve" \
  bash -c "$(declare -f wait_for listening); ROOT='$ROOT'; wait_for 20 listening $GA && wait_for 20 listening $GB"

shipper() {
  local name=$1 cfg=$2; shift 2
  mkdir -p "$TMP/buffer-$name"
  start "syslog-ng-$name" env CAM_AUDIT_BUFFER_DIR="$TMP/buffer-$name" "$@" syslog-ng -F -f "$conf/$cfg" --no-caps \
    --persist-file="$TMP/$name.persist" --pidfile="$TMP/$name.pid" --control="$TMP/$name.ctl"
}
shipper loki cam-os-loki.conf CAM_LOG_FILE="$TMP/kernel-json.log" LOKI_URL="http://127.0.0.1:$LP" \
  CAM_AUDIT_FILE="$AJ"
shipper es cam-os-elasticsearch.conf CAM_LOG_FILE="$TMP/kernel-ecs.log" ES_URL="http://127.0.0.1:$EP" \
  ES_INDEX=cam-os ES_PIPELINE=_none CAM_AUDIT_FILE="$AE" ES_AUDIT_INDEX=cam-os-audit ES_AUDIT_PIPELINE=_none
shipper splunk cam-os-splunk-hec.conf CAM_LOG_FILE="$TMP/kernel-json.log" \
  SPLUNK_HEC_URL="http://127.0.0.1:$HP" SPLUNK_HEC_TOKEN="$TOKEN" SPLUNK_INDEX=main \
  CAM_AUDIT_FILE="$AJ" SPLUNK_AUDIT_INDEX=cam_os_audit
check "syslog-ng runs cam-os-loki.conf, cam-os-elasticsearch.conf and cam-os-splunk-hec.conf" \
  wait_for 10 bash -c "for f in loki es splunk; do kill -0 \$(cat '$TMP'/\$f.pid) || exit 1; done"

N=300
load() { /usr/bin/python3 "$here/log_load.py" "$1" "$N" "$2" "127.0.0.1:$GA" "127.0.0.1:$GB" >/dev/null; }
check "load, receivers up: $N calls to each kernel" load load-1 3
compare() { /usr/bin/python3 "$here/log_compare.py" "$@"; }
all_arrived() {
  compare --poll loki "$TMP/kernel-json.log" "$R" load >/dev/null &&
  compare --poll es "$TMP/kernel-ecs.log" "$R" load >/dev/null &&
  compare --poll splunk "$TMP/kernel-json.log" "$R" load >/dev/null
}
check "... every line of it arrived in all three" wait_for 30 all_arrived

stop_pid "$RPID" KILL
down_at=$SECONDS
check "load while every receiver is down: $N calls to each kernel over 8 s" load load-2 8
check "nothing of it could arrive while they were down" \
  bash -c "! grep -q 'load-2-' '$R'/*.jsonl"
sleep $((10 - (SECONDS - down_at) > 0 ? 10 - (SECONDS - down_at) : 0))
echo "  note: receivers were down $((SECONDS - down_at)) s"
check "receivers up again on the same ports" receiver_up
check "load, receivers up again: $N calls to each kernel" load load-3 3
wait_for 60 all_arrived
for kind in loki es splunk; do
  log=$TMP/kernel-json.log; [ $kind = es ] && log=$TMP/kernel-ecs.log
  r=$(compare "$kind" "$log" "$R" load); rc=$?
  echo "  $r"
  check "$kind: every access line of the three phases arrived with its fields intact, none refused, no audit line among them" [ $rc -eq 0 ]
done

# The audit trails: the rotated files, oldest first, then the current one.
trail() { ls "$1".* 2>/dev/null | sort; echo "$1"; }
audit_arrived() {
  compare --poll audit-loki "$R" "$TMP/trail-loki" $(trail "$AJ") >/dev/null &&
  compare --poll audit-es "$R" "$TMP/trail-es" $(trail "$AE") >/dev/null &&
  compare --poll audit-splunk "$R" "$TMP/trail-splunk" $(trail "$AJ") >/dev/null
}
rotated() { [ "$(trail "$AJ" | wc -l)" -ge 3 ] && [ "$(trail "$AE" | wc -l)" -ge 3 ]; }
check "the trails were rotated while shipped ($(trail "$AJ" | wc -l) and $(trail "$AE" | wc -l) files)" rotated
wait_for 60 audit_arrived
for kind in loki es splunk; do
  f=$AJ; [ $kind = es ] && f=$AE
  r=$(compare "audit-$kind" "$R" "$TMP/trail-$kind" $(trail "$f")); rc=$?
  echo "  $r"
  check "$kind: every line of the audit trail, across its rotations and the outage, arrived in its own destination byte for byte; none in the access log's, none of the access log's in it" [ $rc -eq 0 ]
  v=$("$ROOT/$BUILD/cam-audit" verify "$TMP/trail-$kind" 2>&1); rc=$?
  echo "  $(tr '\n' ' ' <<<"$v")"
  check "$kind: the trail read back from the store, ordered by seq, verifies (cam-audit verify exit $rc)" [ $rc -eq 0 ]
done

# The receivers refuse what the real stores refuse (so the checks above
# could fail): one malformed request of each kind.
refused() {  # EXPECTED_STATUS URL CURL_ARGS...
  local want=$1 url=$2; shift 2
  [ "$(curl -s -o "$TMP/refused.body" -w '%{http_code}' "$@" "$url")" = "$want" ] ||
    { cat "$TMP/refused.body"; return 1; }
}
check "Loki: a push that is not {\"streams\": [...]} is 400" refused 400 "http://127.0.0.1:$LP/loki/api/v1/push" \
  -H 'Content-Type: application/json' --data '{"values":[["1","x"]]}'
check "Loki: a timestamp that is not a string of nanoseconds is 400" refused 400 "http://127.0.0.1:$LP/loki/api/v1/push" \
  -H 'Content-Type: application/json' --data '{"streams":[{"stream":{"job":"x"},"values":[[1,"x"]]}]}'
check "_bulk: a body not ending in a newline is 400" refused 400 "http://127.0.0.1:$EP/_bulk" \
  -H 'Content-Type: application/x-ndjson' --data-binary $'{"create":{"_index":"cam-os"}}\n{"a":1}'
check "_bulk: a wrong Content-Type is 406" refused 406 "http://127.0.0.1:$EP/_bulk" \
  -H 'Content-Type: text/plain' --data-binary $'{"create":{"_index":"cam-os"}}\n{"a":1}\n'
dup_refused() {  # the first audit document again, with its _id: 409 for that item
  local id
  id=$(/usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["index"] == "cam-os-audit":
        print(d["id"]); break' "$R/elasticsearch.jsonl")
  [ -n "$id" ] && curl -s -H 'Content-Type: application/x-ndjson' --data-binary \
    "{\"create\":{\"_index\":\"cam-os-audit\",\"_id\":\"$id\"}}"$'\n{"a":1}\n' "http://127.0.0.1:$EP/_bulk" |
    grep -q '"errors": true.*"status": 409'
}
check "_bulk: a create with an _id the index holds is 409 for that item (an audit line sent twice is indexed once)" dup_refused
check "HEC: no token is 401 (code 2), a wrong one 403 (code 4)" \
  bash -c "$(declare -f refused); TMP='$TMP'; refused 401 http://127.0.0.1:$HP/services/collector/event --data '{\"event\":\"x\"}' &&
           refused 403 http://127.0.0.1:$HP/services/collector/event -H 'Authorization: Splunk nope' --data '{\"event\":\"x\"}'"
check "HEC: an event object without \"event\" is 400 (code 12)" refused 400 "http://127.0.0.1:$HP/services/collector/event" \
  -H "Authorization: Splunk $TOKEN" --data '{"time":1} {"host":"h"}'
finish
