#!/usr/bin/env bash
# Which embedded store for the durable context store (issue 25): LMDB,
# SQLite (WAL) and RocksDB side by side on the kernel's workload
# (tests/bench/bench_store_choice.c says what is measured). Runs in a
# temporary folder under $TMPDIR (else /tmp), which must be a real disk:
# on tmpfs a sync costs nothing and the figures say nothing.
#
# usage: tests/bench/store_choice.sh [--quick] [BUILD] [MARKDOWN_FILE]
#   BENCH_STORE_GB: the store opened cold (default 1 GB of values; 0.1
#   with --quick). MARKDOWN_FILE defaults to BUILD/store_choice.md.
#
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QUICK=0
args=()
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    *) args+=("$a") ;;
  esac
done
BUILD=${args[0]:-build}
OUT=${args[1]:-$ROOT/$BUILD/store_choice.md}
GB=${BENCH_STORE_GB:-1}
[ "$QUICK" = 1 ] && GB=${BENCH_STORE_GB:-0.1}
BIN=$ROOT/$BUILD/tests/bench/bench_store_choice
[ -x "$BIN" ] || { echo "store_choice: $BIN not built (make bench)"; exit 1; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/cam-storebench-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
fs=$(df -T "$DIR" | awk 'NR == 2 {print $2 " on " $1 ", " int($5 / 1048576) " GiB free"}')
echo "== folder $DIR: $fs"
case "$fs" in
  tmpfs*|ramfs*) echo "store_choice: $DIR is in memory, not on a disk: set TMPDIR to a disk folder"; exit 1 ;;
esac
# Each engine's copy of the store takes up to ~2.5 times its values.
need=$(awk -v gb="$GB" 'BEGIN {printf "%d", gb * 8 + 1}')
free_gib=$(df -k "$DIR" | awk 'NR == 2 {printf "%d", $4 / 1048576}')
[ "$free_gib" -ge "$need" ] || { echo "store_choice: $need GiB free needed, $free_gib GiB there"; exit 1; }
echo "== $(nproc) cores; $(dpkg-query -W -f '${Package} ${Version}, ' liblmdb0 libsqlite3-0 'librocksdb7*' 2>/dev/null)"
BENCH_STORE_GB=$GB "$BIN" "$DIR" "$OUT"
echo "== markdown table: $OUT"
