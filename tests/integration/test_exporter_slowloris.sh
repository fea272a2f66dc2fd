#!/usr/bin/env bash
# The exporter keeps answering under slowloris (issue 15, finding 3): 2,000
# connections that send one byte every 10 s, from 40 loopback addresses, and
# then from one. Before the fix every scrape and probe timed out; now the
# idle timeout closes them, one address holds at most its share, and
# /metrics, /healthz and /readyz keep answering, /metrics in under 100 ms;
# connections that stay silent are closed by the idle timeout.
#
# Needs about 2,300 descriptors for the client: the test raises its soft
# limit (ulimit -n) up to the hard one; where the hard limit is lower it
# opens fewer connections and says how many.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

CONNS=2000
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
limit=$(ulimit -n)
if [ "$limit" != unlimited ] && [ "$limit" -lt $((CONNS + 300)) ]; then
  CONNS=$((limit - 300))
  echo "  note: descriptor limit $limit: opening $CONNS slow connections instead of 2000"
fi

BUS="ipc://$TMP/bus.ipc"
PORT=$(free_port)
start publisher "$ROOT/$BUILD/tests/tools/metrics_publisher" "$BUS" 10000 1000
exporter_start exporter "$BUS" "$PORT" --publish-interval-ms 1000
check "exporter serves the publisher's 10k series" wait_for 20 metric_is "$PORT" cam_os_kernel_up 1

# field JSON KEY...: prints a value of the slowloris report.
field() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1])
for k in sys.argv[2:]: d=d[k]
print(d)' "$@"; }

echo "  -- $CONNS slow connections from 40 addresses, 15 s"
out=$(/usr/bin/python3 "$ROOT/tests/integration/slowloris.py" "$PORT" "$CONNS" 40 15 10)
echo "  $out"
check "the slow connections were really held open (server held $(field "$out" server_held_max))" \
  test "$(field "$out" server_held_max)" -ge $((CONNS * 9 / 10))
check "no /metrics, /healthz or /readyz probe failed" \
  test "$(field "$out" failures /metrics)$(field "$out" failures /healthz)$(field "$out" failures /readyz)" = 000
check "95 % of scrapes answered in under 100 ms (p95 $(field "$out" latency /metrics p95_ms) ms, max $(field "$out" latency /metrics max_ms) ms)" \
  /usr/bin/python3 -c "import sys; sys.exit(not float(sys.argv[1]) < 100)" "$(field "$out" latency /metrics p95_ms)"

echo "  -- $CONNS connections that send nothing after their first bytes, 9 s, not reopened"
out=$(/usr/bin/python3 "$ROOT/tests/integration/slowloris.py" "$PORT" "$CONNS" 40 9 60 noreopen)
echo "  $out"
check "the 5 s idle timeout closed every one of them (held at most $(field "$out" server_held_max), at the end $(field "$out" server_held_min))" \
  test "$(field "$out" server_held_min)" -eq 0 -a "$(field "$out" server_held_max)" -ge $((CONNS * 9 / 10))

echo "  -- $CONNS slow connections from one address at once, 8 s"
out=$(/usr/bin/python3 "$ROOT/tests/integration/slowloris.py" "$PORT" "$CONNS" 1 8 10 noreopen)
echo "  $out"
check "one address holds its 100 connections, no more (held $(field "$out" server_held_settled) once the rest were refused)" \
  test "$(field "$out" server_held_settled)" -le 104 -a "$(field "$out" server_held_settled)" -ge 90
check "no probe failed meanwhile" \
  test "$(field "$out" failures /metrics)$(field "$out" failures /healthz)$(field "$out" failures /readyz)" = 000
check "95 % of scrapes answered in under 100 ms (p95 $(field "$out" latency /metrics p95_ms) ms)" \
  /usr/bin/python3 -c "import sys; sys.exit(not float(sys.argv[1]) < 100)" "$(field "$out" latency /metrics p95_ms)"
check "the exporter logged its connection limits" \
  grep -q '"max_connections_per_ip":100' "$TMP/exporter.log"
finish
