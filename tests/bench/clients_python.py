# SPDX-License-Identifier: Apache-2.0
"""CPU per call of camos against a bare grpcio stub making the same Execute
call (ping, msg:hello), side by side, blocking and asyncio.

The bare stub is the one grpc_tools generates (camos._proto.cam_pb2_grpc),
called with the same SyscallRequest and timeout; camos's figure includes
building the payload and reading the reply into a Pong. CPU is this
process's user+system time (getrusage) over the calls; the kernel runs in
another process. Rounds alternate which side goes first; each ratio is
taken within a round, and the median and range of the rounds are printed.

usage: clients_python.py HOST:PORT [ROUNDS] [CALLS]
"""
import asyncio
import resource
import statistics
import sys
import time

import grpc
import grpc.aio

import camos
import camos.aio
from camos._proto import cam_pb2, cam_pb2_grpc

CONCURRENCY = 32


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(run, calls):
    """(CPU us per call, wall us per call) of run(calls)."""
    c0, t0 = cpu(), time.perf_counter()
    run(calls)
    return (cpu() - c0) / calls * 1e6, (time.perf_counter() - t0) / calls * 1e6


def blocking_sides(addr):
    ch = grpc.insecure_channel(addr)
    stub = cam_pb2_grpc.SyscallServiceStub(ch)
    cam = camos.Client(addr)

    def bare(n):
        for _ in range(n):
            stub.Execute(cam_pb2.SyscallRequest(verb="ping", payload="msg:hello"), timeout=10)

    def lib(n):
        for _ in range(n):
            cam.ping({"msg": "hello"})
    return {"grpcio stub": bare, "camos.Client": lib}


def asyncio_sides(addr, loop):
    ch = grpc.aio.insecure_channel(addr)
    stub = cam_pb2_grpc.SyscallServiceStub(ch)
    cam = camos.aio.Client(addr)

    async def bare_worker(n):
        for _ in range(n):
            await stub.Execute(cam_pb2.SyscallRequest(verb="ping", payload="msg:hello"),
                               timeout=10)

    async def lib_worker(n):
        for _ in range(n):
            await cam.ping({"msg": "hello"})

    def runner(worker):
        def run(n):
            loop.run_until_complete(asyncio.gather(*(worker(n // CONCURRENCY)
                                                     for _ in range(CONCURRENCY))))
        return run
    return {"grpc.aio stub": runner(bare_worker), "camos.aio.Client": runner(lib_worker)}


def compare(title, sides, rounds, calls):
    (bare_name, bare), (lib_name, lib) = sides.items()
    for run in (bare, lib):  # warm up: connections, caches
        run(calls // 5)
    ratios, figures = [], {bare_name: [], lib_name: []}
    for r in range(rounds):
        order = [(bare_name, bare), (lib_name, lib)]
        if r % 2:
            order.reverse()
        got = {name: measure(run, calls) for name, run in order}
        for name in got:
            figures[name].append(got[name])
        ratios.append(got[lib_name][0] / got[bare_name][0])
    print("-- %s: %d rounds of %d calls" % (title, rounds, calls))
    for name, rows in figures.items():
        print("   %-18s CPU %6.1f us/call (range %.1f-%.1f), wall %6.1f us/call" % (
            name, statistics.median(x[0] for x in rows), min(x[0] for x in rows),
            max(x[0] for x in rows), statistics.median(x[1] for x in rows)))
    print("   ratio camos / bare CPU per call: median %.3f (range %.3f-%.3f; target <= 1.2)"
          % (statistics.median(ratios), min(ratios), max(ratios)))


def main():
    addr = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    compare("Python, blocking, one call at a time", blocking_sides(addr), rounds, calls)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # grpc.aio binds its channels to it
    compare("Python, asyncio, %d calls in flight" % CONCURRENCY, asyncio_sides(addr, loop),
            rounds, calls)


if __name__ == "__main__":
    main()
