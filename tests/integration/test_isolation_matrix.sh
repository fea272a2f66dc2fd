#!/usr/bin/env bash
# Issue 26, agents kept apart: the matrix. One kernel over TLS asks for
# client certificates (CAM_TLS_CLIENT_AUTH=optional) and has a tokens file:
# agent-a and agent-b (read,write tokens), agent-c (its certificate's
# spiffe://cam-os/agent/agent-c), agent-r (a read token) and root (admin),
# a policy with deny and allow rules (isolation_matrix.py), a software TPM
# and the example drivers. Every verb of the registry is called as each of
# them against an owned, a foreign, a granted-shared and a denied resource,
# from Debian's python3-grpcio and from node's @grpc/grpc-js, each with its
# gRPC code and the rule named in the error or in policy_query; admin
# reaches everything but what a deny rule naming it closes. The decisions
# are counted by rule through cam-exporter. An anonymous kernel keeps
# nobody apart, and says so.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/isolation_lib.sh"

for tool in swtpm openssl node; do
  command -v $tool >/dev/null || { not_ok "$tool is installed (make deps)"; finish; exit 1; }
done
M="$ROOT/tests/integration/isolation_matrix.py"
iso_certs "$TMP/certs" || { not_ok "test certificates made"; finish; exit 1; }
/usr/bin/python3 "$M" tokens "$TMP/tokens"
/usr/bin/python3 "$M" policy "$TMP/policy.json"
mkdir -p "$TMP/drivers"
cp -r "$ROOT/$BUILD"/drivers/* "$TMP/drivers/"

BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port); TPM_PORT=$(free_port_pair)
ADDR="localhost:$GRPC_PORT"
swtpm_start swtpm "$TPM_PORT" "$TMP/tpmstate"
kernel_start kernel "$BUS" --auth-tokens-file "$TMP/tokens" --policy-file "$TMP/policy.json" \
  --tls-cert-file "$TMP/certs/server.pem" --tls-key-file "$TMP/certs/server-key.pem" \
  --tls-client-ca-file "$TMP/certs/ca.pem" --tls-client-auth optional \
  --drivers-dir "$TMP/drivers" --tpm-tcti "swtpm:host=127.0.0.1,port=$TPM_PORT"
KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }
/usr/bin/python3 "$M" spec "$TMP/spec.json" "$ADDR" "$TMP/certs" text_transform
root() { iso call --addr "$ADDR" --ca "$TMP/certs/ca.pem" --token tok-matrix-root "$@"; }
tpm_up() { [[ "$(root tpm_random bytes:4)" == OK* ]]; }
check "the kernel reaches its software TPM" wait_for 10 tpm_up
check "start-up log: the policy file is in force" \
  grep -q 'policy version 1 from .*policy.json, 11 rules (CAM_POLICY_MODE=enforce)' "$TMP/kernel.log"

# add_counts OUTPUT: the client's "N passed, N failed" into this test's.
add_counts() {
  local line p f
  line=$(printf '%s\n' "$1" | grep -E '^(python|node) matrix: [0-9]+ passed, [0-9]+ failed' | tail -1)
  if [ -z "$line" ]; then not_ok "the client ran to its end"; return; fi
  p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed/\1/' <<<"$line")
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
}
# Every verb of the registry (each verb file's rows) has its cases.
verbs=$(grep -ho '{ *\.name = "[a-z_]*", *\.fn' "$ROOT"/kernel/syscall/*.c | sed 's/.*"\([a-z_]*\)".*/\1/' | sort -u)
missing=$(for v in $verbs; do grep -q "\"verb\": \"$v\"" "$TMP/spec.json" || printf '%s ' "$v"; done)
check "the matrix calls every verb of the registry ($(wc -w <<<"$verbs") verbs${missing:+; missing: $missing})" \
  test -z "$missing" -a "$(wc -w <<<"$verbs")" -ge 29
out=$(/usr/bin/python3 "$ISO_PY" matrix "$TMP/spec.json" py 2>&1)
printf '%s\n' "$out" | grep -v '^python matrix'
add_counts "$out"
out=$(NODE_PATH="$ROOT/tests/interop/node_modules" node "$ISO_JS" matrix "$TMP/spec.json" js 2>&1)
printf '%s\n' "$out" | grep -v '^node matrix'
add_counts "$out"

# The decisions of both runs, by rule, through cam-exporter: each rule's
# own cases, twice (python, node); the built-in rules at least that.
d() { counter "$PORT" "cam_os_security_policy_decisions_total{decision=\"$1\",rule=\"$2\"}"; }
is() { [ "$(d "$1" "$2")" "$3" "$4" ] 2>/dev/null; }
for quad in "deny default -ge 60" "allow owner -ge 150" "deny no-secrets-for-b -eq 6" \
    "allow team-shared -eq 16" "allow secrets-for-agents -eq 4" "deny locked-even-for-owner -eq 4" \
    "deny no-sign-for-b -eq 2" "deny no-transform-for-b -eq 2" "deny no-forbidden-metrics -eq 4" \
    "deny no-think-for-c -eq 2" "deny vault-closed-even-to-admin -eq 2" \
    "allow a-pub-read-by-b -eq 4" "allow c-into-b-inbox -eq 2"; do
  set -- $quad
  check "cam_os_security_policy_decisions_total{decision=\"$1\",rule=\"$2\"} $3 $4 (it is $(d "$1" "$2"))" \
    wait_for 5 is "$1" "$2" "$3" "$4"
done
no_scope_series() { ! scrape "$PORT" | grep -q 'cam_os_security_policy_decisions_total{.*rule="scope"}'; }
check "policy_query decides without counting, and a scope refusal is not a policy decision" no_scope_series
denials=$(counter "$PORT" 'cam_os_security_auth_failures_total{reason="policy_denied"}')
check "a policy denial counts as an auth failure too: reason=\"policy_denied\" ($denials)" \
  test "$denials" -ge 90
check "no token and no certificate appears in the kernel's log" \
  bash -c "! grep -q -e 'tok-matrix' -e 'BEGIN CERTIFICATE' '$TMP/kernel.log'"
check "kernel still running" kill -0 "$KERNEL"
stop_pid "$KERNEL" TERM

# Anonymous mode (no tokens, no client CA): today's behaviour, nobody kept apart.
P2=$(free_port)
GRPC_PORT=$P2 kernel_start anon "ipc://$TMP/anon.ipc"; ANON=$LAST_PID
A2="127.0.0.1:$P2"
up() { [[ "$(iso call --addr "$A2" ping)" == OK* ]]; }
wait_for 10 up || not_ok "anonymous kernel starts"
check "anonymous start-up log says no agent is kept from another" \
  grep -q 'anonymous mode.*no agent is kept from another' "$TMP/anon.log"
r=$(iso call --addr "$A2" --caller agent-a context_write "namespace:agent-a,key:secret,value:the-plan")
check "anonymous: agent-a writes its namespace ($r)" has "$r" "OK "
r=$(iso call --addr "$A2" --caller agent-b context_read "namespace:agent-a,key:secret")
check "anonymous: agent-b reads it (nobody is kept apart)" has "$r" "OK " "value:the-plan"
r=$(iso call --addr "$A2" --caller agent-b whoami)
check "anonymous: whoami says identified_by:anonymous" has "$r" "caller_id:agent-b" "authenticated:false" "identified_by:anonymous"
stop_pid "$ANON" TERM
finish
