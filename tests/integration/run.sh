#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh and sums their "N passed, N failed".
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
export BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0
for t in "$here"/test_*.sh; do
  echo "== $(basename "$t")"
  out=$(bash "$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
  p=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/; s/^([0-9]+) passed.*/\1/')
  f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
  if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then fail=$((fail + 1)); fi
done
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
