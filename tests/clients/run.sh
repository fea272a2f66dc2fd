#!/usr/bin/env bash
# The client libraries' tests (issue 30), against real kernels of BUILD_DIR:
#   Python  camos (blocking, asyncio) and the cam command, installed into a
#           venv over Debian's packages as the README says;
#   node    @cam-os/client, built in clients/node (npm ci the first time);
#   install pip and npm installs from a fresh clone, then the example agents.
# Usage: tests/clients/run.sh [BUILD_DIR]. Every process it starts is killed
# by PID at exit. Ends with "clients: N passed, N failed".
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export BUILD=${1:-build}
export CAM_TEST_TMP
CAM_TEST_TMP=$(mktemp -d /tmp/cam-clients-XXXXXX)
export CAM_TEST_PIDFILE=$CAM_TEST_TMP/pids
export GRPC_VERBOSITY=NONE  # grpc C-core's own lines about refused handshakes
log=$CAM_TEST_TMP/suite.log
passed=0 failed=0

cleanup() {
  local pid
  if [ -f "$CAM_TEST_PIDFILE" ]; then
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$CAM_TEST_PIDFILE"
  fi
  rm -rf "$CAM_TEST_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# count PASSED FAILED: adds a suite's counts (a suite with no count line
# or a failing exit and no failure counted is one failure).
count() {
  local p=${1:-0} f=${2:-0} rc=$3
  if [ -z "$1" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then f=$((f + 1)); fi
  passed=$((passed + p)) failed=$((failed + f))
}

echo "== python: camos in a venv over Debian's python3-grpcio (pip install --no-build-isolation)"
venv=$CAM_TEST_TMP/venv
if /usr/bin/python3 -m venv --system-site-packages "$venv" &&
   "$venv/bin/pip" install -q --no-build-isolation "$root/clients/python"; then
  (cd "$here" && "$venv/bin/python" run_python.py test_python_surface test_python_verbs \
     test_python_errors test_python_values test_python_conn test_cli) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^python clients: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  count "$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")" \
        "$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")" "$rc"
else
  echo "could not install clients/python"; count 0 1 1
fi

echo "== node: @cam-os/client"
if (cd "$root/clients/node" &&
    if [ -d node_modules ]; then node scripts/build.cjs; else npm ci --no-audit --no-fund --loglevel=error; fi); then
  (cd "$here/node" && node --test --test-reporter=spec ./*.test.js) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  count "$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)" \
        "$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)" "$rc"
else
  echo "could not build clients/node"; count 0 1 1
fi

echo "== install from a fresh clone, then the example agents"
bash "$here/test_install.sh" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
count "$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")" \
      "$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")" "$rc"

echo "clients: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
