#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Scheduler scenarios against a running cam-kernel, with Debian's grpcio.

An independent client: requests are hand-encoded SyscallRequest messages
(fields verb = 1, payload = 2, priority = 5) sent as raw bytes, so no code
is generated from the kernel's .proto. Each scenario prints one JSON line.

usage: sched_client.py ADDR full     one worker held, low queue filled by four
                                     callers (one call each: a quarter of the
                                     class is one caller's share): codes
       sched_client.py ADDR expire   a call that times out while queued
       sched_client.py ADDR order N  N calls per class queued behind a held
                                     worker: completion ranks per class
       sched_client.py body OUT VERB PAYLOAD [PRIORITY]   an h2load body
"""
import json
import struct
import sys
import threading
import time

METHOD = '/cam.SyscallService/Execute'


def _varint(n):
    out = b''
    while n >= 0x80:
        out += bytes([n & 0x7f | 0x80])
        n >>= 7
    return out + bytes([n])


def _string(num, s):
    data = s.encode()
    return bytes([num << 3 | 2]) + _varint(len(data)) + data


def request(verb, payload='', priority=None, caller=''):
    msg = _string(1, verb) + _string(2, payload)
    if caller:
        msg += _string(3, caller)
    if priority is not None:
        msg += bytes([5 << 3]) + _varint(priority)
    return msg


def response_fields(data):
    """Top-level string fields of a SyscallResponse: {number: str}."""
    out, i = {}, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        if key & 7 == 2:
            n, i = _read_varint(data, i)
            out[key >> 3] = data[i:i + n].decode()
            i += n
        elif key & 7 == 0:
            _, i = _read_varint(data, i)
        else:
            break
    return out


def _read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def call(stub, verb, payload='', priority=None, timeout=30, caller=''):
    """(code name, seconds, response fields or details)."""
    import grpc
    t0 = time.monotonic()
    try:
        resp = stub(request(verb, payload, priority, caller), timeout=timeout)
        return 'OK', time.monotonic() - t0, response_fields(resp)
    except grpc.RpcError as e:
        return e.code().name, time.monotonic() - t0, e.details()


def hold(stub, ms, priority=5):
    """Starts a call that keeps one worker busy for ms; returns its thread."""
    t = threading.Thread(target=call, args=(stub, 'ping', 'delay_ms:%d' % ms, priority))
    t.start()
    time.sleep(0.15)
    return t


# The queued calls ask for a worker (delay_ms): a plain ping never blocks,
# so it runs at once on the I/O thread when nothing of its class or a
# higher one waits, and would not queue at all.
def scenario_full(stub):
    blocker = hold(stub, 800)
    queued = [threading.Thread(target=call, args=(stub, 'ping', 'delay_ms:1,n:%d' % i, 1),
                               kwargs={'caller': 'filler-%d' % i})
              for i in range(4)]
    for t in queued:
        t.start()
    time.sleep(0.15)
    code, secs, _ = call(stub, 'ping', 'delay_ms:1,n:over', 1, caller='one-too-many')
    high, _, _ = call(stub, 'ping', 'n:high', 9, timeout=5)
    for t in queued + [blocker]:
        t.join()
    return {'over_limit': code, 'over_limit_seconds': round(secs, 3), 'high': high}


def scenario_expire(stub):
    blocker = hold(stub, 600)
    code, secs, _ = call(stub, 'ping', 'delay_ms:1,n:expire', 5, timeout=0.2,
                         caller='expired-in-queue')
    blocker.join()
    return {'code': code, 'seconds': round(secs, 3)}


def scenario_order(stub, n):
    done, lock = [], threading.Lock()
    blocker = hold(stub, 500)

    def one(cls, prio):
        code, _, _ = call(stub, 'ping', 'delay_ms:2', prio)
        with lock:
            done.append((cls, code))

    threads = []
    for _ in range(n):
        for cls, prio in (('high', 8), ('normal', 5), ('low', 1)):
            threads.append(threading.Thread(target=one, args=(cls, prio)))
    for t in threads:
        t.start()
    for t in threads + [blocker]:
        t.join()
    ranks = {'high': [], 'normal': [], 'low': []}
    for i, (cls, code) in enumerate(done):
        if code == 'OK':
            ranks[cls].append(i)
    out = {c: {'done': len(r), 'mean_rank': round(sum(r) / len(r), 1) if r else None,
               'first': min(r) if r else None, 'last': max(r) if r else None}
           for c, r in ranks.items()}
    out['low_before_last_high'] = sum(1 for r in ranks['low'] if r < max(ranks['high']))
    return out


def main():
    args = sys.argv[1:]
    if len(args) >= 4 and args[0] == 'body':
        msg = request(args[2], args[3], int(args[4]) if len(args) > 4 else None)
        with open(args[1], 'wb') as f:
            f.write(struct.pack('>BI', 0, len(msg)) + msg)
        return
    if len(args) < 2:
        sys.exit(__doc__)
    import grpc
    channel = grpc.insecure_channel(args[0])
    stub = channel.unary_unary(METHOD)
    if args[1] == 'full':
        out = scenario_full(stub)
    elif args[1] == 'expire':
        out = scenario_expire(stub)
    elif args[1] == 'order':
        out = scenario_order(stub, int(args[2]) if len(args) > 2 else 30)
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
