#!/usr/bin/env bash
# `make test-containers`: every tests/containers/test_*.sh (podman, the
# compose stack, the Debian package, log shippers), summed into one
# "N passed, N failed" line. Needs root (podman, debootstrap, dpkg --root).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
export BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0; t0=$SECONDS
for t in "$here"/test_*.sh; do
  echo "== $(basename "$t")"
  s=$SECONDS
  out=$(bash "$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  echo "  ($((SECONDS - s)) s)"
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
  if [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ]; then fail=$((fail + 1)); fi
done
echo "containers ($((SECONDS - t0)) s): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
