#!/usr/bin/env bash
# `make run`: cam-kernel and cam-exporter on their embedded defaults, in the
# foreground. Ctrl-C (or SIGTERM) stops both.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
build=${1:-build}
# The example drivers are built into the build folder.
export CAM_DRIVERS_DIR=${CAM_DRIVERS_DIR:-$build/drivers}
"$build/cam-kernel" & kernel=$!
"$build/cam-exporter" & exporter=$!
stop() {
  trap - INT TERM
  kill -TERM "$exporter" "$kernel" 2>/dev/null
  wait "$exporter" "$kernel" 2>/dev/null
  exit 0
}
trap stop INT TERM
echo "cam-kernel (pid $kernel): gRPC on ${CAM_GRPC_LISTEN:-127.0.0.1:50051}" >&2
echo "cam-exporter (pid $exporter): curl localhost:8080/metrics" >&2
# Either one dying ends the run, so a failed start is not hidden.
wait -n "$kernel" "$exporter"
rc=$?
# Ctrl-C reaches both programs too; only an exit of their own is news.
[ $rc -ge 128 ] || echo "a process exited ($rc); stopping the other" >&2
stop
