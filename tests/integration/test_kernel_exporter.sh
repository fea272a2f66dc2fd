#!/usr/bin/env bash
# cam-kernel and cam-exporter as real processes over a real nng bus:
# start order, restarts, staleness, promtool and a real Prometheus.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

INTERVAL_MS=200
BUS="ipc://$TMP/bus/bus.ipc"
PORT=$(free_port)

up() { metric_is "$PORT" cam_os_kernel_up 1; }
down() { metric_is "$PORT" cam_os_kernel_up 0; }
ready_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/readyz"; }
readyz_is() { [ "$(ready_code)" = "$1" ]; }

# 1. Exporter first: not ready until the kernel publishes.
exporter_start exporter "$BUS" "$PORT"; EXPORTER=$LAST_PID
check "exporter answers /healthz before any kernel" \
  wait_for 10 curl -fsS "http://127.0.0.1:$PORT/healthz"
check "/readyz is 503 with no snapshot yet" readyz_is 503
kernel_start kernel "$BUS"; KERNEL=$LAST_PID
check "exporter-first: kernel_up becomes 1" wait_for 10 up
check "/readyz is 200 once fresh" readyz_is 200

# 2. The seed's families are all there, and promtool accepts the scrape.
scrape "$PORT" >"$TMP/scrape1.txt"
missing=""
for m in cam_os_syscall_duration_seconds cam_os_syscall_total cam_os_syscall_errors_total \
         cam_os_memory_context_operations_total cam_os_memory_context_size_bytes \
         cam_os_memory_context_versions_total cam_os_security_tpm_operations_total \
         cam_os_security_auth_failures_total cam_os_security_rate_limit_hits_total \
         cam_os_scheduler_queue_size cam_os_scheduler_priority_distribution \
         cam_os_driver_load_time_seconds cam_os_build_info process_cpu_seconds_total \
         process_resident_memory_bytes process_start_time_seconds process_open_fds; do
  grep -q "^# TYPE $m " "$TMP/scrape1.txt" || missing="$missing $m"
done
check "every seed family is exposed (missing:${missing:- none})" test -z "$missing"
check "promtool check metrics passes on a live scrape" \
  bash -c "promtool check metrics < '$TMP/scrape1.txt'"
check "gzip scrape decodes to the same families" \
  bash -c "curl -fsS -H 'Accept-Encoding: gzip' 'http://127.0.0.1:$PORT/metrics' | gunzip | grep -q '^# TYPE cam_os_syscall_total counter'"

# 3. kill -9 the exporter and restart it: counters never go back.
before=$(metric_value "$PORT" cam_os_bus_snapshots_published_total)
stop_pid "$EXPORTER" 9
exporter_start exporter2 "$BUS" "$PORT"; EXPORTER=$LAST_PID
check "restarted exporter sees the kernel again" wait_for 10 up
after=$(metric_value "$PORT" cam_os_bus_snapshots_published_total || echo 0)
check "counters after exporter restart >= before ($before -> $after)" \
  awk -v a="$after" -v b="$before" 'BEGIN { exit !(a + 0 >= b + 0 && b + 0 > 0) }'

# 4. Kernel stops: stale within 3 intervals (plus scheduling slack).
start1=$(metric_value "$PORT" process_start_time_seconds)
stop_pid "$KERNEL" TERM
t0=$(date +%s.%N)
wait_for 5 down
t1=$(date +%s.%N)
check "kernel stopped: kernel_up 0 within 3 intervals (+0.5 s slack)" \
  awk -v a="$t0" -v b="$t1" -v i="$INTERVAL_MS" 'BEGIN { exit !(b - a <= 3 * i / 1000 + 0.5) }'
check "stale: /readyz is 503" readyz_is 503
check "stale: the frozen kernel series are not served" \
  bash -c "! curl -fsS 'http://127.0.0.1:$PORT/metrics' | grep -q '^cam_os_syscall_total\\|^process_start_time_seconds'"
grep -q '"level":"INFO"' "$TMP/kernel.log"
check "kernel logged JSON lines and a clean stop" grep -q 'cam-kernel stopped' "$TMP/kernel.log"

# 5. Kernel restarts (same socket path): a new process start time.
sleep 1.1
kernel_start kernel2 "$BUS"; KERNEL=$LAST_PID
check "restarted kernel: kernel_up 1 again" wait_for 10 up
start2=$(metric_value "$PORT" process_start_time_seconds)
check "process_start_time_seconds changed ($start1 -> $start2)" \
  awk -v a="$start1" -v b="$start2" 'BEGIN { exit !(b > a) }'

# 6. kill -9 the kernel: the stale socket file must not stop the next one.
stop_pid "$KERNEL" 9
check "kill -9 kernel: kernel_up 0" wait_for 5 down
kernel_start kernel3 "$BUS"; KERNEL=$LAST_PID
check "kernel after kill -9 binds the same bus path again" wait_for 10 up

# 7. A real Prometheus scrapes the exporter; its API says kernel_up == 1.
PROM_PORT=$(free_port)
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: 'cam-os'
    static_configs:
      - targets: ['127.0.0.1:$PORT']
    metrics_path: '/metrics'
    scrape_interval: 1s
YML
start prometheus prometheus --config.file="$TMP/prometheus.yml" \
  --storage.tsdb.path="$TMP/prom-data" --web.listen-address="127.0.0.1:$PROM_PORT"
prom_up() {
  local r; r=$(curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query?query=cam_os_kernel_up") &&
    grep -q '"value":\[[0-9.]*,"1"\]' <<<"$r"
}
check "Prometheus API returns cam_os_kernel_up == 1" wait_for 30 prom_up
prom_target_up() {
  local r; r=$(curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query?query=up%7Bjob%3D%22cam-os%22%7D") &&
    grep -q '"value":\[[0-9.]*,"1"\]' <<<"$r"
}
check "Prometheus scrape target is up" prom_target_up

stop_pid "$KERNEL" TERM
stop_pid "$EXPORTER" TERM
finish
