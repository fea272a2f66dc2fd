#!/usr/bin/env bash
# Fair share (issue 26): one agent sends 10 x the calls of each of nine
# others into class normal, more than the workers can serve; the nine
# must keep a success rate >= 99 % and a p99 <= 2 x their p99 with no
# flood. Ten agents with tokens of their own (a tokens file), each on a
# connection of its own, open loop (tests/integration/fair_client.py,
# Debian's python3-grpcio): every agent sends on schedule whatever the
# answers (Poisson arrivals). The calls are ping with delay_ms (they go to the workers: the
# class fills). Phases alternate, no flood and flood, on one kernel with
# the default share (a quarter of the class); then the control, a kernel
# whose share per caller is the whole class, flooded the same way.
#
# usage: tests/bench/fair_share.sh [BUILD]
#   FAIR_RATE (12 calls/s per agent), FAIR_SECONDS (10 per phase),
#   FAIR_DELAY_MS (10), FAIR_WORKERS (2), FAIR_QUEUE_LIMIT (128),
#   FAIR_PHASES (nfnf)
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/../integration/lib.sh"
RATE=${FAIR_RATE:-12}; SECS=${FAIR_SECONDS:-10}; DELAY=${FAIR_DELAY_MS:-10}
WORKERS=${FAIR_WORKERS:-2}; LIMIT=${FAIR_QUEUE_LIMIT:-128}; PHASES=${FAIR_PHASES:-nfnf}
PY=/usr/bin/python3
h() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
json() { printf '%s' "$1" | $PY -c "import json,sys; d=json.load(sys.stdin); print($2)"; }
up() { $PY "$ROOT/tests/integration/grpcurl.py" "$1" list >/dev/null 2>&1; }

TOKENS="$TMP/tokens"; AGENTS=""
echo "$(h "tok-flood-$$") flooder read" >"$TOKENS"
for i in 1 2 3 4 5 6 7 8 9; do
  echo "$(h "tok-agent-$i-$$") agent-$i read" >>"$TOKENS"
  AGENTS="$AGENTS${AGENTS:+,}tok:tok-agent-$i-$$"
done

# run NAME PHASES [KERNEL ARGS...]: one kernel, the phases; the client's
# figures in $TMP/NAME.json.
run() {
  local name=$1 phases=$2 pid; shift 2
  GRPC_PORT=$(free_port)
  kernel_start "$name" "ipc://$TMP/$name.ipc" --auth-tokens-file "$TOKENS" --access-log errors \
    --grpc-workers "$WORKERS" --scheduler-queue-limit "$LIMIT" "$@"
  pid=$LAST_PID
  wait_for 10 up "127.0.0.1:$GRPC_PORT" || { echo "kernel $name did not start" >&2; return 1; }
  $PY "$ROOT/tests/integration/fair_client.py" "127.0.0.1:$GRPC_PORT" bench \
    "tok:tok-flood-$$" "$AGENTS" "$RATE" "$SECS" "$DELAY" "$phases" >"$TMP/$name.json" || return 1
  stop_pid "$pid"
}

row() { # LABEL JSON SIDE [FLOODER]
  json "$2" "'%-34s %7.2f %%  %7.1f  %7.1f  %7.1f   %s' % ('$1', 100 * (d['$3']['success_rate'] or 0), d['$3']['p50_ms'] or 0, d['$3']['p99_ms'] or 0, d['$3']['max_ms'] or 0, '' if '${4:-}' == '' else '%6d %6d %6d' % (d['flooder']['calls'], d['flooder']['codes'].get('OK', 0), d['flooder']['codes'].get('RESOURCE_EXHAUSTED', 0)))"
}

echo "== fair share: nine agents at $RATE calls/s each, one at $((10 * RATE))/s in flood phases;"
echo "   ping delay_ms:$DELAY (class normal), $WORKERS workers ($((WORKERS * 1000 / DELAY)) calls/s), class limit $LIMIT,"
echo "   phases $PHASES of $SECS s; the control: the share per caller is the whole class"
run fair "$PHASES" && run control f --scheduler-queue-limit-per-caller "$LIMIT" || exit 1
fair=$(cat "$TMP/fair.json"); control=$(cat "$TMP/control.json")
[ -n "${FAIR_JSON:-}" ] && cat "$TMP"/*.json
printf '%-34s %9s  %7s  %7s  %7s   %s\n' "nine agents" "success" "p50 ms" "p99 ms" "max ms" \
  "flooder: sent     ok  refused"
row "no flood" "$fair" no_flood
row "flood, share $((LIMIT / 4)) (default: 1/4 class)" "$fair" flood x
row "flood, share $LIMIT (control: no cap)" "$control" flood x
json "$fair" "'first refusal of the flooder: %s' % d['flooder']['first_refusal'].get('RESOURCE_EXHAUSTED')"
json "$control" "'first refusal of the nine in the control: %s' % d['flood']['first_refusal'].get('RESOURCE_EXHAUSTED')"
json "$fair" "'target: the nine keep >= 99 %% success (%.2f %%) and p99 <= 2 x no flood (%.2f x): %s' % (100 * d['flood']['success_rate'], d['flood']['p99_ms'] / d['no_flood']['p99_ms'], 'met' if d['flood']['success_rate'] >= 0.99 and d['flood']['p99_ms'] <= 2 * d['no_flood']['p99_ms'] else 'NOT MET')"
