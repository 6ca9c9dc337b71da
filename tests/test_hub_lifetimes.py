"""Lifetimes in the hub's C primitives: what a wait holds is released, and
Python code that replaces or deletes their attributes while they are busy
gets an error or a consistent result, never a crash.

The crash-prone scenarios run in a fresh interpreter with -X dev (freed
memory is poisoned there), so a segfault fails the test, not the run.
"""
import gc
import sys
import weakref

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _isolated import run_isolated

import gevent_c
from gevent_c import _core
from gevent_c.event import AsyncResult, Event
from gevent_c.lock import Semaphore
from gevent_c.queue import Queue


def _event_wake(ev):
    ev.set()
    gevent_c.sleep(0)
    ev.clear()


@pytest.mark.parametrize('make,block,wake', [
    (Event, lambda e: e.wait(), _event_wake),
    (lambda: Semaphore(0), lambda s: s.acquire(), lambda s: s.release()),
    (Queue, lambda q: q.get(), lambda q: q.put(1)),
    (AsyncResult, lambda r: r.wait(0.001), lambda r: gevent_c.sleep(0.002)),
], ids=['Event', 'Semaphore', 'Queue', 'AsyncResult'])
def test_an_object_waited_on_is_freed_once_unreferenced(make, block, wake):
    obj = make()
    before = sys.getrefcount(obj)
    for _ in range(20):
        g = gevent_c.spawn(block, obj)
        gevent_c.sleep(0)                    # g blocks on obj
        wake(obj)
        g.join()
    gc.collect()
    assert sys.getrefcount(obj) == before
    ref = weakref.ref(obj)
    del obj
    gc.collect()
    assert ref() is None


def test_a_put_taken_over_by_the_hub_counts_as_a_task():
    q = Queue(1)
    q.put('a')
    gevent_c.spawn(q.put, 'b')               # blocks: the queue is full
    gevent_c.sleep(0)
    got = []

    def in_hub():
        got.append(q.get_nowait())           # 'a'
        got.append(q.get_nowait())           # the hub takes 'b' from the putter

    gevent_c.get_hub().loop.run_callback(in_hub)
    gevent_c.sleep(0.01)
    assert got == ['a', 'b'] and q.unfinished_tasks == 2
    q.task_done()
    q.task_done()
    q.join(timeout=1)


def test_queue_and_item_waiter_attributes_cannot_be_deleted():
    q = Queue()
    for name in ('queue', 'getters', 'putters', 'hub', '_cond'):
        with pytest.raises(AttributeError):
            delattr(q, name)
    w = _core.ItemWaiter(1, q)
    for name in ('item', 'queue'):
        with pytest.raises(AttributeError):
            delattr(w, name)
    q.getters = type(q.getters)()            # replacing stays allowed


def test_callbacks_queued_while_a_loop_is_destroyed_are_not_leaked():
    loop = _core.loop()
    queued = []

    class Arg:
        def __del__(self):
            queued.append(loop.run_callback(print, 'late'))

    loop.run_callback(lambda a: None, Arg())
    loop.destroy()
    assert len(queued) == 1
    refs = sys.getrefcount(queued[0])        # the list's and the call's: no queue ref left
    assert refs == 2


def test_links_that_replace_the_link_list_do_not_crash():
    out = run_isolated(dev=True, code='''
        import gevent_c
        from gevent_c.event import Event
        seen = []
        e = Event()
        def replace(ev):
            seen.append('replace')
            ev._links = []
            for _ in range(1000):
                [None] * 8
        e.rawlink(replace)
        e.rawlink(lambda ev: seen.append('second'))
        e.set()
        gevent_c.sleep(0)

        class Eq:
            def __init__(self, ev):
                self.ev = ev
            def __call__(self, ev):
                pass
            def __eq__(self, other):
                self.ev._links = []
                return False
            __hash__ = object.__hash__
        f = Event()
        f.rawlink(Eq(f))
        f.rawlink(print)
        f.unlink(lambda ev: None)
        print('ok', seen[0])
    ''')
    assert out.split() == ['ok', 'replace']


def test_replacing_a_queue_deque_under_a_blocked_getter_does_not_crash():
    out = run_isolated(dev=True, code='''
        import collections, gevent_c
        from gevent_c.queue import Queue
        class D(collections.deque):
            pass
        q = Queue()
        q.getters = D()
        got = []
        def getter():
            try:
                q.get()
            except BaseException as exc:
                got.append(type(exc).__name__)
        g = gevent_c.spawn(getter)
        gevent_c.sleep(0)
        q.getters = collections.deque()
        g.kill()
        print(got[0])
    ''')
    assert out.strip() == 'GreenletExit'


def test_a_running_callback_that_stops_itself_keeps_its_arguments():
    out = run_isolated(dev=True, code='''
        import gevent_c
        from gevent_c.event import Event
        gevent_c.get_hub()
        e = Event()
        def link(ev):
            cb = ev._notifier
            cb.callback = print
            cb.stop()
        e.rawlink(link)
        e.rawlink(lambda ev: None)
        e.set()
        del e
        gevent_c.sleep(0)
        print('ok')
    ''')
    assert out.strip() == 'ok'
