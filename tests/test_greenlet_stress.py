"""Many greenlets, long runs without leaks, coexistence with `greenlet`."""
import gc
import subprocess
import sys

import pytest

from gevent_c._greenlet import greenlet, getcurrent


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.timeout(60)
def test_100000_suspended_greenlets_alive_at_once():
    main = getcurrent()
    gs = []
    for i in range(100000):
        g = greenlet(lambda i=i: main.switch(i) * 2)
        assert g.switch() == i
        gs.append(g)
    for i, g in enumerate(gs[::997]):
        assert g.switch(3) == 6 and g.dead
    del gs
    gc.collect()


def _switch_loop(n):
    main = getcurrent()

    def run():
        sw = main.switch
        x = None
        while x != "stop":
            x = sw(x)
    g = greenlet(run)
    g.switch()
    for i in range(n):
        g.switch(i)
    g.switch("stop")


def _create_loop(n):
    for i in range(n):
        greenlet(lambda a, b=None: (a, b)).switch(i, b=i)


def _measure(fn, n):
    fn(n // 10)            # warm caches and allocator pools
    gc.collect()
    before = (_rss(), len(gc.get_objects()), sys.getallocatedblocks())
    fn(n)
    gc.collect()
    after = (_rss(), len(gc.get_objects()), sys.getallocatedblocks())
    return [a - b for a, b in zip(after, before)]


@pytest.mark.no_sanitizer('RSS growth: the sanitizer keeps freed memory in quarantine')
@pytest.mark.timeout(120)
def test_no_leak_over_a_million_switches():
    rss, objs, blocks = _measure(_switch_loop, 1000000)
    assert objs < 100
    assert blocks < 1000
    assert rss < 8 * 1024 * 1024


@pytest.mark.no_sanitizer('RSS growth: the sanitizer keeps freed memory in quarantine')
@pytest.mark.timeout(120)
def test_no_leak_over_100000_created_and_finished_greenlets():
    rss, objs, blocks = _measure(_create_loop, 100000)
    assert objs < 100
    assert blocks < 1000
    assert rss < 8 * 1024 * 1024


@pytest.mark.no_sanitizer('RSS growth: the sanitizer keeps freed memory in quarantine')
@pytest.mark.timeout(120)
def test_no_leak_with_killed_and_thrown_greenlets():
    main = getcurrent()

    def churn(n):
        for i in range(n):
            g = greenlet(lambda: main.switch())
            g.switch()
            if i % 2:
                g.throw()
            # else: dropped while suspended, so it gets killed
    rss, objs, blocks = _measure(churn, 50000)
    assert objs < 100 and blocks < 1000
    assert rss < 8 * 1024 * 1024


@pytest.mark.no_sanitizer('RSS growth: the sanitizer keeps freed memory in quarantine')
@pytest.mark.timeout(120)
def test_no_leak_with_deep_greenlets_past_their_first_data_stack_chunk():
    main = getcurrent()

    def deep(n):
        if n:
            return deep(n - 1)
        main.switch()
        return 1

    def churn(n):
        for i in range(n):
            g = greenlet(deep)
            g.switch(60 + i % 40)
            assert g.switch() == 1
    rss, objs, blocks = _measure(churn, 20000)
    assert objs < 100 and blocks < 1000
    assert rss < 8 * 1024 * 1024


@pytest.mark.timeout(60)
def test_real_greenlet_package_coexists():
    code = r"""
import greenlet as real
from gevent_c._greenlet import greenlet, getcurrent
mine_main = getcurrent()
real_main = real.getcurrent()
log = []
def mine_run():
    for i in range(1000):
        log.append(("m", i))
        mine_main.switch()
def real_run():
    for i in range(1000):
        log.append(("r", i))
        real_main.switch()
m = greenlet(mine_run)
r = real.greenlet(real_run)
for i in range(1000):
    m.switch()
    r.switch()
    # nested: one kind running inside the other
    def inner():
        return real.greenlet(lambda: "real-in-mine").switch()
    assert greenlet(inner).switch() == "real-in-mine"
    assert real.greenlet(lambda: greenlet(lambda: "mine-in-real").switch()).switch() == "mine-in-real"
m.switch(); r.switch()
assert m.dead and r.dead
assert log[:4] == [("m", 0), ("r", 0), ("m", 1), ("r", 1)]
print("ok", len(log))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["ok", "2000"]


@pytest.mark.timeout(60)
def test_deep_suspended_greenlets_with_c_frames_survive_switch_storm():
    main = getcurrent()

    def key(x):
        main.switch()
        return x

    def run(depth):
        if depth:
            return sorted([depth], key=lambda v: run(depth - 1) or v)
        return list(map(key, range(3)))
    gs = [greenlet(run) for _ in range(50)]
    for i, g in enumerate(gs):
        g.switch(i % 7)
    while any(not g.dead for g in gs):
        for g in gs:
            if not g.dead:
                g.switch()
