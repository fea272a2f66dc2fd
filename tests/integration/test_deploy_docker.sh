#!/usr/bin/env bash
# The Dockerfile and docker-compose.test.yml, the fast part (no engine): the
# compose file is resolved with Debian's `docker-compose config` and checked
# against the files it mounts, and the Dockerfile's package steps are run on
# this Debian 12 machine: the build list resolves, and the runtime list
# derived from our own binaries does too. The image built and run by podman,
# and the compose stack up for real, are tests/containers/ (make
# test-containers: minutes, so not in make test).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

if ! command -v docker-compose >/dev/null; then
  not_ok "docker-compose not found (make deps installs Debian's docker-compose)"
  finish; exit
fi
compose_config() {
  docker-compose -f docker-compose.test.yml config >"$TMP/compose.yaml" 2>"$TMP/compose.err" ||
    { cat "$TMP/compose.err"; return 1; }
}
check "docker-compose -f docker-compose.test.yml config" compose_config
check "check_compose.py: services, ports, mounts and image wired as documented" \
  /usr/bin/python3 "$ROOT/tests/integration/check_compose.py" "$ROOT" "$TMP/compose.yaml"

# The Dockerfile's two package lists, computed as its RUN steps do.
resolves() { apt-get -s -qq install "$@" >"$TMP/apt.log" 2>&1 || { tail -5 "$TMP/apt.log"; return 1; }; }
build_pkgs=$(scripts/docker-packages.sh build)
check "build stage: the '# build' packages of deps/debian.txt ($(echo $build_pkgs | wc -w)) resolve in apt" \
  resolves $build_pkgs
check "build stage: make install DESTDIR=/out PREFIX=/usr/local puts both programs where COPY takes them" \
  bash -c "make -s -C '$ROOT' install BUILD='$BUILD' DESTDIR='$TMP/out' PREFIX=/usr/local >'$TMP/install.log' 2>&1 &&
           [ -x '$TMP/out/usr/local/bin/cam-kernel' ] && [ -x '$TMP/out/usr/local/bin/cam-exporter' ]"
runtime_pkgs=$(scripts/docker-packages.sh runtime $(find "$TMP/out/usr/local" -type f -perm -u+x) \
  2>"$TMP/pkgs.err")
check "runtime stage: packages of the linked libraries found (libc6, libnng1, libsystemd0 among them)" \
  bash -c "for p in libc6 libnng1 libsystemd0; do grep -qx \$p <<<'$runtime_pkgs' || exit 1; done"
check "runtime stage: no -dev or build tool package in it" \
  bash -c "! grep -E -- '-dev$|^(build-essential|gcc|make|pkg-config)$' <<<'$runtime_pkgs'"
check "runtime stage: its $(echo $runtime_pkgs | wc -w) packages resolve in apt" \
  bash -c "[ -n '$runtime_pkgs' ] && apt-get -s -qq install $(echo $runtime_pkgs) >/dev/null"
check ".dockerignore keeps .git and build output out of the context" \
  bash -c "for p in .git build build-asan build-tsan build-clang build-fuzz build-pkg; do grep -qx \"\$p\" .dockerignore || exit 1; done"
finish
