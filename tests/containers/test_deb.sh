#!/usr/bin/env bash
# The Debian package: `make deb`'s script builds cam-os_VERSION_amd64.deb
# (dpkg-buildpackage, debian/), lintian finds no error in it, and it is
# installed the way an operator installs it, with apt-get on a Debian 12
# machine whose PID 1 is systemd (a podman container): dependencies
# resolved from the ones dpkg-shlibdeps computed, the cam-os user made by
# systemd-sysusers, both units enabled and started by the postinst.
# Then: systemd-analyze verify on the installed units, the conffile
# /etc/cam-os/cam-os.env honoured, the logs as native journal entries
# (journalctl -u cam-kernel -p warning, journalctl -o json with CAM_*
# fields), memory that survives a restart of the unit in the data directory
# /var/lib/cam-os, kept by a remove, and a purge that leaves nothing behind.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/lib.sh"
podman_setup

deb_build() { "$ROOT/scripts/build-deb.sh" "$TMP/pkg" >"$TMP/deb.path" 2>"$TMP/deb.err" || { cat "$TMP/deb.err"; return 1; }; }
check "make deb: dpkg-buildpackage builds cam-os_0.1.0_amd64.deb" deb_build
DEB=$(cat "$TMP/deb.path" 2>/dev/null)
# Here-strings, not pipes into grep -q: with pipefail, a writer cut off
# by grep's early exit would fail the check.
has() { grep -qx "./$1" <<<"$(dpkg-deb -c "$DEB" | awk '{print $6}')" || { echo "    missing $1"; return 1; }; }
contents() {
  for f in usr/bin/cam-kernel usr/bin/cam-exporter usr/bin/cam-audit usr/bin/cam-driver-host \
           usr/lib/cam-os/drivers/text_transform/text_transform.so usr/lib/cam-os/drivers/kv_cache/manifest.json \
           lib/systemd/system/cam-kernel.service lib/systemd/system/cam-exporter.service \
           usr/lib/sysusers.d/cam-os.conf etc/cam-os/cam-os.env usr/include/cam/driver.h; do
    has "$f" || return 1
  done
  dpkg-deb -e "$DEB" "$TMP/ctl" && grep -qx /etc/cam-os/cam-os.env "$TMP/ctl/conffiles"
}
check "it holds the programs (cam-audit too), the helper, the example drivers, units, sysusers entry and the conffile" contents
check "its dependencies were computed from the shared libraries (libnng1, libsystemd0, libtss2-esys)" \
  bash -c "dpkg-deb -f '$DEB' Depends | grep -q 'libnng1' && dpkg-deb -f '$DEB' Depends | grep -q libsystemd0 &&
           dpkg-deb -f '$DEB' Depends | grep -q libtss2-esys"
lint() {
  lintian --fail-on error "${DEB%.deb}.changes" >"$TMP/lintian.log" 2>&1 ||
    { cat "$TMP/lintian.log"; return 1; }
  echo "  note: lintian: $(grep -c '^E:' "$TMP/lintian.log") errors, $(grep -c '^W:' "$TMP/lintian.log") warnings" \
       "($(grep '^W:' "$TMP/lintian.log" | awk '{print $3}' | sort -u | tr '\n' ' '))"
}
check "lintian: no errors" lint

check "debian:12 made (or kept), and a Debian 12 image with systemd as PID 1" \
  bash -c "$(declare -f base_images build_systemd_image debian_mirror); CACHE='$CACHE' TMP='$TMP' ROOT='$ROOT'; base_images && build_systemd_image"
G=$(free_port); X=$(free_port)
C=$TAG-systemd
boot() {
  podman run -d --name "$C" --systemd=always -p "127.0.0.1:$G:50051" -p "127.0.0.1:$X:8080" \
    -v "$(dirname "$DEB"):/pkg:ro" localhost/cam-os-test/systemd:debian12 >/dev/null &&
    wait_for 60 bash -c "podman exec $C systemctl is-system-running | grep -qE 'running|degraded'"
}
check "systemd boots in the container" boot
in_c() { podman exec "$C" "$@"; }
install_deb() {
  in_c bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /pkg/$(basename "$DEB")" \
    >"$TMP/apt.log" 2>&1 || { tail -20 "$TMP/apt.log"; return 1; }
}
check "apt-get install ./cam-os_0.1.0_amd64.deb: dependencies resolved" install_deb
check "systemd-sysusers made the cam-os system user" bash -c "podman exec $C getent passwd cam-os | grep -q ':/var/lib/cam-os:'"
verify() {
  in_c systemd-analyze verify /lib/systemd/system/cam-kernel.service /lib/systemd/system/cam-exporter.service \
    >"$TMP/verify.log" 2>&1 && ! grep -v 'ProtectHostname\|container manager' "$TMP/verify.log" | grep -q . ||
    { cat "$TMP/verify.log"; return 1; }
}
check "systemd-analyze verify on the installed units: clean" verify
active() { [ "$(in_c systemctl is-active cam-kernel cam-exporter | tr '\n' ' ')" = "active active " ]; }
check "the postinst enabled and started cam-kernel and cam-exporter" wait_for 30 active
ready_in() { in_c curl -fsS --max-time 2 http://127.0.0.1:8080/readyz >/dev/null; }
check "exporter /readyz 200 inside: the units share /run/cam-os/bus.ipc" wait_for 30 ready_in

# The conffile: listen beyond loopback, for the published port.
conf() {
  in_c bash -c 'printf "CAM_GRPC_LISTEN=0.0.0.0:50051\nCAM_ALLOW_ANONYMOUS=true\n" >>/etc/cam-os/cam-os.env &&
                systemctl restart cam-kernel' && wait_for 30 active
}
check "/etc/cam-os/cam-os.env settings take effect on restart" conf
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -plaintext "$@"; }
served() { grep -q SERVING <<<"$(grpcurl -d '{"caller_id": "health-check"}' "127.0.0.1:$G" cam.SyscallService/HealthCheck)"; }
check "the kernel answers on the published port" wait_for 30 served
grpcurl -d '{"verb": "no_such_verb", "caller_id": "journal-test"}' "127.0.0.1:$G" cam.SyscallService/Execute >/dev/null 2>&1
warned() { grep -q 'syscall unknown UNIMPLEMENTED\|syscall no_such_verb UNIMPLEMENTED' <<<"$(in_c journalctl -u cam-kernel -p warning --no-pager -o cat)"; }
check "journalctl -u cam-kernel -p warning shows the refused call" wait_for 10 warned
check "... and not the INFO lines" bash -c "! podman exec $C journalctl -u cam-kernel -p warning --no-pager -o cat | grep -q 'cam-kernel started'"
entry() {
  in_c journalctl -u cam-kernel -o json --no-pager | /usr/bin/python3 -c '
import json, sys
es = [json.loads(l) for l in sys.stdin if l.strip()]
acc = [e for e in es if e.get("CAM_CALLER_ID") == "journal-test"]
started = [e for e in es if e.get("MESSAGE") == "cam-kernel started"]
ok = (acc and acc[-1]["PRIORITY"] == "4" and acc[-1]["CAM_COMPONENT"] == "syscall_dispatcher"
      and acc[-1]["CAM_CODE"] == "UNIMPLEMENTED" and acc[-1]["CAM_SUCCESS"] == "false"
      and float(acc[-1]["CAM_LATENCY_MS"]) >= 0 and acc[-1]["SYSLOG_IDENTIFIER"] == "cam-kernel"
      and started and started[-1]["PRIORITY"] == "6" and started[-1]["CAM_VERSION"] == "0.1.0")
if not ok:
    print(json.dumps(acc[-1:] + started[-1:], indent=1))
sys.exit(0 if ok else 1)'
}
check "journalctl -o json: PRIORITY from the level, each field as CAM_* (caller, code, latency, success)" entry

# The data directory: made by the package for cam-os, 0700; the memory in
# it survives a restart of the unit and a remove of the package.
check "/var/lib/cam-os: made for cam-os, mode 0700" \
  bash -c "[ \"\$(podman exec $C stat -c '%U %a' /var/lib/cam-os)\" = 'cam-os 700' ]"
grpcurl -d '{"verb": "context_write", "payload": "namespace:agent-1,key:goal,value:find food"}' \
  "127.0.0.1:$G" cam.SyscallService/Execute >/dev/null 2>&1
remembered() {
  grep -q 'value:find food' <<<"$(grpcurl -d '{"verb": "context_read", "payload": "namespace:agent-1,key:goal"}' \
    "127.0.0.1:$G" cam.SyscallService/Execute 2>&1)"
}
check "systemctl restart cam-kernel: memory written before is read back" \
  bash -c "$(declare -f grpcurl remembered wait_for); G=$G ROOT=$ROOT; podman exec $C systemctl restart cam-kernel && wait_for 30 remembered"
remove() {
  in_c bash -c 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq cam-os' >"$TMP/remove.log" 2>&1 || { tail "$TMP/remove.log"; return 1; }
  in_c test -s /var/lib/cam-os/store/data.mdb
}
check "apt-get remove cam-os keeps /var/lib/cam-os/store/data.mdb" remove
check "installed again, the kernel serves the memory it had" \
  bash -c "$(declare -f install_deb in_c conf active served remembered grpcurl wait_for); C=$C G=$G ROOT=$ROOT TMP=$TMP DEB=$DEB;
           install_deb && conf && wait_for 30 remembered"

purge() {
  in_c bash -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq cam-os' >"$TMP/purge.log" 2>&1 || { tail "$TMP/purge.log"; return 1; }
  in_c bash -c '! dpkg -s cam-os 2>/dev/null | grep -q "^Status: install" &&
    for f in /usr/bin/cam-kernel /usr/bin/cam-exporter /lib/systemd/system/cam-kernel.service \
             /etc/cam-os/cam-os.env /usr/lib/cam-os /etc/systemd/system/multi-user.target.wants/cam-kernel.service \
             /var/lib/cam-os; do
      [ ! -e "$f" ] || { echo "left: $f"; exit 1; }; done &&
    ! pgrep -x cam-kernel && ! pgrep -x cam-exporter'
}
check "apt-get purge cam-os: units stopped, files, conffile, enablement links and /var/lib/cam-os gone" purge
finish
