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


# ---- queued callbacks and the cycle collector ---------------------------
# A queued callback is left out of the collector while the queue holds its
# only reference (the loop reports what it holds); one referenced from
# elsewhere too is tracked from the next collection's start on.

def _collect():
    import gc
    for _ in range(3):
        gc.collect()


def test_garbage_loop_with_a_callback_only_the_queue_holds_is_collected():
    import weakref
    lp = core.loop(default=False)

    def f():
        return lp          # the cycle: loop -> callback -> f -> loop

    lp.run_callback(f)
    ref = weakref.ref(lp)
    del lp, f
    _collect()
    assert ref() is None


def test_garbage_cycle_through_a_shared_queued_callback_is_collected():
    import weakref

    class Holder:
        def method(self):
            pass

    h = Holder()
    h.loop = core.loop(default=False)
    h.cb = h.loop.run_callback(h.method)   # the queue's and h's reference
    refs = weakref.ref(h), weakref.ref(h.loop)
    del h
    _collect()
    assert [r() for r in refs] == [None, None]


def test_callback_held_from_outside_keeps_what_it_holds_alive():
    import gc
    import weakref
    lp = core.loop(default=False)
    box = [lp]

    def f(box=box):
        return box[0]      # loop -> callback -> f -> box -> loop

    cb = lp.run_callback(f)
    assert not gc.is_tracked(cb)      # not yet looked at by a collection
    ref = weakref.ref(lp)
    del lp, box, f
    _collect()
    assert gc.is_tracked(cb)          # shared: an ordinary object now
    # reachable through cb: neither the loop nor the function was cleared
    assert ref() is not None and cb.callback() is ref()
    assert cb.pending
    ref().run()
    # once run, the callback let go of f, which held the loop's last reference
    assert not cb.pending and cb.callback is None
    assert ref() is None


def test_callback_dropped_by_destroy_and_held_elsewhere_is_tracked():
    import gc
    import weakref

    class Obj:
        pass

    lp = core.loop(default=False)
    o = Obj()
    cb = lp.run_callback(lambda: None)
    cb2 = lp.run_callback(print, o)
    o.cb = cb2                        # a cycle through the dropped callback
    lp.destroy()
    assert gc.is_tracked(cb) and gc.is_tracked(cb2)
    ref = weakref.ref(o)
    del o, cb2
    _collect()
    assert ref() is None


def test_queued_callbacks_survive_collections_and_run_with_their_arguments(loop):
    out = []

    class Arg:
        def __init__(self, i):
            self.i = i
            self.me = self     # garbage but for the callback

    for i in range(2000):
        loop.run_callback(lambda a, i=i: out.append((a.i, i)), Arg(i))
    _collect()
    loop.run()
    assert out == [(i, i) for i in range(2000)]


def test_callbacks_list_and_new_callback_make_queued_callbacks_tracked(loop):
    import gc
    loop.run_callback(len, ())
    (cb,) = loop._callbacks
    assert gc.is_tracked(cb)
    cb2 = loop.run_callback(len, ())
    assert not gc.is_tracked(cb2)
    cb2.callback = list
    assert gc.is_tracked(cb2)
    loop.run()


def test_a_callback_that_outlives_its_run_holds_nothing(loop):
    import gc
    import weakref

    class Obj:
        pass

    o = Obj()
    cb = loop.run_callback(lambda x: None, o)
    ref = weakref.ref(o)
    del o
    loop.run()
    _collect()
    assert ref() is None and cb.args is None and not cb.pending
    gc.collect()


def test_a_callback_set_to_none_and_drained_lets_its_cycle_be_collected(loop):
    # a queued callback held from outside whose .callback was set to None
    # is dropped by the drain: its arguments go too, so a cycle through it
    # (object -> callback -> object) is garbage like any other
    import gc
    import weakref

    class Obj:
        pass

    o = Obj()
    o.cb = loop.run_callback(lambda x: None, o)
    o.cb.callback = None
    ref = weakref.ref(o)
    loop.run()
    del o
    gc.collect()
    assert ref() is None
