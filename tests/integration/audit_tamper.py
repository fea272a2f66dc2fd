#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Tampered copies of an audit trail, and the seals checked with openssl.

usage: audit_tamper.py copies DIR FILE...
           writes DIR/<case>/ with the trail's files, each case with one kind
           of tampering, and prints "<case> <files...>" per case:
             edited   one byte changed in a middle line
             removed  a middle line removed
             swapped  two lines swapped
             cut      the file cut a few bytes after a seal (mid-line)
             resigned a seal's signature made again by another key (openssl)
       audit_tamper.py seals PUBKEY FILE...
           checks every seal's signature with openssl alone, building the
           bytes the TPM signed as common/audit_chain.h says; prints the
           number checked, exit 1 on the first that fails.
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile


def lines_of(paths):
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(f.read().split(b"\n")[:-1])
    return out


def write_case(root, case, paths, files):
    d = os.path.join(root, case)
    os.makedirs(d, exist_ok=True)
    names = []
    for p, ls in zip(paths, files):
        n = os.path.join(d, os.path.basename(p))
        with open(n, "wb") as f:
            f.write(b"\n".join(ls) + (b"\n" if ls else b""))
        names.append(n)
    return names


def signed_bytes(seal):
    """What openssl's dgst -sha256 must hash to get what the TPM signed."""
    m = "cam-os audit seal v1\n%s\n%d\n" % (seal["sealed"], seal["lines"])
    d = hashlib.sha256(m.encode()).digest()
    return d + struct.pack(">QII", seal["tpm_clock"], seal["tpm_reset_count"],
                           seal["tpm_restart_count"])


def is_seal(obj):
    return obj.get("event") == "seal" or obj.get("event.action") == "seal"


def copies(root, paths):
    files = lines_of(paths)
    biggest = max(range(len(files)), key=lambda i: len(files[i]))
    ls = files[biggest]
    mid = len(ls) // 2

    def variant(fn):
        fs = [list(x) for x in files]
        fn(fs[biggest])
        return fs

    def edit(x):
        b = bytearray(x[mid])
        i = b.find(b'"principal":"') + 14
        b[i] = ord("X") if b[i] != ord("X") else ord("Y")
        x[mid] = bytes(b)

    def swap(x):
        x[mid], x[mid + 1] = x[mid + 1], x[mid]

    print("edited " + " ".join(write_case(root, "edited", paths, variant(edit))))
    print("removed " + " ".join(write_case(root, "removed", paths, variant(lambda x: x.pop(mid)))))
    print("swapped " + " ".join(write_case(root, "swapped", paths, variant(swap))))
    # cut: the last file ends a few bytes into the line after its first seal
    fs = [list(x) for x in files]
    for fi, x in enumerate(fs):
        seals = [i for i, line in enumerate(x) if is_seal(json.loads(line))]
        if seals and seals[0] + 1 < len(x):
            s = seals[0]
            cut = x[:s + 1] + [x[s + 1][:12]]
            names = write_case(root, "cut", paths[:fi + 1], fs[:fi] + [cut])
            with open(names[-1], "rb+") as f:   # no newline after the cut line
                f.truncate(os.path.getsize(names[-1]) - 1)
            print("cut " + " ".join(names))
            break
    # resigned: a seal signed again by a key that is not the TPM's
    fs = [list(x) for x in files]
    for x in fs:
        for i, line in enumerate(x):
            obj = json.loads(line)
            if not is_seal(obj):
                continue
            with tempfile.TemporaryDirectory() as t:
                key, msg, sig = (os.path.join(t, n) for n in ("k.pem", "m.bin", "s.der"))
                subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey",
                                "-noout", "-out", key], check=True)
                open(msg, "wb").write(signed_bytes(obj))
                subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, "-out", sig, msg],
                               check=True)
                new = open(sig, "rb").read().hex()
            x[i] = line.replace(obj["signature"].encode(), new.encode())
            print("resigned " + " ".join(write_case(root, "resigned", paths, fs)))
            return 0
    print("no seal to re-sign", file=sys.stderr)
    return 1


def seals(pub, paths):
    n = 0
    for ls in lines_of(paths):
        for line in ls:
            obj = json.loads(line)
            if not is_seal(obj):
                continue
            with tempfile.TemporaryDirectory() as t:
                msg, sig = os.path.join(t, "m.bin"), os.path.join(t, "s.der")
                open(msg, "wb").write(signed_bytes(obj))
                open(sig, "wb").write(bytes.fromhex(obj["signature"]))
                r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature",
                                    sig, msg], capture_output=True, text=True)
                if r.returncode != 0:
                    print("seal of line %d: %s" % (obj["lines"], r.stdout + r.stderr))
                    return 1
            n += 1
    print(n)
    return 0


def main():
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "copies":
        return copies(a[1], a[2:])
    if len(a) >= 3 and a[0] == "seals":
        return seals(a[1], a[2:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
