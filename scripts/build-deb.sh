#!/usr/bin/env bash
# `make deb`: builds cam-os_VERSION_ARCH.deb with dpkg-buildpackage from a
# clean copy of the source tree (what git tracks, plus new files it does not
# ignore) in OUT/cam-os-VERSION, so the build neither touches the working
# tree's build/ nor writes beside the repository (dpkg-buildpackage puts
# its results in the parent folder: OUT). Prints the .deb's path.
#
# usage: scripts/build-deb.sh [OUT]   (default build-pkg)
#
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/build-pkg}")
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
src=$out/cam-os-$version
rm -rf "$src"
mkdir -p "$src"
(cd "$root" && git ls-files -z -co --exclude-standard | grep -zv '^tests/interop/node_modules/' |
  tar --null --ignore-failed-read -T - -cf -) | tar -C "$src" -xf -
(cd "$src" && dpkg-buildpackage -b -us -uc -j"${JOBS:-2}") >"$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log" >&2; exit 1; }
ls "$out"/cam-os_"$version"_*.deb
