#!/usr/bin/env bash
# The client libraries' cost per call against bare gRPC calls (issue 30):
# camos against a grpcio stub, @cam-os/client against grpc-js, each pair
# side by side in one run, one call at a time and 32 in flight, CPU from
# getrusage / process.cpuUsage (tests/bench/clients_python.py,
# clients_node.js). One kernel (access log off) serves both.
# Usage: tests/bench/clients.sh [BUILD_DIR]
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"

venv=$TMP/venv
/usr/bin/python3 -m venv --system-site-packages "$venv" &&
  "$venv/bin/pip" install -q --no-build-isolation "$ROOT/clients/python" ||
  { echo "clients bench: cannot install clients/python"; exit 1; }
(cd "$ROOT/clients/node" &&
  if [ -d node_modules ]; then node scripts/build.cjs; else npm ci --no-audit --no-fund --loglevel=error; fi) ||
  { echo "clients bench: cannot build clients/node"; exit 1; }

GRPC_PORT=$(free_port)
kernel_start kernel "ipc://$TMP/bus.ipc" --access-log none
wait_for 10 "$venv/bin/cam" --addr "127.0.0.1:$GRPC_PORT" ping || { echo "kernel did not start"; exit 1; }
"$venv/bin/python" "$ROOT/tests/bench/clients_python.py" "127.0.0.1:$GRPC_PORT" "${CLIENTS_ROUNDS:-15}" "${CLIENTS_CALLS:-1000}"
node "$ROOT/tests/bench/clients_node.js" "127.0.0.1:$GRPC_PORT" "${CLIENTS_ROUNDS:-15}" "${CLIENTS_CALLS:-1000}"
