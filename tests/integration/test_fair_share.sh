#!/usr/bin/env bash
# Fair share of a scheduler class, end to end with an independent client
# (Debian's python3-grpcio, tests/integration/fair_client.py): one agent
# floods class normal (60 calls in flight, retrying every refusal) of a
# kernel with one worker while nine others keep calling. With tokens, each
# agent is its token: the flooder gets its share (10 of the class's 40)
# and its turns, its excess is RESOURCE_EXHAUSTED naming the limit,
# counted in cam_os_scheduler_rejected_total{reason="caller_limit"} and
# logged as a syscall; every call of the nine succeeds. Then a kernel with
# client certificates (CAM_TLS_CLIENT_AUTH=optional), the flooder identified
# by its certificate's SPIFFE ID and the nine by tokens; an anonymous
# kernel, where callers are their caller_id. Then the control: the same
# flood with a share as large as the class, which fills the class and
# refuses the nine (what fair share prevents).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/isolation_lib.sh"

fair() { /usr/bin/python3 "$ROOT/tests/integration/fair_client.py" "$@"; }
json() { printf '%s' "$1" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }
h() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
seen() { local m; m=$(scrape "$PORT") && printf '%s\n' "$m" | grep -qx -- "$1"; }
up() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@" list >/dev/null 2>&1; }

# Ten agents, each with a token of its own.
TOKENS="$TMP/tokens"; AGENTS=""
echo "$(h "tok-flood-$$") flooder read" >"$TOKENS"
for i in 1 2 3 4 5 6 7 8 9; do
  echo "$(h "tok-agent-$i-$$") agent-$i read" >>"$TOKENS"
  AGENTS="$AGENTS${AGENTS:+,}tok:tok-agent-$i-$$"
done
BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
kernel_start kernel "$BUS" --auth-tokens-file "$TOKENS" --grpc-workers 1 \
  --scheduler-queue-limit 40; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 && wait_for 10 up "$G" ||
  { not_ok "kernel with ten agents' tokens and exporter start"; finish; exit 1; }

r=$(fair "$G" flood "tok:tok-flood-$$" "$AGENTS" 10 20)
echo "  tokens: $r"
check "the nine agents: all 90 calls succeed while the flooder floods" \
  test "$(json "$r" "d['others']['codes']")" = "{'OK': 90}"
check "the flooder's excess is RESOURCE_EXHAUSTED" \
  test "$(json "$r" "d['flood']['codes'].get('RESOURCE_EXHAUSTED', 0) > 100")" = True
check "... naming the limit, and never the token" \
  test "$(json "$r" "d['flood']['first_refusal'].get('RESOURCE_EXHAUSTED')")" = \
  "queue limit per caller of 10 reached for the caller of this token in class normal (priority 3-6)"
check "the flooder still gets its share of the worker" \
  test "$(json "$r" "d['flood']['codes'].get('OK', 0) > 0")" = True
# Served in turn, the flooder gets about one call in ten while the nine
# call (more when a busy machine keeps their clients from sending at once);
# first come first served, with its 10 always queued, more than half.
check "... and only its turns: at most 60 of its calls done while the nine made 90" \
  test "$(json "$r" "d['flood_ok_while_others_ran'] <= 60")" = True
check "the flooder's refusals only: no other code anywhere" \
  test "$(json "$r" "sorted(d['flood']['codes'])")" = "['OK', 'RESOURCE_EXHAUSTED']"
refused=$(json "$r" "d['flood']['codes']['RESOURCE_EXHAUSTED']")
check "scrape: cam_os_scheduler_rejected_total{class=\"normal\",reason=\"caller_limit\"} $refused" \
  wait_for 5 seen "cam_os_scheduler_rejected_total{class=\"normal\",reason=\"caller_limit\"} $refused"
check 'scrape: the class itself was never full (reason="queue_full" 0)' \
  wait_for 5 seen 'cam_os_scheduler_rejected_total{class="normal",reason="queue_full"} 0'
check "each refusal is a syscall in the access log (RESOURCE_EXHAUSTED, the limit named)" \
  grep -q '"code":"RESOURCE_EXHAUSTED".*queue limit per caller of 10 reached' "$TMP/kernel.log"
check "... and name the flooder, the caller its token names, though it was never admitted" \
  grep -q '"caller_id":"flooder".*"code":"RESOURCE_EXHAUSTED"' "$TMP/kernel.log"
check "no token in the log" bash -c "! grep -q 'tok-' '$TMP/kernel.log'"
stop_pid "$KERNEL"

# A client certificate names the flooder (spiffe://cam-os/agent/agent-c); the
# nine keep their tokens, over TLS without certificates.
C="$TMP/certs"
if command -v openssl >/dev/null && iso_certs "$C"; then
  echo "$(h "tok-agent-c-$$") agent-c read" >>"$TOKENS"
  GRPC_PORT=$(free_port); G4="localhost:$GRPC_PORT"
  kernel_start certs "ipc://$TMP/certs.ipc" --auth-tokens-file "$TOKENS" --grpc-workers 1 \
    --scheduler-queue-limit 40 --tls-cert-file "$C/server.pem" --tls-key-file "$C/server-key.pem" \
    --tls-client-ca-file "$C/ca.pem" --tls-client-auth optional; CERTS=$LAST_PID
  export FAIR_TLS_CA="$C/ca.pem"
  wait_for 10 fair "$G4" ping "cert:$C/agent-c" || not_ok "kernel with client certificates starts"
  r=$(fair "$G4" flood "cert:$C/agent-c" "$AGENTS" 5 20)
  unset FAIR_TLS_CA
  echo "  certificate: $r"
  check "certificate: the nine's 45 calls succeed" \
    test "$(json "$r" "d['others']['codes']")" = "{'OK': 45}"
  check "certificate: the flooder is its certificate's caller, refused past its share" \
    test "$(json "$r" "d['flood']['first_refusal'].get('RESOURCE_EXHAUSTED')")" = \
    "queue limit per caller of 10 reached for agent-c in class normal (priority 3-6)"
  check "certificate: the refusals' log lines name agent-c" \
    grep -q '"caller_id":"agent-c".*"code":"RESOURCE_EXHAUSTED"' "$TMP/certs.log"
  stop_pid "$CERTS"
else
  not_ok "test certificates made (openssl)"
fi

# Anonymous callers are their caller_id.
GRPC_PORT=$(free_port); G2="127.0.0.1:$GRPC_PORT"
kernel_start anon "ipc://$TMP/anon.ipc" --grpc-workers 1 --scheduler-queue-limit 40; ANON=$LAST_PID
wait_for 10 up "$G2" || { not_ok "anonymous kernel starts"; finish; exit 1; }
r=$(fair "$G2" flood id:flooder "$(echo id:agent-{1..9} | tr ' ' ,)" 5 20)
echo "  anonymous: $r"
check "anonymous: the nine's 45 calls succeed" \
  test "$(json "$r" "d['others']['codes']")" = "{'OK': 45}"
check "anonymous: the refusal names the flooder's caller_id" \
  test "$(json "$r" "d['flood']['first_refusal'].get('RESOURCE_EXHAUSTED')")" = \
  "queue limit per caller of 10 reached for flooder in class normal (priority 3-6)"
check "anonymous: its access-log lines name it too" \
  grep -q '"caller_id":"flooder".*"code":"RESOURCE_EXHAUSTED".*queue limit per caller of 10' "$TMP/anon.log"
stop_pid "$ANON"

# The control: a share as large as the class. The flooder fills it.
GRPC_PORT=$(free_port); G3="127.0.0.1:$GRPC_PORT"
kernel_start control "ipc://$TMP/control.ipc" --grpc-workers 1 --scheduler-queue-limit 40 \
  --scheduler-queue-limit-per-caller 40; CONTROL=$LAST_PID
wait_for 10 up "$G3" || { not_ok "control kernel starts"; finish; exit 1; }
r=$(fair "$G3" flood id:flooder "$(echo id:agent-{1..9} | tr ' ' ,)" 5 20)
echo "  control, share = class: $r"
check "control: with the share as large as the class, the nine are refused (class full)" \
  test "$(json "$r" "d['others']['codes'].get('RESOURCE_EXHAUSTED', 0) > 0")" = True
check "control: ... by the class's limit" \
  test "$(json "$r" "d['others']['first_refusal'].get('RESOURCE_EXHAUSTED')")" = \
  "scheduler queue for class normal (priority 3-6) is full"
stop_pid "$CONTROL"
check "no kernel logged an ERROR" bash -c "! grep -q '\"level\":\"ERROR\"' '$TMP/kernel.log' '$TMP/certs.log' '$TMP/anon.log' '$TMP/control.log'"
finish
