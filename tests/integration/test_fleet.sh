#!/usr/bin/env bash
# Past one machine (issue 19), with real processes on loopback: a Redis
# master with 2 replicas, 3 of Debian's redis-sentinel (down-after 1 s),
# 3 cam-kernels finding the master through the sentinels and acknowledging
# a write once WAIT confirms it on 1 replica (CAM_REDIS_MIN_REPLICAS_ACK=1;
# so durability comes from the replicas, and Redis runs AOF everysec),
# 3 cam-exporters, a real Prometheus discovering them through file_sd with
# the project's rules, and grpcio clients spreading calls over the kernels
# (round_robin; the writers retry on UNAVAILABLE).
#
#  1. one store: written, read, versioned, snapshotted and restored through
#     different kernels; compare-and-set conflicts across kernels ABORTED;
#  2. kill -9 the master mid-load, then SIGSTOP the new one past down-after
#     and SIGCONT it (it comes back as a replica): time from the fault to
#     the first acknowledged write, acknowledged writes lost (0), versions
#     gone back (0), no kernel restarted, every kernel followed the
#     failover (cam_os_memory_context_redis_master_changes_total, RedisFailover);
#  3. kill one sentinel: no call fails, the master stays;
#  4. kill -9 one kernel: CamOSDown for that instance only, the fleet keeps
#     answering and the client's retries succeed on the others;
#  5. rolling restart: SIGTERM each kernel in turn under a steady stream of
#     pings (no retry policy) and start it again: zero failed calls; while
#     draining, HealthCheck and grpc.health.v1 say NOT_SERVING.
# Every process is started and stopped by PID (lib.sh); ports are free
# loopback ports picked at run time; every wait is bounded.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
# Every kernel keeps its state in this test's own folder.
export CAM_DATA_DIR="$TMP/data" XDG_STATE_HOME="$TMP/state"
PY=/usr/bin/python3
FC="$PY $ROOT/tests/integration/fleet_client.py"
DOWN_AFTER_MS=1000

for c in redis-server redis-sentinel prometheus; do
  command -v $c >/dev/null || { not_ok "$c is installed (deps/debian.txt)"; finish; exit 1; }
done
now() { date +%s.%N; }
rcli() { redis-cli -p "$1" "${@:2}" 2>/dev/null; }

# ------------------------------------------------------------------ Redis
RP=($(free_port) $(free_port) $(free_port)); RPID=()
redis_start() { # INDEX [MASTER_PORT]
  mkdir -p "$TMP/r$1"
  start "redis$1" redis-server --port "${RP[$1]}" --bind 127.0.0.1 --dir "$TMP/r$1" --save '' \
    --appendonly yes --appendfsync everysec --daemonize no --loglevel warning \
    ${2:+--replicaof 127.0.0.1 $2}
  RPID[$1]=$LAST_PID
}
replica_up() { rcli "$1" info replication | grep -q 'master_link_status:up'; }
redis_start 0
wait_for 10 rcli "${RP[0]}" ping
redis_start 1 "${RP[0]}"; redis_start 2 "${RP[0]}"
check "Redis master and 2 replicas in sync" wait_for 20 bash -c \
  "redis-cli -p ${RP[1]} info replication | grep -q link_status:up && redis-cli -p ${RP[2]} info replication | grep -q link_status:up"

# -------------------------------------------------------------- sentinels
SP=($(free_port) $(free_port) $(free_port)); SPID=()
for i in 0 1 2; do
  cat >"$TMP/s$i.conf" <<EOF
port ${SP[$i]}
bind 127.0.0.1
daemonize no
dir $TMP
logfile ""
sentinel monitor cam 127.0.0.1 ${RP[0]} 2
sentinel down-after-milliseconds cam $DOWN_AFTER_MS
sentinel failover-timeout cam 6000
sentinel parallel-syncs cam 2
EOF
  start "sentinel$i" redis-sentinel "$TMP/s$i.conf"; SPID[$i]=$LAST_PID
done
knows_all() { # every sentinel sees 2 replicas and 2 other sentinels
  local i
  for i in 0 1 2; do
    rcli "${SP[$i]}" sentinel master cam | tr '\n' ' ' | grep -q 'num-slaves 2 .*num-other-sentinels 2' || return 1
  done
}
check "3 sentinels monitor the master, each knowing the replicas and the others" wait_for 30 knows_all
SENTINELS="127.0.0.1:${SP[0]},127.0.0.1:${SP[1]},127.0.0.1:${SP[2]}"
master_port() { rcli "${SP[${1:-0}]}" sentinel get-master-addr-by-name cam | sed -n 2p; }

# ---------------------------------------------------------------- kernels
GP=($(free_port) $(free_port) $(free_port)); EP=($(free_port) $(free_port) $(free_port)); KPID=()
kstart() {
  GRPC_PORT=${GP[$1]} kernel_start "k$1" "ipc://$TMP/k$1.ipc" \
    --redis-sentinels "$SENTINELS" --redis-master-name cam --redis-min-replicas-ack 1 \
    --memctx-redis-timeout-ms 500 --memctx-keep-versions 1000 --memctx-max-keys 100000 \
    --grpc-max-connection-age-ms 4000 --grpc-max-connection-age-grace-ms 3000
  KPID[$1]=$LAST_PID
}
serving() { $PY "$ROOT/tests/integration/grpcurl.py" -plaintext "127.0.0.1:$1" grpc.health.v1.Health/Check 2>/dev/null | grep -q '"SERVING"'; }
for i in 0 1 2; do
  kstart $i
  exporter_start "e$i" "ipc://$TMP/k$i.ipc" "${EP[$i]}"
done
for i in 0 1 2; do
  check "kernel $i serves and its exporter has a fresh snapshot" wait_for 15 metric_is "${EP[$i]}" cam_os_kernel_up 1
done
KERNELS="127.0.0.1:${GP[0]},127.0.0.1:${GP[1]},127.0.0.1:${GP[2]}"
ORIG_KPID=("${KPID[@]}")

# ------------------------------------------------------------- Prometheus
PP=$(free_port)
mkdir -p "$TMP/prom/rules"
# The project's rules, with the alerts this test waits for held 2 s
# instead of minutes.
$PY - "$ROOT/monitoring/prometheus/rules/alerts.yml" "$TMP/prom/rules/alerts.yml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
for g in d["groups"]:
    for r in g["rules"]:
        if r.get("alert") in ("CamOSDown", "CamOSFleetDegraded", "RedisFailover"):
            r["for"] = "2s"
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
# One target per exporter, labelled as kubernetes_sd labels a pod
# (k8s/monitoring/prometheus.yml), so the autoscaling queries run as in k8s.
for i in 0 1 2; do
  printf '%s{"targets": ["127.0.0.1:%s"], "labels": {"namespace": "cam-os", "pod": "cam-os-%s"}}\n' \
    "$([ $i = 0 ] && echo '[' || echo ',')" "${EP[$i]}" "$i"
done >"$TMP/prom/targets.json"
echo ']' >>"$TMP/prom/targets.json"
cat >"$TMP/prom/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ['rules/alerts.yml']
scrape_configs:
  - job_name: cam-os
    metrics_path: /metrics
    file_sd_configs: [{files: ['targets.json'], refresh_interval: 1s}]
EOF
start prometheus prometheus --config.file="$TMP/prom/prometheus.yml" --storage.tsdb.path="$TMP/prom/data" \
  --web.listen-address="127.0.0.1:$PP" --log.level=warn
PROM=$LAST_PID
promq() { curl -fsS --max-time 5 "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1"; }
# alert_instances NAME: the instances ALERTS has for NAME (pending or firing), one a line
alert_instances() { promq "ALERTS{alertname=\"$1\"}" | $PY -c '
import json, sys
print("\n".join(sorted(r["metric"].get("instance", "-") for r in json.load(sys.stdin)["data"]["result"])))'; }
targets_up() { [ "$(promq 'count(up{job="cam-os"} == 1)' | grep -o '"3"')" = '"3"' ]; }
check "Prometheus discovers the 3 exporters through file_sd, all up" wait_for 20 targets_up
# The HPA's metric as prometheus-adapter asks for it (k8s/overlays/production/
# prometheus-adapter.yaml, templates filled in as the adapter fills them),
# and KEDA's query (production-keda/scaledobject.yaml): one value per pod, and one in all.
autoscaling_queries() {
  $PY - "$ROOT/k8s/overlays" "http://127.0.0.1:$PP" <<'PY'
import json, sys, urllib.parse, urllib.request, yaml
root, prom = sys.argv[1], sys.argv[2]
def q(expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    return json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
rule = yaml.safe_load(open(root + "/production/prometheus-adapter.yaml"))["rules"][0]
expr = rule["metricsQuery"].replace("<<.GroupBy>>", "pod").replace(
    "<<.LabelMatchers>>", 'namespace="cam-os",pod=~"cam-os-0|cam-os-1|cam-os-2"')
pods = sorted(r["metric"]["pod"] for r in q(expr))
keda = yaml.safe_load(open(root + "/production-keda/scaledobject.yaml"))
total = q(keda["spec"]["triggers"][0]["metadata"]["query"])
print(pods, total)
sys.exit(0 if pods == ["cam-os-0", "cam-os-1", "cam-os-2"] and len(total) == 1 else 1)
PY
}
check "the HPA's prometheus-adapter query gives one value per pod, KEDA's one in all" \
  wait_for 10 autoscaling_queries

# ------------------------------------------------------------ 1. one store
$FC shared "$KERNELS" >"$TMP/shared.out" 2>&1
cat "$TMP/shared.out"
PASSED=$((PASSED + $(grep -c '^  ok ' "$TMP/shared.out")))
FAILED=$((FAILED + $(grep -c '^  FAIL ' "$TMP/shared.out")))
grep -q 'passed, 0 failed' "$TMP/shared.out" || not_ok "fleet_client shared ran to its end"

# ----------------------------------------------------- 2. Redis failovers
json_field() { $PY -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
changes() { metric_value "${EP[$1]}" cam_os_memory_context_redis_master_changes_total | cut -d. -f1; }
all_followed() { # every kernel's master-change counter is at least $1
  local i; for i in 0 1 2; do [ "$(changes $i)" -ge "$1" ] || return 1; done
}
# fault NAME SECONDS AT ACTION...: a write load of SECONDS with ACTION at AT s.
fault() {
  local name=$1 secs=$2 at=$3; shift 3
  $FC load "$KERNELS" "$secs" "$TMP/log-$name" 6 >"$TMP/load-$name.out" 2>&1 &
  local load=$!
  sleep "$at"
  T_FAULT=$(now)  # the action sets it again at the very moment of its fault
  "$@"
  wait "$load"
  echo "  $name load: $(cat "$TMP/load-$name.out")"
}
kill_master() {
  OLD_MASTER=$(master_port)
  local i; for i in 0 1 2; do [ "${RP[$i]}" = "$OLD_MASTER" ] && KILLED=$i; done
  echo "  (kill -9 the master, 127.0.0.1:$OLD_MASTER)"
  T_FAULT=$(now)
  stop_pid "${RPID[$KILLED]}" KILL
}
failover_figures() { # NAME: after a master fault
  local name=$1 t v
  t=$($FC after "$TMP/log-$name" "$T_FAULT")
  echo "  $name: first acknowledged write ${t} s after the fault (down-after ${DOWN_AFTER_MS} ms + failover)"
  check "$name: writes succeed again after the failover (${t} s)" [ "$t" != none ]
  FIGURES+=("$name: first acknowledged write after ${t} s")
  v=$($FC verify "$KERNELS" "$TMP/log-$name")
  echo "  $name verify: $v"
  check "$name: acknowledged writes lost: 0 ($v)" \
    bash -c "echo '$v' | grep -q '\"lost\": 0, \"wrong\": 0, \"latest_went_back\": 0'"
  check "$name: some writes were acknowledged" bash -c "! echo '$v' | grep -q '\"acked\": 0,'"
  check "$name: no acknowledged version went back ($(json_field went_back <"$TMP/load-$name.out"))" \
    [ "$(json_field went_back <"$TMP/load-$name.out")" = 0 ]
  check "$name: no kernel restarted" bash -c \
    "kill -0 ${ORIG_KPID[0]} && kill -0 ${ORIG_KPID[1]} && kill -0 ${ORIG_KPID[2]}"
  FIGURES+=("$name: $v; load $(cat "$TMP/load-$name.out")")
}
FIGURES=()
fault kill9 14 3 kill_master
NEW_MASTER=$(master_port)
check "kill9: the sentinels promoted a replica (127.0.0.1:$OLD_MASTER -> $NEW_MASTER)" \
  [ -n "$NEW_MASTER" ] && [ "$NEW_MASTER" != "$OLD_MASTER" ]
failover_figures kill9
check "kill9: every kernel followed the failover (master changes: $(changes 0) $(changes 1) $(changes 2))" \
  wait_for 5 all_followed 1
three_failovers() { [ "$(alert_instances RedisFailover | wc -l)" = 3 ]; }
check "kill9: RedisFailover for every kernel" wait_for 10 three_failovers
# The killed Redis comes back as a replica of the new master: 2 replicas again.
redis_start "$KILLED" "$NEW_MASTER"
check "the killed Redis is back as a replica of 127.0.0.1:$NEW_MASTER" wait_for 20 replica_up "${RP[$KILLED]}"

hang_master() {
  STOPPED_PORT=$(master_port)
  local i; for i in 0 1 2; do [ "${RP[$i]}" = "$STOPPED_PORT" ] && STOPPED=$i; done
  echo "  (SIGSTOP the master 127.0.0.1:$STOPPED_PORT for $((DOWN_AFTER_MS / 1000 + 3)) s, then SIGCONT)"
  T_FAULT=$(now)
  kill -STOP "${RPID[$STOPPED]}"
  sleep $((DOWN_AFTER_MS / 1000 + 3))
  kill -CONT "${RPID[$STOPPED]}"
}
fault sigstop 14 3 hang_master
check "sigstop: the sentinels promoted another replica (127.0.0.1:$STOPPED_PORT -> $(master_port))" \
  [ "$(master_port)" != "$STOPPED_PORT" ]
check "sigstop: the old master came back as a replica" wait_for 20 replica_up "$STOPPED_PORT"
failover_figures sigstop
check "sigstop: every kernel followed the second failover" wait_for 5 all_followed 2

# ---------------------------------------------------- 3. kill one sentinel
before=$(master_port 1) c0=$(changes 0)
kill_sentinel() { echo "  (kill -9 sentinel 0)"; stop_pid "${SPID[0]}" KILL; }
fault sentinel 6 2 kill_sentinel
check "one sentinel killed: no call failed ($(json_field failed <"$TMP/load-sentinel.out") failed)" \
  [ "$(json_field failed <"$TMP/load-sentinel.out")" = 0 ]
check "one sentinel killed: the master stays (127.0.0.1:$(master_port 1)), no kernel changed master" \
  bash -c "[ '$(master_port 1)' = '$before' ] && [ '$(changes 0)' = '$c0' ]"

# ------------------------------------------------------ 4. kill one kernel
kill_kernel() { echo "  (kill -9 kernel 2)"; stop_pid "${KPID[2]}" KILL; }
fault kernel 8 2 kill_kernel
kf=$(json_field failed <"$TMP/load-kernel.out")
check "kernel 2 killed: the fleet kept answering, every call succeeded with retries ($(cat "$TMP/load-kernel.out"))" \
  [ "$kf" = 0 ]
down_only_2() { [ "$(alert_instances CamOSDown)" = "127.0.0.1:${EP[2]}" ]; }
check "kernel 2 killed: CamOSDown for its instance only" wait_for 15 down_only_2
degraded() { [ -n "$(alert_instances CamOSFleetDegraded)" ]; }
check "kernel 2 killed: CamOSFleetDegraded (2 of 3 kernels up)" wait_for 10 degraded
kstart 2
check "kernel 2 started again" wait_for 15 metric_is "${EP[2]}" cam_os_kernel_up 1

# ---------------------------------------------------- 5. rolling restart
# Pings: what is proven here is the transport's drain, not Redis (whose
# own stalls under a loaded machine would show as UNAVAILABLE writes).
$PY "$ROOT/tests/interop/steady_client.py" "ipv4:$KERNELS" 24 --callers 6 --round-robin \
  >"$TMP/rolling.out" 2>"$TMP/rolling.err" &
STEADY=$!
sleep 2
for i in 0 1 2; do
  if [ "$i" = 0 ]; then
    (cd "$ROOT/tests/integration" && $PY drain_health.py "${GP[0]}" 4 >"$TMP/drain.out" 2>&1) &
    DH=$!
    wait_for 5 grep -q ready "$TMP/drain.out"
  fi
  echo "  (SIGTERM kernel $i, start it again)"
  stop_pid "${KPID[$i]}" TERM
  kstart "$i"
  wait_for 15 serving "${GP[$i]}" || not_ok "kernel $i serves again after its restart"
  sleep 4
done
wait "$DH"; wait "$STEADY"
echo "  rolling restart: $(cat "$TMP/rolling.out")"
check "rolling restart: zero failed calls at the client ($(cat "$TMP/rolling.out"))" \
  grep -qE '"ok": [1-9][0-9]*, "failed": 0' "$TMP/rolling.out"
check "SIGTERM: HealthCheck and grpc.health.v1 say NOT_SERVING while draining ($(tail -1 "$TMP/drain.out"))" \
  grep -q '"cam": "NOT_SERVING", "v1": "NOT_SERVING"' "$TMP/drain.out"
FIGURES+=("rolling restart: $(cat "$TMP/rolling.out")")

echo "  figures:"
printf '    %s\n' "${FIGURES[@]}"
finish
