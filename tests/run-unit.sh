#!/usr/bin/env bash
# Runs the cmocka unit test binaries given as arguments (after the build
# folder) and closes with one line "N passed, N failed" over all of them.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
build=$1; shift
pass=0; fail=0; failed=()
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
  if [ $rc -ne 0 ]; then
    [ -n "$f" ] || fail=$((fail + 1))
    failed+=("$t"); printf '%s\n' "$out"
  fi
  printf '  %-50s %s\n' "${t#"$build"/}" "$([ $rc -eq 0 ] && echo ok || echo FAILED)"
done
echo "unit ($build): $pass passed, $fail failed"
[ ${#failed[@]} -eq 0 ]
