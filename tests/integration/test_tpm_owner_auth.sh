#!/usr/bin/env bash
# A TPM whose owner hierarchy has an authorization value (as an operator or
# another OS may have set): tpm2_changeauth sets it on a fresh swtpm. The
# kernel without CAM_TPM_OWNER_AUTH_FILE cannot create its key and says
# why; with the file it signs, and openssl verifies. A bad file stops the
# kernel at start with a clear message; the value never reaches a log.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

for tool in swtpm tpm2_changeauth openssl; do
  command -v $tool >/dev/null || { not_ok "$tool is installed (make deps)"; finish; exit 1; }
done
TPM_PORT=$(free_port_pair)
TCTI="swtpm:host=127.0.0.1,port=$TPM_PORT"
SECRET="owner-$RANDOM-$RANDOM"
swtpm_start swtpm "$TPM_PORT" "$TMP/tpmstate"
wait_for 10 tpm2_getrandom -T "$TCTI" 4 || not_ok "swtpm answers"
check "tpm2_changeauth sets an owner authorization value" \
  tpm2_changeauth -T "$TCTI" -c owner "$SECRET"
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
ex() { grpcurl -d "{\"verb\": \"$1\", \"payload\": \"$2\"}" "$G" cam.SyscallService/Execute 2>&1; }
has() { printf '%s' "$1" | grep -q -- "$2"; }
health() { grpcurl -d '{"detailed": true}' "$G" cam.SyscallService/HealthCheck | grep -A2 '"TPM Security"'; }

# Without the value: the key cannot be made; the TPM is reported down with the reason.
GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
kernel_start kernel "ipc://$TMP/bus.ipc" --tpm-tcti "$TCTI"; KERNEL=$LAST_PID
wait_for 10 grpcurl "$G" list || not_ok "kernel starts"
says_auth() { health | grep -q 'owner hierarchy has an authorization value, set CAM_TPM_OWNER_AUTH_FILE'; }
check "no owner authorization: health names it and CAM_TPM_OWNER_AUTH_FILE" wait_for 10 says_auth
r=$(ex tpm_sign "message:hello")
check "no owner authorization: tpm_sign is UNAVAILABLE naming the setting ($r)" has "$r" "UNAVAILABLE: .*set CAM_TPM_OWNER_AUTH_FILE"
stop_pid "$KERNEL"

# With it: the key is made and persisted, signatures verify.
printf '%s\n' "$SECRET" >"$TMP/owner.auth"; chmod 600 "$TMP/owner.auth"
GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
kernel_start kernel2 "ipc://$TMP/bus2.ipc" --tpm-tcti "$TCTI" --tpm-owner-auth-file "$TMP/owner.auth"
KERNEL=$LAST_PID
wait_for 10 grpcurl "$G" list || not_ok "kernel starts with the file"
ready() { health | grep -q '"status": "healthy"'; }
check "with CAM_TPM_OWNER_AUTH_FILE: TPM Security healthy" wait_for 10 ready
printf 'signed with an owner-authorized key' >"$TMP/msg.txt"
r=$(grpcurl -d "{\"verb\":\"tpm_sign\",\"data\":\"$(base64 -w0 "$TMP/msg.txt")\"}" "$G" cam.SyscallService/Execute)
printf '%s' "$r" | /usr/bin/python3 -c 'import base64, json, sys; open(sys.argv[1], "wb").write(base64.b64decode(json.load(sys.stdin)["data"]))' "$TMP/sig.der"
r=$(ex tpm_public_key "")
printf '%s' "$r" | /usr/bin/python3 -c 'import base64, json, sys; open(sys.argv[1], "wb").write(base64.b64decode(json.load(sys.stdin)["data"]))' "$TMP/pub.pem"
# What the TPM signs is bound to the signer (README, tpm_sign): here the anonymous caller.
{ printf 'cam-os tpm_sign v1\nanonymous\n'; sha256sum "$TMP/msg.txt" | cut -c1-64 | xxd -r -p; } >"$TMP/msg.bound"
check "tpm_sign's signature verifies with openssl and tpm_public_key's PEM" \
  openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$TMP/sig.der" "$TMP/msg.bound"
stop_pid "$KERNEL"

# Bad files: the kernel does not start, and says why.
head -c 65 /dev/zero | tr '\0' 'a' >"$TMP/long.auth"
bad_start() { # FILE PATTERN
  timeout 10 "$ROOT/$BUILD/cam-kernel" --bus-addr "ipc://$TMP/bus3.ipc" --grpc-listen "127.0.0.1:$(free_port)" \
    --tpm-tcti "$TCTI" --tpm-owner-auth-file "$1" >"$TMP/bad.log" 2>&1
  local rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "$2" "$TMP/bad.log"
}
check "a 65-byte value: the kernel refuses to start, saying so" bad_start "$TMP/long.auth" "holds more than 64 bytes"
check "a missing file: the kernel refuses to start, naming it" bad_start "$TMP/nope.auth" "cannot read CAM_TPM_OWNER_AUTH_FILE .*nope.auth"
check "the value never appears in any log" bash -c "! grep -rq -- '$SECRET' '$TMP'/*.log"
finish
