"""Loop workloads: gevent_c._core against gevent's libev loop.

The reference is ``gevent.libev.corecext`` (what ``gevent.core`` is by
default). Both APIs are the same name for name, so each body takes the loop
module. Every body uses a fresh ``loop(default=False)`` so nothing a
previous import started on the default loop is measured.
"""
import socket
from time import perf_counter as clock

from ..registry import check, workload

READ = 1  # libev EV_READ, the same value in gevent.core and gevent_c._core

w = workload("core.run_callback",
             "run_callback: queue N callbacks, drain them with loop.run()",
             n=100_000, quick_n=5_000)


@w.body("core")
def run_callback(core, n):
    loop = core.loop(default=False)
    done = 0

    def callback():
        nonlocal done
        done += 1

    queue = loop.run_callback
    t0 = clock()
    for _ in range(n):
        queue(callback)
    loop.run()
    elapsed = clock() - t0
    check(done == n, f"{done} of {n} callbacks ran")
    return elapsed


w = workload("core.timer_start_stop",
             "timer watcher: start + stop (one watcher, N times)",
             n=100_000, quick_n=5_000)


@w.body("core")
def timer_start_stop(core, n):
    loop = core.loop(default=False)
    timer = loop.timer(60.0)

    def callback():
        pass

    start, stop = timer.start, timer.stop
    t0 = clock()
    for _ in range(n):
        start(callback)
        stop()
    elapsed = clock() - t0
    check(not timer.active, "timer still active after stop()")
    return elapsed


w = workload("core.io_start_stop",
             "io watcher on a socketpair fd: start + stop (N times)",
             n=100_000, quick_n=5_000)


@w.body("core")
def io_start_stop(core, n):
    loop = core.loop(default=False)
    a, b = socket.socketpair()
    try:
        watcher = loop.io(a.fileno(), READ)

        def callback():
            pass

        start, stop = watcher.start, watcher.stop
        t0 = clock()
        for _ in range(n):
            start(callback)
            stop()
        elapsed = clock() - t0
        check(not watcher.active, "io watcher still active after stop()")
        return elapsed
    finally:
        a.close()
        b.close()


w = workload("core.idle_iteration",
             "loop iteration driven by an idle watcher (per iteration)",
             n=100_000, quick_n=5_000)


@w.body("core")
def idle_iteration(core, n):
    loop = core.loop(default=False)
    idle = loop.idle()
    seen = 0

    def callback():
        nonlocal seen
        seen += 1
        if seen == n:
            idle.stop()

    idle.start(callback)
    t0 = clock()
    loop.run()
    elapsed = clock() - t0
    check(seen == n, f"idle callback ran {seen} times, expected {n}")
    return elapsed
