# Helpers shared by the integration tests (sourced, not run).
#
# Every process a test starts is recorded and killed by PID on exit, on
# failure and on Ctrl-C. Ports are free loopback ports picked at run time.
#
# SPDX-License-Identifier: Apache-2.0

BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PIDS=()
PASSED=0
FAILED=0
TMP=$(mktemp -d /tmp/cam-it-XXXXXX)
# State never goes to the user's home: a kernel started without
# --data-dir keeps it under $TMP/state/cam-os; kernel_start gives each
# kernel a data directory of its own ($TMP/data-NAME).
export XDG_STATE_HOME="$TMP/state"
unset CAM_DATA_DIR STATE_DIRECTORY

cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    { kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a free loopback port, never one this test was given before.
# (The kernel may hand the same ephemeral port to two bind(0) calls made
# before either port is taken: a test once started Alertmanager on the
# exporter's port.) free_port_pair: one whose next port is free too (swtpm
# serves commands on one and its control channel on the next). Ports given
# are listed in $TMP/.ports.
free_port() { free_ports_ 1; }
free_port_pair() { free_ports_ 2; }
# A free port for a Redis Cluster node: its cluster bus port (+10000) must
# be a port too, and free.
cluster_free_port() {
  local p
  while :; do
    p=$(free_port)
    [ $((p + 10000)) -le 65535 ] || continue
    /usr/bin/python3 -c "import socket; socket.socket().bind(('127.0.0.1', $((p + 10000))))" \
      2>/dev/null && break
  done
  echo "$p"
}
free_ports_() {
  /usr/bin/python3 -c '
import socket, sys
path, width = sys.argv[1], int(sys.argv[2])
try:
    used = set(open(path).read().split())
except OSError:
    used = set()
while True:
    socks = []
    try:
        a = socket.socket(); socks.append(a); a.bind(("127.0.0.1", 0))
        p = a.getsockname()[1]
        for k in range(1, width):
            b = socket.socket(); socks.append(b); b.bind(("127.0.0.1", p + k))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    if not any(str(p + k) in used for k in range(width)):
        break
with open(path, "a") as f:
    f.write("".join("%d\n" % (p + k) for k in range(width)))
print(p)' "$TMP/.ports" "$1"
}

# swtpm_start NAME PORT STATEDIR: a software TPM on 127.0.0.1:PORT (its
# control channel on PORT + 1), state kept in STATEDIR; sets LAST_PID.
swtpm_start() {
  mkdir -p "$3"
  start "$1" swtpm socket --tpm2 \
    --server type=tcp,port="$2",bindaddr=127.0.0.1 \
    --ctrl type=tcp,port="$(($2 + 1))",bindaddr=127.0.0.1 \
    --tpmstate dir="$3" --flags not-need-init,startup-clear
}

# start NAME CMD... : runs CMD in the background, output to $TMP/NAME.log;
# sets LAST_PID.
start() {
  local name=$1; shift
  "$@" >>"$TMP/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# stop_pid PID [SIGNAL]: signals and waits for that process.
stop_pid() {
  kill -"${2:-TERM}" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics"; }

# metric_value PORT 'name{labels}' : prints the sample's value.
metric_value() {
  scrape "$1" | awk -v m="$2" '$1 == m { print $2; found=1 } END { exit !found }'
}

metric_is() { [ "$(metric_value "$1" "$2")" = "$3" ]; }

ok() { PASSED=$((PASSED + 1)); echo "  ok   $1"; }
not_ok() {
  FAILED=$((FAILED + 1)); echo "  FAIL $1"
  local f
  for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "  --- $f"; tail -n 20 "$f"; }; done
}

# check 'description' CMD...: one test case.
check() {
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

finish() {
  echo "$(basename "$0"): $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# kernel_start NAME BUS [ARGS...], exporter_start NAME BUS PORT [ARGS...]
# (the kernel's data directory is $TMP/data-NAME unless ARGS name one)
kernel_start() {
  local name=$1 bus=$2; shift 2
  local data=(--data-dir "$TMP/data-$name")
  case " $* " in *" --data-dir "*) data=() ;; esac
  start "$name" "$ROOT/$BUILD/cam-kernel" --bus-addr "$bus" \
    --publish-interval-ms "${INTERVAL_MS:-200}" --grpc-listen "127.0.0.1:${GRPC_PORT:-0}" \
    "${data[@]}" "$@"
}
exporter_start() {
  local name=$1 bus=$2 port=$3; shift 3
  start "$name" "$ROOT/$BUILD/cam-exporter" --bus-addr "$bus" \
    --exporter-listen "127.0.0.1:$port" --publish-interval-ms "${INTERVAL_MS:-200}" "$@"
}
