#!/usr/bin/env bash
# The log shipper configs of monitoring/logging/ that cannot run here
# (Promtail, Alloy, Filebeat with its ingest pipeline, Splunk), checked by
# check_logging.py against the lines of two real kernels, one with the
# default JSON format and one with CAM_LOG_FORMAT=ecs, after the same calls.
# The syslog-ng configs run for real in tests/containers/test_log_shipping.sh.
# Also: a bad CAM_LOG_FORMAT stops either program at start, saying why.
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
sleep 0.5
check "check_logging.py: Promtail, Alloy, Filebeat + ingest pipeline, Splunk props/inputs against those lines" \
  /usr/bin/python3 "$ROOT/tests/integration/check_logging.py" "$ROOT" "$TMP/json.log" "$TMP/ecs.log"
finish
