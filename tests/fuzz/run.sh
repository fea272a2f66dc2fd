#!/usr/bin/env bash
# `make fuzz`: links each libFuzzer harness given (tests/fuzz/fuzz_NAME.c,
# its object and the objects it names already built in BUILD), runs it for
# SECONDS seconds on a copy of tests/fuzz/corpus/NAME (the repository is
# never written to), and closes with one line "N passed, N failed".
#
#   run.sh BUILD SECONDS tests/fuzz/fuzz_NAME.c...
#
# A harness says what it links in its header comment:
#   " * Objects: common/utf8.o ..."  paths under BUILD
#   " * Libs: yajl -lm"              pkg-config packages and -l flags
# FUZZ_CC (default clang) links, with FUZZ_LDFLAGS (the fuzzer and sanitizer
# flags). FUZZ_ARGS adds libFuzzer options. One process per harness, one
# after the other (no -jobs/-workers). A crash, leak, UB report, timeout or
# failed property fails the harness: the report is printed and the input
# kept in BUILD/fuzz-artifacts/.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
build=$1; seconds=$2; shift 2
cc=${FUZZ_CC:-clang}
ldflags=${FUZZ_LDFLAGS:--fsanitize=fuzzer,address,undefined}
here=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"

for src in "$@"; do
  base=$(basename "$src" .c); name=${base#fuzz_}
  bin=$build/tests/fuzz/$base
  read -ra objs <<<"$(sed -n 's/^ \* Objects: *//p' "$src")"
  read -ra words <<<"$(sed -n 's/^ \* Libs: *//p' "$src")"
  read -ra flags <<<"$ldflags"
  paths=(); for o in "${objs[@]}"; do paths+=("$build/$o"); done
  libs=()
  for l in "${words[@]}"; do
    case $l in
      -*) libs+=("$l") ;;
      *) read -ra more <<<"$(pkg-config --libs "$l")"; libs+=("${more[@]}") ;;
    esac
  done
  if ! "$cc" "${flags[@]}" "$build/tests/fuzz/$base.o" "${paths[@]}" "${libs[@]}" -o "$bin"; then
    echo "$base: FAILED (link)"; fail=$((fail + 1)); continue
  fi

  corpus=$(mktemp -d "${TMPDIR:-/tmp}/cam-fuzz-$name.XXXXXX")
  [ -d "$here/corpus/$name" ] && cp -R "$here/corpus/$name/." "$corpus/"
  dict=(); [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
  log=$build/fuzz-logs/$base.log
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of options
  "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$base-" \
    "${dict[@]}" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
  rc=$?
  rm -rf "$corpus"

  runs=$(sed -n 's/^Done \([0-9]*\) runs in.*/\1/p' "$log" | tail -1)
  final=$(grep -E '^#[0-9]+[[:space:]]+DONE[[:space:]]' "$log" | tail -1)
  if [ $rc -eq 0 ] && [ -n "$runs" ]; then
    echo "$base: ok ($runs runs)"
    [ -n "$final" ] && echo "  ${final#*DONE   }"
    pass=$((pass + 1))
  else
    # The sanitizer or property report, then where the input was kept.
    sed -n '/^==[0-9]*==\|^INFO: Seed\|ERROR: libFuzzer\|runtime error\|property failed/,$p' "$log" | tail -80
    what=$(grep -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+|runtime error|property failed' "$log" | head -1)
    echo "$base: FAILED (${what:-exit $rc})"
    fail=$((fail + 1))
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
