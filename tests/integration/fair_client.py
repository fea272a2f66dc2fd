#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Fair share of a scheduler class among agents, with Debian's grpcio.

An independent client: SyscallRequest messages are hand-encoded (verb 1,
payload 2, caller_id 3, priority 5) and sent as raw bytes, so nothing is
generated from the kernel's .proto. Each agent has a channel (a connection)
of its own. An agent is a bearer token ("tok:SECRET"), a client certificate
("cert:PATH" for PATH.pem and PATH-key.pem) or, for an anonymous kernel, a
caller_id ("id:NAME"). With FAIR_TLS_CA=CA.pem in the environment the
channels are TLS (ADDR then localhost:PORT). The calls are `ping` with
`delay_ms`, so they queue for the workers in class normal. Prints one JSON
line.

usage:
  fair_client.py ADDR ping AGENT
      One plain ping as AGENT: exits 0 when it succeeds (a kernel is up).
  fair_client.py ADDR flood FLOODER AGENT,AGENT,... [CALLS] [DELAY_MS]
      The flooder keeps 60 calls in flight, without pause,
      while each other agent makes CALLS calls (default 10) one after the
      other; then the flooder stops. Codes, latencies and the first
      refusal's text for both sides.
  fair_client.py ADDR bench FLOODER AGENT,AGENT,... RATE SECONDS DELAY_MS PHASES
      Open loop: each agent sends RATE calls/s, the flooder 10 x RATE.
      PHASES is a word of n (the agents alone) and f (with the flooder),
      e.g. nfnf; SECONDS each. Per phase kind: the agents' success rate,
      p50/p99/max latency; the flooder's calls sent, succeeded, refused;
      and when each phase began and ended (wall clock). Sends are Poisson
      arrivals, seeded: each run sends the same pattern.
"""
import json
import os
import random
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


def request(verb, payload, caller=''):
    msg = _string(1, verb) + _string(2, payload)
    if caller:
        msg += _string(3, caller)
    return msg + bytes([5 << 3]) + _varint(5)  # priority 5: class normal


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


class Agent:
    """One agent: its connection, its identity, its ping body."""

    def __init__(self, addr, who, delay_ms):
        import grpc
        kind, _, value = who.partition(':')
        ca = os.environ.get('FAIR_TLS_CA')
        if ca:
            key = chain = None
            if kind == 'cert':
                key, chain = _read(value + '-key.pem'), _read(value + '.pem')
            creds = grpc.ssl_channel_credentials(_read(ca), key, chain)
            self.channel = grpc.secure_channel(addr, creds)
        else:
            self.channel = grpc.insecure_channel(addr)
        self.stub = self.channel.unary_unary(METHOD)
        self.metadata = [('authorization', 'Bearer ' + value)] if kind == 'tok' else []
        self.body = request('ping', 'delay_ms:%d' % delay_ms, value if kind == 'id' else '')

    def call(self, timeout=30):
        """(code name, seconds, details)."""
        import grpc
        t0 = time.monotonic()
        try:
            self.stub(self.body, timeout=timeout, metadata=self.metadata)
            return 'OK', time.monotonic() - t0, ''
        except grpc.RpcError as e:
            return e.code().name, time.monotonic() - t0, e.details()

    def send(self, done, timeout=30):
        """Starts one call; done(code, seconds, details) when it ends."""
        t0 = time.monotonic()
        fut = self.stub.future(self.body, timeout=timeout, metadata=self.metadata)

        def finished(f):
            secs = time.monotonic() - t0
            err = f.exception()
            if err is None:
                done('OK', secs, '')
            else:
                done(err.code().name, secs, err.details())
        fut.add_done_callback(finished)

    def close(self):
        self.channel.close()


class Tally:
    """Codes and latencies of a side, from any thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.codes, self.ok_secs, self.first = {}, [], {}

    def add(self, code, secs, details):
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1
            if code == 'OK':
                self.ok_secs.append(secs)
            elif code not in self.first:
                self.first[code] = details

    def summary(self):
        with self.lock:
            s = sorted(self.ok_secs)
            total = sum(self.codes.values())

            def pct(p):
                return round(s[min(len(s) - 1, int(len(s) * p))] * 1000, 2) if s else None
            return {'calls': total, 'codes': dict(self.codes), 'first_refusal': dict(self.first),
                    'success_rate': round(self.codes.get('OK', 0) / total, 4) if total else None,
                    'p50_ms': pct(0.50), 'p99_ms': pct(0.99),
                    'max_ms': round(s[-1] * 1000, 2) if s else None}


def scenario_flood(addr, flooder, agents, calls, delay_ms):
    flood, others = Tally(), Tally()
    stop = threading.Event()
    fa = Agent(addr, flooder, delay_ms)
    flood_done = []  # when each of the flooder's calls succeeded

    def flood_loop():
        while not stop.is_set():
            code, secs, details = fa.call()
            flood.add(code, secs, details)
            if code == 'OK':
                flood_done.append(time.monotonic())
            else:
                time.sleep(0.002)  # a refusal is at once: do not spin the CPU

    def agent_loop(who):
        a = Agent(addr, who, delay_ms)
        for _ in range(calls):
            others.add(*a.call())
        a.close()

    floods = [threading.Thread(target=flood_loop) for _ in range(60)]
    for t in floods:
        t.start()
    time.sleep(0.5)  # the flooder's share is full before the others start
    workers = [threading.Thread(target=agent_loop, args=(w,)) for w in agents]
    t0 = time.monotonic()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    elapsed = time.monotonic() - t0
    stop.set()
    for t in floods:
        t.join()
    fa.close()
    during = sum(1 for t in list(flood_done) if t0 <= t <= t0 + elapsed)
    return {'flood': flood.summary(), 'others': others.summary(),
            'others_seconds': round(elapsed, 2), 'flood_ok_while_others_ran': during}


class Inflight:
    """Calls sent and not answered yet."""

    def __init__(self):
        self.cond, self.n = threading.Condition(), 0

    def add(self, k):
        with self.cond:
            self.n += k
            self.cond.notify_all()

    def wait_zero(self):
        with self.cond:
            self.cond.wait_for(lambda: self.n == 0)


def paced(agent, rate, seconds, tally, inflight, seed):
    """Sends rate calls/s for seconds, on schedule whatever the answers: a
    Poisson process (independent agents; evenly spaced sends of agents
    started together would arrive in bursts)."""
    rng, t0 = random.Random(seed), time.monotonic()
    due = t0

    def done(code, secs, details):
        tally.add(code, secs, details)
        inflight.add(-1)
    while True:
        due += rng.expovariate(rate)
        if due >= t0 + seconds:
            return
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        inflight.add(1)
        agent.send(done)


def scenario_bench(addr, flooder, agents, rate, seconds, delay_ms, phases):
    results = {'n': Tally(), 'f': Tally(), 'flood': Tally()}
    spans = []
    conns = [Agent(addr, w, delay_ms) for w in agents]
    fa = Agent(addr, flooder, delay_ms)
    for a in conns + [fa]:  # connections up before anything is timed
        a.call()
    inflight = Inflight()
    for k, ph in enumerate(phases):
        start = time.time()
        threads = [threading.Thread(target=paced, args=(a, rate, seconds, results[ph], inflight,
                                                        100 * k + i))
                   for i, a in enumerate(conns)]
        if ph == 'f':
            threads.append(threading.Thread(target=paced,
                                            args=(fa, 10 * rate, seconds, results['flood'],
                                                  inflight, 100 * k + 99)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        inflight.wait_zero()  # every answer in before the next phase
        spans.append([ph, start, time.time()])
    for a in conns + [fa]:
        a.close()
    return {'no_flood': results['n'].summary(), 'flood': results['f'].summary(),
            'flooder': results['flood'].summary(), 'phases': spans}


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[1] == 'ping':
        code, _, details = Agent(args[0], args[2], 0).call(timeout=2)
        sys.exit(0 if code == 'OK' else '%s %s' % (code, details))
    if len(args) >= 4 and args[1] == 'flood':
        out = scenario_flood(args[0], args[2], args[3].split(','),
                             int(args[4]) if len(args) > 4 else 10,
                             int(args[5]) if len(args) > 5 else 20)
    elif len(args) == 8 and args[1] == 'bench':
        out = scenario_bench(args[0], args[2], args[3].split(','), float(args[4]),
                             float(args[5]), int(args[6]), args[7])
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
