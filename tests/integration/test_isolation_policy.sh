#!/usr/bin/env bash
# Issue 26, the policy in use: shadow mode (calls go on, what would be
# denied is counted as shadow_deny and logged "would deny"); policy_update
# and SIGHUP alternately 100 times under ~20k calls/s (h2load with a bearer
# token, a python3-grpcio client counting gRPC codes, cam_os_syscall_errors_total
# through cam-exporter before and after) with no call failing; an invalid
# policy refused INVALID_ARGUMENT with the reason and the version unmoved; a
# bad file on SIGHUP kept out; policy_update surviving a restart and a
# kill -9, and SIGHUP reading CAM_POLICY_FILE again afterwards; and the
# shipped deployment/policy.example.json loaded and doing what its comments
# say.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/isolation_lib.sh"

command -v h2load >/dev/null || { not_ok "h2load is installed (make deps)"; finish; exit 1; }
cat >"$TMP/tokens" <<T
$(sha256 tok-a) agent-a read,write
$(sha256 tok-b) agent-b read,write
$(sha256 tok-root) root admin
T
errors_total() { # every cam_os_syscall_errors_total series, summed
  scrape "$1" | awk '/^cam_os_syscall_errors_total\{/ { s += $2 } END { print s + 0 }'
}

# ---- 1. shadow mode --------------------------------------------------------
cat >"$TMP/shadow.json" <<'P'
{ "name": "tryout",
  "deny_rules": [
    { "name": "keep-b-out", "source": { "principals": ["agent-b"] },
      "request": { "resources": ["namespace:agent-a*"] } },
    { "name": "no-ping-for-b", "source": { "principals": ["agent-b"] },
      "request": { "verbs": ["ping"] } } ] }
P
BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
kernel_start shadow "$BUS" --auth-tokens-file "$TMP/tokens" --policy-file "$TMP/shadow.json" \
  --policy-mode shadow; SHADOW=$LAST_PID
exporter_start exporter "$BUS" "$PORT"; EXPORTER=$LAST_PID
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }
check "start-up log: the policy in shadow mode" \
  grep -q 'policy version 1 from .*shadow.json, 2 rules (CAM_POLICY_MODE=shadow)' "$TMP/shadow.log"
r=$(iso_call "$G" tok-a context_write "namespace:agent-a,key:plan,value:the-plan")
check "shadow: agent-a writes its namespace" has "$r" "OK "
r=$(iso_call "$G" tok-b context_read "namespace:agent-a,key:plan")
check "shadow: agent-b reads agent-a's namespace though keep-b-out would deny it" has "$r" "OK " "value:the-plan"
r=$(iso_call "$G" tok-b context_read "namespace:agent-c,key:plan")
check "shadow: a foreign namespace (rule default) is not refused either: the verb answers" \
  has "$r" "NOT_FOUND no key plan"
for i in 1 2 3; do r=$(iso_call "$G" tok-b ping ""); done
check "shadow: agent-b pings though no-ping-for-b would deny it" has "$r" "OK pong:true"
r=$(iso_call "$G" tok-b policy_query "verb:ping")
check "shadow: policy_query tells what the policy says (allowed:false, rule no-ping-for-b)" \
  has "$r" "allowed:false" "rule:no-ping-for-b"
r=$(iso_call "$G" tok-a context_read "namespace:agent-a,key:plan")
check "shadow: an allowed call stays allowed" has "$r" "OK "
sd() { counter "$PORT" "cam_os_security_policy_decisions_total{decision=\"$1\",rule=\"$2\"}"; }
is() { [ "$(sd "$1" "$2")" = "$3" ]; }
check 'shadow: decisions_total{decision="shadow_deny",rule="keep-b-out"} 1' wait_for 5 is shadow_deny keep-b-out 1
check 'shadow: decisions_total{decision="shadow_deny",rule="no-ping-for-b"} 3' wait_for 5 is shadow_deny no-ping-for-b 3
check 'shadow: decisions_total{decision="shadow_deny",rule="default"} 1' wait_for 5 is shadow_deny default 1
check 'shadow: decisions_total{decision="allow",rule="owner"} 2' wait_for 5 is allow owner 2
no_deny() { ! scrape "$PORT" | grep '^cam_os_security_policy_decisions_total{decision="deny"' | grep -vq ' 0$'; }
check 'shadow: nothing counted as decision="deny"' no_deny
check 'shadow: no call failed (cam_os_syscall_errors_total has only the NOT_FOUND)' \
  test "$(errors_total "$PORT")" = 1
check 'shadow: log says "shadow policy would deny agent-b context_read on namespace:agent-a (rule keep-b-out"' \
  grep -q 'shadow policy would deny agent-b context_read on namespace:agent-a (rule keep-b-out, policy tryout v1)' "$TMP/shadow.log"
check 'shadow: log says it would deny agent-b ping (rule no-ping-for-b), 3 times' \
  test "$(grep -c 'shadow policy would deny agent-b ping .*rule no-ping-for-b' "$TMP/shadow.log")" -eq 3
pd=$(counter "$PORT" 'cam_os_security_auth_failures_total{reason="policy_denied"}')
check "shadow: no call counted as an auth failure, reason=\"policy_denied\" (it is $pd; shadow mode denied nothing)" \
  test "$pd" = 0
stop_pid "$SHADOW" TERM
# The same policy enforced: what shadow mode said would be denied is.
kernel_start enforced "$BUS" --auth-tokens-file "$TMP/tokens" --policy-file "$TMP/shadow.json" \
  --data-dir "$TMP/data-shadow"; ENFORCED=$LAST_PID
up() { [[ "$(iso_call "$G" tok-a ping "")" == OK* ]]; }
wait_for 10 up || not_ok "the kernel starts again, enforcing"
r=$(iso_call "$G" tok-b context_read "namespace:agent-a,key:plan")
check "enforce: the same read is PERMISSION_DENIED naming keep-b-out" \
  has "$r" "PERMISSION_DENIED agent-b may not context_read namespace:agent-a: rule keep-b-out of policy tryout"
r=$(iso_call "$G" tok-b ping "")
check "enforce: agent-b's ping is PERMISSION_DENIED naming no-ping-for-b" \
  has "$r" "PERMISSION_DENIED" "rule no-ping-for-b"
check 'enforce: counted as decision="deny",rule="keep-b-out"' wait_for 5 is deny keep-b-out 1
stop_pid "$ENFORCED" TERM

# ---- 2. policy_update and SIGHUP, 100 times under load ---------------------
policy() { # NAME SUFFIX: agent-a may read shared/load* by rule load-by-SUFFIX
  printf '{ "name": "%s", "deny_rules": [ { "name": "nobody-in-vault-by-%s", "request": { "resources": ["namespace:vault*"] } } ],
  "allow_rules": [ { "name": "load-by-%s", "source": { "principals": ["agent-a"] },
    "request": { "verbs": ["context_read", "context_versions"], "resources": ["namespace:shared/load*"] } } ] }\n' "$1" "$2" "$2"
}
policy from-file file >"$TMP/policy.json"
policy from-update update >"$TMP/update.json"
GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
# A bus and exporter of their own: the first exporter may still serve the
# enforced kernel's last snapshot, and the error count is read from here.
stop_pid "$EXPORTER" TERM
BUS="ipc://$TMP/bus2.ipc"; PORT=$(free_port)
exporter_start exporter2 "$BUS" "$PORT"; EXPORTER=$LAST_PID
reload_kernel() {
  kernel_start reload "$BUS" --auth-tokens-file "$TMP/tokens" --policy-file "$TMP/policy.json" \
    --data-dir "$TMP/data-reload"
  RELOAD=$LAST_PID
  wait_for 10 up
}
reload_kernel || { not_ok "kernel with a policy file starts"; finish; exit 1; }
iso_call "$G" tok-root context_write "namespace:shared/load,key:k,value:under-load" >/dev/null
query() { iso_call "$G" tok-root policy_query "verb:context_read,resource:namespace:shared/load,caller:agent-a"; }
r=$(query)
check "policy_query: agent-a reads shared/load by load-by-file, version 1" has "$r" "allowed:true" "rule:load-by-file," "policy_version:1"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1
error_series() { scrape "$PORT" | grep '^cam_os_syscall_errors_total{' | sort; }
error_series >"$TMP/errors-before.txt"
before=$(errors_total "$PORT")
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/read.bin" context_read "namespace:shared/load,key:k"
SECS=${RELOAD_LOAD_SECONDS:-12}
h2load -c 4 -m 8 --rps 5000 -n $((SECS * 20000)) -d "$TMP/read.bin" -H 'content-type: application/grpc' \
  -H 'te: trailers' -H 'authorization: Bearer tok-a' \
  "http://$G/cam.SyscallService/Execute" >"$TMP/h2load.txt" 2>&1 &
H2=$!
iso load "$G" tok-a "$SECS" 2 context_read "namespace:shared/load,key:k" 300 >"$TMP/counted.json" 2>&1 &
COUNTED=$!
sleep 1
iso reload "$G" tok-root "$RELOAD" "$TMP/update.json" 100 agent-a context_read namespace:shared/load \
  $(awk -v s="$SECS" 'BEGIN { printf "%.3f", (s - 2) / 100 }') >"$TMP/reload.json" 2>&1
rc=$?
wait "$H2"; wait "$COUNTED"
check "100 steps, policy_update and SIGHUP alternately, each answered and in force at once ($(cat "$TMP/reload.json"))" \
  test $rc -eq 0
total=$(sed -n 's/^requests: \([0-9]*\) total.*/\1/p' "$TMP/h2load.txt")
ok2=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$TMP/h2load.txt")
rate=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$TMP/h2load.txt")
check "h2load: every context_read answered HTTP 200 ($ok2 of $total, $rate calls/s; the target is 20000)" \
  bash -c "[ -n '$total' ] && [ '$total' -gt 0 ] && [ '$ok2' = '$total' ]"
check "python3-grpcio under the same load: every call OK ($(cat "$TMP/counted.json"))" \
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("_details"); sys.exit(not (set(d) == {"OK"} and d["OK"] > 100))' "$TMP/counted.json"
wait_for 5 false  # one publish interval or more
after=$(errors_total "$PORT")
moved=$(error_series | diff "$TMP/errors-before.txt" - | grep '^>' | tr '\n' ' ')
check "no call failed: cam_os_syscall_errors_total did not move ($before -> $after${moved:+: $moved})" test "$before" = "$after"
[ "$before" = "$after" ] || grep '"syscall_dispatcher".*"success":false' "$TMP/reload.log" | head -3 | sed 's/^/       /'
v=$(field "$(query)" policy_version)
check "100 versions later: policy_version is 101 ($v)" test "$v" = 101

# An invalid policy: INVALID_ARGUMENT with the reason; nothing moves.
bad() { iso_call "$G" tok-root policy_update "" --data "$1"; }
r=$(bad '{"name":"broken","allow_rules":[{"name":"x","request":{"resources":["namespace:a*b"]}}]}')
check "policy_update of a bad pattern: INVALID_ARGUMENT with the reason" \
  has "$r" "INVALID_ARGUMENT policy not changed: rule x: resource 'namespace:a*b' has a '*' before its end"
r=$(bad '{"name":"broken","allow_rules":[{"name":"x"},{"name":"x"}]}')
check "policy_update with two rules of one name: INVALID_ARGUMENT" has "$r" "INVALID_ARGUMENT policy not changed: two rules are named x"
r=$(bad '{"name":"broken","allow_rules":[')
check "policy_update of cut-short JSON: INVALID_ARGUMENT, not JSON" has "$r" "INVALID_ARGUMENT policy not changed: policy is not JSON"
r=$(bad '{"name":"broken","deny_rules":[{"name":"x","request":{"verbs":["Ping!"]}}]}')
check "policy_update naming a bad verb: INVALID_ARGUMENT" has "$r" "INVALID_ARGUMENT" "is not a verb name"
r=$(bad '{"deny_rules":[]}')
check "policy_update without a name: INVALID_ARGUMENT" has "$r" "INVALID_ARGUMENT" "needs a name"
r=$(iso_call "$G" tok-a policy_update "" --data-file "$TMP/update.json")
check "policy_update by a write-scope caller: PERMISSION_DENIED" has "$r" "PERMISSION_DENIED caller agent-a lacks scope admin"
r=$(query)
check "after the refusals the version has not moved (101) and the rule is load-by-file" has "$r" "policy_version:101" "rule:load-by-file,"

# A bad file on SIGHUP keeps the policy in force and says why.
cp "$TMP/policy.json" "$TMP/policy.good"
printf '{ "name": "half", "allow_rules": [ { "name": ' >"$TMP/policy.json"
kill -HUP "$RELOAD"
check "SIGHUP with a bad file: logged, the policy in force stays" \
  wait_for 5 grep -q 'SIGHUP: policy not reloaded, the one in force stays' "$TMP/reload.log"
check "... same version, same rule" has "$(query)" "policy_version:101" "rule:load-by-file,"
cp "$TMP/policy.good" "$TMP/policy.json"

# policy_update survives a restart and a kill -9; SIGHUP reads the file again.
r=$(iso_call "$G" tok-root policy_update "" --data-file "$TMP/update.json")
check "policy_update: version 102" has "$r" "OK policy_version:102"
check "saved in <data dir>/policy.json (0600)" \
  bash -c "[ \"\$(stat -c %a '$TMP/data-reload/policy.json')\" = 600 ] && grep -q load-by-update '$TMP/data-reload/policy.json'"
stop_pid "$RELOAD" TERM
reload_kernel || not_ok "restart"
check "after a restart, the updated policy is in force (load-by-update, version 102)" \
  has "$(query)" "rule:load-by-update," "policy_version:102"
check "start-up log says the policy came from policy_update" \
  grep -q 'policy version 102 from policy_update' "$TMP/reload.log"
r=$(iso_call "$G" tok-root policy_update "" --data-file "$TMP/update.json")
check "policy_update again: version 103" has "$r" "OK policy_version:103"
stop_pid "$RELOAD" KILL
reload_kernel || not_ok "restart after kill -9"
check "after kill -9, version 103 is in force" has "$(query)" "rule:load-by-update," "policy_version:103"
kill -HUP "$RELOAD"
file_again() { has "$(query)" "rule:load-by-file," >/dev/null; }
check "SIGHUP afterwards reads CAM_POLICY_FILE again (rule load-by-file)" wait_for 5 file_again
check "... and drops the saved policy" bash -c "[ ! -e '$TMP/data-reload/policy.json' ]"
check "... as version 104" has "$(query)" "policy_version:104"
stop_pid "$RELOAD" TERM
reload_kernel || not_ok "restart after SIGHUP"
check "a restart after that starts from CAM_POLICY_FILE" has "$(query)" "rule:load-by-file,"
check "... and goes on numbering: version 105, never 1 again (policy.json.version)" \
  has "$(query)" "policy_version:105"

# Decisions stay counted however many policies came before: three policies
# of 1,000 deny rules each, every rule with names of its own.
for gen in A B C; do
  /usr/bin/python3 -c '
import json, sys
g = sys.argv[1]
print(json.dumps({"name": "gen-" + g, "deny_rules": [
    {"name": "%s-%d" % (g, i), "source": {"principals": ["agent-b"]},
     "request": {"verbs": ["context_read"], "resources": ["namespace:zone-%d" % i]}}
    for i in range(1000)]}))' "$gen" >"$TMP/gen-$gen.json"
  r=$(iso_call "$G" tok-root policy_update "" --data-file "$TMP/gen-$gen.json")
  [[ "$r" == OK* ]] || not_ok "policy_update of generation $gen: $r"
done
r=$(iso_call "$G" tok-b context_read "namespace:zone-500,key:k")
check "the third 1,000-rule policy denies by its rule C-500" has "$r" "PERMISSION_DENIED" "rule C-500 of policy gen-C"
c500() { [ "$(counter "$PORT" 'cam_os_security_policy_decisions_total{decision="deny",rule="C-500"}')" = 1 ] ||
         [ "$(counter "$PORT" 'cam_os_security_policy_decisions_total{decision="deny",rule="other"}')" -ge 1 ]; }
check 'that denial is counted (decisions_total{decision="deny",rule="C-500"} 1, or under rule="other")' wait_for 5 c500
stop_pid "$RELOAD" TERM

# Settings that cannot work refuse to start, saying why.
refuses() { # LOG NEEDLE ARGS...
  local log=$1 needle=$2; shift 2
  timeout 10 "$ROOT/$BUILD/cam-kernel" --grpc-listen "127.0.0.1:$(free_port)" --bus-addr "ipc://$TMP/r.ipc" \
    --data-dir "$TMP/data-refused" --auth-tokens-file "$TMP/tokens" "$@" >"$TMP/$log" 2>&1
  [ $? -ne 0 ] && grep -q -- "$needle" "$TMP/$log"
}
printf '{ "name": "x", "allow_rules": [ { "name": "r", "request": { "resources": ["file:/etc"] } } ] }' >"$TMP/bad-policy.json"
check "an invalid CAM_POLICY_FILE at start: the kernel refuses to start, naming the file and why" \
  refuses badpolicy "policy not loaded: $TMP/bad-policy.json: rule r: resource 'file:/etc' is not namespace:, driver: or metric:" \
  --policy-file "$TMP/bad-policy.json"
check "a CAM_POLICY_FILE that is not there: the kernel refuses to start" \
  refuses nopolicy "policy not loaded: cannot read $TMP/none.json" --policy-file "$TMP/none.json"
check "CAM_POLICY_MODE=audit: the kernel refuses to start" \
  refuses badmode "CAM_POLICY_MODE must be enforce or shadow" --policy-mode audit

# ---- 3. the shipped example policy -------------------------------------------
EX="$ROOT/deployment/policy.example.json"
cat >"$TMP/tokens-ex" <<T
$(sha256 tok-agent-x) agent-x read,write
$(sha256 tok-agent-y) agent-y read,write
$(sha256 tok-guest) guest-1 read,write
$(sha256 tok-curator) curator-1 read,write
$(sha256 tok-red) team-red-1 read,write
$(sha256 tok-blue) team-blue-1 read,write
$(sha256 tok-root) root admin
T
mkdir -p "$TMP/drivers"; cp -r "$ROOT/$BUILD"/drivers/* "$TMP/drivers/"
strip_comments() { # the example without its /* */ comments (outside strings)
  /usr/bin/python3 -c '
import sys
s, out, i, q = open(sys.argv[1]).read(), [], 0, False
while i < len(s):
    if q:
        out.append(s[i])
        if s[i] == "\\":
            out.append(s[i + 1]); i += 1
        elif s[i] == "\"":
            q = False
    elif s.startswith("/*", i):
        i = s.index("*/", i) + 1
    else:
        q = s[i] == "\""
        out.append(s[i])
    i += 1
print("".join(out))' "$1"
}
strip_comments "$EX" >"$TMP/example.json"
check "the example is JSON once its comments are stripped (other tools can read it)" \
  /usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["name"] == "cam-os-example"' "$TMP/example.json"
GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
kernel_start example "$BUS" --auth-tokens-file "$TMP/tokens-ex" --policy-file "$EX" \
  --drivers-dir "$TMP/drivers" --drivers-autoload text_transform; EXAMPLE=$LAST_PID
up() { [[ "$(iso_call "$G" tok-root ping "")" == OK* ]]; }
wait_for 10 up || { not_ok "a kernel starts with the example policy"; finish; exit 1; }
check "the example policy parses: 8 rules in force" \
  grep -q "policy version 1 from $EX, 8 rules" "$TMP/example.log"
x() { iso_call "$G" "$@"; }
denied() { has "$1" "PERMISSION_DENIED" "rule $2 of policy cam-os-example"; }
check "guests never invoke a driver (guests-no-drivers)" \
  denied "$(x tok-guest driver_invoke "driver:text_transform,operation:upper,payload:x")" guests-no-drivers
check "... agents do" has "$(x tok-agent-x driver_invoke "driver:text_transform,operation:upper,payload:x")" "OK " "output:X"
check "guests never have the TPM sign (guests-no-signatures)" denied "$(x tok-guest tpm_sign "message:m")" guests-no-signatures
check "... an agent's tpm_sign passes the policy (here: no TPM, UNAVAILABLE)" \
  has "$(x tok-agent-x tpm_sign "message:m")" "UNAVAILABLE no TPM configured"
check "guests make no metrics (guests-no-metrics)" denied "$(x tok-guest emit_metric "metric_name:g_total,value:1")" guests-no-metrics
check "... agents do" has "$(x tok-agent-x emit_metric "metric_name:x_total,value:1")" "OK "
check "a curator changes the shared knowledge base (curators-write-shared)" \
  has "$(x tok-curator context_write "namespace:shared/kb,key:fact,value:water is wet")" "OK " "version:1"
check "agents read it (shared-read)" has "$(x tok-agent-x context_read "namespace:shared/kb,key:fact")" "OK " "value:water is wet"
check "guests read it (shared-read)" has "$(x tok-guest context_versions "namespace:shared/kb,key:fact")" "OK "
check "agents do not change it (rule default)" denied "$(x tok-agent-x context_write "namespace:shared/kb,key:fact,value:no")" default
check "guests do not snapshot it (rule default)" denied "$(x tok-guest context_snapshot "namespace:shared/kb")" default
check "the red team shares teams/red/... with every context verb (red-team-space)" \
  has "$(x tok-red context_write "namespace:teams/red/plan,key:p,value:attack")" "OK "
check "... snapshots included" has "$(x tok-red context_snapshot "namespace:teams/red/plan")" "OK " "snapshot_id:"
check "the blue team is not let in (rule default)" denied "$(x tok-blue context_read "namespace:teams/red/plan,key:p")" default
check "admin fills the archive (owner of everything)" has "$(x tok-root context_write "namespace:archive/2026,key:k,value:old")" "OK "
check "agents read the archive (archive-read)" has "$(x tok-agent-x context_read "namespace:archive/2026,key:k")" "OK " "value:old"
check "curators read it too" has "$(x tok-curator context_read "namespace:archive/2026,key:k")" "OK "
check "guests do not read the archive (rule default)" denied "$(x tok-guest context_read "namespace:archive/2026,key:k")" default
check "agents do not write the archive (archive-is-read-only)" \
  denied "$(x tok-agent-x context_write "namespace:archive/2026,key:k,value:new")" archive-is-read-only
check "curators do not delete from it (archive-is-read-only)" \
  denied "$(x tok-curator context_delete "namespace:archive/2026")" archive-is-read-only
check "the archive namespace itself is closed too" denied "$(x tok-red context_write "namespace:archive,key:k,value:v")" archive-is-read-only
check "without a rule, an agent owns its namespace (owner)" has "$(x tok-agent-x context_write "namespace:agent-x/notes,key:k,value:mine")" "OK "
check "... and another's is closed (default)" denied "$(x tok-agent-y context_read "namespace:agent-x/notes,key:k")" default
r=$(x tok-root policy_query "verb:context_write,resource:namespace:archive/1999,caller:curator-1")
check "policy_query names the rule: curator-1 writing archive/1999 -> archive-is-read-only" \
  has "$r" "allowed:false" "rule:archive-is-read-only,"
stop_pid "$EXAMPLE" TERM
finish
