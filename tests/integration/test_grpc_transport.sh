#!/usr/bin/env bash
# The gRPC transport as a real process (tests/tools/grpc_test_server, or
# $CAM_GRPC_SERVER_BIN): h2load load, SIGTERM under load (bounded exit, no
# error answers), garbage on the port. Independent clients only (h2load,
# bash); the grpc-js and grpcio suites are in tests/interop.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

SERVER=${CAM_GRPC_SERVER_BIN:-$ROOT/$BUILD/tests/tools/grpc_test_server}
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/ping.bin"
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/sleep.bin" sleep 50

# server_start NAME: starts the server on a free port; sets PID and PORT.
# Takes "listening on HOST:PORT" (grpc_test_server) or "grpc_port":N from
# a JSON log line (cam-kernel).
server_start() {
  CAM_BUS_ADDR="ipc://$TMP/$1.ipc" start "$1" "$SERVER" --grpc-listen 127.0.0.1:0 "${@:2}"
  PID=$LAST_PID
  wait_for 10 grep -qE 'listening on|"grpc_port"' "$TMP/$1.log" || return 1
  PORT=$(sed -n -e 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' \
    -e 's/.*"grpc_port": *\([0-9][0-9]*\).*/\1/p' "$TMP/$1.log" | head -1)
}

load() { # load N BODY [h2load args...]
  local n=$1 body=$2; shift 2
  h2load -n "$n" -d "$body" -H 'content-type: application/grpc' -H 'te: trailers' "$@" \
    "http://127.0.0.1:$PORT/cam.SyscallService/Execute" 2>&1
}
all_ok() { grep -qE "requests: $1 total, $1 started, $1 done, $1 succeeded, 0 failed, 0 errored" "$2"; }

server_start srv || { not_ok "server starts"; finish; exit; }
ok "server starts and prints its port ($PORT)"

load 20000 "$TMP/ping.bin" -c 4 -m 16 >"$TMP/h2load1.txt"
check "h2load: 20000 pings over 4 connections x 16 streams all answered" \
  all_ok 20000 "$TMP/h2load1.txt"
# At least a 5-byte prefix and success=true (2 bytes) per answer.
data_bytes() { sed -n 's/.*(\([0-9]*\)) data$/\1/p' "$1" | head -1; }
check "h2load responses carry gRPC messages ($(data_bytes "$TMP/h2load1.txt") bytes)" \
  test "$(data_bytes "$TMP/h2load1.txt")" -ge $((20000 * 7))

# Garbage and HTTP/1.1 on the port: closed, server unharmed.
garbage_closed() {
  /usr/bin/python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3)
s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
while s.recv(4096):
    pass
PY
}
check "garbage bytes: connection closed" garbage_closed '\x00\xff\x13garbage\r\n\r\n'
check "HTTP/1.1 request: connection closed" garbage_closed 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
load 1000 "$TMP/ping.bin" -c 1 -m 10 >"$TMP/h2load2.txt"
check "after garbage: 1000 pings answered" all_ok 1000 "$TMP/h2load2.txt"

# SIGTERM under load: in-flight calls finish, exit is bounded and clean.
# 20 calls of 50 ms in flight at a time: far less work than the drain time.
load 2000 "$TMP/sleep.bin" -c 2 -m 10 >"$TMP/h2load3.txt" &
LOAD=$!
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$PID"
wait "$PID"; rc=$?
t1=$(date +%s%N)
wait "$LOAD"
check "SIGTERM: exit code 0 (got $rc)" test "$rc" -eq 0
check "SIGTERM: exit within 6 s ($(( (t1 - t0) / 1000000 )) ms)" test $(( (t1 - t0) / 1000000 )) -lt 6000
check "SIGTERM: no error status among the answered calls" \
  bash -c "! grep -qE 'status codes: [0-9]+ 2xx, [0-9]+ 3xx, [1-9]|, [1-9][0-9]* 5xx' '$TMP/h2load3.txt'"
check "SIGTERM: the calls in flight were answered (>= 20 answers)" \
  awk '/status codes:/ { exit !($3 + 0 >= 20) }' "$TMP/h2load3.txt"

# A port another process holds: the kernel does not start, and says so in
# the system's words (not a generic I/O error).
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$TMP/held.port" &
HOLDER=$!
wait_for 5 test -s "$TMP/held.port"
timeout 10 "$ROOT/$BUILD/cam-kernel" --grpc-listen "127.0.0.1:$(cat "$TMP/held.port")" \
  --bus-addr "ipc://$TMP/held.ipc" --data-dir "$TMP/data-held" >"$TMP/held.log" 2>&1; rc=$?
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
check "a port in use: the kernel exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "... logging 'cannot listen on 127.0.0.1:PORT: Address already in use'" \
  grep -q 'cannot listen on 127.0.0.1:[0-9]*: Address already in use' "$TMP/held.log"
finish
