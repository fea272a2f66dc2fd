#!/usr/bin/env bash
# `make run-monitoring`: what `make run` starts (cam-kernel and cam-exporter
# on their embedded defaults) plus Debian's Prometheus on :9090 and
# Alertmanager on :9093, on the project's own configs
# (monitoring/prometheus/prometheus.yml: scrape localhost:8080 every 5 s, the
# alert rules, alerts to localhost:9093; monitoring/alertmanager/alertmanager.yml),
# their data in a temporary folder removed at the end. Debian's Prometheus
# serves its classic UI (/classic/...): the newer one is not packaged. Ctrl-C (or SIGTERM)
# stops all four; any one of them dying stops the others.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
for p in prometheus prometheus-alertmanager; do
  command -v "$p" >/dev/null || { echo "$p not found: make deps installs Debian's $p" >&2; exit 1; }
done
data=$(mktemp -d /tmp/cam-os-monitoring-XXXXXX)
export CAM_DRIVERS_DIR=${CAM_DRIVERS_DIR:-$build/drivers}
"$build/cam-kernel" & kernel=$!
"$build/cam-exporter" & exporter=$!
prometheus --config.file="$root/monitoring/prometheus/prometheus.yml" \
  --storage.tsdb.path="$data/prometheus" --web.listen-address=:9090 \
  --log.level=warn >"$data/prometheus.log" 2>&1 & prom=$!
# --cluster.listen-address= : a single Alertmanager, no gossip port.
prometheus-alertmanager --config.file="$root/monitoring/alertmanager/alertmanager.yml" \
  --storage.path="$data/alertmanager" --web.listen-address=:9093 --cluster.listen-address= \
  --log.level=warn >"$data/alertmanager.log" 2>&1 & am=$!
all=("$kernel" "$exporter" "$prom" "$am")
stop() {
  trap - INT TERM
  kill -TERM "${all[@]}" 2>/dev/null
  wait "${all[@]}" 2>/dev/null
  rm -rf "$data"
  exit 0
}
trap stop INT TERM
cat >&2 <<MSG
cam-kernel   (pid $kernel): gRPC on ${CAM_GRPC_LISTEN:-127.0.0.1:50051}
cam-exporter (pid $exporter): http://localhost:8080/metrics
Prometheus   (pid $prom): http://localhost:9090/classic/targets, /classic/rules, /classic/alerts  (log: $data/prometheus.log)
Alertmanager (pid $am): http://localhost:9093  (log: $data/alertmanager.log)
Ctrl-C stops all four.
MSG
wait -n "${all[@]}"
rc=$?
[ $rc -ge 128 ] || { echo "a process exited ($rc); stopping the others" >&2; tail -5 "$data"/*.log >&2; }
stop
