#!/usr/bin/env bash
# The systemd units and sd_notify: `systemd-analyze verify` and the offline
# security review on both units, what `make install` puts where, and both
# programs run as Type=notify would run them (READY=1 only once their port
# answers, watchdog pings, STOPPING=1 on SIGTERM). No systemd runs as PID 1
# here, so the units themselves are checked, not started.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

KUNIT="$ROOT/kernel/cam-kernel.service"
XUNIT="$ROOT/exporter/cam-exporter.service"

# 1. verify: the units as installed, with ExecStart pointing at this build.
mkdir -p "$TMP/units"
for u in "$KUNIT" "$XUNIT"; do
  sed "s|@PREFIX@/bin|$ROOT/$BUILD|" "$u" >"$TMP/units/$(basename "$u")"
done
verify() {
  (cd "$TMP/units" && systemd-analyze verify ./cam-kernel.service ./cam-exporter.service) \
    >"$TMP/verify.log" 2>&1 || return 1
  # Unknown keys and bad values are only warnings: none may be printed.
  [ ! -s "$TMP/verify.log" ] || { cat "$TMP/verify.log"; return 1; }
}
check "systemd-analyze verify: both units load with no warning" verify

exposure() {
  local u=$1 score
  score=$(cd "$TMP/units" && systemd-analyze security --offline=yes "./$u" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "    $u: exposure $score"
  awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }'
}
check "systemd-analyze security: cam-kernel.service exposure <= 2.0" exposure cam-kernel.service
check "systemd-analyze security: cam-exporter.service exposure <= 2.0" exposure cam-exporter.service

# 2. The contracts both units share, read off the unit files.
key() { grep -E "^$2=" "$1" | tail -1 | cut -d= -f2-; }
both() {
  local u
  for u in "$KUNIT" "$XUNIT"; do [ "$(key "$u" "$1")" = "$2" ] || return 1; done
}
check "both: Type=notify" both Type notify
check "both: shared RuntimeDirectory=cam-os, kept across restarts" \
  bash -c "$(declare -f key both); KUNIT='$KUNIT' XUNIT='$XUNIT'; both RuntimeDirectory cam-os && both RuntimeDirectoryPreserve yes"
check "both: CAM_BUS_ADDR in the runtime directory" \
  both Environment CAM_BUS_ADDR=ipc:///run/cam-os/bus.ipc
check "both: optional EnvironmentFile after Environment (the file wins)" \
  bash -c "for u in '$KUNIT' '$XUNIT'; do grep -A1 '^Environment=' \$u | grep -qx 'EnvironmentFile=-/etc/cam-os/cam-os.env' || exit 1; done"
check "both: same User=cam-os, declared in cam-os.sysusers.conf" \
  bash -c "$(declare -f key both); KUNIT='$KUNIT' XUNIT='$XUNIT'; both User cam-os && grep -qE '^u cam-os ' '$ROOT/kernel/cam-os.sysusers.conf'"
check "both: Restart=on-failure, empty CapabilityBoundingSet, strict hardening" \
  bash -c "$(declare -f key both); KUNIT='$KUNIT' XUNIT='$XUNIT'; both Restart on-failure && both CapabilityBoundingSet '' &&
    both NoNewPrivileges yes && both ProtectSystem strict && both ProtectHome yes && both PrivateTmp yes &&
    both RestrictAddressFamilies 'AF_UNIX AF_INET AF_INET6'"
check "kernel: StateDirectory=cam-os (mode 0700), the data directory systemd passes as \$STATE_DIRECTORY" \
  bash -c "grep -qx 'StateDirectory=cam-os' '$KUNIT' && grep -qx 'StateDirectoryMode=0700' '$KUNIT'"
check "exporter Wants= the kernel and does not die with it" \
  bash -c "grep -qx 'Wants=cam-kernel.service' '$XUNIT' && ! grep -qE '^(BindsTo|Requires|PartOf|Requisite)=' '$XUNIT'"

# 3. make install: binaries, units with the PREFIX substituted, sysusers.
install_to() {
  local dest=$1 prefix=$2
  make -s -C "$ROOT" install BUILD="$BUILD" DESTDIR="$dest" PREFIX="$prefix" >"$TMP/install.log" 2>&1 &&
  [ -x "$dest$prefix/bin/cam-kernel" ] && [ -x "$dest$prefix/bin/cam-exporter" ] &&
  [ -x "$dest$prefix/bin/cam-audit" ] &&
  grep -qx "ExecStart=$prefix/bin/cam-kernel" "$dest$prefix/lib/systemd/system/cam-kernel.service" &&
  grep -qx "ExecStart=$prefix/bin/cam-exporter" "$dest$prefix/lib/systemd/system/cam-exporter.service" &&
  ! grep -rq '@PREFIX@' "$dest$prefix/lib/systemd/system" &&
  [ -f "$dest$prefix/lib/sysusers.d/cam-os.conf" ]
}
check "make install PREFIX=/usr: units in /usr/lib/systemd/system, ExecStart=/usr/bin/..." \
  install_to "$TMP/root-usr" /usr
check "make install PREFIX=/usr/local: ExecStart=/usr/local/bin/..." \
  install_to "$TMP/root-local" /usr/local

# 4. sd_notify from the real programs.
notify_check() { python3 "$ROOT/tests/integration/sd_notify_check.py" "$@"; }
P=$(free_port)
check "cam-kernel under Type=notify: READY once gRPC answers, watchdog, STOPPING" \
  notify_check 127.0.0.1 "$P" "$ROOT/$BUILD/cam-kernel" --grpc-listen "127.0.0.1:$P" \
    --bus-addr "ipc://$TMP/bus/bus.ipc" --publish-interval-ms 200
P=$(free_port)
check "cam-exporter under Type=notify: READY once HTTP answers, watchdog, STOPPING" \
  notify_check 127.0.0.1 "$P" "$ROOT/$BUILD/cam-exporter" --exporter-listen "127.0.0.1:$P" \
    --bus-addr "ipc://$TMP/bus/bus.ipc" --publish-interval-ms 200

finish
