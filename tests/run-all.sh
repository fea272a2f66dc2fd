#!/usr/bin/env bash
# `make test`: every suite, each one run even when an earlier one failed.
# Closes with one line "N passed, N failed" over all of them.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
total_p=0; total_f=0; log=$(mktemp)
# No test keeps state in the user's home: each suite points its kernels'
# CAM_DATA_DIR at a folder of its own; this catches any that does not.
state=$(mktemp -d /tmp/cam-test-state-XXXXXX)
export XDG_STATE_HOME="$state"
unset CAM_DATA_DIR STATE_DIRECTORY
suite() {
  local name=$1; shift
  echo "=== $name"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line p f
  line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  p=$(printf '%s' "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
  f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
  total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-0}))
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
    echo "$name exited with $rc"; total_f=$((total_f + 1))
  fi
}
suite "source checks (includes follow tests/layers.conf, SPDX lines)" \
  make --no-print-directory check-source
suite "unit tests" make --no-print-directory -j"$jobs" unit
suite "unit tests under ASan+UBSan" make --no-print-directory -j"$jobs" unit-asan
suite "unit tests under TSan" make --no-print-directory -j"$jobs" unit-tsan
suite "everything built with clang, warnings as errors" make --no-print-directory -j"$jobs" build-clang
suite "fuzz harnesses replaying their corpora (found bugs kept as regress-*)" \
  make --no-print-directory -j"$jobs" fuzz FUZZ_SECONDS=0 FUZZ_ARGS=-runs=0
suite "integration tests" make --no-print-directory -j"$jobs" integration
suite "interop tests (grpc-js, grpcio) against the transport's test server" \
  tests/interop/run.sh build
suite "interop tests (grpc-js, grpcio) against cam-kernel" \
  env CAM_GRPC_SERVER_BIN="$PWD/build/cam-kernel" tests/interop/run.sh build
suite "client libraries (Python camos and cam, TypeScript @cam-os/client) against cam-kernel" \
  tests/clients/run.sh build
rm -f "$log"
if [ -n "$(ls -A "$state")" ]; then
  echo "FAIL a suite left state outside its own folders: $(ls -A "$state")"; total_f=$((total_f + 1))
fi
rm -rf "$state"
echo "all suites: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
