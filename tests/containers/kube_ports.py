#!/usr/bin/python3
"""Makes a Kubernetes manifest playable by `podman kube play` on loopback.

podman 4.3 publishes a container port only when it has a hostPort (it has
no Services, and no --publish for kube play), so each named port gets the
host port given on the command line, bound to 127.0.0.1; the Deployment is
renamed so two runs on one machine do not collide. Everything else is
passed as it is, the kinds kube play does not model included (it skips
them: Namespace, ServiceAccount, Service).

usage: kube_ports.py IN OUT NAME PORTNAME=HOSTPORT...

SPDX-License-Identifier: Apache-2.0
"""
import sys

import yaml


def main():
    src, out, name = sys.argv[1:4]
    ports = dict(a.split("=", 1) for a in sys.argv[4:])
    docs = [d for d in yaml.safe_load_all(open(src)) if d]
    seen = set()
    for d in docs:
        if d.get("kind") != "Deployment":
            continue
        d["metadata"]["name"] = name
        for c in d["spec"]["template"]["spec"]["containers"]:
            for p in c.get("ports", []):
                if p.get("name") in ports:
                    p["hostPort"] = int(ports[p["name"]])
                    p["hostIP"] = "127.0.0.1"
                    seen.add(p["name"])
    missing = set(ports) - seen
    if missing:
        sys.exit("no container port named " + ", ".join(sorted(missing)))
    with open(out, "w") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)


main()
