#!/usr/bin/env bash
# Interop tests of the gRPC server with independent clients: node
# (@grpc/grpc-js, proto-loader, grpc-js-reflection-client) and Python
# (Debian's grpcio). Usage: tests/interop/run.sh [BUILD_DIR]
# The server binary is $CAM_GRPC_SERVER_BIN (default:
# BUILD_DIR/tests/tools/grpc_test_server); it must take --grpc-listen ADDR
# and print "listening on HOST:PORT" once bound. Each test starts and kills
# its own server. Ends with "N passed, N failed"; non-zero exit on failure.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
export CAM_GRPC_SERVER_BIN=${CAM_GRPC_SERVER_BIN:-$build/tests/tools/grpc_test_server}
if [ ! -x "$CAM_GRPC_SERVER_BIN" ]; then
  echo "interop: no server binary at $CAM_GRPC_SERVER_BIN (make tools)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -d "$here/node_modules" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || {
    echo "interop: npm ci failed" >&2; echo "0 passed, 1 failed"; exit 1; }
fi
log=$(mktemp)
# Each server gets a data directory of its own (helpers.js, test_grpcio.py);
# nothing falls back to the user's home.
state=$(mktemp -d)
export XDG_STATE_HOME="$state"
trap 'rm -f "$log"; rm -rf "$state"' EXIT
passed=0 failed=0

echo "== node (grpc-js) against $CAM_GRPC_SERVER_BIN"
(cd "$here" && node --test --test-reporter=spec grpc_js.test.js) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
p=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)
f=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)
if [ -z "$p" ] || [ -z "$f" ]; then p=0 f=1; fi
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
passed=$((passed + p)) failed=$((failed + f))

echo "== python (grpcio) against $CAM_GRPC_SERVER_BIN"
(cd "$here" && /usr/bin/python3 -W ignore::ResourceWarning -m unittest -v test_grpcio) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$log" | tail -1)
if [ -z "$ran" ]; then
  f=1 p=0
else
  f=$(grep -cE ' \.\.\. (FAIL|ERROR)$' "$log")
  p=$((ran - f))
fi
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
passed=$((passed + p)) failed=$((failed + f))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
