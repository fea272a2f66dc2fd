#!/usr/bin/env bash
# Bearer-token auth, scopes and rate limits through a real kernel, with an
# independent client (Debian's python3-grpcio through reflection).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
G="127.0.0.1:$GRPC_PORT"
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
h() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
TOKENS="$TMP/tokens"
cat >"$TOKENS" <<T
# sha256(token)  caller  scopes  [rate [burst]]
$(h tok-writer) agent-123 read,write
$(h tok-reader) viewer read
$(h tok-admin) ops admin
$(h tok-slow) slowpoke read 0.1 2
T
kernel_start kernel "$BUS" --auth-tokens-file "$TOKENS"; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 grpcurl "$G" list || { not_ok "kernel starts with tokens"; finish; exit 1; }

call() { # call TOKEN VERB PAYLOAD [CALLER]
  local auth=()
  [ -n "$1" ] && auth=(-H "authorization: Bearer $1")
  grpcurl "${auth[@]}" -d "{\"verb\":\"$2\",\"payload\":\"$3\",\"caller_id\":\"${4:-}\"}" "$G" cam.SyscallService/Execute
}
has() { local r; r=$(call "${@:2}"); [[ "$r" == *"$1"* ]] || { echo "    got: $r"; return 1; }; }

check "no token: UNAUTHENTICATED" has "ERROR: UNAUTHENTICATED: missing bearer token" "" ping ""
check "wrong token: UNAUTHENTICATED" has "ERROR: UNAUTHENTICATED: invalid bearer token" nope ping ""
check "good token: ping works" has '"success": true' tok-writer ping "a:1"
check "whoami names the token's caller" has "caller_id:agent-123,authenticated:true,identified_by:token,scopes:read+write" tok-writer whoami ""
check "caller_id that disagrees: PERMISSION_DENIED" has "ERROR: PERMISSION_DENIED: caller_id does not match" tok-writer ping "" mallory
check "caller_id that agrees is fine" has '"success": true' tok-writer ping "" agent-123
check "read-only token cannot emit_metric: PERMISSION_DENIED" has "lacks scope write needed by emit_metric" tok-reader emit_metric "metric_name:x_total,value:1"
check "writer cannot tune_system (admin)" has "lacks scope admin needed by tune_system" tok-writer tune_system ""
check "access log names the token's caller" bash -c "grep -q '\"caller_id\":\"agent-123\"' '$TMP/kernel.log'"
check "tokens never appear in logs" bash -c "! grep -q 'tok-' '$TMP/kernel.log'"

# Rate limit: one call per 10 s, burst 2: the burst passes, then refusals.
ok=0; limited=0
for i in 1 2 3 4 5; do
  r=$(call tok-slow ping "")
  [[ "$r" == *'"success": true'* ]] && ok=$((ok + 1))
  [[ "$r" == *"RESOURCE_EXHAUSTED: rate limit"* ]] && limited=$((limited + 1))
done
check "rate limit 0.1/s burst 2: 2 (3 on a slow machine) of 5 quick calls pass, the rest RESOURCE_EXHAUSTED ($ok ok, $limited limited)" \
  test $((ok + limited)) -eq 5 -a $ok -ge 2 -a $ok -le 3
seen() { local m; m=$(scrape "$PORT") && printf '%s\n' "$m" | grep -qx -- "$1"; }
check "rate-limit hits counted" wait_for 5 seen "cam_os_security_rate_limit_hits_total $limited"
check "auth failures counted: missing_token" wait_for 5 seen 'cam_os_security_auth_failures_total{reason="missing_token"} 1'
check "auth failures counted: invalid_token" wait_for 5 seen 'cam_os_security_auth_failures_total{reason="invalid_token"} 1'
check "auth failures counted: caller_mismatch" wait_for 5 seen 'cam_os_security_auth_failures_total{reason="caller_mismatch"} 1'
check "auth failures counted: missing_scope" wait_for 5 seen 'cam_os_security_auth_failures_total{reason="missing_scope"} 2'

# SIGHUP reload while calls run: a new token works, none of the calls fail.
echo "$(h tok-new) newcomer read" >>"$TOKENS"
( for i in $(seq 1 20); do call tok-writer ping "" ; done >"$TMP/during.txt" 2>&1 ) & LOAD=$!
sleep 0.2; kill -HUP "$KERNEL"; wait "$LOAD"
check "calls during SIGHUP reload all succeeded" bash -c "[ \$(grep -c '\"success\": true' '$TMP/during.txt') -eq 20 ]"
check "token added by SIGHUP works" has "caller_id:newcomer" tok-new whoami ""
echo "garbage line" >>"$TOKENS"; kill -HUP "$KERNEL"; sleep 0.3
check "bad tokens file on SIGHUP: old tokens stay" has '"success": true' tok-new ping ""
check "bad tokens file is reported in the log" bash -c "grep -q 'tokens file not reloaded' '$TMP/kernel.log'"
stop_pid "$KERNEL" TERM

# Listening beyond loopback with no tokens: refused unless allowed.
P2=$(free_port)
"$ROOT/$BUILD/cam-kernel" --grpc-listen "0.0.0.0:$P2" --bus-addr "ipc://$TMP/b2.ipc" >"$TMP/refuse.log" 2>&1; rc=$?
check "non-loopback listen without tokens refuses to start (exit $rc)" \
  bash -c "[ $rc -ne 0 ] && grep -q 'refusing to serve anonymous callers' '$TMP/refuse.log'"
kernel_start allowed "ipc://$TMP/b3.ipc" --allow-anonymous --grpc-listen "0.0.0.0:$P2"
check "CAM_ALLOW_ANONYMOUS=true lets it start" wait_for 10 grpcurl "127.0.0.1:$P2" list
finish
