#!/usr/bin/env bash
# Issue 26, quotas per agent through a real kernel (Debian's python3-grpcio,
# scrapes through cam-exporter): CAM_MEMCTX_MAX_BYTES_PER_CALLER on the
# durable (lmdb) and the memory store (versions and snapshots count; one
# owner's refusal leaves the others alone; deleting frees room; the count
# survives a restart) and CAM_METRICS_MAX_SERIES_PER_CALLER (a caller's
# new series past its quota refused, its existing ones still counted, other
# callers unaffected, even one whose name hashes like agent-a's). Each
# refusal is RESOURCE_EXHAUSTED naming the setting and counted in
# cam_os_security_quota_refusals_total{quota}.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/isolation_lib.sh"

# agent-8191's name falls in agent-a's slot of a 4096-slot table hashed
# with FNV-1a (common/rate.c cam_rate_hash): a per-caller count kept in such
# a table would be shared by the two.
cat >"$TMP/tokens" <<T
$(sha256 tok-a) agent-a read,write
$(sha256 tok-b) agent-b read,write
$(sha256 tok-8191) agent-8191 read,write
$(sha256 tok-root) root admin
T
cat >"$TMP/policy.json" <<'P'
{ "name": "quotas", "allow_rules": [ { "name": "team", "source": { "principals": ["agent-*"] },
  "request": { "resources": ["namespace:team/*"] } } ] }
P
BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port)
V1000=$(head -c 1000 /dev/zero | tr '\0' 'x')
refusals() { counter "$PORT" "cam_os_security_quota_refusals_total{quota=\"$1\"}"; }
refusals_are() { [ "$(refusals "$1")" = "$2" ]; }
exporter_start exporter "$BUS" "$PORT"

for backend in lmdb memory; do
  GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
  start_kernel() {
    kernel_start "k-$backend" "$BUS" --auth-tokens-file "$TMP/tokens" --policy-file "$TMP/policy.json" \
      --memctx-backend "$backend" --memctx-max-bytes-per-caller 4096 \
      --metrics-max-series-per-caller 3 --data-dir "$TMP/data-$backend"
    K=$LAST_PID
    wait_for 10 bash -c "[[ \"\$(/usr/bin/python3 '$ISO_PY' call --addr '$G' --token tok-root ping)\" == OK* ]]"
  }
  start_kernel || { not_ok "$backend: kernel starts"; continue; }
  wait_for 10 metric_is "$PORT" cam_os_kernel_up 1
  w() { iso_call "$G" "$1" context_write "namespace:$2,key:$3,value:$V1000"; }
  codes=""
  for i in 1 2 3 4 5; do codes+="$(w tok-a agent-a/q "k$i" | cut -d' ' -f1) "; done
  check "$backend: agent-a writes 1000-byte values into agent-a/q: four fit in 4096 bytes, the fifth does not ($codes)" \
    test "$codes" = "OK OK OK OK RESOURCE_EXHAUSTED "
  r=$(w tok-a agent-a/other k6)
  check "$backend: the refusal names the setting and the owner" \
    has "$r" "RESOURCE_EXHAUSTED quota CAM_MEMCTX_MAX_BYTES_PER_CALLER: owner agent-a holds 4000 of 4096 bytes"
  r=$(iso_call "$G" tok-a context_read "namespace:agent-a/q,key:k5")
  check "$backend: the refused value is not there" has "$r" "NOT_FOUND"
  r=$(iso_call "$G" tok-a context_write "namespace:agent-a/q,key:k1,value:$V1000")
  check "$backend: a second version of k1 counts too (kept versions): refused" has "$r" "RESOURCE_EXHAUSTED quota CAM_MEMCTX_MAX_BYTES_PER_CALLER"
  r=$(w tok-root agent-a/q k7)
  check "$backend: admin writing into agent-a's namespace meets agent-a's quota" has "$r" "RESOURCE_EXHAUSTED quota CAM_MEMCTX_MAX_BYTES_PER_CALLER: owner agent-a"
  codes=""
  for i in 1 2 3; do codes+="$(w tok-b agent-b "k$i" | cut -d' ' -f1) "; done
  check "$backend: agent-b is not held by agent-a's quota ($codes)" test "$codes" = "OK OK OK "
  r=$(iso_call "$G" tok-b context_snapshot "namespace:agent-b")
  check "$backend: a snapshot of agent-b's 3000 bytes needs 3000 more: refused (snapshots count)" \
    has "$r" "RESOURCE_EXHAUSTED quota CAM_MEMCTX_MAX_BYTES_PER_CALLER: owner agent-b"
  r=$(w tok-a team/x k1)
  check "$backend: a shared namespace counts against its own first segment (team), not the writer" has "$r" "OK "
  r=$(iso_call "$G" tok-a context_delete "namespace:agent-a/q,key:k1")
  check "$backend: deleting k1 frees its bytes" has "$r" "OK " "removed_versions:1"
  r=$(w tok-a agent-a/q k8)
  check "$backend: then 1000 bytes fit again" has "$r" "OK "
  check "$backend: each refusal counted: quota_refusals_total{quota=\"memctx_bytes_per_caller\"} 5 ($(refusals memctx_bytes_per_caller))" \
    wait_for 5 refusals_are memctx_bytes_per_caller 5
  if [ "$backend" = lmdb ]; then
    stop_pid "$K" TERM
    start_kernel || not_ok "lmdb: restart"
    r=$(w tok-a agent-a/q k9)
    check "lmdb: after a restart agent-a still holds 4000 bytes: refused" has "$r" "RESOURCE_EXHAUSTED quota CAM_MEMCTX_MAX_BYTES_PER_CALLER: owner agent-a holds 4000"
  fi

  # Series per caller (the store does not matter: once).
  [ "$backend" = lmdb ] || { stop_pid "$K" TERM; continue; }
  em() { iso_call "$G" "$1" emit_metric "metric_name:$2,value:1,labels:$3"; }
  codes=""
  for i in 1 2 3 4; do codes+="$(em tok-a "iso_${backend}_a_total" "k=$i" | cut -d' ' -f1) "; done
  check "$backend: agent-a makes 3 series, the 4th is refused ($codes)" test "$codes" = "OK OK OK RESOURCE_EXHAUSTED "
  r=$(em tok-a "iso_${backend}_a2_total" "k=1")
  check "$backend: the refusal names CAM_METRICS_MAX_SERIES_PER_CALLER" \
    has "$r" "RESOURCE_EXHAUSTED quota CAM_METRICS_MAX_SERIES_PER_CALLER: agent-a has made 3 series"
  r=$(em tok-a "iso_${backend}_a_total" "k=2")
  check "$backend: agent-a's existing series still count" has "$r" "OK "
  codes=""
  for i in 1 2 3; do codes+="$(em tok-b "iso_${backend}_b_total" "k=$i" | cut -d' ' -f1) "; done
  check "$backend: agent-b makes its own 3 series ($codes)" test "$codes" = "OK OK OK "
  series_seen() { scrape "$PORT" | grep -q "^iso_${backend}_a_total{k=\"2\"} 2$"; }
  check "$backend: the series agent-a made are scraped with their counts" wait_for 5 series_seen
  check "$backend: series refusals counted: quota_refusals_total{quota=\"metrics_series_per_caller\"} 2" \
    wait_for 5 refusals_are metrics_series_per_caller 2
  r=$(em tok-8191 "iso_${backend}_c_total" "k=1")
  check "$backend: agent-8191 makes its first series (quotas are per caller, whatever a name hashes to)" has "$r" "OK "
  stop_pid "$K" TERM
done
finish
