"""gevent_c.core run_callback: FIFO order, callback objects, starvation, threads."""
import socket
import sys
import threading

import pytest

from gevent_c import core
from gevent import core as gcore


@pytest.fixture
def loop():
    lp = core.loop(default=False)
    yield lp
    lp.destroy()


def test_callbacks_run_in_fifo_order(loop):
    out = []
    for i in range(1000):
        loop.run_callback(out.append, i)
    loop.run()
    assert out == list(range(1000))


def test_callbacks_queued_by_callbacks_run_after_the_earlier_ones(loop):
    out = []

    def first():
        out.append("first")
        loop.run_callback(out.append, "queued by first")
    loop.run_callback(first)
    loop.run_callback(out.append, "second")
    loop.run()
    assert out == ["first", "second", "queued by first"]


def test_callback_object_lifecycle(loop):
    seen = []
    cb = loop.run_callback(lambda *a: seen.append((a, cb.pending, bool(cb))), 1, 2)
    assert cb.pending and bool(cb)
    assert cb.args == (1, 2)
    assert callable(cb.callback)
    assert "pending" in repr(cb)
    loop.run()
    assert seen == [((1, 2), False, True)]
    assert not cb.pending and not cb
    assert cb.callback is None and cb.args is None


def test_callback_lifecycle_matches_gevent():
    def scenario(mod):
        lp = mod.loop(default=False)
        seen = []
        cb = lp.run_callback(lambda *a: seen.append((a, cb.pending, bool(cb),
                                                     cb.args)), "x")
        stopped = lp.run_callback(seen.append, "never")
        before = (cb.pending, bool(cb), cb.args, stopped.pending)
        stopped.stop()
        mid = (stopped.pending, bool(stopped), stopped.args, stopped.callback)
        lp.run()
        after = (cb.pending, bool(cb), cb.args, cb.callback)
        lp.destroy()
        return before, mid, seen, after
    assert scenario(core) == scenario(gcore)


def test_stopped_callback_does_not_run(loop):
    out = []
    cb = loop.run_callback(out.append, 1)
    cb.stop()
    loop.run_callback(out.append, 2).close()
    loop.run()
    assert out == []


def test_pending_callback_keeps_the_loop_alive_and_run_returns_after(loop):
    out = []
    loop.run_callback(out.append, 1)
    loop.run()
    loop.run()
    assert out == [1]


def test_non_callable_raises_type_error(loop):
    with pytest.raises(TypeError, match="Expected callable"):
        loop.run_callback(42)
    with pytest.raises(TypeError):
        loop.run_callback()


def test_many_arguments_are_passed(loop):
    out = []
    loop.run_callback(lambda *a: out.append(a), *range(20))
    loop.run()
    assert out == [tuple(range(20))]


def test_self_requeuing_callback_does_not_starve_io_or_timers(loop):
    a, b = socket.socketpair()
    try:
        seen = set()
        count = [0]
        r = loop.io(a.fileno(), core.READ)
        r.start(lambda: (seen.add("io"), r.stop()))
        t = loop.timer(0.001)
        t.start(seen.add, "timer")
        b.sendall(b"x")

        def forever():
            count[0] += 1
            if seen != {"io", "timer"}:
                loop.run_callback(forever)
        loop.run_callback(forever)
        loop.run()
        assert seen == {"io", "timer"}
        assert count[0] > 1
    finally:
        a.close()
        b.close()


def test_remaining_callbacks_do_not_let_the_loop_block(loop):
    # thousands of callbacks spread over iterations; a long timer must not
    # delay them (the 0-second timer keeps the poll from blocking)
    out = []
    keep = loop.timer(30)
    keep.start(lambda: None)

    def chain(n):
        out.append(n)
        if n < 20000:
            loop.run_callback(chain, n + 1)
        else:
            keep.stop()
    loop.run_callback(chain, 0)
    loop.run()
    assert out[-1] == 20000


def test_run_callback_threadsafe_from_many_threads(loop):
    got = []
    keep = loop.timer(30)
    keep.start(lambda: None)
    n = 8

    def deliver(i):
        got.append(i)
        if len(got) == n:
            keep.stop()
    threads = [threading.Thread(target=loop.run_callback_threadsafe,
                                args=(deliver, i)) for i in range(n)]
    for th in threads:
        th.start()
    loop.run()
    for th in threads:
        th.join()
    assert sorted(got) == list(range(n))


def test_callbacks_list_shows_queued_callbacks(loop):
    a = loop.run_callback(print)
    b = loop.run_callback(print)
    assert loop._callbacks == [a, b]
    a.stop()
    b.stop()
    loop.run()
    assert loop._callbacks == []


def test_direct_callback_construction():
    cb = core.callback(print, (1,))
    assert cb.args == (1,) and cb.pending
    with pytest.raises(TypeError):
        core.callback(1, ())
    cb.callback = None
    assert not cb.pending


def test_destroy_drops_queued_callbacks():
    loop = core.loop(default=False)
    marker = object()
    loop.run_callback(print, marker)
    before = sys.getrefcount(marker)
    loop.destroy()
    assert sys.getrefcount(marker) == before - 1
