"""Name resolution: gevent_c's c-ares resolver against gevent's.

Both resolvers are pointed at the test DNS server (``tests/dnsserver.py``),
run in its own process so its Python thread does not share a GIL with the
measured one. It answers ``hN.bench.test`` with generated records. Every
body asks for names no earlier body of the same process asked for, so
neither c-ares nor the server answers from a warm entry. The thread
resolvers need libc to reach that server, which only works inside private
namespaces: ``python3 tests/dnsserver.py bench-ns`` measures them by hand.
"""
import importlib
import itertools
import os
import socket as stdsocket
import subprocess
import sys
from time import perf_counter as clock

from ..registry import Unavailable, check, workload

CONCURRENCY = 100
SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tests", "dnsserver.py")
_next_name = itertools.count()


def _start_server():
    if not os.path.exists(SERVER):
        raise Unavailable(f"no test DNS server at {SERVER}")
    proc = subprocess.Popen([sys.executable, SERVER, "serve"],
                            stdout=subprocess.PIPE)
    try:
        return proc, int(proc.stdout.readline())
    except ValueError:
        proc.kill()
        proc.wait()
        raise Unavailable("the test DNS server did not start") from None


w = workload("dns.getaddrinfo_ares",
             f"getaddrinfo(AF_INET, SOCK_STREAM) of N distinct names by "
             f"{CONCURRENCY} greenlets, c-ares resolver, against "
             "tests/dnsserver.py over UDP (per lookup)",
             n=10_000, quick_n=1_000)


@w.body("hub")
def getaddrinfo_ares(gevent, n):
    names = [f"h{next(_next_name)}.bench.test" for _ in range(n)]
    proc, port = _start_server()
    resolver = None
    try:
        ares = importlib.import_module(gevent.resolver.__name__ + ".ares")
        resolver = ares.Resolver(servers=["127.0.0.1"], udp_port=port)
        done = []

        def worker(chunk):
            getaddrinfo = resolver.getaddrinfo
            for name in chunk:
                done.append(getaddrinfo(name, 80, stdsocket.AF_INET,
                                        stdsocket.SOCK_STREAM))

        chunks = [names[i::CONCURRENCY] for i in range(CONCURRENCY)]
        t0 = clock()
        gevent.joinall([gevent.spawn(worker, c) for c in chunks if c])
        elapsed = clock() - t0
    finally:
        if resolver is not None:
            resolver.close()
        proc.kill()
        proc.wait()
        proc.stdout.close()
    check(len(done) == n, f"{len(done)} of {n} lookups finished")
    check(all(info and info[0][4][0].startswith("10.") for info in done),
          "a lookup returned no 10.x address")
    return elapsed
