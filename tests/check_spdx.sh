#!/usr/bin/env bash
# Every source file (C, headers, shell, Python, JavaScript, protobuf, make
# files) keeps its SPDX line in its header: "SPDX-License-Identifier:
# Apache-2.0" within its first 40 lines. Prints each file without one and
# "spdx: N passed, N failed".
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
cd "$(dirname "$0")/.."
pass=0; fail=0
while IFS= read -r f; do
  [ -f "$f" ] || continue
  if head -n 40 "$f" | grep -q 'SPDX-License-Identifier: Apache-2.0'; then
    pass=$((pass + 1))
  else
    echo "$f: no SPDX-License-Identifier line in its header"; fail=$((fail + 1))
  fi
done < <(git ls-files --cached --others --exclude-standard -- \
           '*.c' '*.h' '*.sh' '*.py' '*.js' '*.proto' '*.mk' 'Makefile' ':!:tests/interop/node_modules' | sort -u)
echo "spdx: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
