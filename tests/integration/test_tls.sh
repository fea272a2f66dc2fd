#!/usr/bin/env bash
# gRPC over TLS (OpenSSL, ALPN h2) with an independent client: Debian's
# python3-grpcio with the test's own CA-less self-signed certificate.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

GRPC_PORT=$(free_port)
# A CA of the test's own, and a server certificate it signs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$TMP/ca-key.pem" -out "$TMP/ca.pem" -subj "/CN=CAM-OS test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$TMP/key.pem" -out "$TMP/server.csr" -subj /CN=localhost 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$TMP/other-key.pem" -out "$TMP/other-ca.pem" -subj "/CN=Some other CA" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$TMP/san.ext"
openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca-key.pem" \
  -CAcreateserial -days 2 -extfile "$TMP/san.ext" -out "$TMP/cert.pem" 2>/dev/null
kernel_start kernel "ipc://$TMP/bus.ipc" --tls-cert-file "$TMP/cert.pem" --tls-key-file "$TMP/key.pem"
KERNEL=$LAST_PID
tls() { /usr/bin/python3 "$ROOT/tests/integration/tls_client.py" "localhost:$GRPC_PORT" "$TMP/ca.pem" "$1"; }
up() { [[ "$(tls ping)" == "OK"* ]]; }
check "python grpcio: ping over TLS, server cert checked against the test CA" wait_for 10 up
r=$(NODE_PATH="$ROOT/tests/interop/node_modules" node "$ROOT/tests/integration/tls_client.js" "localhost:$GRPC_PORT" "$TMP/ca.pem" 2>&1)
check "node grpc-js: ping over TLS with the test CA ($r)" test "${r:0:2}" = OK
r=$(/usr/bin/python3 "$ROOT/tests/integration/tls_client.py" "localhost:$GRPC_PORT" "$TMP/other-ca.pem" ping 2>&1 | tail -1)
check "a client trusting another CA is refused" bash -c "[[ '${r//\'/}' != OK* ]]"
r=$(tls big)
check "3 MiB request over TLS (flow control through TLS)" test "${r:0:2}" = OK
r=$(tls plain)
check "cleartext client on the TLS port fails ($r)" bash -c "[[ '$r' == ERROR* ]]"
s_client() { echo | timeout 5 openssl s_client -connect "127.0.0.1:$GRPC_PORT" "$@" >"$TMP/s_client.txt" 2>&1; }
s_client -alpn http/1.1
check "a client without ALPN h2 is refused in the handshake" \
  grep -q 'no application protocol' "$TMP/s_client.txt"
s_client -alpn h2 -tls1_1
check "TLS 1.1 is refused" grep -q 'alert protocol version' "$TMP/s_client.txt"
s_client -alpn h2
check "TLS 1.2+ with ALPN h2 is accepted" grep -q 'ALPN protocol: h2' "$TMP/s_client.txt"
check "server still answers after the bad clients" up
check "kernel still running" kill -0 "$KERNEL"
stop_pid "$KERNEL" TERM

"$ROOT/$BUILD/cam-kernel" --grpc-listen "127.0.0.1:$(free_port)" --bus-addr "ipc://$TMP/b2.ipc" \
  --tls-cert-file "$TMP/cert.pem" --tls-key-file "$TMP/nope.pem" >"$TMP/badkey.log" 2>&1; rc=$?
check "a missing key file refuses to start, saying why (exit $rc)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'cannot load key' '$TMP/badkey.log'"
"$ROOT/$BUILD/cam-kernel" --grpc-listen "127.0.0.1:$(free_port)" --bus-addr "ipc://$TMP/b3.ipc" \
  --tls-cert-file "$TMP/cert.pem" >"$TMP/halfkey.log" 2>&1; rc=$?
check "a certificate without a key refuses to start" \
  bash -c "[ $rc -ne 0 ] && grep -q 'both a certificate and a key' '$TMP/halfkey.log'"
finish
