#!/usr/bin/env bash
# `make run-monitoring` as a newcomer runs it: kernel, exporter, Debian's
# Prometheus and Alertmanager on the project's configs and the default
# ports, so within a minute Prometheus shows the target up, the rules
# loaded, and an alert when the kernel stops answering; Ctrl-C stops all.
#
# The default ports (50051, 8080, 9090, 9093) are fixed, so this runs in a
# network namespace of its own (unshare --net): the machine's are untouched.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
if [ "${1:-}" != --in-netns ]; then
  exec unshare --net "$0" --in-netns
fi
source "$(dirname "$0")/../integration/lib.sh"
ip link set lo up
cd "$ROOT"
# Job control: the script gets a process group of its own, as in a
# terminal, so Ctrl-C can be sent to the whole group.
set -m
CAM_BUS_ADDR="ipc://$TMP/bus.ipc" CAM_PUBLISH_INTERVAL_MS=500 "$ROOT/scripts/run-monitoring.sh" "$BUILD" >"$TMP/run.log" 2>&1 &
run=$!
set +m
# On any exit, the whole group (kernel, exporter, Prometheus, Alertmanager).
trap 'kill -9 -- -$run 2>/dev/null; cleanup' EXIT

prom() { curl -fsS --max-time 5 "http://127.0.0.1:9090/api/v1/$1"; }
py() { /usr/bin/python3 -c "import json, sys; d = json.load(sys.stdin)['data']; sys.exit(0 if ($1) else 1)"; }
target_up() { prom targets | py 'any(t["labels"]["instance"] == "localhost:8080" and t["health"] == "up" for t in d["activeTargets"])'; }
t0=$SECONDS
check "Prometheus :9090 shows the target localhost:8080 up" wait_for 60 target_up
echo "  note: target up $((SECONDS - t0)) s after the start"
check "... and the alert rules loaded (CamOSDown among them)" \
  bash -c "$(declare -f prom py); prom rules | py '\"CamOSDown\" in {r[\"name\"] for g in d[\"groups\"] for r in g[\"rules\"]}'"
am_seen() { prom alertmanagers | py 'any(a["url"].startswith("http://localhost:9093/") for a in d["activeAlertmanagers"])'; }
check "... and Alertmanager localhost:9093 as its Alertmanager" wait_for 30 am_seen
check "Alertmanager :9093 ready" wait_for 30 curl -fsS --max-time 2 http://127.0.0.1:9093/-/ready
# A here-string, not a pipe into grep -q: with pipefail, curl cut off by
# grep's early exit would fail the check.
page_has() { grep -qF -- "$2" <<<"$(curl -fsS --max-time 5 "http://127.0.0.1:9090/classic/$1")"; }
check "Prometheus' UI: /classic/targets lists localhost:8080, /classic/rules CamOSDown" \
  bash -c "$(declare -f page_has); page_has targets localhost:8080 && page_has rules CamOSDown"
check "cam_os_kernel_up 1 through Prometheus" \
  wait_for 30 bash -c "$(declare -f prom py); prom 'query?query=cam_os_kernel_up' | py 'd[\"result\"] and d[\"result\"][0][\"value\"][1] == \"1\"'"

# The kernel stops answering (SIGSTOP): its snapshots go stale and
# CamOSDown shows in the Alerts page, pending its minute.
kernel=$(pgrep -P "$run" -x cam-kernel)
kill -STOP "$kernel"
pending() { prom alerts | py 'any(a["labels"]["alertname"] == "CamOSDown" and a["labels"].get("cause") == "kernel_down" for a in d["alerts"])'; }
check "kernel stopped: CamOSDown (cause kernel_down) among Prometheus' alerts" wait_for 40 pending
check "... and on the /classic/alerts page" page_has alerts CamOSDown
kill -CONT "$kernel"

children=$(pgrep -P "$run" | tr '\n' ' ')
data=$(sed -n 's/.*log: \(\/tmp\/cam-os-monitoring-[A-Za-z0-9]*\)\/prometheus.log.*/\1/p' "$TMP/run.log")
kill -INT -- -"$run"
gone() { ! kill -0 "$run" 2>/dev/null && for p in $children; do ! kill -0 "$p" 2>/dev/null || return 1; done; }
check "Ctrl-C stops all four ($children) and the script" wait_for 20 gone
ps -o pid=,stat=,etime=,args= -p "$run $children" 2>/dev/null | sed 's/^/  still running: /'
check "... and removes the data folder" bash -c "[ -n '$data' ] && [ ! -e '$data' ]"
finish
