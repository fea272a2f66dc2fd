#!/usr/bin/env bash
# How gRPC connections end (issue 19): a maximum connection age turns
# connections over under grpcio and grpc-js clients with a steady call
# stream and no call fails; a client pinging too often gets GOAWAY
# ENHANCE_YOUR_CALM "too_many_pings"; SIGTERM says GOAWAY in two steps
# (the highest stream id first, then the last one taken).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
H="$ROOT/tests/integration"
I="$ROOT/tests/interop"
at_least() { local v; v=$(metric_value "$EPORT" "$1") && [ "${v%.*}" -ge "$2" ]; }

GRPC_PORT=$(free_port) kernel_start k1 "ipc://$TMP/k1.ipc" \
  --grpc-max-connection-age-ms 1000 --grpc-max-connection-age-grace-ms 3000
K1=$LAST_PID
P1=$(sed -n 's/.*"grpc_port": *\([0-9][0-9]*\).*/\1/p' "$TMP/k1.log" | head -1)
wait_for 10 grep -q '"grpc_port"' "$TMP/k1.log"
P1=$(sed -n 's/.*"grpc_port": *\([0-9][0-9]*\).*/\1/p' "$TMP/k1.log" | head -1)
EPORT=$(free_port)
exporter_start e1 "ipc://$TMP/k1.ipc" "$EPORT"
wait_for 10 metric_is "$EPORT" cam_os_kernel_up 1

"$PY" "$I/steady_client.py" "127.0.0.1:$P1" 6 --callers 4 >"$TMP/py.txt" 2>"$TMP/py.err" &
PYC=$!
node "$I/steady_client.js" "127.0.0.1:$P1" 6 4 >"$TMP/js.txt" 2>"$TMP/js.err"
wait "$PYC"
cat "$TMP/py.txt" "$TMP/js.txt"
check "max age 1 s: grpcio's steady stream for 6 s, no call failed" \
  grep -qE '"ok": [1-9][0-9]*, "failed": 0' "$TMP/py.txt"
check "max age 1 s: grpc-js's steady stream for 6 s, no call failed" \
  grep -qE '"ok":[1-9][0-9]*,"failed":0' "$TMP/js.txt"
sleep 0.5
check "max age 1 s: connections turned over (cam_os_grpc_connections_accepted_total >= 6: $(metric_value "$EPORT" cam_os_grpc_connections_accepted_total))" \
  at_least cam_os_grpc_connections_accepted_total 6

"$PY" "$H/ping_raw.py" "$P1" probe-pings 5 >"$TMP/pings.txt"
cat "$TMP/pings.txt"
check "5 PINGs at once with a call open: GOAWAY ENHANCE_YOUR_CALM, debug data too_many_pings" \
  grep -q '"goaway": "ENHANCE_YOUR_CALM", "debug": "too_many_pings"' "$TMP/pings.txt"

# SIGTERM: a connection with a call open sees GOAWAY(2^31-1) then GOAWAY(last id).
"$PY" "$H/ping_raw.py" "$P1" probe-goaways 4 >"$TMP/goaways.txt" &
GW=$!
wait_for 5 grep -q ready "$TMP/goaways.txt"
kill -TERM "$K1"
wait "$GW"
cat "$TMP/goaways.txt"
check "SIGTERM: GOAWAY in two steps, the highest stream id first, then the last one taken" \
  grep -q '"goaways": \[\[2147483647, "NO_ERROR"\], \[1, "NO_ERROR"\]' "$TMP/goaways.txt"
wait "$K1" 2>/dev/null
finish
