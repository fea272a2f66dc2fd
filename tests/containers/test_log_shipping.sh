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
GRPC_PORT=$GA kernel_start kernel-json "ipc://$TMP/bus-a.ipc"
GRPC_PORT=$GB CAM_LOG_FORMAT=ecs kernel_start kernel-ecs "ipc://$TMP/bus-b.ipc"
listening() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -plaintext "127.0.0.1:$1" list >/dev/null; }
check "a kernel with JSON lines and one with CAM_LOG_FORMAT=ecs serve" \
  bash -c "$(declare -f wait_for listening); ROOT='$ROOT'; wait_for 20 listening $GA && wait_for 20 listening $GB"

shipper() {
  local name=$1 cfg=$2; shift 2
  start "syslog-ng-$name" env "$@" syslog-ng -F -f "$conf/$cfg" --no-caps \
    --persist-file="$TMP/$name.persist" --pidfile="$TMP/$name.pid" --control="$TMP/$name.ctl"
}
shipper loki cam-os-loki.conf CAM_LOG_FILE="$TMP/kernel-json.log" LOKI_URL="http://127.0.0.1:$LP"
shipper es cam-os-elasticsearch.conf CAM_LOG_FILE="$TMP/kernel-ecs.log" ES_URL="http://127.0.0.1:$EP" \
  ES_INDEX=cam-os ES_PIPELINE=_none
shipper splunk cam-os-splunk-hec.conf CAM_LOG_FILE="$TMP/kernel-json.log" \
  SPLUNK_HEC_URL="http://127.0.0.1:$HP" SPLUNK_HEC_TOKEN="$TOKEN" SPLUNK_INDEX=main
sleep 1
check "syslog-ng runs cam-os-loki.conf, cam-os-elasticsearch.conf and cam-os-splunk-hec.conf" \
  bash -c "for f in loki es splunk; do kill -0 \$(cat '$TMP'/\$f.pid) || exit 1; done"

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
  check "$kind: every access line of the three phases arrived with its fields intact, none refused" [ $rc -eq 0 ]
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
check "HEC: no token is 401 (code 2), a wrong one 403 (code 4)" \
  bash -c "$(declare -f refused); TMP='$TMP'; refused 401 http://127.0.0.1:$HP/services/collector/event --data '{\"event\":\"x\"}' &&
           refused 403 http://127.0.0.1:$HP/services/collector/event -H 'Authorization: Splunk nope' --data '{\"event\":\"x\"}'"
check "HEC: an event object without \"event\" is 400 (code 12)" refused 400 "http://127.0.0.1:$HP/services/collector/event" \
  -H "Authorization: Splunk $TOKEN" --data '{"time":1} {"host":"h"}'
finish
