#!/usr/bin/env bash
# The tpm_* verbs against a real software TPM (swtpm over TCP), checked by
# tools that share no code with the kernel: openssl verifies signatures with
# the PEM from tpm_public_key, tpm2_pcrread reads the same PCRs. The kernel
# starts before the TPM exists (UNAVAILABLE, health unhealthy, the rest
# works), picks it up when it appears, loses it when swtpm is killed, and
# recovers with the same persistent key when it is back. A kernel with no
# CAM_TPM_TCTI answers UNAVAILABLE and reports the component disabled.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

for tool in swtpm tpm2_pcrread openssl xxd; do
  command -v $tool >/dev/null || { not_ok "$tool is installed (make deps)"; finish; exit 1; }
done

BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
# The swtpm TCTI talks to the control channel on the command port + 1.
TPM_PORT=$(free_port_pair)
G="127.0.0.1:$GRPC_PORT"
TCTI="swtpm:host=127.0.0.1,port=$TPM_PORT"
mkdir -p "$TMP/tpmstate"
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
out() { printf '%s' "$1" | grep -q -- "$2"; }
eq() { [ -n "$1" ] && [ "$1" = "$2" ]; }

swtpm_up() { swtpm_start swtpm "$TPM_PORT" "$TMP/tpmstate"; SWTPM=$LAST_PID; }

# ex ADDR VERB PAYLOAD [FILE]: Execute, with FILE's bytes as `data`.
ex() {
  local d=""
  [ -n "${4:-}" ] && d=$(base64 -w0 "$4")
  grpcurl -d "$(printf '{"verb":"%s","payload":"%s","data":"%s"}' "$2" "$3" "$d")" \
    "$1" cam.SyscallService/Execute 2>&1
}
# jget JSON FIELD [OUTFILE]: a field of the response; "data" is decoded
# into OUTFILE; "result.KEY" is one key of the result grammar.
jget() {
  /usr/bin/python3 -c '
import base64, json, sys
r = json.loads(sys.argv[1]); f = sys.argv[2]
if f == "data":
    open(sys.argv[3], "wb").write(base64.b64decode(r.get("data", "")))
elif f.startswith("result."):
    d, last = {}, None
    for tok in r.get("result", "").split(","):
        if ":" in tok:
            last, v = tok.split(":", 1)
            d[last] = v
        elif last:
            d[last] += "," + tok
    print(d.get(f[7:], ""), end="")
else:
    print(r.get(f, ""), end="")' "$@"
}
health_tpm() {
  grpcurl -d '{"detailed": true}' "$G" cam.SyscallService/HealthCheck |
    /usr/bin/python3 -c '
import json, sys
for c in json.load(sys.stdin).get("components", []):
    if c["name"] == "TPM Security": print(c["status"], "|", c.get("message", ""))'
}
health_is() { [ "$(health_tpm | cut -d' ' -f1)" = "$1" ]; }
random_ok() { out "$(ex "$G" tpm_random bytes:8)" '"success": true'; }
# bound SIGNER FILE OUT: what tpm_sign has the TPM sign for SIGNER (README,
# "TPM 2.0"): "cam-os tpm_sign v1\n", the signer, "\n", then the 32-byte
# SHA-256 of the content; openssl's dgst -sha256 hashes it once more.
bound() {
  { printf 'cam-os tpm_sign v1\n%s\n' "$1"; sha256sum "$2" | cut -c1-64 | xxd -r -p; } >"$3"
}
# The calls here carry no credentials: the signer is "anonymous".

# 1. The kernel starts first, with the TPM not there yet.
kernel_start kernel "$BUS" --tpm-tcti "$TCTI" --tpm-timeout-ms 2000; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }
r=$(ex "$G" tpm_random "")
check "no TPM yet: tpm_random is UNAVAILABLE naming the TCTI" \
  out "$r" "UNAVAILABLE: TPM unavailable: cannot reach the TPM at $TCTI"
check "no TPM yet: health says unhealthy" health_is unhealthy
check "no TPM yet: ping still works" out "$(ex "$G" ping "")" '"success": true'

# 2. The TPM appears: the kernel connects and makes its key.
swtpm_up
check "TPM appears: tpm_random recovers within 5 s" wait_for 5 random_ok
check "TPM appears: health says healthy" wait_for 5 health_is healthy

# 3. Signatures verify with openssl, from the PEM the kernel gives.
r=$(ex "$G" tpm_public_key "")
jget "$r" data "$TMP/pub.pem"
check "tpm_public_key gives a P-256 PEM key" \
  bash -c "openssl pkey -pubin -in '$TMP/pub.pem' -noout -text 2>&1 | grep -q 'NIST CURVE: P-256'"
check "tpm_public_key names the persistent handle" out "$r" 'handle:0x81000ca0'
check "tpm_public_key: result PEM equals the data PEM" \
  eq "$(jget "$r" result.public_key_pem)" "$(cat "$TMP/pub.pem")"
head -c 3000 /dev/urandom >"$TMP/msg.bin"
r=$(ex "$G" tpm_sign "" "$TMP/msg.bin")
jget "$r" data "$TMP/sig.der"
bound anonymous "$TMP/msg.bin" "$TMP/msg.bin.bound"
check "tpm_sign of binary data verifies with openssl over the bound message" \
  openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$TMP/sig.der" "$TMP/msg.bin.bound"
check "tpm_sign names its signer (anonymous here)" eq "$(jget "$r" result.signer)" anonymous
check "tpm_sign's signed_digest is the SHA-256 of the bound message" \
  eq "$(jget "$r" result.signed_digest)" "$(sha256sum "$TMP/msg.bin.bound" | cut -d' ' -f1)"
check "the signature does not verify over the bare content (it is bound)" \
  bash -c "! openssl dgst -sha256 -verify '$TMP/pub.pem' -signature '$TMP/sig.der' '$TMP/msg.bin' >/dev/null 2>&1"
check "tpm_sign gives the SHA-256 of the data" \
  eq "$(jget "$r" result.digest)" "$(sha256sum "$TMP/msg.bin" | cut -d' ' -f1)"
check "tpm_sign: result hex equals the DER in data" \
  eq "$(jget "$r" result.signature)" "$(od -An -v -tx1 "$TMP/sig.der" | tr -d ' \n')"
SIG=$(jget "$r" result.signature)
printf 'hello tpm' >"$TMP/msg.txt"
r=$(ex "$G" tpm_sign "message:hello tpm")
jget "$r" data "$TMP/sig2.der"
bound anonymous "$TMP/msg.txt" "$TMP/msg.txt.bound"
check "tpm_sign of a message verifies with openssl over the bound message" \
  openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$TMP/sig2.der" "$TMP/msg.txt.bound"
check "a signature does not verify for other data" \
  bash -c "! openssl dgst -sha256 -verify '$TMP/pub.pem' -signature '$TMP/sig2.der' '$TMP/msg.bin.bound' >/dev/null 2>&1"
bound agent-b "$TMP/msg.txt" "$TMP/msg.txt.bound-b"
check "a signature does not verify as another signer's" \
  bash -c "! openssl dgst -sha256 -verify '$TMP/pub.pem' -signature '$TMP/sig2.der' '$TMP/msg.txt.bound-b' >/dev/null 2>&1"

# 4. tpm_verify, on the TPM.
check "tpm_verify: the signature of the data is valid" \
  out "$(ex "$G" tpm_verify "signature:$SIG" "$TMP/msg.bin")" 'valid:true'
check "tpm_verify: the same signature of other text is not" \
  out "$(ex "$G" tpm_verify "signature:$SIG,message:tampered")" 'valid:false'
check "tpm_verify: a signature that is not DER is INVALID_ARGUMENT" \
  out "$(ex "$G" tpm_verify "signature:3006020101020101ff,message:x")" 'INVALID_ARGUMENT'
check "tpm_sign: data and message together are INVALID_ARGUMENT" \
  out "$(ex "$G" tpm_sign "message:x" "$TMP/msg.txt")" 'INVALID_ARGUMENT: give only one'

# 5. Random bytes, bounded.
r1=$(ex "$G" tpm_random bytes:32); r2=$(ex "$G" tpm_random bytes:32)
check "tpm_random gives 32 bytes (64 hex digits)" eq "$(jget "$r1" result.random | wc -c)" 64
check "two tpm_random calls differ" \
  bash -c '[ -n "$1" ] && [ "$1" != "$2" ]' _ "$(jget "$r1" result.random)" "$(jget "$r2" result.random)"
jget "$(ex "$G" tpm_random bytes:1024)" data "$TMP/rnd"
check "tpm_random bytes:1024 gives 1024 bytes of data" bash -c "[ \$(stat -c %s '$TMP/rnd') -eq 1024 ]"
check "tpm_random bytes:1025 is INVALID_ARGUMENT" out "$(ex "$G" tpm_random bytes:1025)" 'INVALID_ARGUMENT'
check "tpm_random bytes:0 is INVALID_ARGUMENT" out "$(ex "$G" tpm_random bytes:0)" 'INVALID_ARGUMENT'

# 6. PCRs: the same values tpm2_pcrread reads from the same swtpm, after
# tpm2_pcrextend changed PCR 16 (the debug PCR) so not all are zero.
check "tpm2_pcrextend of PCR 16 (setup)" tpm2_pcrextend -T "$TCTI" \
  "16:sha256=$(printf 'cam-os' | sha256sum | cut -d' ' -f1)"
r=$(ex "$G" tpm_pcr_read "pcrs:0,7,16-17,23")
pcrs_match() {
  local theirs i v
  theirs=$(tpm2_pcrread -T "$TCTI" sha256:0,7,16,17,23 2>&1) || return 1
  for i in 0 7 16 17 23; do
    v=$(printf '%s\n' "$theirs" | sed -n "s/^ *$i *: *0x\([0-9A-Fa-f]*\).*/\1/p" | tr 'A-F' 'a-f')
    [ -n "$v" ] && [ "$v" = "$(jget "$r" "result.pcr$i")" ] || return 1
  done
}
check "tpm_pcr_read returns the sha256 bank" out "$r" 'bank:sha256'
check "PCR 16 is no longer zero" bash -c '[ -n "$1" ] && [ "$1" != "$2" ]' _ "$(jget "$r" result.pcr16)" "$(printf '%064d' 0)"
check "tpm_pcr_read matches tpm2_pcrread for PCRs 0,7,16,17,23" pcrs_match
check "tpm_pcr_read pcrs:24 is INVALID_ARGUMENT" out "$(ex "$G" tpm_pcr_read pcrs:24)" 'INVALID_ARGUMENT'
# swtpm serves one client: tpm2_pcrread took the link, the kernel takes it back.
check "after another client used the TPM, calls still succeed" random_ok
check "tpm_pcr_read of all 24 PCRs" \
  bash -c "[ \$(printf '%s' \"\$1\" | grep -o 'pcr[0-9]*:' | wc -l) -eq 24 ]" _ "$(ex "$G" tpm_pcr_read pcrs:all)"

# 7. Metrics and the duration histogram.
seen() { local m; m=$(scrape "$PORT") && printf '%s\n' "$m" | grep -q -- "$1"; }
check 'cam_os_security_tpm_operations_total{op="sign",status="ok"} 2' \
  wait_for 5 seen '^cam_os_security_tpm_operations_total{op="sign",status="ok"} 2$'
check 'cam_os_security_tpm_operations_total{op="random",status="UNAVAILABLE"} counted' \
  wait_for 5 seen '^cam_os_security_tpm_operations_total{op="random",status="UNAVAILABLE"} [1-9]'
check 'cam_os_security_tpm_operations_total{op="random",status="INVALID_ARGUMENT"} 2' \
  wait_for 5 seen '^cam_os_security_tpm_operations_total{op="random",status="INVALID_ARGUMENT"} 2$'
check 'cam_os_security_tpm_operation_duration_seconds_count{op="sign"} 2' \
  wait_for 5 seen '^cam_os_security_tpm_operation_duration_seconds_count{op="sign"} 2$'
check 'cam_os_component_up{component="TPM Security"} 1' \
  wait_for 5 seen '^cam_os_component_up{component="TPM Security"} 1$'

# 8. swtpm killed under load: TPM verbs UNAVAILABLE, health unhealthy, the
# rest works.
( for i in $(seq 25); do
    ex "$G" tpm_random bytes:8 | grep -o -e '"success": true' -e 'ERROR: [A-Z_]*'
  done >"$TMP/load.txt" ) &
LOAD=$!
sleep 0.5
stop_pid "$SWTPM" KILL
wait "$LOAD"
check "calls around the kill: each OK or UNAVAILABLE, nothing else" \
  bash -c "[ \$(wc -l <'$TMP/load.txt') -eq 25 ] && ! grep -v -e '\"success\": true' -e 'ERROR: UNAVAILABLE' '$TMP/load.txt'"
check "calls around the kill: some succeeded before, some UNAVAILABLE after" \
  bash -c "grep -q success '$TMP/load.txt' && grep -q UNAVAILABLE '$TMP/load.txt'"
check "TPM killed: health turns unhealthy within 5 s" wait_for 5 health_is unhealthy
r=$(ex "$G" tpm_sign "message:x")
check "TPM killed: tpm_sign is UNAVAILABLE" out "$r" 'UNAVAILABLE: TPM unavailable'
check "TPM killed: tpm_public_key is UNAVAILABLE" out "$(ex "$G" tpm_public_key "")" 'UNAVAILABLE'
check "TPM killed: ping still works" out "$(ex "$G" ping "")" '"success": true'
check "TPM killed: emit_metric still works" out "$(ex "$G" emit_metric "metric_name:tpm_test,value:1")" '"success": true'
check 'TPM killed: cam_os_component_up{component="TPM Security"} 0' \
  wait_for 5 seen '^cam_os_component_up{component="TPM Security"} 0$'

# 9. swtpm back: the kernel reconnects and loads the same persistent key.
swtpm_up
check "TPM back: tpm_random recovers within 5 s" wait_for 5 random_ok
check "TPM back: health healthy again" wait_for 5 health_is healthy
r=$(ex "$G" tpm_sign "" "$TMP/msg.txt")
jget "$r" data "$TMP/sig3.der"
check "TPM back: same key (new signature verifies with the old PEM)" \
  openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$TMP/sig3.der" "$TMP/msg.txt.bound"
check "kernel log says the TPM was lost and ready again" \
  bash -c "grep -q '\"component\":\"tpm\".*lost' '$TMP/kernel.log' && [ \$(grep -c '\"component\":\"tpm\".*ready' '$TMP/kernel.log') -ge 2 ]"
check "no tpm2-tss text on the kernel's stderr (JSON lines only)" \
  bash -c "! grep -v '^{' '$TMP/kernel.log' | grep -qi 'tcti\|esys'"

# 10. No CAM_TPM_TCTI: UNAVAILABLE with the reason, component disabled.
G2_PORT=$(free_port)
GRPC_PORT=$G2_PORT kernel_start kernel2 "ipc://$TMP/bus2.ipc"
G2="127.0.0.1:$G2_PORT"
wait_for 10 bash -c "/usr/bin/python3 '$ROOT/tests/integration/grpcurl.py' -d '{\"verb\":\"ping\"}' '$G2' cam.SyscallService/Execute" || not_ok "second kernel starts"
check "no CAM_TPM_TCTI: tpm_sign is UNAVAILABLE saying so" \
  out "$(ex "$G2" tpm_sign "message:x")" 'UNAVAILABLE: no TPM configured: set CAM_TPM_TCTI'
check "no CAM_TPM_TCTI: health reports TPM Security disabled" \
  bash -c "/usr/bin/python3 '$ROOT/tests/integration/grpcurl.py' -d '{\"detailed\": true}' '$G2' cam.SyscallService/HealthCheck | grep -A1 '\"TPM Security\"' | grep -q disabled"

# The kernel stops cleanly with a TPM attached.
stop_pid "$KERNEL" TERM
check "kernel stops cleanly on SIGTERM" grep -q '"cam-kernel stopped"' "$TMP/kernel.log"
finish
