#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The matrix of test_isolation_matrix.sh: every verb of the registry, as
agent-a and agent-b (bearer tokens), agent-c (a client certificate), agent-r
(a read-only token) and root (admin), against an owned, a foreign, a
granted-shared (allow rule) and a denied (deny rule) resource where the verb
has one, each with its gRPC code and the rule that decided.

usage: isolation_matrix.py tokens OUT         the tokens file (sha256 caller scopes)
       isolation_matrix.py policy OUT         the policy the cases expect
       isolation_matrix.py spec OUT ADDR CERTDIR DRIVER
                                              the cases, for isolation_client.py
                                              and isolation_client.js ("matrix")

The cases use ${run} in every name they write to, so the python and the
node client run them one after the other against one kernel.
"""
import hashlib
import json
import sys

TOKENS = {"agent-a": ("tok-matrix-agent-a", "read,write"),
          "agent-b": ("tok-matrix-agent-b", "read,write"),
          "agent-r": ("tok-matrix-agent-r", "read"),
          "root": ("tok-matrix-root", "admin")}

CONTEXT = ["context_write", "context_read", "context_versions", "context_delete",
           "context_snapshot", "context_restore"]

POLICY = {
    "name": "matrix",
    "deny_rules": [
        {"name": "no-secrets-for-b", "source": {"principals": ["agent-b"]},
         "request": {"resources": ["namespace:shared/secret*"]}},
        {"name": "locked-even-for-owner", "source": {"principals": ["agent-a"]},
         "request": {"resources": ["namespace:agent-a/locked*"]}},
        {"name": "no-sign-for-b", "source": {"principals": ["agent-b"]},
         "request": {"verbs": ["tpm_sign"]}},
        {"name": "no-transform-for-b", "source": {"principals": ["agent-b"]},
         "request": {"verbs": ["driver_invoke"], "resources": ["driver:text_transform"]}},
        {"name": "no-forbidden-metrics", "source": {"principals": ["agent-*"]},
         "request": {"verbs": ["emit_metric"], "resources": ["metric:forbidden_*"]}},
        {"name": "no-think-for-c", "source": {"principals": ["agent-c"]},
         "request": {"verbs": ["think"]}},
        {"name": "vault-closed-even-to-admin", "source": {"principals": ["root"]},
         "request": {"resources": ["namespace:vault*"]}},
    ],
    "allow_rules": [
        {"name": "team-shared", "source": {"principals": ["agent-a", "agent-b", "agent-c"]},
         "request": {"verbs": CONTEXT, "resources": ["namespace:shared/team*"]}},
        {"name": "secrets-for-agents", "source": {"principals": ["agent-*"]},
         "request": {"resources": ["namespace:shared/secret*"]}},
        {"name": "a-pub-read-by-b", "source": {"principals": ["agent-b"]},
         "request": {"verbs": ["context_read", "context_versions"],
                     "resources": ["namespace:agent-a/pub*"]}},
        {"name": "c-into-b-inbox", "source": {"principals": ["agent-c"]},
         "request": {"verbs": ["context_write"], "resources": ["namespace:agent-b/inbox*"]}},
    ],
}

DENIED = "PERMISSION_DENIED"


def rule(name):
    """What a denial by rule NAME of the matrix policy says."""
    return "rule %s of policy matrix" % name


def spec(addr, certdir, driver):
    t = {name: {"addr": addr, "ca": certdir + "/ca.pem", "token": tok}
         for name, (tok, _) in TOKENS.items()}
    t["agent-c"] = {"addr": addr, "ca": certdir + "/ca.pem",
                    "cert": certdir + "/agent-c.pem", "key": certdir + "/agent-c-key.pem"}
    cases = []

    def c(who, verb, payload, code, *has, **kw):
        case = {"as": who, "verb": verb, "payload": payload, "code": code, "has": list(has)}
        case.update(kw)
        cases.append(case)

    A, B, C = "agent-a/m-${run}", "agent-b/m-${run}", "agent-c/m-${run}"
    TEAM, SECRET = "shared/team-${run}", "shared/secret-${run}"
    # --- identities
    c("agent-a", "whoami", "", "OK", "caller_id:agent-a", "identified_by:token", "scopes:read+write")
    c("agent-b", "whoami", "", "OK", "caller_id:agent-b", "identified_by:token")
    c("agent-c", "whoami", "", "OK", "caller_id:agent-c", "identified_by:certificate",
      "scopes:read+write", note="the URI SAN names it, not the CN")
    c("agent-r", "whoami", "", "OK", "caller_id:agent-r", "scopes:read", lacks=["write"])
    c("root", "whoami", "", "OK", "caller_id:root", "scopes:read+write+admin")
    # --- verbs without a resource: scope, then rules naming the verb
    for who in ("agent-a", "agent-b", "agent-c", "agent-r", "root"):
        c(who, "ping", "n:1", "OK")
        c(who, "observe", "", "OK", "instance_id:")
        c(who, "tpm_public_key", "", "OK", "public_key_pem:")
        c(who, "tpm_random", "bytes:8", "OK", "bytes:8")
        c(who, "tpm_pcr_read", "pcrs:0", "OK", "bank:sha256")
        c(who, "driver_list", "", "OK", "available:")
        c(who, "explain_action", "request_id:1", "NOT_FOUND", "no recent decision",
          note="past the policy, into the verb")
    for who in ("agent-a", "agent-b", "agent-r", "root"):
        c(who, "think", "task:t,urgency:0.9", "OK", "score:")
    c("agent-c", "think", "task:t,urgency:0.9", DENIED,
      "agent-c may not think (no resource): " + rule("no-think-for-c"), note="deny rule on a verb")
    c("agent-a", "emit_trace", "trace_id:4bf92f3577b34da6a3ce929d0e0e4736,span_id:00f067aa0ba902b7,"
      "operation:matrix", "OK", "accepted:true")
    c("agent-r", "emit_trace", "trace_id:4bf92f3577b34da6a3ce929d0e0e4736,span_id:00f067aa0ba902b7,"
      "operation:matrix", DENIED, "caller agent-r lacks scope write needed by emit_trace")
    for who in ("agent-a", "agent-b", "agent-c", "agent-r"):
        c(who, "tune_system", "", DENIED, "caller %s lacks scope admin needed by tune_system" % who)
    c("root", "tune_system", "", "OK", "weights:", "changed:false")
    # --- metrics: metric:<name> (no owner; default allowed, a deny rule)
    c("agent-a", "emit_metric", "metric_name:matrix_${run}_total,value:1", "OK")
    c("agent-b", "emit_metric", "metric_name:agent_a_work_${run}_total,value:1", "OK",
      note="metrics have no owner: default allows")
    c("agent-c", "emit_metric", "metric_name:matrix_c_${run}_total,value:1", "OK")
    c("agent-b", "emit_metric", "metric_name:forbidden_${run}_total,value:1", DENIED,
      "metric:forbidden_${run}_total: " + rule("no-forbidden-metrics"))
    c("agent-c", "emit_metric", "metric_name:forbidden_c_${run}_total,value:1", DENIED,
      rule("no-forbidden-metrics"))
    c("root", "emit_metric", "metric_name:forbidden_root_${run}_total,value:1", "OK",
      note="the deny rule names agent-* only")
    c("agent-r", "emit_metric", "metric_name:matrix_r_${run}_total,value:1", DENIED,
      "caller agent-r lacks scope write needed by emit_metric")
    # --- TPM: signatures bound to their signer
    c("agent-a", "tpm_sign", "message:matrix ${run}", "OK", "signer:agent-a", "signed_digest:",
      save={"sig_a": "signature"})
    c("agent-c", "tpm_sign", "message:matrix ${run}", "OK", "signer:agent-c",
      save={"sig_c": "signature"})
    c("agent-b", "tpm_sign", "message:matrix ${run}", DENIED, rule("no-sign-for-b"))
    c("agent-r", "tpm_sign", "message:matrix ${run}", DENIED,
      "caller agent-r lacks scope write needed by tpm_sign")
    c("agent-a", "tpm_verify", "signature:${sig_a},message:matrix ${run}", "OK", "valid:true",
      "signer:agent-a")
    c("agent-b", "tpm_verify", "signature:${sig_a},message:matrix ${run},signer:agent-a", "OK",
      "valid:true", "signer:agent-a", note="anyone checks agent-a's signature naming agent-a")
    c("agent-b", "tpm_verify", "signature:${sig_a},message:matrix ${run}", "OK", "valid:false",
      "signer:agent-b", note="agent-a's signature is not agent-b's")
    c("agent-a", "tpm_verify", "signature:${sig_c},message:matrix ${run}", "OK", "valid:false",
      note="agent-c's signature is not agent-a's")
    c("agent-r", "tpm_verify", "signature:${sig_c},message:matrix ${run},signer:agent-c", "OK",
      "valid:true")
    # --- context verbs: owned
    for who, ns in (("agent-a", A), ("agent-b", B), ("agent-c", C)):
        c(who, "context_write", "namespace:%s,key:k,value:v-%s" % (ns, who), "OK", "version:1",
          note="owned")
        c(who, "context_read", "namespace:%s,key:k" % ns, "OK", "value:v-" + who)
        c(who, "context_versions", "namespace:%s,key:k" % ns, "OK")
        c(who, "context_snapshot", "namespace:" + ns, "OK", "snapshot_id:",
          save={"snap_" + who[-1]: "snapshot_id"})
        c(who, "context_restore", "snapshot_id:${snap_%s}" % who[-1], "OK", "namespace:" + ns)
    c("agent-a", "context_write", "namespace:agent-a,key:top-${run},value:x", "OK",
      note="the namespace equal to its caller id")
    # --- context verbs: foreign (rule default)
    foreign = [("agent-a", B), ("agent-b", A), ("agent-c", A), ("agent-a", C)]
    for who, ns in foreign:
        for verb, payload in (("context_write", "namespace:%s,key:k,value:stolen"),
                              ("context_read", "namespace:%s,key:k"),
                              ("context_versions", "namespace:%s,key:k"),
                              ("context_delete", "namespace:%s"),
                              ("context_snapshot", "namespace:%s")):
            c(who, verb, payload % ns, DENIED, "%s may not %s namespace:%s: %s" %
              (who, verb, ns, rule("default")), note="foreign")
    for who, snap, ns in (("agent-a", "b", B), ("agent-b", "a", A), ("agent-c", "a", A)):
        c(who, "context_restore", "snapshot_id:${snap_%s}" % snap, DENIED,
          "namespace:%s: %s" % (ns, rule("default")), note="a foreign snapshot")
        c(who, "context_delete", "snapshot_id:${snap_%s}" % snap, DENIED,
          "namespace:%s: %s" % (ns, rule("default")), note="a foreign snapshot")
    for ns in ("agent-ab/m-${run}", "agent-a-evil/m-${run}", "agent"):
        c("agent-a", "context_write", "namespace:%s,key:k,value:v" % ns, DENIED, rule("default"),
          note="a name that starts like agent-a is not agent-a's")
    # the owner's data is untouched by the refused calls
    c("agent-b", "context_read", "namespace:%s,key:k" % B, "OK", "value:v-agent-b", "version:1")
    # --- granted-shared (allow rules)
    c("agent-a", "context_write", "namespace:%s,key:k,value:team" % TEAM, "OK", note="team-shared")
    c("agent-b", "context_read", "namespace:%s,key:k" % TEAM, "OK", "value:team")
    c("agent-c", "context_versions", "namespace:%s,key:k" % TEAM, "OK")
    c("agent-c", "context_write", "namespace:%s,key:k,value:team2" % TEAM, "OK", "version:2")
    c("agent-b", "context_snapshot", "namespace:" + TEAM, "OK", save={"snap_team": "snapshot_id"})
    c("agent-a", "context_restore", "snapshot_id:${snap_team}", "OK", "namespace:" + TEAM)
    c("agent-r", "context_read", "namespace:%s,key:k" % TEAM, DENIED, rule("default"),
      note="agent-r is not in team-shared")
    c("agent-a", "context_write", "namespace:agent-a/pub-${run},key:k,value:pub", "OK")
    c("agent-b", "context_read", "namespace:agent-a/pub-${run},key:k", "OK", "value:pub",
      note="a-pub-read-by-b")
    c("agent-b", "context_versions", "namespace:agent-a/pub-${run},key:k", "OK")
    c("agent-b", "context_write", "namespace:agent-a/pub-${run},key:k,value:mine", DENIED,
      rule("default"), note="a-pub-read-by-b grants reads only")
    c("agent-c", "context_read", "namespace:agent-a/pub-${run},key:k", DENIED, rule("default"))
    c("agent-c", "context_write", "namespace:agent-b/inbox-${run},key:msg,value:hello", "OK",
      note="c-into-b-inbox")
    c("agent-b", "context_read", "namespace:agent-b/inbox-${run},key:msg", "OK", "value:hello")
    c("agent-c", "context_read", "namespace:agent-b/inbox-${run},key:msg", DENIED,
      rule("default"), note="c-into-b-inbox grants writes only")
    c("agent-b", "context_delete", "namespace:" + TEAM, "OK", "removed_versions:")
    c("agent-c", "context_delete", "snapshot_id:${snap_team}", "OK",
      note="a shared namespace's snapshot")
    # --- denied (deny rules win over allow rules and over ownership)
    c("agent-a", "context_write", "namespace:%s,key:k,value:s" % SECRET, "OK",
      note="secrets-for-agents")
    c("agent-c", "context_read", "namespace:%s,key:k" % SECRET, "OK", "value:s")
    c("agent-b", "context_read", "namespace:%s,key:k" % SECRET, DENIED,
      "agent-b may not context_read namespace:%s: %s" % (SECRET, rule("no-secrets-for-b")),
      note="deny wins over secrets-for-agents")
    c("agent-b", "context_write", "namespace:%s,key:k,value:s" % SECRET, DENIED,
      rule("no-secrets-for-b"))
    c("agent-b", "context_snapshot", "namespace:" + SECRET, DENIED, rule("no-secrets-for-b"))
    c("agent-a", "context_write", "namespace:agent-a/locked-${run},key:k,value:v", DENIED,
      rule("locked-even-for-owner"), note="deny wins over ownership")
    c("agent-a", "context_read", "namespace:agent-a/locked-${run},key:k", DENIED,
      rule("locked-even-for-owner"))
    # --- admin reaches everything (decided as owner), a deny rule naming it aside
    for ns in (A, B, C, TEAM, SECRET, "agent-a/locked-${run}"):
        c("root", "context_write", "namespace:%s,key:root,value:r" % ns, "OK", note="admin")
        c("root", "context_read", "namespace:%s,key:root" % ns, "OK", "value:r")
    c("root", "context_versions", "namespace:%s,key:k" % B, "OK")
    c("root", "context_snapshot", "namespace:" + C, "OK", save={"snap_root": "snapshot_id"})
    c("root", "context_restore", "snapshot_id:${snap_b}", "OK", "namespace:" + B)
    c("root", "context_delete", "snapshot_id:${snap_root}", "OK")
    c("root", "context_delete", "snapshot_id:${snap_a}", "OK")
    c("root", "context_delete", "namespace:%s,key:root" % A, "OK")
    c("root", "context_write", "namespace:vault-${run},key:k,value:v", DENIED,
      "root may not context_write namespace:vault-${run}: " + rule("vault-closed-even-to-admin"),
      note="a deny rule naming admin stops it")
    c("agent-r", "context_write", "namespace:agent-r/m-${run},key:k,value:v", DENIED,
      "caller agent-r lacks scope write needed by context_write",
      note="a token's scopes bound ownership too")
    c("agent-r", "context_read", "namespace:agent-r/m-${run},key:k", "NOT_FOUND",
      note="owned: past the policy, nothing there")
    # owners clean up after themselves
    for who, ns in (("agent-a", A), ("agent-b", B), ("agent-c", C)):
        c(who, "context_delete", "snapshot_id:${snap_%s}" % who[-1],
          "NOT_FOUND" if who == "agent-a" else "OK", note="root deleted agent-a's already"
          if who == "agent-a" else "owned")
        c(who, "context_delete", "namespace:" + ns, "OK", "removed_versions:")
    # --- drivers: driver:<name> (admin loads, a deny rule on one driver)
    for who in ("agent-a", "agent-c"):
        c(who, "driver_load", "driver:" + driver, DENIED,
          "caller %s lacks scope admin needed by driver_load" % who)
    c("root", "driver_load", "driver:" + driver, "OK", "driver:" + driver)
    c("agent-a", "driver_invoke", "driver:%s,operation:upper,payload:hi a" % driver, "OK",
      "output:HI A", note="default allows drivers")
    c("agent-c", "driver_invoke", "driver:%s,operation:upper,payload:hi c" % driver, "OK",
      "output:HI C")
    c("agent-b", "driver_invoke", "driver:%s,operation:upper,payload:hi b" % driver, DENIED,
      "driver:%s: %s" % (driver, rule("no-transform-for-b")))
    c("agent-r", "driver_invoke", "driver:%s,operation:upper,payload:hi r" % driver, DENIED,
      "lacks scope write needed by driver_invoke")
    c("root", "driver_invoke", "driver:%s,operation:upper,payload:hi root" % driver, "OK",
      "output:HI ROOT")
    c("agent-a", "driver_unload", "driver:" + driver, DENIED, "lacks scope admin")
    c("root", "driver_unload", "driver:" + driver, "OK")
    # --- the store (admin)
    for who in ("agent-a", "agent-c", "agent-r"):
        c(who, "store_backup", "name:matrix-${run}", DENIED,
          "caller %s lacks scope admin needed by store_backup" % who)
    c("root", "store_backup", "name:matrix-${run}", "OK", "path:", "bytes:")
    # --- policy_query: the same decisions, asked
    q = [("agent-a", "context_read", "namespace:" + A, "true", "owner"),
         ("agent-a", "context_read", "namespace:" + B, "false", "default"),
         ("agent-a", "context_write", "namespace:" + TEAM, "true", "team-shared"),
         ("agent-b", "context_read", "namespace:" + SECRET, "false", "no-secrets-for-b"),
         ("agent-a", "context_read", "namespace:" + SECRET, "true", "secrets-for-agents"),
         ("agent-a", "context_read", "namespace:agent-a/locked-x", "false", "locked-even-for-owner"),
         ("agent-b", "tpm_sign", "", "false", "no-sign-for-b"),
         ("agent-a", "tpm_sign", "", "true", "default"),
         ("agent-b", "driver_invoke", "driver:" + driver, "false", "no-transform-for-b"),
         ("agent-c", "think", "", "false", "no-think-for-c"),
         ("agent-c", "context_write", "namespace:agent-b/inbox-1", "true", "c-into-b-inbox"),
         ("agent-r", "emit_metric", "metric:x_total", "false", "scope"),
         ("agent-r", "context_write", "namespace:agent-r", "false", "scope"),
         ("root", "context_read", "namespace:" + B, "true", "owner"),
         ("root", "context_read", "namespace:vault", "false", "vault-closed-even-to-admin")]
    for who, verb, res, allowed, r in q:
        payload = "verb:" + verb + (",resource:" + res if res else "")
        c(who, "policy_query", payload, "OK", "allowed:" + allowed, "rule:" + r + ",",
          "policy_version:", note="asked by itself")
        if who != "root":
            c("root", "policy_query", payload + ",caller:" + who, "OK", "caller:" + who,
              "allowed:" + allowed, "rule:" + r + ",", note="admin asks about " + who)
    c("agent-a", "policy_query", "verb:context_read,resource:namespace:%s,caller:agent-b" % B,
      DENIED, "only admin may ask about another caller")
    c("agent-c", "policy_query", "verb:ping,caller:agent-a", DENIED, "only admin may ask")
    c("agent-a", "policy_query", "verb:no_such_verb", "INVALID_ARGUMENT", "unknown verb")
    # --- policy_update, agent_* (admin)
    policy = json.dumps(POLICY)
    for who in ("agent-a", "agent-c", "agent-r"):
        for verb, payload in (("policy_update", ""), ("agent_register", "agent:x,scopes:read"),
                              ("agent_revoke", "agent:agent-a"), ("agent_list", "")):
            kw = {"data": policy} if verb == "policy_update" else {}
            c(who, verb, payload, DENIED, "caller %s lacks scope admin needed by %s" % (who, verb),
              **kw)
    c("root", "policy_update", "", "OK", "policy_version:", data=policy,
      note="the same policy again")
    c("root", "policy_update", "", "INVALID_ARGUMENT", "policy not changed", data="{not json")
    c("root", "policy_update", "", "INVALID_ARGUMENT", "policy not changed",
      data='{"name":"x","deny_rules":[{"name":"r","request":{"resources":["file:/etc"]}}]}',
      note="an unknown resource kind")
    c("agent-b", "policy_query", "verb:context_read,resource:namespace:" + SECRET, "OK",
      "allowed:false", "rule:no-secrets-for-b,", note="the policy in force after both")
    c("root", "agent_register", "agent:agent-d-${run},scopes:read", "OK", "agent:agent-d-${run}",
      "scopes:read", save_data="tok_d")
    c("root", "context_write", "namespace:agent-d-${run},key:k,value:for-d", "OK")
    c("agent-d", "whoami", "", "OK", "caller_id:agent-d-${run}", "identified_by:registered",
      "scopes:read", token="${tok_d}", note="a registered token works at once")
    c("agent-d", "context_read", "namespace:agent-d-${run},key:k", "OK", "value:for-d",
      token="${tok_d}")
    c("agent-d", "context_read", "namespace:%s,key:k" % A, DENIED, rule("default"),
      token="${tok_d}")
    c("agent-d", "context_write", "namespace:agent-d-${run},key:k,value:x", DENIED,
      "lacks scope write", token="${tok_d}", note="registered with read only")
    c("root", "agent_list", "", "OK", "agent-d-${run}:read:1:0")
    c("root", "agent_revoke", "agent:agent-d-${run}", "OK", "revoked:1")
    c("agent-d", "ping", "", "UNAUTHENTICATED", "invalid bearer token", token="${tok_d}",
      note="revoked")
    c("root", "agent_list", "", "OK", lacks=["agent-d-${run}:"])
    c("root", "agent_revoke", "agent:agent-d-${run}", "NOT_FOUND", "no registered token")
    c("root", "context_delete", "namespace:agent-d-${run}", "OK")
    return {"targets": t, "cases": cases}


def main():
    cmd, out = sys.argv[1], sys.argv[2]
    if cmd == "tokens":
        text = "".join("%s %s %s\n" % (hashlib.sha256(tok.encode()).hexdigest(), who, scopes)
                       for who, (tok, scopes) in TOKENS.items())
    elif cmd == "policy":
        text = json.dumps(POLICY, indent=1) + "\n"
    else:
        text = json.dumps(spec(*sys.argv[3:6]), indent=1) + "\n"
    with open(out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
