#!/usr/bin/env bash
# Package lists for the Dockerfile, derived rather than written twice:
#   docker-packages.sh build          the "# build" section of deps/debian.txt
#   docker-packages.sh runtime FILE... the Debian packages owning the shared
#                                     libraries the ELF programs among FILE...
#                                     link (ldd + dpkg -S); other files are skipped
# Libraries a program dlopen()s at run time are not seen by ldd: name their
# packages in the Dockerfile's runtime stage.
#
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
build)
  awk '/^#/ { in_build = ($0 == "# build"); next } in_build && NF { print $1 }' \
    "$here/deps/debian.txt"
  ;;
runtime)
  shift
  [ $# -gt 0 ] || { echo "usage: $0 runtime FILE..." >&2; exit 2; }
  for f in "$@"; do
    [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] && ldd "$f"
  done |
    awk '/=> \// { print $3 }' | sort -u |
    while read -r lib; do
      real=$(realpath "$lib")
      # Debian 12 has merged /usr, but dpkg knows each file by the path its
      # package ships: try both spellings.
      owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null ||
              dpkg -S "$lib" 2>/dev/null) || { echo "no package owns $lib" >&2; exit 1; }
      echo "${owner%%:*}"
    done | sort -u
  ;;
*)
  echo "usage: $0 build | runtime FILE..." >&2
  exit 2
  ;;
esac
