# Helpers of the container tests (sourced after tests/integration/lib.sh).
#
# podman from Debian with runc: the test writes its own containers.conf
# (crun refuses this machine's mixed cgroup layout, and raising RLIMIT_NOFILE
# or RLIMIT_NPROC in a container is refused, hence `default_ulimits = []`).
# No registry is reachable, so the debian:12 and debian:12-slim images the
# Dockerfile starts FROM are made here: `debootstrap --variant=minbase
# bookworm` from the mirror apt uses, then `podman import`.
#
# Images and layers are kept in CAM_CONTAINERS_CACHE (default
# /var/tmp/cam-os-containers, a storage of its own, not the machine's
# /var/lib/containers), so a second run reuses the base images and the build
# cache; a fresh machine makes everything from nothing in a few minutes.
# Every container, pod and volume a test makes is named camtest-PID-* and
# removed on exit.
#
# SPDX-License-Identifier: Apache-2.0

CACHE=${CAM_CONTAINERS_CACHE:-/var/tmp/cam-os-containers}
TAG=camtest-$$
IMAGE=cam-os:0.1.0

podman_setup() {
  mkdir -p "$CACHE"
  # Run state of its own per storage: two storages must not share one.
  local runroot
  runroot=/run/cam-os-containers-$(realpath "$CACHE" | md5sum | cut -c1-8)
  cat >"$TMP/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
[network]
network_backend = "netavark"
CONF
  cat >"$TMP/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$CACHE/storage"
runroot = "$runroot"
CONF
  export CONTAINERS_CONF=$TMP/containers.conf CONTAINERS_STORAGE_CONF=$TMP/storage.conf
}

# What this test made, by name, even when it failed half-way.
podman_cleanup() {
  local ids
  ids=$(podman pod ls -q --filter "name=^$TAG" 2>/dev/null)
  [ -z "$ids" ] || podman pod rm -f $ids >/dev/null 2>&1
  ids=$(podman ps -aq --filter "name=^$TAG" 2>/dev/null)
  [ -z "$ids" ] || podman rm -f $ids >/dev/null 2>&1
  ids=$(podman volume ls -q --filter "name=^$TAG" 2>/dev/null)
  [ -z "$ids" ] || podman volume rm -f $ids >/dev/null 2>&1
  ids=$(podman network ls -q --filter "name=^$TAG" 2>/dev/null)
  [ -z "$ids" ] || podman network rm -f $ids >/dev/null 2>&1
  cleanup
}
trap podman_cleanup EXIT

# The Debian mirror apt uses here (deb822 or one-line sources).
debian_mirror() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 | tr -d ' '
}

# debian:12 and debian:12-slim, made once: a minbase bookworm with the
# same apt sources as Docker's debian:12 (bookworm, -updates, -security).
base_images() {
  podman image exists debian:12 && podman image exists debian:12-slim && return 0
  local mirror root=$CACHE/rootfs.$$
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || { echo "no Debian mirror in /etc/apt/sources.list*" >&2; return 1; }
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$TMP/debootstrap.log" 2>&1 ||
    { tail -5 "$TMP/debootstrap.log"; rm -rf "$root"; return 1; }
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: ${mirror%/}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian*}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change 'CMD ["bash"]' - debian:12 >/dev/null &&
    podman tag debian:12 debian:12-slim
  local rc=$?
  rm -rf "$root"
  return $rc
}

# The image of the Dockerfile, as written, under the name compose and k8s use.
build_image() {
  podman build -t "$IMAGE" "$ROOT" >"$TMP/build.log" 2>&1 || { tail -20 "$TMP/build.log"; return 1; }
}

# Options every CAM-OS container runs with, as docker-compose.test.yml and
# k8s/cam-os.yaml give them.
HARDENED=(--read-only --user 10001:10001 --cap-drop ALL --security-opt no-new-privileges --tmpfs /tmp)

# The images docker-compose.debian.yml names instead of the upstream
# Prometheus and Alertmanager ones.
build_monitoring_images() {
  podman build -t localhost/cam-os-test/prometheus:debian12 "$ROOT/tests/containers/prometheus" \
    >"$TMP/build-prometheus.log" 2>&1 || { tail -20 "$TMP/build-prometheus.log"; return 1; }
  podman build -t localhost/cam-os-test/alertmanager:debian12 "$ROOT/tests/containers/alertmanager" \
    >"$TMP/build-alertmanager.log" 2>&1 || { tail -20 "$TMP/build-alertmanager.log"; return 1; }
}

# sub_suite CMD...: runs a script that prints ok/FAIL lines and closes with
# "N passed, N failed"; its counts are added to this test's.
sub_suite() {
  local out rc line p f
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -vE '[0-9]+ passed, [0-9]+ failed$'
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed$' | tail -1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
  PASSED=$((PASSED + ${p:-0})); FAILED=$((FAILED + ${f:-0}))
  [ $rc -eq 0 ] || [ "${f:-0}" -gt 0 ] || not_ok "$* exited with $rc"
}

# Debian 12 with systemd as PID 1 (systemd/Containerfile).
build_systemd_image() {
  podman build -t localhost/cam-os-test/systemd:debian12 "$ROOT/tests/containers/systemd" \
    >"$TMP/build-systemd.log" 2>&1 || { tail -20 "$TMP/build-systemd.log"; return 1; }
}
