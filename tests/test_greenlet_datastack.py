"""Interpreter data-stack chunks of greenlets: a greenlet whose frames keep
running past its small root chunk and back gets correct results, and the
chunks CPython pushes for it are reused rather than piling up."""

import pytest

from _isolated import run_isolated


def run_child(body):
    return run_isolated(body, timeout=100)


PRELUDE = """
    import sys
    from gevent_c._greenlet import greenlet, getcurrent, _datastack_spares

    def depth(n):
        # a few locals per frame so that frames are not tiny
        a, b, c = n, n * 2, n * 3
        if n == 0:
            return 0
        return depth(n - 1) + 1 + (a + b + c) * 0

    def rss_kib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4
"""


@pytest.mark.timeout(100)
def test_long_lived_greenlet_crossing_its_root_chunk_keeps_memory_bounded():
    out = run_child(PRELUDE + """
    def worker():
        total = 0
        for i in range(40000):
            # deep enough to leave a 1 KiB root chunk, shallow enough to
            # fit in one pushed chunk; back out before any switch
            total += depth(30)
            if i == 2000:
                getcurrent().parent.switch(rss_kib())
        return total

    g = greenlet(worker)
    early = g.switch()
    total = g.switch()
    late = rss_kib()
    assert total == 40000 * 30, total
    # a leak of one 16 KiB chunk per crossing would be ~600 MiB here
    assert late - early < 8 * 1024, (early, late)
    if sys.version_info >= (3, 11):
        # the chunk popped last is kept for the next crossing
        assert 1 <= _datastack_spares() <= 8
    else:
        # 3.10 has no data stack: frames are objects, no chunk is kept
        assert _datastack_spares() == 0
    print("ok")
    """)
    assert out.strip() == "ok"


@pytest.mark.timeout(100)
def test_deep_recursion_in_many_greenlets_gives_correct_results():
    out = run_child(PRELUDE + """
    sys.setrecursionlimit(5000)
    results = []

    def worker(n):
        for _ in range(3):
            results.append(depth(n))   # several pushed chunks deep
            getcurrent().parent.switch()
        results.append(depth(n))

    gs = [greenlet(worker) for _ in range(50)]
    for round_ in range(4):
        for i, g in enumerate(gs):
            if round_ == 0:
                g.switch(100 + i * 40)
            else:
                g.switch()
    assert all(g.dead for g in gs)
    expected = sorted(100 + i * 40 for i in range(50)) * 4
    assert sorted(results) == sorted(expected), results[:10]
    assert 0 <= _datastack_spares() <= 8
    print("ok")
    """)
    assert out.strip() == "ok"


@pytest.mark.no_sanitizer('RSS growth: the sanitizer keeps freed memory in quarantine')
@pytest.mark.timeout(100)
def test_greenlets_suspended_past_their_root_chunk_free_chunks_when_killed():
    out = run_child(PRELUDE + """
    def deep_then_block(n):
        if n == 0:
            getcurrent().parent.switch("suspended")
            return 0
        return deep_then_block(n - 1) + 1

    start = None
    for round_ in range(30):
        gs = [greenlet(deep_then_block) for _ in range(200)]
        for g in gs:
            assert g.switch(60) == "suspended"
        for g in gs[::2]:
            assert g.switch() == 60
        del gs              # the rest are killed with chunks pushed
        if round_ == 5:
            start = rss_kib()
    assert rss_kib() - start < 8 * 1024, (start, rss_kib())
    print("ok")
    """)
    assert out.strip() == "ok"


@pytest.mark.timeout(100)
def test_threads_crossing_root_chunks_at_once_get_correct_results():
    out = run_child(PRELUDE + """
    import threading
    errors = []

    def thread_main(k):
        try:
            def worker():
                s = 0
                for i in range(3000):
                    s += depth(20 + (i + k) % 40)
                return s
            expect = sum(20 + (i + k) % 40 for i in range(3000))
            for _ in range(5):
                got = greenlet(worker).switch()
                assert got == expect, (got, expect)
        except BaseException as e:
            errors.append(repr(e))

    ts = [threading.Thread(target=thread_main, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    print("ok")
    """)
    assert out.strip() == "ok"
