#!/usr/bin/env bash
# The durable context store (the default, LMDB in the data directory) as a
# user meets it:
# - crash loop: 4 writer threads of an independent client (python3-grpcio)
#   under load, the kernel killed with SIGKILL at a random moment, 10 times;
#   after each restart every acknowledged write reads back at its version
#   with its exact bytes, and no version was handed out twice;
# - refusals: a second kernel on the same data directory; a store file
#   that is corrupt or cut short (nothing in the directory changes: hashes
#   before and after);
# - a backup taken with `cam-kernel --backup` (and with the store_backup
#   verb) under write load holds every write acknowledged before it began,
#   and a kernel serves it;
# - a full disk (a 4 MiB tmpfs; as root, else in a user namespace): writes
#   are refused RESOURCE_EXHAUSTED, reads go on, the Context Store component
#   is degraded and the failures counted; writes resume by themselves once
#   there is room again.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

client() { /usr/bin/python3 "$ROOT/tests/integration/store_client.py" "$@"; }
call() { /usr/bin/python3 "$ROOT/tests/integration/memctx_client.py" call "$G" "$@"; }
run_checks() {
  local out
  out=$("$@" 2>&1)
  printf '%s\n' "$out"
  PASSED=$((PASSED + $(printf '%s\n' "$out" | grep -c '^  ok ')))
  FAILED=$((FAILED + $(printf '%s\n' "$out" | grep -c '^  FAIL ')))
  printf '%s\n' "$out" | grep -qE '^  (ok|FAIL) ' || not_ok "client ran: $*"
}
serving() { call ping "msg:up" | grep -q '^OK'; }
health() {
  /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -d '{"detailed": true}' "$G" \
    cam.SyscallService/HealthCheck | tr -d '\n' | grep -o '"name": "Context Store",[^}]*'
}
# kernel DATA_DIR [ARGS...]: a kernel on $G with that data directory.
kernel() {
  local data=$1; shift
  start kernel "$ROOT/$BUILD/cam-kernel" --bus-addr "$BUS" --grpc-listen "$G" \
    --data-dir "$data" --publish-interval-ms 200 --memctx-keep-versions 1000 "$@"
  KERNEL=$LAST_PID
  wait_for 10 serving
}
hashes() { (cd "$1" && sha256sum -- * 2>/dev/null | sort); }

BUS="ipc://$TMP/bus.ipc"; GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
DATA="$TMP/data"

echo "-- crash loop: kill -9 under load, 10 times"
kernel "$DATA" || { not_ok "kernel starts on a new data directory"; finish; exit 1; }
check "a new data directory is made with mode 0700" [ "$(stat -c %a "$DATA")" = 700 ]
h=$(health)
check "Context Store component: healthy, lmdb, where it is" \
  bash -c "printf '%s' '$h' | grep -q '\"status\": \"healthy\"' && printf '%s' '$h' | grep -q 'data.mdb'"
acked() { [ "$(grep -c " r$1 " "$TMP/acks" 2>/dev/null)" -ge 1 ]; }
for round in 1 2 3 4 5 6 7 8 9 10; do
  client load "$G" 30 "$TMP/acks" 4 "r$round" >"$TMP/load-$round.out" 2>&1 &
  load=$!
  # killed at a random moment once the load is under way (a loaded
  # machine may take a second to start the client)
  wait_for 20 acked "$round"
  sleep "$(/usr/bin/python3 -c 'import random; print(round(random.uniform(0.1, 1.0), 2))')"
  stop_pid "$KERNEL" KILL
  wait "$load"
  kernel "$DATA" || { not_ok "round $round: kernel restarts after kill -9"; break; }
done
cat "$TMP"/load-*.out | tr '\n' ';'; echo
check "the load was acknowledged in every round" \
  bash -c "[ \$(grep -c 'OK [1-9]' $TMP/load-*.out | grep -c ':1$') -eq 10 ]"
run_checks client verify "$G" "$TMP/acks"

echo "-- refusals"
second=$(timeout 10 "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/b2.ipc" \
  --grpc-listen "127.0.0.1:$(free_port)" --data-dir "$DATA" 2>&1); rc=$?
check "a second kernel on the same data directory exits non-zero ($rc)" [ "$rc" -ne 0 ]
check "and says the directory is in use" grep -q "in use by another running cam-kernel" <<<"$second"
check "the first kernel still serves" serving
stop_pid "$KERNEL"

refused() { # NAME: a kernel on $TMP/NAME refuses to start and changes nothing
  local d="$TMP/$1" before after out rc
  before=$(hashes "$d/store")
  out=$(timeout 10 "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/b3.ipc" \
    --grpc-listen "127.0.0.1:$(free_port)" --data-dir "$d" 2>&1); rc=$?
  after=$(hashes "$d/store")
  check "$1: the kernel exits non-zero ($rc)" [ "$rc" -ne 0 ]
  check "$1: its message names the file" grep -q "$d/store/data.mdb" <<<"$out"
  check "$1: nothing in the directory changed" [ "$before" = "$after" ]
}
cp -a "$DATA" "$TMP/corrupt"; rm -f "$TMP/corrupt/store/lock.mdb"
head -c 8192 /dev/urandom | dd of="$TMP/corrupt/store/data.mdb" conv=notrunc status=none
refused corrupt
cp -a "$DATA" "$TMP/short"; rm -f "$TMP/short/store/lock.mdb"
truncate -s 16384 "$TMP/short/store/data.mdb"
refused short
printf 'not a store at all' >"$TMP/garbage.bin"
mkdir -p "$TMP/garbage/store"; cp "$TMP/garbage.bin" "$TMP/garbage/store/data.mdb"
refused garbage

echo "-- backup under write load"
kernel "$DATA" || not_ok "kernel restarts for the backup"
client load "$G" 3 "$TMP/acks-backup" 4 backup >"$TMP/load-backup.out" 2>&1 &
load=$!
sleep 1
head -n "$(wc -l <"$TMP/acks-backup")" "$TMP/acks-backup" >"$TMP/acks-before-backup"
out=$("$ROOT/$BUILD/cam-kernel" --data-dir "$DATA" --backup "$TMP/backup" 2>&1); rc=$?
echo "  $out"
wait "$load"
check "cam-kernel --backup beside a running kernel exits 0" [ "$rc" -eq 0 ]
check "it says how to restore" grep -q "to restore it" <<<"$out"
check "writes went on during the backup" grep -q 'OK [1-9]' "$TMP/load-backup.out"
check "a second backup into the same directory is refused" \
  bash -c "! '$ROOT/$BUILD/cam-kernel' --data-dir '$DATA' --backup '$TMP/backup' 2>/dev/null"
r=$(call store_backup "name:live")
check "store_backup, the admin verb, copies the live store ($r)" grep -q "^OK path:$DATA/backups/live/store" <<<"$r"
r=$(call store_backup "name:../escape")
check "store_backup refuses a name that leaves backups/" grep -q '^INVALID_ARGUMENT' <<<"$r"
stop_pid "$KERNEL"
cp -a "$DATA/backups/live" "$TMP/from-verb"
kernel "$TMP/from-verb" || not_ok "a kernel starts on the verb's backup"
run_checks client verify "$G" "$TMP/acks-before-backup"
stop_pid "$KERNEL"
kernel "$TMP/backup" || not_ok "a kernel starts on the backup"
run_checks client verify "$G" "$TMP/acks-before-backup"
stop_pid "$KERNEL"

echo "-- a full disk"
# disk_full_run: runs in a mount namespace of its own where $FULL is a
# 4 MiB tmpfs (root: unshare -m; else a user namespace, unshare -rm).
FULL="$TMP/full"; mkdir -p "$FULL"
how=(unshare -m); [ "$(id -u)" -eq 0 ] || how=(unshare -rm)
if "${how[@]}" true 2>/dev/null; then
  PORT=$(free_port)
  # its own process group, so that the kernel and exporter inside go with it
  setsid "${how[@]}" bash -c '
    set -u
    mount -t tmpfs -o size=4m tmpfs "$1" || exit 3
    exec "$2" --bus-addr "$3" --grpc-listen "$4" --data-dir "$1/data" \
      --publish-interval-ms 200 --memctx-max-value-bytes 200000 &
    exec "$5" --bus-addr "$3" --exporter-listen "127.0.0.1:$6" --publish-interval-ms 200 &
    wait' _ "$FULL" "$ROOT/$BUILD/cam-kernel" "$BUS" "$G" "$ROOT/$BUILD/cam-exporter" "$PORT" \
    >>"$TMP/full.log" 2>&1 &
  NS_PID=$!; PIDS+=("$NS_PID")
  trap 'kill -9 -- -$NS_PID 2>/dev/null; cleanup' EXIT
  if wait_for 10 serving; then
    call context_write "namespace:full,key:kept,value:survives" >/dev/null
    r=$(client fill "$G" 150000 60)
    echo "  writes of 150 kB that went in, then: $r"
    check "a write that cannot be made durable is RESOURCE_EXHAUSTED" grep -q '^[0-9]* RESOURCE_EXHAUSTED' <<<"$r"
    check "saying there is no space left" grep -q 'no space left' <<<"$r"
    check "reads go on while the disk is full" bash -c "$(declare -f call); G=$G ROOT=$ROOT; call context_read 'namespace:full,key:kept' | grep -q 'value:survives'"
    h=$(health)
    check "the Context Store component says degraded" grep -q '"status": "degraded"' <<<"$h"
    nospace() { scrape "$PORT" | grep -qE '^cam_os_memory_context_store_failures_total\{reason="no_space"\} [1-9]'; }
    check "failures counted in cam_os_memory_context_store_failures_total{reason=\"no_space\"}" \
      wait_for 5 nospace
    # Room again, as an operator would make it: the file system grows.
    kpid=$(pgrep -P "$NS_PID" -f "$ROOT/$BUILD/cam-kernel" | head -1)
    if nsenter -t "${kpid:-0}" -m mount -o remount,size=64m "$FULL" 2>/dev/null ||
       nsenter -t "${kpid:-0}" -U -m --preserve-credentials mount -o remount,size=64m "$FULL" 2>/dev/null; then
      wr() { call context_write "namespace:full,key:after,value:room again" | grep -q '^OK'; }
      check "writes resume by themselves once there is room" wait_for 10 wr
      h=$(health)
      check "the Context Store component is healthy again" grep -q '"status": "healthy"' <<<"$h"
    else
      not_ok "the tmpfs could be grown again (nsenter remount)"
    fi
  else
    not_ok "a kernel serves from a 4 MiB tmpfs"
  fi
  kill -9 -- -"$NS_PID" 2>/dev/null
  stop_pid "$NS_PID" KILL
else
  not_ok "this machine allows a mount namespace for the full-disk test (${how[*]})"
fi

finish
