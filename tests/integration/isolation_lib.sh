# Helpers of the issue-26 tests (test_isolation_*.sh), sourced after lib.sh.
#
# SPDX-License-Identifier: Apache-2.0

ISO_PY="$ROOT/tests/integration/isolation_client.py"
ISO_JS="$ROOT/tests/integration/isolation_client.js"
# The python client's generated messages, made once per test.
export ISO_STUBS_DIR="$TMP/iso-stubs"

# sha256 TEXT: the hex SHA-256 of TEXT (a tokens-file line's first field).
sha256() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

# iso CMD ARGS...: the python3-grpcio client (isolation_client.py).
iso() { /usr/bin/python3 "$ROOT/tests/integration/isolation_client.py" "$@"; }

# iso_call ADDR TOKEN VERB [PAYLOAD] [more client flags...]: one cleartext
# call as the token's caller; prints "CODE result-or-details".
iso_call() {
  local addr=$1 token=$2 verb=$3 payload=${4:-}; shift 3; [ $# -gt 0 ] && shift
  local auth=()
  [ -n "$token" ] && auth=(--token "$token")
  iso call --addr "$addr" "${auth[@]}" "$@" "$verb" "$payload"
}

# field LINE KEY: one key of a "CODE result" line's result grammar.
field() {
  /usr/bin/python3 -c '
import sys
line, key = sys.argv[1], sys.argv[2]
result = line.split(" ", 1)[1] if " " in line else ""
out, last = {}, None
for tok in result.split(","):
    if ":" in tok:
        last, v = tok.split(":", 1); out[last] = v
    elif last is not None:
        out[last] += "," + tok
print(out.get(key, ""), end="")' "$1" "$2"
}

# has TEXT NEEDLE...: TEXT holds every NEEDLE (else says what it got).
has() {
  local text=$1 n; shift
  for n in "$@"; do
    [[ "$text" == *"$n"* ]] || { echo "       got: ${text:0:400}"; return 1; }
  done
}

# counter PORT 'name{labels}': the sample's value through cam-exporter, 0 when absent.
counter() {
  local v
  v=$(scrape "$1" 2>/dev/null | awk -v m="$2" '$1 == m { print $2; exit }')
  echo "${v:-0}"
}

# iso_certs DIR: a CA and what the tests present to a kernel that trusts it.
#   ca.pem ca-key.pem        the kernel's client CA (it signs the server cert too)
#   server.pem server-key.pem   localhost, 127.0.0.1
#   agent-c.pem/-key.pem     URI SAN spiffe://cam-os/agent/agent-c (CN says something else)
#   cn-only.pem/-key.pem     subject CN=agent-cn, no SAN
#   expired.pem/-key.pem     spiffe://cam-os/agent/agent-c, valid 2020-01-01..2020-01-02
#   foreign.pem/-key.pem     spiffe://cam-os/agent/agent-c, signed by another CA
#   other-domain.pem/-key.pem   spiffe://other-domain/agent/agent-c
#   agent-a-cert.pem/-key.pem   spiffe://cam-os/agent/agent-a
#   root-cert.pem/-key.pem   spiffe://cam-os/agent/root
iso_certs() {
  local d=$1 name
  mkdir -p "$d/db"
  key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
  key "$d/ca-key.pem"; key "$d/other-ca-key.pem"
  openssl req -x509 -new -key "$d/ca-key.pem" -days 3 -subj "/CN=CAM-OS isolation test CA" \
    -out "$d/ca.pem" 2>/dev/null
  openssl req -x509 -new -key "$d/other-ca-key.pem" -days 3 -subj "/CN=Some other CA" \
    -out "$d/other-ca.pem" 2>/dev/null
  # sign NAME CA SUBJECT EXTENSIONS [DAYS]
  sign() {
    key "$d/$1-key.pem"
    openssl req -new -key "$d/$1-key.pem" -subj "$3" -out "$d/$1.csr" 2>/dev/null
    printf '%s\n' "$4" >"$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2-key.pem" \
      -CAcreateserial -days "${5:-2}" -extfile "$d/$1.ext" -out "$d/$1.pem" 2>/dev/null
  }
  local client="basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=clientAuth"
  sign server ca "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
  sign agent-c ca "/CN=not-the-caller" "$client
subjectAltName=URI:spiffe://cam-os/agent/agent-c"
  sign agent-a-cert ca "/CN=agent-a" "$client
subjectAltName=URI:spiffe://cam-os/agent/agent-a"
  sign root-cert ca "/CN=root" "$client
subjectAltName=URI:spiffe://cam-os/agent/root"
  sign cn-only ca "/CN=agent-cn" "$client"
  sign foreign other-ca "/CN=agent-c" "$client
subjectAltName=URI:spiffe://cam-os/agent/agent-c"
  sign other-domain ca "/CN=agent-c" "$client
subjectAltName=URI:spiffe://other-domain/agent/agent-c"
  # An expired one: `openssl ca` takes dates in the past.
  : >"$d/db/index.txt"; echo 1000 >"$d/db/serial"
  cat >"$d/db/ca.cnf" <<CNF
[ ca ]
default_ca = test
[ test ]
dir = $d/db
database = $d/db/index.txt
serial = $d/db/serial
new_certs_dir = $d/db
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[ anything ]
commonName = supplied
[ ext ]
$client
subjectAltName=URI:spiffe://cam-os/agent/agent-c
CNF
  key "$d/expired-key.pem"
  openssl req -new -key "$d/expired-key.pem" -subj "/CN=agent-c" -out "$d/expired.csr" 2>/dev/null
  openssl ca -batch -config "$d/db/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca-key.pem" \
    -startdate 20200101000000Z -enddate 20200102000000Z -extensions ext \
    -in "$d/expired.csr" -out "$d/expired.pem" >/dev/null 2>&1
  for name in server agent-c agent-a-cert root-cert cn-only foreign other-domain expired; do
    [ -s "$d/$name.pem" ] || { echo "iso_certs: $name.pem was not made" >&2; return 1; }
  done
}

# iso_client_cert DIR NAME CALLER: one more client certificate from DIR's CA,
# DIR/NAME.pem and DIR/NAME-key.pem, naming spiffe://cam-os/agent/CALLER.
iso_client_cert() {
  local d=$1 n=$2
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$n-key.pem" 2>/dev/null
  openssl req -new -key "$d/$n-key.pem" -subj "/CN=$3" -out "$d/$n.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://cam-os/agent/%s\n' "$3" >"$d/$n.ext"
  openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
    -days 2 -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null
  [ -s "$d/$n.pem" ]
}
