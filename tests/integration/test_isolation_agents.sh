#!/usr/bin/env bash
# Issue 26, registered agents through a real kernel and Debian's
# python3-grpcio: agent_register hands out a token that works at once (the
# next call, on another connection, no SIGHUP); agent_list shows it;
# agent_revoke lets a call in flight finish and makes the next one
# UNAUTHENTICATED; a registered token survives a restart and a kill -9 (so
# does a revocation); ttl_s ends a token; the registration's scopes and rate
# bound the agent; bad registrations are INVALID_ARGUMENT; the token is never
# in a log or, in clear, in the data directory.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/isolation_lib.sh"

cat >"$TMP/tokens" <<T
$(sha256 tok-root) root admin
$(sha256 tok-a) agent-a read,write
T
BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
DATA="$TMP/data-agents"
kstart() {
  kernel_start kernel "$BUS" --auth-tokens-file "$TMP/tokens" --data-dir "$DATA"; KERNEL=$LAST_PID
  wait_for 10 bash -c "[[ \"\$(/usr/bin/python3 '$ISO_PY' call --addr '$G' --token tok-root ping)\" == OK* ]]"
}
kstart || { not_ok "kernel starts"; finish; exit 1; }
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || not_ok "exporter sees the kernel"
root() { iso_call "$G" tok-root "$@"; }
# register AGENT PAYLOAD-REST: the token agent_register hands out ("" on failure).
register() {
  local t="$TMP/token.$$.$RANDOM" r
  r=$(iso_call "$G" tok-root agent_register "agent:$1${2:+,$2}" --data-out "$t")
  [[ "$r" == OK* ]] && cat "$t"
  rm -f "$t"
}

# At once: registered, then called on another connection in the same
# process, microseconds later.
r=$(/usr/bin/python3 - "$ROOT/tests/integration" "$G" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import isolation_client as ic
admin = ic.Target(sys.argv[2], token="tok-root")
code, result, token, details = admin.call("agent_register", "agent:agent-n,scopes:read,write")
t0 = time.monotonic()
agent = ic.Target(sys.argv[2], token=token.decode())
code2, result2, _, details2 = agent.call("whoami")
print(code, result, "|", len(token), token.decode()[:4], "|", code2, result2 or details2,
      "| %.1f ms" % ((time.monotonic() - t0) * 1000))
PY
)
check "agent_register answers agent, scopes and the token in data ($r)" \
  has "$r" "OK agent:agent-n,scopes:read+write,expires_ms:0,token_in:data | 47 cam_"
check "the new token works at once, no SIGHUP: whoami says identified_by:registered" \
  has "$r" "| OK caller_id:agent-n,authenticated:true,identified_by:registered,scopes:read+write"
TOK_N=$(register agent-n "scopes:read")
check "a second token for the same agent" test -n "$TOK_N"
r=$(root agent_list)
check "agent_list shows agent-n with 2 tokens, the newest grant (read)" has "$r" "OK count:1,agents:agent-n:read:2:0"
r=$(iso_call "$G" "$TOK_N" context_write "namespace:agent-n,key:k,value:v")
check "the read token cannot write (its scopes bound it, even on its own namespace)" \
  has "$r" "PERMISSION_DENIED caller agent-n lacks scope write"
r=$(iso_call "$G" "$TOK_N" context_read "namespace:agent-a,key:k")
check "a registered agent is kept apart like any other (rule default)" has "$r" "PERMISSION_DENIED" "rule default"

# agent_revoke: a call in flight finishes, the next is UNAUTHENTICATED.
r=$(/usr/bin/python3 - "$ROOT/tests/integration" "$G" "$TOK_N" <<'PY'
import sys, threading, time
sys.path.insert(0, sys.argv[1])
import isolation_client as ic
agent = ic.Target(sys.argv[2], token=sys.argv[3])
admin = ic.Target(sys.argv[2], token="tok-root")
out = {}
def slow():
    out["slow"] = agent.call("ping", "delay_ms:800")[0]
th = threading.Thread(target=slow); th.start()
time.sleep(0.3)
code, result, _, d = admin.call("agent_revoke", "agent:agent-n")
out["revoke"] = code + " " + (result or d)
out["next"] = " ".join(agent.call("ping")[i] for i in (0, 3))
th.join()
print("slow:%(slow)s | revoke:%(revoke)s | next:%(next)s" % out)
PY
)
check "agent_revoke ends both tokens ($r)" has "$r" "revoke:OK agent:agent-n,revoked:2"
check "the call in flight (ping delay_ms:800) finishes OK" has "$r" "slow:OK"
check "the next call is UNAUTHENTICATED" has "$r" "next:UNAUTHENTICATED invalid bearer token"
r=$(root agent_list)
check "agent_list no longer shows agent-n" has "$r" "OK count:0,agents:"
r=$(root agent_revoke agent:agent-n)
check "agent_revoke of an agent without tokens: NOT_FOUND" has "$r" "NOT_FOUND agent agent-n has no registered token"
check 'revoked tokens counted as auth failures, reason="invalid_token"' \
  wait_for 5 bash -c "[ \$(curl -fsS http://127.0.0.1:$PORT/metrics | awk '\$1 == \"cam_os_security_auth_failures_total{reason=\\\"invalid_token\\\"}\" {print \$2}') -ge 1 ]"

# Durable: a restart, a kill -9 right after the answer.
TOK_P=$(register agent-p "scopes:read,write")
iso_call "$G" "$TOK_P" context_write "namespace:agent-p,key:k,value:kept" >/dev/null
stop_pid "$KERNEL" TERM
kstart || not_ok "restart"
r=$(iso_call "$G" "$TOK_P" context_read "namespace:agent-p,key:k")
check "a registered token survives a restart" has "$r" "OK " "value:kept"
TOK_Q=$(register agent-q "scopes:read")
stop_pid "$KERNEL" KILL
kstart || not_ok "restart after kill -9"
r=$(iso_call "$G" "$TOK_Q" whoami)
check "a token registered just before a kill -9 survives it" has "$r" "OK caller_id:agent-q" "identified_by:registered"
r=$(iso_call "$G" "$TOK_P" whoami)
check "... and the one before" has "$r" "OK caller_id:agent-p"
r=$(root agent_revoke agent:agent-q)
check "agent_revoke agent-q" has "$r" "OK agent:agent-q,revoked:1"
stop_pid "$KERNEL" KILL
kstart || not_ok "restart after a revocation and kill -9"
r=$(iso_call "$G" "$TOK_Q" whoami)
check "a revocation survives a kill -9 too" has "$r" "UNAUTHENTICATED"
r=$(root agent_list)
check "agent_list after the restarts: agent-p only" has "$r" "OK count:1,agents:agent-p:read+write:1:0"

# ttl_s: the token ends by itself.
TOK_T=$(register agent-t "scopes:read,ttl_s:3"); T0=$SECONDS
r=$(iso_call "$G" "$TOK_T" whoami)
check "a token with ttl_s:3 works at first" has "$r" "OK caller_id:agent-t"
r=$(root agent_list)
check "agent_list shows its expiry ($r)" bash -c '[[ "$1" =~ agent-t:read:1:1[0-9]{12} ]]' _ "$r"
left=$((4 - (SECONDS - T0))); [ "$left" -gt 0 ] && sleep "$left"
r=$(iso_call "$G" "$TOK_T" whoami)
check "after 3 s it is UNAUTHENTICATED" has "$r" "UNAUTHENTICATED"
r=$(root agent_list)
check "agent_list no longer shows the expired agent" has "$r" "OK count:1,agents:agent-p:"

# A registration's rate and burst.
TOK_R=$(register agent-slow "scopes:read,rate:0.2,burst:2")
codes=""; for i in 1 2 3 4; do codes+=" $(iso_call "$G" "$TOK_R" ping | cut -d' ' -f1)"; done
check "rate:0.2,burst:2 -> OK OK then RESOURCE_EXHAUSTED ($codes)" \
  test "$codes" = " OK OK RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED"

# Bad registrations, and only admin registers.
for bad in "agent:has space,scopes:read|agent must be 1-127 characters" \
    "agent:a*b,scopes:read|agent must be" \
    "agent:x,scopes:root|scopes must be read, write and/or admin" \
    "agent:x,scopes:read,ttl_s:0|ttl_s must be a number" \
    "agent:x,scopes:read,rate:-1|rate must be a number" \
    "scopes:read|payload key 'agent' is missing" \
    "agent:x|payload key 'scopes' is missing" \
    "agent:$(printf 'n%.0s' $(seq 130)),scopes:read|agent name longer than 127"; do
  r=$(root agent_register "${bad%%|*}")
  check "agent_register ${bad%%|*}: INVALID_ARGUMENT, ${bad#*|}" has "$r" "INVALID_ARGUMENT" "${bad#*|}"
done
r=$(iso_call "$G" tok-a agent_register "agent:mine,scopes:admin")
check "a read,write caller may not register agents" has "$r" "PERMISSION_DENIED caller agent-a lacks scope admin"
r=$(iso_call "$G" tok-a agent_list)
check "nor list them" has "$r" "PERMISSION_DENIED"

# Tokens are never in the log, nor in clear in the data directory.
check "no registered token in the kernel's log" \
  bash -c "! grep -q -e '$TOK_N' -e '$TOK_P' -e '$TOK_Q' -e '$TOK_T' '$TMP/kernel.log'"
check "no registered token in clear in the data directory" \
  bash -c "! grep -rqa -e '$TOK_P' -e '$TOK_T' '$DATA'"
check "the log names who registered and revoked" \
  bash -c "grep -q 'agent_register by root: agent agent-p' '$TMP/kernel.log' && grep -q 'agent_revoke by root: agent agent-n, 2 tokens ended' '$TMP/kernel.log'"
finish
