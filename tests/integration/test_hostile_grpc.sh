#!/usr/bin/env bash
# Hostile clients on the gRPC port, played with raw HTTP/2 frames
# (h2_hostile.py, h2_conformance.py on Debian's python3-h2) against the
# real kernel and the transport's test server: each finding of issue 15 is
# reproduced and must now leave the server's memory under its buffer
# budget and its good clients served.
#
#   - RFC 9113 conformance (55 cases), also run against nghttpd to show
#     the cases expect what a reference server does;
#   - a client with a flow-control window of 0 that never reads its
#     answers (2,000 context_read calls of a 1 MiB value);
#   - connections that start 4 MB messages and never finish them;
#   - 2,000 connections that never send the preface, under a 1,024
#     descriptor limit;
#   - the idle timeout, the connection cap, the admission check at HEADERS.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

H="$ROOT/tests/integration"
PY=/usr/bin/python3
BUDGET=$((64 << 20))
TEST_SERVER="$ROOT/$BUILD/tests/tools/grpc_test_server"

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# sample_rss PID FILE: the process's RSS every 0.1 s into FILE until killed.
sample_rss() { while kill -0 "$1" 2>/dev/null; do rss_kb "$1" >>"$2"; sleep 0.1; done; }
peak() { sort -n "$1" | tail -1; }
grpc_port_of() { # the port a kernel log names
  wait_for 10 grep -q '"grpc_port"' "$1" || return 1
  sed -n 's/.*"grpc_port": *\([0-9][0-9]*\).*/\1/p' "$1" | head -1
}

# ---- conformance ----------------------------------------------------------
mkdir -p "$TMP/www" && printf 'hello world' >"$TMP/www/index.html"
NGPORT=$(free_port)
start nghttpd nghttpd --no-tls -d "$TMP/www" "$NGPORT"
NGPID=$LAST_PID
wait_for 20 "$PY" -c "import sys; sys.path.insert(0, '$H'); from h2raw import Conn; Conn($NGPORT).handshake()"
"$PY" "$H/h2_conformance.py" "$NGPORT" --reference >"$TMP/ref.txt" 2>&1
# nghttpd misses one case (it ignores a HEADERS with a lower stream id).
check "nghttpd (the reference) passes every case but 5.1.1's lower stream id ($(tail -1 "$TMP/ref.txt"))" \
  bash -c "grep -q '51 passed, 1 failed' '$TMP/ref.txt' && grep -q 'not ok - 5.1.1: stream id lower' '$TMP/ref.txt'"
stop_pid "$NGPID"

kernel_start k1 "ipc://$TMP/k1.ipc" --grpc-max-buffered-bytes "$BUDGET"
K1=$LAST_PID
P1=$(grpc_port_of "$TMP/k1.log") || { not_ok "kernel starts"; finish; exit; }
"$PY" "$H/h2_conformance.py" "$P1" >"$TMP/conf.txt" 2>&1
check "cam-kernel passes all RFC 9113 cases ($(tail -1 "$TMP/conf.txt"))" \
  grep -q '^55 passed, 0 failed' "$TMP/conf.txt"
grep 'not ok' "$TMP/conf.txt" | head -5

# ---- a client that never reads its answers --------------------------------
head -c $((1 << 20)) /dev/zero | tr '\0' 'a' >"$TMP/value.bin"
"$PY" "$H/ping_raw.py" "$P1" 1 --write "namespace:big,key:v" "$TMP/value.bin" >"$TMP/write.txt"
check "a 1 MiB value is stored" grep -q '"ok": 1' "$TMP/write.txt"
BASE=$(rss_kb "$K1")
sample_rss "$K1" "$TMP/rss1.txt" & SAMPLER=$!
"$PY" "$H/h2_hostile.py" window0 "$P1" 2000 "namespace:big,key:v" >"$TMP/w0.txt" &
W0=$!
"$PY" "$H/ping_raw.py" "$P1" 20 >"$TMP/w0-pings.txt"
wait "$W0"; sleep 0.5; kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
PEAK=$(peak "$TMP/rss1.txt")
cat "$TMP/w0.txt"
check "window-0 client: it is sent GOAWAY ENHANCE_YOUR_CALM and closed (within 10 s)" \
  grep -q '"goaway": "ENHANCE_YOUR_CALM", .*"closed": true' "$TMP/w0.txt"
check "window-0 client: new streams refused (REFUSED_STREAM) once its answers pile up" \
  bash -c "grep -qE '\"refused_streams\": [1-9]' '$TMP/w0.txt'"
# The budget bounds the answers queued; the handlers building the next
# ones (2 workers, each with a 2 MiB answer and its copy) come on top.
check "window-0 client: RSS grew $(( (PEAK - BASE) / 1024 )) MiB: the 64 MiB budget and the handlers' working memory" \
  test $(( (PEAK - BASE) * 1024 )) -lt $((BUDGET + (8 << 20)))
check "window-0 client: 20 pings of another client answered meanwhile" \
  grep -q '"ok": 20' "$TMP/w0-pings.txt"
sleep 0.5
AFTER=$(rss_kb "$K1")
check "window-0 client: its memory is given back once it is gone (RSS $((AFTER / 1024)) MiB, was $((BASE / 1024)))" \
  test "$AFTER" -lt $((BASE + 8 * 1024))

# ---- messages started and never finished ---------------------------------
BASE=$(rss_kb "$K1")
sample_rss "$K1" "$TMP/rss2.txt" & SAMPLER=$!
"$PY" "$H/h2_hostile.py" unfinished "$P1" 20 3 4000000 8 >"$TMP/unf.txt" &
UNF=$!
sleep 4
"$PY" "$H/ping_raw.py" "$P1" 20 >"$TMP/unf-pings.txt"
wait "$UNF"; sleep 0.5; kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
PEAK=$(peak "$TMP/rss2.txt")
cat "$TMP/unf.txt"
check "unfinished messages: refused once a connection's share is held" \
  grep -q 'too much request data buffered on this connection' "$TMP/unf.txt"
check "unfinished messages: refused once the server's budget is spent" \
  grep -q 'out of buffer space for requests' "$TMP/unf.txt"
check "unfinished messages on 20 connections: RSS grew $(( (PEAK - BASE) / 1024 )) MiB, under the 64 MiB budget" \
  test $(( (PEAK - BASE) * 1024 )) -lt "$BUDGET"
check "unfinished messages: 20 pings of another client answered meanwhile" \
  grep -q '"ok": 20' "$TMP/unf-pings.txt"

# ---- the counters --------------------------------------------------------
EPORT=$(free_port)
exporter_start e1 "ipc://$TMP/k1.ipc" "$EPORT"
wait_for 10 metric_is "$EPORT" cam_os_kernel_up 1
at_least_1() { local v; v=$(metric_value "$EPORT" "$1") && [ "${v%.*}" -ge 1 ]; }
check "cam_os_grpc_connections_closed_total{reason=\"response_budget\"} counts the window-0 client" \
  at_least_1 'cam_os_grpc_connections_closed_total{reason="response_budget"}'
for r in backpressure connection_budget buffer_budget; do
  check "cam_os_grpc_calls_refused_total{reason=\"$r\"} counts its refusals" \
    at_least_1 "cam_os_grpc_calls_refused_total{reason=\"$r\"}"
done
check "cam_os_grpc_buffer_budget_bytes is the budget set" \
  metric_is "$EPORT" cam_os_grpc_buffer_budget_bytes "$BUDGET"
check "the kernel logged those refusals at most once per reason per 10 s" \
  bash -c "[ \$(grep -c 'stream refused: the connection does not read its answers' '$TMP/k1.log') -le 2 ]"
stop_pid "$K1"

# ---- 2,000 silent connections under a 1,024-descriptor limit ------------
(ulimit -n 1024 && exec "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/k2.ipc" \
  --grpc-listen 127.0.0.1:0 --grpc-handshake-timeout-ms 3000) >>"$TMP/k2.log" 2>&1 &
K2=$!; PIDS+=("$K2")
P2=$(grpc_port_of "$TMP/k2.log") || { not_ok "kernel starts under ulimit -n 1024"; finish; exit; }
"$PY" "$H/h2_hostile.py" silent "$P2" 2000 10 >"$TMP/silent.txt" &
SIL=$!
sleep 1.5
"$PY" "$H/ping_raw.py" "$P2" 10 >"$TMP/silent-pings.txt"
wait "$SIL"
cat "$TMP/silent.txt"
check "2,000 silent connections: all closed (handshake timeout 3 s, or the cap)" \
  grep -q '"opened": 2000, "closed": 2000, "still_open": 0' "$TMP/silent.txt"
check "2,000 silent connections: a good client's 10 pings answered meanwhile" \
  grep -q '"ok": 10' "$TMP/silent-pings.txt"
check "2,000 silent connections: the kernel never paused accepting" \
  bash -c "! grep -q 'pausing new connections' '$TMP/k2.log'"
check "2,000 silent connections: the kernel is still up" kill -0 "$K2"
stop_pid "$K2"

# ---- idle timeout and the connection cap (transport test server) ---------
start ts "$TEST_SERVER" --listen 127.0.0.1:0 --idle-ms 500 --max-connections 20 \
  --require x-test-token=ok
TS=$LAST_PID
wait_for 10 grep -q 'listening on' "$TMP/ts.log"
TP=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/ts.log" | head -1)
"$PY" "$H/ping_raw.py" "$TP" probe-idle >"$TMP/idle.txt"
check "idle timeout: a connection with no stream gets GOAWAY NO_ERROR after 500 ms" \
  grep -q '"goaway": "NO_ERROR"' "$TMP/idle.txt"
"$PY" "$H/ping_raw.py" "$TP" probe-cap 20 >"$TMP/cap.txt"
check "connection cap of 20: the 21st connection is served and the oldest idle one is told GOAWAY" \
  grep -q '"newest_served": true, "oldest_goaway": true' "$TMP/cap.txt"
"$PY" "$H/ping_raw.py" "$TP" probe-admission >"$TMP/adm.txt"
cat "$TMP/adm.txt"
check "admission at HEADERS: no token is UNAUTHENTICATED at once, before any DATA" \
  grep -q '"missing": "16"' "$TMP/adm.txt"
check "admission at HEADERS: the header given twice is UNAUTHENTICATED" \
  grep -q '"twice": "16"' "$TMP/adm.txt"
check "admission at HEADERS: the right header once is served" \
  grep -q '"good": "0"' "$TMP/adm.txt"
# What is held then is the open calls themselves (their objects and
# headers, a few KiB each), never the megabytes of the refused body.
check "admission at HEADERS: a refused call's 3 MB body is never buffered ($(sed -n 's/.*"buffered_after_refusal": \([0-9]*\).*/\1/p' "$TMP/adm.txt") bytes held)" \
  bash -c "[ \$(sed -n 's/.*\"buffered_after_refusal\": \([0-9]*\).*/\1/p' '$TMP/adm.txt') -lt 65536 ]"
finish
