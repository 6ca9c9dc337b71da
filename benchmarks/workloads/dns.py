"""Name resolution: gevent_c's c-ares resolver against gevent's.

Both resolvers are pointed at the test DNS server (``tests/dnsserver.py``),
run in its own process so its Python thread does not share a GIL with the
measured one. It answers ``hN.bench.test`` with generated records. Every
body asks for names no earlier body of the same process asked for, so
neither c-ares nor the server answers from a warm entry.

The thread resolvers call libc's getaddrinfo, which asks the servers in
/etc/resolv.conf on port 53. Their worker process (root only) moves itself
into private mount and network namespaces first, bind-mounts a resolv.conf
naming 127.0.0.1 there and runs the server on port 53 of its own loopback,
so the host's resolver configuration and network are never touched.
Without root or unshare they are n/a; ``python3 tests/dnsserver.py
bench-ns`` measures the same by hand.
"""
import ctypes
import errno
import importlib
import itertools
import os
import tempfile
import socket as stdsocket
import subprocess
import sys
from time import perf_counter as clock

from ..registry import Unavailable, check, workload

CONCURRENCY = 100
SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tests", "dnsserver.py")
_next_name = itertools.count()


_private = []  # non-empty once this process is in its own namespaces
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
RESOLV_CONF = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"


def _enter_private_namespaces():
    """Let libc's resolver reach a server on 127.0.0.1:53 in this process only."""
    if _private:
        return
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise Unavailable("the thread resolver run needs root (private namespaces)")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise Unavailable(f"unshare: {errno.errorcode.get(err, err)}")
    # private first, so the bind mount below cannot propagate to the host
    if subprocess.run(["mount", "--make-rprivate", "/"],
                      capture_output=True).returncode:
        raise Unavailable("mount --make-rprivate / failed")
    fd, conf = tempfile.mkstemp(suffix=".conf")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(RESOLV_CONF)
        if subprocess.run(["mount", "--bind", conf, "/etc/resolv.conf"],
                          capture_output=True).returncode:
            raise Unavailable("mount --bind of resolv.conf failed")
    finally:
        os.unlink(conf)  # the bind mount keeps the file's contents alive
    _private.append(True)


def _start_server(*args):
    if not os.path.exists(SERVER):
        raise Unavailable(f"no test DNS server at {SERVER}")
    proc = subprocess.Popen([sys.executable, SERVER, "serve", *args],
                            stdout=subprocess.PIPE)
    try:
        return proc, int(proc.stdout.readline())
    except ValueError:
        proc.kill()
        proc.wait()
        raise Unavailable("the test DNS server did not start") from None


def _lookups(gevent, resolver, n):
    """Seconds for n getaddrinfo calls spread over CONCURRENCY greenlets."""
    names = [f"h{next(_next_name)}.bench.test" for _ in range(n)]
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
    check(len(done) == n, f"{len(done)} of {n} lookups finished")
    check(all(info and info[0][4][0].startswith("10.") for info in done),
          "a lookup returned no 10.x address")
    return elapsed


w = workload("dns.getaddrinfo_ares",
             f"getaddrinfo(AF_INET, SOCK_STREAM) of N distinct names by "
             f"{CONCURRENCY} greenlets, c-ares resolver, against "
             "tests/dnsserver.py over UDP (per lookup)",
             n=10_000, quick_n=1_000)


@w.body("hub")
def getaddrinfo_ares(gevent, n):
    proc, port = _start_server()
    resolver = None
    try:
        ares = importlib.import_module(gevent.resolver.__name__ + ".ares")
        resolver = ares.Resolver(servers=["127.0.0.1"], udp_port=port)
        return _lookups(gevent, resolver, n)
    finally:
        if resolver is not None:
            resolver.close()
        proc.kill()
        proc.wait()
        proc.stdout.close()


w = workload("dns.getaddrinfo_thread",
             f"the same with the thread resolver (libc getaddrinfo in the "
             "hub's threadpool), in private namespaces where resolv.conf "
             "names the test server; root only (per lookup)",
             n=10_000, quick_n=1_000)


@w.body("hub")
def getaddrinfo_thread(gevent, n):
    _enter_private_namespaces()
    proc, _ = _start_server("53")
    resolver = None
    try:
        thread = importlib.import_module(gevent.resolver.__name__ + ".thread")
        resolver = thread.Resolver(hub=gevent.get_hub())
        return _lookups(gevent, resolver, n)
    finally:
        if resolver is not None:
            resolver.close()
        proc.kill()
        proc.wait()
        proc.stdout.close()
