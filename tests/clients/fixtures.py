# SPDX-License-Identifier: Apache-2.0
"""The Python harness's kernels for tests in other languages.

    python3 fixtures.py main auth tls mtls

starts the named fixtures (kernel.py), prints one JSON line with their
addresses, the tokens and the test PKI's files, then waits: when its
standard input closes (the test process ended, however) it stops them all.
"""
import json
import sys

import kernel

STARTERS = {
    "main": kernel.main_kernel,
    "auth": kernel.auth_kernel,
    "tls": kernel.tls_kernel,
    "mtls": kernel.mtls_kernel,
}


def main(names):
    out = {name: {"address": STARTERS[name]().address} for name in names}
    p = kernel.pki()
    out["pki"] = {f: p.path(f + ".pem") for f in ("ca", "other-ca", "client", "client-key")}
    out["pki"].update(server_name=kernel.Pki.SERVER_NAME, client_name=kernel.Pki.CLIENT)
    out["tokens"] = {"admin": kernel.ADMIN_TOKEN, "reader": kernel.READER_TOKEN}
    out["tmp"] = kernel.TMP
    print(json.dumps(out), flush=True)
    sys.stdin.read()  # until the parent closes it or dies


if __name__ == "__main__":
    main(sys.argv[1:])
