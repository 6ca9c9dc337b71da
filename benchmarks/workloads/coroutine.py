"""Coroutine workloads: gevent_c._greenlet against the greenlet package.

Both modules offer ``greenlet`` and ``getcurrent`` with the same
behaviour, so each body takes the module.
"""
import gc
from time import perf_counter as clock

from ..registry import check, rss_bytes, workload

C_DEPTH = 20


def nest_in_c(depth, fn):
    """Call ``fn`` under ``depth`` levels of C calls back into Python.

    CPython 3.11+ runs Python-to-Python calls without growing the C stack;
    a call made from C code (here ``map``) re-enters the interpreter and so
    puts real C frames on the stack a greenlet switch has to deal with.
    """
    if depth == 0:
        return fn()
    return list(map(lambda _: nest_in_c(depth - 1, fn), (None,)))[0]


def pingpong(gl, n, depth):
    main = gl.getcurrent()

    def loop():
        back = main.switch
        for _ in range(n + 1):
            back()
        return "finished"

    child = gl.greenlet(lambda: nest_in_c(depth, loop))
    switch = child.switch
    switch()  # starts the child and builds its C stack: not measured
    t0 = clock()
    for _ in range(n):
        switch()
    elapsed = clock() - t0
    check(switch() == "finished" and child.dead, "ping-pong did not finish")
    return elapsed


w = workload("coroutine.switch",
             "switch round trip main -> greenlet -> main",
             n=200_000, quick_n=10_000)


@w.body("coroutine")
def switch(gl, n):
    return pingpong(gl, n, 0)


w = workload("coroutine.switch_deep",
             f"switch round trip into a greenlet {C_DEPTH} C calls deep",
             n=200_000, quick_n=10_000)


@w.body("coroutine")
def switch_deep(gl, n):
    return pingpong(gl, n, C_DEPTH)


w = workload("coroutine.create_run",
             "create + first switch + finish (per greenlet)",
             n=100_000, quick_n=10_000)


@w.body("coroutine")
def create_run(gl, n):
    greenlet = gl.greenlet

    def run():
        return 1

    total = 0
    t0 = clock()
    for _ in range(n):
        total += greenlet(run).switch()
    elapsed = clock() - t0
    check(total == n, f"{total} of {n} greenlets returned")
    return elapsed


w = workload("coroutine.memory_suspended",
             "memory per suspended greenlet (RSS growth, lower is better)",
             n=100_000, quick_n=10_000, unit="B", warmup=False)


@w.body("coroutine")
def memory_suspended(gl, n):
    main = gl.getcurrent()

    def run():
        main.switch()

    greenlet = gl.greenlet
    kept = [None] * n
    gc.collect()
    before = rss_bytes()
    for i in range(n):
        g = greenlet(run)
        g.switch()
        kept[i] = g
    after = rss_bytes()
    check(all(g and not g.dead for g in kept), "a greenlet is not suspended")
    return after - before
