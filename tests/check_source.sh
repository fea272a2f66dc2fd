#!/usr/bin/env bash
# `make check-source`: checks of the tree itself. No #include points up the
# layers (tests/check_layers.py against tests/layers.conf), and every source
# file keeps its SPDX line (tests/check_spdx.sh). Closes with one line
# "source: N passed, N failed" over both.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
cd "$(dirname "$0")/.."
pass=0; fail=0; rc=0
for check in "/usr/bin/python3 tests/check_layers.py" "tests/check_spdx.sh"; do
  out=$($check 2>&1) || rc=1
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
  p=$(printf '%s' "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
  f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-1}))
done
echo "source: $pass passed, $fail failed"
[ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]
