#!/usr/bin/env bash
# Issue 26, who calls: client certificates as identities and signatures
# bound to their signer, through real kernels, Debian's python3-grpcio and
# node's @grpc/grpc-js, with certificates made here by openssl.
#   CAM_TLS_CLIENT_AUTH=require: a good certificate's SPIFFE ID names the
#   caller, a CN-only one its CN (whoami: identified_by:certificate); a
#   certificate of another CA, an expired one, or none at all fail the
#   handshake (UNAVAILABLE); another trust domain is UNAUTHENTICATED naming
#   the SPIFFE ID; a certificate and a token naming different callers are
#   PERMISSION_DENIED; a certificate's scopes come from the caller's
#   registration, else its tokens-file line, else read,write.
#   CAM_TLS_CLIENT_AUTH=optional: a token works without a certificate.
#   tpm_sign (swtpm) binds the caller: openssl verifies over the bound
#   message, tpm_verify names the signer, a signature made for agent-b never
#   verifies as agent-a's.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/isolation_lib.sh"

for tool in swtpm openssl node xxd; do
  command -v $tool >/dev/null || { not_ok "$tool is installed (make deps)"; finish; exit 1; }
done
C="$TMP/certs"
iso_certs "$C" && iso_client_cert "$C" slow agent-slow && iso_client_cert "$C" reg agent-reg ||
  { not_ok "test certificates made"; finish; exit 1; }
cat >"$TMP/tokens" <<T
$(sha256 tok-a) agent-a read,write
$(sha256 tok-b) agent-b read,write
$(sha256 tok-root) root admin
$(sha256 tok-slow) agent-slow read,write 0.1 2
T
BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port)
tls_kernel() { # NAME MODE [ARGS...]
  local name=$1 mode=$2; shift 2
  kernel_start "$name" "$BUS" --auth-tokens-file "$TMP/tokens" \
    --tls-cert-file "$C/server.pem" --tls-key-file "$C/server-key.pem" \
    --tls-client-ca-file "$C/ca.pem" --tls-client-auth "$mode" "$@"
}
# as CERT [TOKEN] VERB [PAYLOAD] [flags]: a python3-grpcio call over TLS with
# CERT (certs/CERT.pem; "-" for none) and TOKEN ("-" for none).
as() {
  local cert=$1 token=$2 verb=$3 payload=${4:-} c=() t=()
  shift 3; [ $# -gt 0 ] && shift
  [ "$cert" != - ] && c=(--cert "$C/$cert.pem" --key "$C/$cert-key.pem")
  [ "$token" != - ] && t=(--token "$token")
  iso call --addr "localhost:$GRPC_PORT" --ca "$C/ca.pem" "${c[@]}" "${t[@]}" "$@" "$verb" "$payload" 2>/dev/null
}
js() { # CERT TOKEN VERB [PAYLOAD]
  local cert=$1 token=$2
  if [ "$cert" = - ]; then set -- - - "$token" "${@:3}"; else set -- "$C/$cert.pem" "$C/$cert-key.pem" "$token" "${@:3}"; fi
  NODE_PATH="$ROOT/tests/interop/node_modules" node "$ISO_JS" call "localhost:$GRPC_PORT" "$C/ca.pem" "$@" 2>&1
}

# ---- 1. require ---------------------------------------------------------------
GRPC_PORT=$(free_port)
tls_kernel required require; K1=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
up() { [[ "$(as agent-c - ping)" == OK* ]]; }
wait_for 10 up || { not_ok "kernel with CAM_TLS_CLIENT_AUTH=require starts"; finish; exit 1; }
r=$(as agent-c - whoami)
check "python: the SPIFFE ID names the caller (agent-c, not the CN), identified_by:certificate" \
  has "$r" "OK caller_id:agent-c,authenticated:true,identified_by:certificate,scopes:read+write"
r=$(js agent-c - whoami)
check "node: the same certificate, the same caller ($r)" has "$r" "OK caller_id:agent-c" "identified_by:certificate"
r=$(as cn-only - whoami)
check "a certificate without a SPIFFE ID names its subject CN (agent-cn)" \
  has "$r" "OK caller_id:agent-cn,authenticated:true,identified_by:certificate"
r=$(as root-cert - whoami)
check "a certificate naming root gets root's scopes from the tokens file (admin)" \
  has "$r" "OK caller_id:root" "scopes:read+write+admin"
r=$(as foreign - whoami)
check "a certificate of another CA: the handshake fails (UNAVAILABLE)" has "$r" "UNAVAILABLE"
r=$(as expired - whoami)
check "an expired certificate: the handshake fails (UNAVAILABLE)" has "$r" "UNAVAILABLE"
r=$(as - tok-a whoami)
check "require: no certificate, even with a good token: the handshake fails (UNAVAILABLE)" has "$r" "UNAVAILABLE"
r=$(js foreign - whoami)
check "node: a certificate of another CA fails too ($r)" has "$r" "UNAVAILABLE"
r=$(as other-domain - whoami)
check "a SPIFFE ID of another trust domain: UNAUTHENTICATED naming it" \
  has "$r" "UNAUTHENTICATED client certificate's SPIFFE ID spiffe://other-domain/agent/agent-c is not spiffe://cam-os/agent/<caller>"
r=$(js other-domain - whoami)
check "node: the same ($r)" has "$r" "UNAUTHENTICATED" "spiffe://other-domain/agent/agent-c"
r=$(as agent-c tok-a whoami)
check "a certificate (agent-c) and a token (agent-a) naming different callers: PERMISSION_DENIED" \
  has "$r" "PERMISSION_DENIED the client certificate names agent-c but the token names agent-a"
r=$(as agent-a-cert tok-a whoami)
check "a certificate and a token naming the same caller: OK" has "$r" "OK caller_id:agent-a"
r=$(as agent-c - whoami "" --caller agent-z)
check "a caller_id other than the certificate's: PERMISSION_DENIED" \
  has "$r" "PERMISSION_DENIED caller_id does not match the certificate's caller"
r=$(as agent-c - context_read "namespace:agent-a,key:k")
check "a certificate's caller is kept apart like any other (rule default)" has "$r" "PERMISSION_DENIED agent-c may not context_read namespace:agent-a: rule default"
r=$(as agent-c - context_write "namespace:agent-c/notes,key:k,value:v")
check "... and owns its own namespace" has "$r" "OK "
r=$(as root-cert - agent_register "agent:agent-c,scopes:read")
check "root (by certificate) registers agent-c with scopes read" has "$r" "OK agent:agent-c,scopes:read"
r=$(as agent-c - whoami)
check "agent-c's certificate now has its registration's scopes (read)" has "$r" "OK caller_id:agent-c" "scopes:read"
r=$(as agent-c - context_write "namespace:agent-c/notes,key:k,value:v2")
check "... so it may no longer write" has "$r" "PERMISSION_DENIED caller agent-c lacks scope write"
as root-cert - agent_revoke agent:agent-c >/dev/null
r=$(as agent-c - whoami)
check "revoked: the certificate falls back to read,write" has "$r" "OK caller_id:agent-c" "scopes:read+write"
# Rate limits: a certificate's caller gets the limit its tokens-file line or
# its registration sets, as a token of the same caller does.
burst() { # CERT TOKEN N: the codes of N pings in a row on one connection
  /usr/bin/python3 - "$ROOT/tests/integration" "localhost:$GRPC_PORT" "$C" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import isolation_client as ic
addr, c, cert, token, n = sys.argv[2:7]
t = ic.Target(addr, c + "/ca.pem", c + "/" + cert + ".pem", c + "/" + cert + "-key.pem",
              None if token == "-" else token)
print(" ".join(t.call("ping")[0] for _ in range(int(n))))
PY
}
r=$(burst slow tok-slow 4)
check "agent-slow by certificate and token (line: rate 0.1/s, burst 2): OK OK then RESOURCE_EXHAUSTED ($r)" \
  test "$r" = "OK OK RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED"
r=$(burst slow - 4)
check "agent-slow by certificate alone gets its tokens-file line's limit too ($r)" \
  test "$r" = "OK RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED" -o "$r" = "RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED"
r=$(as root-cert - agent_register "agent:agent-reg,scopes:read,rate:0.1,burst:3")
check "root registers agent-reg with rate 0.1/s, burst 3" has "$r" "OK agent:agent-reg"
r=$(burst reg - 5)
check "agent-reg by certificate gets its registration's rate and burst: 3 OK then RESOURCE_EXHAUSTED ($r)" \
  test "$r" = "OK OK OK RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED"
fail() { counter "$PORT" "cam_os_security_auth_failures_total{reason=\"$1\"}"; }
ge() { [ "$(fail "$1")" -ge "$2" ]; }
check 'auth failures: reason="bad_certificate" counted (2 calls)' wait_for 5 ge bad_certificate 2
check 'auth failures: reason="caller_mismatch" counted (2 calls)' wait_for 5 ge caller_mismatch 2
check "the kernel still serves after the refused handshakes" up
check "the log says why a certificate named nobody, never a certificate's PEM" \
  bash -c "! grep -q 'BEGIN CERTIFICATE' '$TMP/required.log'"
stop_pid "$K1" TERM

# ---- 2. optional, and a TPM ----------------------------------------------------
GRPC_PORT=$(free_port); TPM_PORT=$(free_port_pair)
swtpm_start swtpm "$TPM_PORT" "$TMP/tpmstate"
tls_kernel optional optional --tpm-tcti "swtpm:host=127.0.0.1,port=$TPM_PORT"; K2=$LAST_PID
up2() { [[ "$(as - tok-a tpm_random bytes:4)" == OK* ]]; }
wait_for 15 up2 || { not_ok "kernel with CAM_TLS_CLIENT_AUTH=optional and swtpm starts"; finish; exit 1; }
r=$(as - tok-a whoami)
check "optional: a token works without a certificate (identified_by:token)" \
  has "$r" "OK caller_id:agent-a,authenticated:true,identified_by:token"
r=$(js - tok-b whoami)
check "optional, node: the same ($r)" has "$r" "OK caller_id:agent-b" "identified_by:token"
r=$(as agent-c - whoami)
check "optional: a certificate still names its caller" has "$r" "OK caller_id:agent-c" "identified_by:certificate"
r=$(as - - whoami)
check "optional: neither certificate nor token: UNAUTHENTICATED" \
  has "$r" "UNAUTHENTICATED missing credentials: a client certificate or a bearer token"
r=$(as agent-c tok-b whoami)
check "optional: certificate agent-c with token agent-b: PERMISSION_DENIED" \
  has "$r" "PERMISSION_DENIED the client certificate names agent-c but the token names agent-b"
r=$(as foreign - whoami)
check "optional: a certificate of another CA still fails the handshake" has "$r" "UNAVAILABLE"
r=$(as expired tok-a whoami)
check "optional: an expired certificate fails it even with a token" has "$r" "UNAVAILABLE"
r=$(as other-domain tok-a whoami)
check "optional: another trust domain is UNAUTHENTICATED even with a token" has "$r" "UNAUTHENTICATED" "spiffe://other-domain"

# Signatures bound to their signer.
# bound SIGNER FILE OUT: "cam-os tpm_sign v1\n" SIGNER "\n" and the 32-byte SHA-256 of FILE.
bound() { { printf 'cam-os tpm_sign v1\n%s\n' "$1"; sha256sum "$2" | cut -c1-64 | xxd -r -p; } >"$3"; }
verify() { openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$1" "$2" >/dev/null 2>&1; }
fails() { ! "$@"; }
as - tok-a tpm_public_key "" --data-out "$TMP/pub.pem" >/dev/null
head -c 5000 /dev/urandom >"$TMP/doc.bin"
bound agent-a "$TMP/doc.bin" "$TMP/doc.agent-a"; bound agent-b "$TMP/doc.bin" "$TMP/doc.agent-b"
ra=$(as - tok-a tpm_sign "" --data-file "$TMP/doc.bin" --data-out "$TMP/sig-a.der")
check "agent-a signs: the result names signer agent-a" has "$ra" "OK signature:" "signer:agent-a,digest:$(sha256sum "$TMP/doc.bin" | cut -c1-64),signed_digest:"
check "signed_digest is the SHA-256 of the bound message" \
  test "$(field "$ra" signed_digest)" = "$(sha256sum "$TMP/doc.agent-a" | cut -c1-64)"
check "openssl verifies agent-a's signature against tpm_public_key over the bound message" \
  verify "$TMP/sig-a.der" "$TMP/doc.agent-a"
check "openssl: it does not verify over the bare content" fails verify "$TMP/sig-a.der" "$TMP/doc.bin"
check "openssl: it does not verify as agent-b's" fails verify "$TMP/sig-a.der" "$TMP/doc.agent-b"
SIG_A=$(field "$ra" signature)
r=$(as - tok-a tpm_verify "signature:$SIG_A" --data-file "$TMP/doc.bin")
check "tpm_verify as agent-a: valid:true, signer agent-a" has "$r" "OK valid:true,signer:agent-a"
r=$(as - tok-b tpm_verify "signature:$SIG_A,signer:agent-a" --data-file "$TMP/doc.bin")
check "tpm_verify as agent-b naming signer:agent-a: valid:true" has "$r" "OK valid:true,signer:agent-a"
r=$(as - tok-b tpm_verify "signature:$SIG_A" --data-file "$TMP/doc.bin")
check "tpm_verify as agent-b (signer defaults to agent-b): valid:false" has "$r" "OK valid:false,signer:agent-b"
r=$(as - tok-a tpm_verify "signature:$SIG_A,signer:agent-b" --data-file "$TMP/doc.bin")
check "tpm_verify as agent-a with signer:agent-b: valid:false" has "$r" "OK valid:false,signer:agent-b"
rb=$(as - tok-b tpm_sign "" --data-file "$TMP/doc.bin" --data-out "$TMP/sig-b.der")
SIG_B=$(field "$rb" signature)
check "agent-b signs the same bytes: signer agent-b, another signed_digest" \
  bash -c '[[ "$1" == *"signer:agent-b"* ]] && [ "$2" != "$3" ]' _ "$rb" "$(field "$rb" signed_digest)" "$(field "$ra" signed_digest)"
r=$(as - tok-a tpm_verify "signature:$SIG_B" --data-file "$TMP/doc.bin")
check "a signature made for agent-b never verifies as agent-a's (tpm_verify as agent-a: valid:false)" \
  has "$r" "OK valid:false,signer:agent-a"
r=$(as - tok-b tpm_verify "signature:$SIG_B,signer:agent-a" --data-file "$TMP/doc.bin")
check "... not even when agent-b names agent-a" has "$r" "OK valid:false,signer:agent-a"
check "openssl: agent-b's signature verifies over agent-b's bound message" verify "$TMP/sig-b.der" "$TMP/doc.agent-b"
check "openssl: and never over agent-a's" fails verify "$TMP/sig-b.der" "$TMP/doc.agent-a"
r=$(as - tok-b tpm_sign "message:x,signer:agent-a")
check "tpm_sign takes no signer: a caller cannot sign as another (INVALID_ARGUMENT)" \
  has "$r" "INVALID_ARGUMENT verb tpm_sign does not take payload key 'signer'"
printf 'by certificate' >"$TMP/msg.txt"; bound agent-c "$TMP/msg.txt" "$TMP/msg.agent-c"
rc_=$(as agent-c - tpm_sign "message:by certificate" --data-out "$TMP/sig-c.der")
check "a certificate's caller signs as itself (signer agent-c), openssl agrees" \
  bash -c '[[ "$1" == *"signer:agent-c"* ]]' _ "$rc_"
check "... openssl verifies it over agent-c's bound message" verify "$TMP/sig-c.der" "$TMP/msg.agent-c"

# A certificate's caller costs what a token's does, however many agents are
# registered (its grant is looked up by name on every call).
r=$(ISO_CA="$C/ca.pem" iso register "localhost:$GRPC_PORT" tok-root 5000 bulk- read "$TMP/bulk.txt" 64)
check "5000 agents registered ($r)" has "$r" '"registered": 5000'
r=$(/usr/bin/python3 - "$ROOT/tests/integration" "localhost:$GRPC_PORT" "$C" "$K2" <<'PY'
import os, sys, time
sys.path.insert(0, sys.argv[1])
import isolation_client as ic
addr, c, pid = sys.argv[2:5]
tck = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
out = []
for kw in (dict(cert=c + "/agent-c.pem", key=c + "/agent-c-key.pem"), dict(token="tok-a")):
    t = ic.Target(addr, c + "/ca.pem", **kw)
    for _ in range(200):
        t.call("ping")
    c0, n, end = cpu(), 0, time.monotonic() + 3
    while time.monotonic() < end:
        n += t.call("ping")[0] == "OK"
    out.append((cpu() - c0) / tck * 1e6 / n)
print("%.1f %.1f" % tuple(out))
PY
)
cert_us=${r% *}; token_us=${r#* }
check "with 5000 registered agents a certificate's ping costs the kernel at most 2x a token's ($cert_us vs $token_us us of CPU per call)" \
  awk -v a="$cert_us" -v b="$token_us" 'BEGIN { exit !(a > 0 && b > 0 && a <= 2 * b) }'
stop_pid "$K2" TERM

# ---- 3. settings that cannot work refuse to start, saying why --------------------
refuses() { # LOG NEEDLE ARGS...
  local log=$1 needle=$2; shift 2
  timeout 10 "$ROOT/$BUILD/cam-kernel" --grpc-listen "127.0.0.1:$(free_port)" --bus-addr "ipc://$TMP/r.ipc" \
    --data-dir "$TMP/data-refused" "$@" >"$TMP/$log" 2>&1
  [ $? -ne 0 ] && grep -q "$needle" "$TMP/$log"
}
check "CAM_TLS_CLIENT_CA_FILE without TLS refuses to start" \
  refuses noTLS 'CAM_TLS_CLIENT_CA_FILE needs TLS' --tls-client-ca-file "$C/ca.pem"
check "CAM_TLS_CLIENT_AUTH=sometimes refuses to start" \
  refuses badmode 'CAM_TLS_CLIENT_AUTH must be require or optional' --tls-cert-file "$C/server.pem" \
  --tls-key-file "$C/server-key.pem" --tls-client-ca-file "$C/ca.pem" --tls-client-auth sometimes
check "an unreadable client CA refuses to start" \
  refuses noCA 'cannot load client CA' --tls-cert-file "$C/server.pem" \
  --tls-key-file "$C/server-key.pem" --tls-client-ca-file "$C/nope.pem"
finish
