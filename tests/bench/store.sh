#!/usr/bin/env bash
# The price of durability, side by side in one run:
# - context_write and context_read through gRPC (h2load, BENCH_CLIENTS x
#   BENCH_STREAMS, 100-byte values) on the durable lmdb store and on the
#   same kernel with CAM_MEMCTX_BACKEND=memory, in interleaved rounds
#   (BENCH_ROUNDS, median and range reported), with the lmdb kernel's
#   commits (= syncs) per second and changes per commit from its metrics;
# - Redis 7 on the same machine, the anchor: redis-benchmark SET -d 100
#   -c 16 -P 8 with no persistence and with appendonly + appendfsync always;
# - a store of BENCH_STORE_MB (1024) MiB: how long a kernel takes to start
#   on it (until it answers), and its RssAnon (the store's pages are the
#   page cache's, not the heap's) after writing it and after reading it.
# h2load sees only HTTP 200 (grpc-status is in the trailers), so every
# write run is checked against the store: the version must have moved by
# the number of writes.
#
# usage: tests/bench/store.sh [BUILD]
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
N=${BENCH_N:-100000}
C=${BENCH_CLIENTS:-16}
M=${BENCH_STREAMS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
STORE_MB=${BENCH_STORE_MB:-1024}
VALUE=$(head -c 100 /dev/zero | tr '\0' 'v')
H=(-H 'content-type: application/grpc' -H 'te: trailers')
client() { /usr/bin/python3 "$ROOT/tests/integration/memctx_client.py" "$@"; }
sample() { scrape "$1" | awk -v m="$2" '$1 == m { printf "%d\n", $2 }'; }
rss_anon() { awk '/^RssAnon/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {printf "%.0f (%.0f-%.0f)", a[int((NR+1)/2)], a[1], a[NR]}'; }

# h2rate NAME PORT VERB PAYLOAD: one h2load run; prints its req/s.
h2rate() {
  /usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/$1.bin" "$3" "$4"
  h2load -n "$N" -c "$C" -m "$M" -t 1 -d "$TMP/$1.bin" "${H[@]}" \
    "http://127.0.0.1:$2/cam.SyscallService/Execute" |
    awk '/finished in/ {for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) print $(i-1)}'
}

command -v h2load >/dev/null && command -v redis-server >/dev/null ||
  { echo "store bench needs h2load and redis-server"; exit 1; }
echo "== machine: $(nproc) cores; data in $TMP ($(df -T "$TMP" | awk 'NR==2 {print $2}'))"
echo "== $N calls per run, h2load $C connections x $M streams, 100-byte values, $ROUNDS rounds"

declare -A GP XP KP
for b in lmdb memory; do
  GP[$b]=$(free_port); XP[$b]=$(free_port)
  GRPC_PORT=${GP[$b]} kernel_start "k-$b" "ipc://$TMP/$b.ipc" --access-log errors \
    --memctx-backend "$b"
  KP[$b]=$LAST_PID
  exporter_start "x-$b" "ipc://$TMP/$b.ipc" "${XP[$b]}"
  wait_for 10 client call "127.0.0.1:${GP[$b]}" ping >/dev/null || { echo "kernel $b did not start"; exit 1; }
  client call "127.0.0.1:${GP[$b]}" context_write "namespace:bench,key:k,value:$VALUE" >/dev/null
done

: >"$TMP/w-lmdb"; : >"$TMP/w-memory"; : >"$TMP/r-lmdb"; : >"$TMP/r-memory"; : >"$TMP/syncs"; : >"$TMP/per"
for r in $(seq "$ROUNDS"); do
  for b in memory lmdb; do
    c0=$(sample "${XP[$b]}" cam_os_memory_context_commits_total)
    s0=$(sample "${XP[$b]}" cam_os_memory_context_syncs_total)
    ch0=$(sample "${XP[$b]}" cam_os_memory_context_committed_changes_total)
    t0=$(date +%s.%N)
    w=$(h2rate "w-$b" "${GP[$b]}" context_write "namespace:bench,key:k,value:$VALUE")
    t1=$(date +%s.%N)
    echo "$w" >>"$TMP/w-$b"
    h2rate "r-$b" "${GP[$b]}" context_read "namespace:bench,key:k" >>"$TMP/r-$b"
    if [ "$b" = lmdb ]; then
      sleep 0.6   # one snapshot later (CAM_PUBLISH_INTERVAL_MS 200 in tests)
      c1=$(sample "${XP[$b]}" cam_os_memory_context_commits_total)
      s1=$(sample "${XP[$b]}" cam_os_memory_context_syncs_total)
      ch1=$(sample "${XP[$b]}" cam_os_memory_context_committed_changes_total)
      awk -v s="$((s1 - s0))" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.0f\n", s / (z - a)}' >>"$TMP/syncs"
      awk -v c="$((c1 - c0))" -v s="$((s1 - s0))" -v n="$((ch1 - ch0))" \
        'BEGIN {printf "%.1f/%.1f\n", n / c, n / s}' >>"$TMP/per"
    fi
  done
  echo "  round $r: write memory $(tail -1 "$TMP/w-memory") lmdb $(tail -1 "$TMP/w-lmdb");" \
       "read memory $(tail -1 "$TMP/r-memory") lmdb $(tail -1 "$TMP/r-lmdb") req/s"
done
for b in lmdb memory; do
  r=$(client call "127.0.0.1:${GP[$b]}" context_read "namespace:bench,key:k")
  ver=$(grep -o 'version:[0-9]*' <<<"$r" | cut -d: -f2)
  echo "   check ($b): latest version ${ver:-none}, expected $((ROUNDS * N + 1)) (one per acknowledged write)"
done
paste "$TMP/w-lmdb" "$TMP/w-memory" | awk '{print $1 / $2}' >"$TMP/w-ratio"
paste "$TMP/r-lmdb" "$TMP/r-memory" | awk '{print $1 / $2}' >"$TMP/r-ratio"
echo "context_write, durable lmdb   : $(median <"$TMP/w-lmdb") req/s"
echo "context_write, memory         : $(median <"$TMP/w-memory") req/s"
echo "  lmdb / memory, per round    : $(tr '\n' ' ' <"$TMP/w-ratio")(target >= 0.8)"
echo "  lmdb fdatasyncs/s           : $(median <"$TMP/syncs"); changes per commit/per sync, by round: $(tr '\n' ' ' <"$TMP/per")"
echo "context_read, durable lmdb    : $(median <"$TMP/r-lmdb") req/s"
echo "context_read, memory          : $(median <"$TMP/r-memory") req/s"
echo "  lmdb / memory, per round    : $(tr '\n' ' ' <"$TMP/r-ratio")(target >= 0.9)"
for b in lmdb memory; do stop_pid "${KP[$b]}"; done

echo "== Redis $(redis-server --version | grep -o 'v=[0-9.]*'): SET -d 100 -c 16 -P 8, the same machine"
redis_rate() { # ARGS...: a redis-server with ARGS; prints SET req/s
  local port; port=$(free_port)
  start "redis-$port" redis-server --port "$port" --bind 127.0.0.1 --dir "$TMP" --save '' "$@" \
    --daemonize no
  local pid=$LAST_PID
  wait_for 10 bash -c "redis-cli -p $port ping | grep -q PONG"
  redis-benchmark -p "$port" -t set -n "${BENCH_REDIS_N:-500000}" -c 16 -P 8 -d 100 --csv 2>/dev/null |
    awk -F, 'NR > 1 { gsub(/"/, ""); print $2 }'
  stop_pid "$pid"
}
rn=$(redis_rate --appendonly no)
ra=$(redis_rate --appendonly yes --appendfsync always)
echo "redis, no persistence         : $rn req/s"
echo "redis, appendfsync always     : $ra req/s   ($(awk -v a="$ra" -v n="$rn" 'BEGIN {printf "%.2f", a / n}') x)"

echo "== a store of $STORE_MB MiB"
GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
BIG=(--memctx-max-bytes $((STORE_MB * 2 * 1048576)) --memctx-max-value-bytes 1048576
     --memctx-max-keys 100000 --memctx-keep-versions 1)
kernel_start big "ipc://$TMP/big.ipc" --access-log errors "${BIG[@]}"; KB=$LAST_PID
wait_for 10 client call "$G" ping >/dev/null || { echo "big kernel did not start"; exit 1; }
echo "RssAnon at start: $(rss_anon "$KB")"
t0=$(date +%s.%N)
/usr/bin/python3 - "$G" "$STORE_MB" "$ROOT/tests/integration" <<'EOF'
import sys, threading
sys.path.insert(0, sys.argv[3])
from memctx_client import Cam
addr, mb = sys.argv[1], int(sys.argv[2])
val = bytes(range(256)) * 4096   # 1 MiB
def run(t):
    c = Cam(addr)
    for i in range(t, mb, 4):
        code, _, _, d = c.call("context_write", "namespace:big,key:k%d" % i, data=val, timeout=60)
        if code != "OK":
            sys.exit("write %d: %s %s" % (i, code, d))
ts = [threading.Thread(target=run, args=(t,)) for t in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
EOF
t1=$(date +%s.%N)
echo "wrote $STORE_MB values of 1 MiB in $(awk -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f s", z - a}');" \
     "store file $(du -m "$TMP/data-big/store/data.mdb" | cut -f1) MiB; RssAnon $(rss_anon "$KB") (target <= 64 MiB)"
stop_pid "$KB"
t0=$(date +%s%N)
kernel_start big2 "ipc://$TMP/big.ipc" --access-log errors --data-dir "$TMP/data-big" "${BIG[@]}"; KB=$LAST_PID
wait_for 20 client call "$G" ping >/dev/null
t1=$(date +%s%N)
echo "start on the $STORE_MB MiB store, until it answers a ping: $(( (t1 - t0) / 1000000 )) ms (target < 1000;" \
     "includes the python client's own start)"
/usr/bin/python3 - "$G" "$STORE_MB" "$ROOT/tests/integration" <<'EOF'
import random, sys
sys.path.insert(0, sys.argv[3])
from memctx_client import Cam
c, mb = Cam(sys.argv[1]), int(sys.argv[2])
for i in random.sample(range(mb), min(mb, 256)):
    code, _, data, d = c.call("context_read", "namespace:big,key:k%d" % i, timeout=30)
    if code != "OK" or len(data) != 1048576:
        sys.exit("read %d: %s %s" % (i, code, d))
EOF
echo "RssAnon after reading 256 random values of 1 MiB: $(rss_anon "$KB") (target <= 64 MiB)"
stop_pid "$KB"
