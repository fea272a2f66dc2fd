#!/usr/bin/python3
# Checks every #include "..." of the C sources against the include graph in
# tests/layers.conf: an include that points up (or sideways where the graph
# does not allow it) fails. Prints each offence and "layers: N passed, N
# failed" (one check per source file).
#
# SPDX-License-Identifier: Apache-2.0
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def load(path):
    # "module uses..."; a line that starts with blanks continues the one above.
    graph, last = {}, None
    with open(path) as f:
        for raw in f:
            words = raw.split('#', 1)[0].split()
            if not words:
                continue
            if raw[0].isspace() and last:
                graph[last] += words
                continue
            if words[0] in graph:
                sys.exit(f"{path}: {words[0]} is listed twice")
            last = words[0]
            graph[last] = words[1:]
    return graph


def within(path, m):
    # A folder holds what is under it; "kernel/publisher" holds
    # kernel/publisher.c and kernel/publisher.h.
    return path == m or path.startswith(m + '/') or path.startswith(m + '.')


def module_of(path, graph):
    best = None
    for m in graph:
        if within(path, m):
            if best is None or len(m) > len(best):
                best = m
    return best


def allowed(target, own, uses):
    return within(target, own) or any(within(target, u) for u in uses)


def main():
    graph = load(os.path.join(ROOT, 'tests', 'layers.conf'))
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard',
                            '*.c', '*.h'], cwd=ROOT, check=True, capture_output=True,
                           text=True).stdout.split()
    files = sorted(f for f in set(files) if os.path.exists(os.path.join(ROOT, f)))
    passed = failed = 0
    for path in files:
        if path.startswith('tests/'):
            continue  # tests may reach anything they test
        own = module_of(path, graph)
        bad = []
        if own is None:
            bad.append(f"{path}: in no module of tests/layers.conf")
        else:
            with open(os.path.join(ROOT, path), errors='replace') as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m and not allowed(m.group(1), own, graph[own]):
                        bad.append(f"{path}:{n}: includes {m.group(1)}, which {own} "
                                   "may not use (tests/layers.conf)")
        if bad:
            failed += 1
            print('\n'.join(bad))
        else:
            passed += 1
    print(f"layers: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
