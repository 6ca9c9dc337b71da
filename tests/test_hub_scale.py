"""Scale and leaks: 100,000 concurrent greenlets; no growth over many spawn/join."""
import gc
import os

import pytest

from _hubtest import clean_hub, gc_lib  # noqa: F401 -- fixtures

# 100,000 greenlets and a million spawns take minutes under the sanitizers
pytestmark = pytest.mark.no_sanitizer('scale: too slow under the sanitizers for their time box')


@pytest.mark.timeout(60)
def test_one_hundred_thousand_concurrent_greenlets(gc_lib):
    ev = gc_lib.event.Event()
    count = [0]

    def worker():
        ev.wait()
        count[0] += 1

    gs = [gc_lib.top.spawn(worker) for _ in range(100_000)]
    gc_lib.top.sleep(0)
    assert count[0] == 0 and all(g.started and not g.dead for g in gs[::1000])
    ev.set()
    gc_lib.top.joinall(gs)
    assert count[0] == 100_000


def _live_objects():
    gc.collect()
    return len(gc.get_objects())


def _spawn_join_batches(lib, batches, size=1000):
    spawn = lib.top.spawn
    joinall = lib.top.joinall
    for _ in range(batches):
        joinall([spawn(int, i) for i in range(size)])
    lib.top.sleep(0)


def _rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


@pytest.mark.timeout(120)
def test_a_million_spawn_and_join_leave_no_objects_or_memory_behind(gc_lib):
    _spawn_join_batches(gc_lib, 20)
    before, rss_before = _live_objects(), _rss_bytes()
    _spawn_join_batches(gc_lib, 1000)       # 1,000,000 greenlets
    after, rss_after = _live_objects(), _rss_bytes()
    assert after - before < 200, (before, after)
    # 16 bytes leaked per greenlet would be 16 MB
    assert rss_after - rss_before < 8 * 1024 * 1024, (rss_before, rss_after)


@pytest.mark.timeout(60)
def test_blocking_primitives_leave_no_objects_behind(gc_lib):
    ev = gc_lib.event.Event()
    q = gc_lib.queue.Queue()
    sem = gc_lib.lock.Semaphore(0)

    def cycle(n):
        for _ in range(n):
            ev.wait(0.0)
            try:
                q.get(timeout=0.0)
            except gc_lib.queue.Empty:
                pass
            sem.acquire(timeout=0.0)
            with gc_lib.timeout.Timeout(10):
                gc_lib.top.sleep(0)
            g = gc_lib.top.spawn(q.get)
            q.put(1)
            g.join()

    cycle(200)
    gc_lib.top.sleep(0)
    before = _live_objects()
    cycle(2000)
    gc_lib.top.sleep(0)
    after = _live_objects()
    assert after - before < 200, (before, after)
