"""The hub's wait/notify path in C reuses its Waiters (ext/core/hub/waiter.c):
a wait of Event/AsyncResult/Semaphore takes a Waiter and its bound switch
from a small pool and gives them back when nothing else references them.

Here: reuse happens, a reused waiter carries nothing over from its last
wait, a waiter user code still holds is never reused, the pool keeps no
object alive, threads share it safely; and the hub's loop, read without a
Python attribute lookup, is still whatever ``hub.loop`` is now.
"""
import gc
import sys
import threading
import weakref

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c
from gevent_c import _core
from gevent_c.event import AsyncResult, Event
from gevent_c.hub import get_hub
from gevent_c.lock import Semaphore
from gevent_c.timeout import Timeout
from _isolated import run_isolated as run_child


def waiting_link(obj):
    """Let the greenlets run until obj has a link; return its id (no
    reference, which would keep the waiter out of the pool)."""
    for _ in range(100):
        if obj.linkcount():
            return id(obj._links[0])
        gevent_c.sleep(0)
    raise AssertionError('nobody waits on %r' % (obj,))


# -- reuse -----------------------------------------------------------------------

def pooled_ids():
    """ids of the Waiters in the pool (alive, attached to no hub); no
    reference is kept, which would keep them out of use."""
    gc.collect()
    return {id(o) for o in gc.get_objects() if type(o) is _core.Waiter and o.hub is None}


def test_sequential_waits_reuse_their_waiter():
    ev = Event()

    def waiter():
        for _ in range(3):
            ev.wait()
            ev.clear()

    g = gevent_c.spawn(waiter)
    for _ in range(3):
        waiting_link(ev)
        ev.set()
        while ev.is_set():
            gevent_c.sleep(0)
    g.join()
    assert g.successful()
    pool = pooled_ids()
    assert pool
    # the next wait gets one of them (pooled waiters are never freed, so an
    # address in the set is the same object)
    g = gevent_c.spawn(ev.wait)
    waiting_link(ev)
    w = ev._links[0].__self__
    assert id(w) in pool
    assert w.hub is get_hub() and w.greenlet is g
    del w
    ev.set()
    g.join()


def test_pooled_waiter_found_through_gc_is_not_handed_out():
    ev = Event()
    for _ in range(2):
        g = gevent_c.spawn(ev.wait)
        waiting_link(ev)
        ev.set()
        g.join()
        ev.clear()
    gc.collect()
    held = [o for o in gc.get_objects() if type(o) is _core.Waiter and o.hub is None]
    assert held
    for _ in range(3):
        g = gevent_c.spawn(ev.wait)
        waiting_link(ev)
        w = ev._links[0].__self__
        assert all(w is not h for h in held)
        del w
        ev.set()
        g.join()
        ev.clear()
    # held ones stay as they were
    assert all(h.hub is None and h.greenlet is None for h in held)


def test_pool_is_bounded():
    ev = Event()
    waiters = [gevent_c.spawn(ev.wait) for _ in range(30)]
    gevent_c.sleep(0)
    assert ev.linkcount() == 30
    ev.set()
    gevent_c.joinall(waiters)
    assert all(g.value is True for g in waiters)
    assert 1 <= len(pooled_ids()) <= 8


def test_reused_waiter_carries_no_value_or_error_over():
    # alternate a wait that gets a value, one that ends by timeout, one that
    # gets an exception thrown in, and check every later wait gets its own
    results = []

    def waits():
        for i in range(5):
            r = AsyncResult()
            gevent_c.spawn(r.set, ('value', i))
            results.append(r.get())
            r2 = AsyncResult()
            with pytest.raises(Timeout):
                r2.get(timeout=0.001)
            r3 = AsyncResult()
            gevent_c.spawn(r3.set_exception, KeyError(i))
            with pytest.raises(KeyError) as info:
                r3.get()
            results.append(('error', info.value.args[0]))
            ev = Event()
            assert ev.wait(timeout=0.001) is False
            results.append(('event', ev.is_set()))

    g = gevent_c.spawn(waits)
    g.join()
    assert g.successful(), g.exception
    expected = []
    for i in range(5):
        expected += [('value', i), ('error', i), ('event', False)]
    assert results == expected


def test_greenlet_killed_while_waiting_leaves_a_clean_waiter():
    ev = Event()

    def blocked():
        ev.wait()

    for _ in range(3):
        g = gevent_c.spawn(blocked)
        waiting_link(ev)
        g.kill()
        assert g.dead
        assert ev.linkcount() == 0
    # the next waits are woken by set() with True, not by the kill
    got = []
    g = gevent_c.spawn(lambda: got.append(ev.wait()))
    waiting_link(ev)
    ev.set()
    g.join()
    assert got == [True]


def test_waiter_held_by_user_code_is_never_reused():
    ev = Event()
    held = []

    def grab():
        # the link of the greenlet blocked in wait(), kept by "user code"
        held.append(ev._links[0])

    def waiter():
        ev.wait()

    g = gevent_c.spawn(waiter)
    waiting_link(ev)
    grab()
    ev.set()
    g.join()
    ev.clear()
    kept = held[0]
    kept_waiter = kept.__self__
    assert isinstance(kept_waiter, _core.Waiter)
    # later waits never get the held pair
    for _ in range(5):
        g = gevent_c.spawn(waiter)
        waiting_link(ev)
        assert ev._links[0] is not kept
        assert ev._links[0].__self__ is not kept_waiter
        ev.set()
        g.join()
        ev.clear()
    # and calling it now only stores the value in its own waiter
    kept('late')
    assert kept_waiter.get() == 'late'
    got = []
    g = gevent_c.spawn(lambda: got.append(ev.wait()))
    waiting_link(ev)
    ev.set()
    g.join()
    assert got == [True]


def test_waiter_held_only_while_waiting_is_reused_after():
    # a reference taken during the wait and dropped before it ends is no
    # obstacle; the waiter's fields are reset when it is handed out again
    ev = Event()

    def waiter():
        ev.wait()

    g = gevent_c.spawn(waiter)
    waiting_link(ev)
    link = ev._links[0]
    w = link.__self__
    assert w.greenlet is g
    del link, w
    ev.set()
    g.join()
    ev.clear()
    g = gevent_c.spawn(waiter)
    waiting_link(ev)
    w = ev._links[0].__self__
    assert w.greenlet is g
    assert w.ready() is False and w.value is None
    del w
    ev.set()
    g.join()


def test_loop_exit_names_what_a_reused_waiter_waits_on():
    sem = Semaphore(0)
    ev = Event()

    def first():
        ev.wait(timeout=0.001)

    gevent_c.spawn(first).join()
    with pytest.raises(gevent_c.hub.LoopExit) as info:
        sem.acquire()
    # the waiter the Event's wait left in the pool now names the semaphore
    assert 'waiting on <Semaphore at %#x' % id(sem) in str(info.value)
    assert str(info.value).endswith('in Semaphore.acquire()')


# -- nothing kept alive -----------------------------------------------------------

def test_pool_keeps_no_target_or_value_alive():
    class Value:
        pass

    def one_round():
        r = AsyncResult()
        v = Value()
        gevent_c.spawn(r.set, v)
        assert r.get() is v
        return weakref.ref(r), weakref.ref(v)

    refs = [one_round() for _ in range(4)]
    gevent_c.sleep(0)   # the hub finishes the last notifier, which holds r
    gc.collect()
    assert all(rr() is None and vr() is None for rr, vr in refs)


def test_pool_keeps_no_hub_alive_after_destroy():
    out = run_child('''
        import gc, weakref, threading
        import gevent_c
        from gevent_c.event import Event
        refs = []
        def thread():
            hub = gevent_c.get_hub()
            ev = Event()
            gevent_c.spawn(ev.set)
            assert ev.wait()
            ev.clear()
            assert ev.wait(timeout=0.001) is False
            refs.append(weakref.ref(hub))
            hub.destroy(destroy_loop=True)
        t = threading.Thread(target=thread)
        t.start(); t.join()
        gc.collect()
        print(refs[0]() is None)
    ''')
    assert out.strip() == 'True'


# -- threads ----------------------------------------------------------------------

def test_threads_with_their_own_hubs_share_the_pool_safely():
    errors = []
    totals = []

    def pingpong(n):
        try:
            requests = [AsyncResult() for _ in range(n)]
            replies = [AsyncResult() for _ in range(n)]

            def server():
                for request, reply in zip(requests, replies):
                    reply.set(request.get() + 1)

            gevent_c.spawn(server)
            total = 0
            for i, (request, reply) in enumerate(zip(requests, replies)):
                request.set(i)
                total += reply.get() - i
            totals.append(total)
            get_hub().destroy(destroy_loop=True)
        except BaseException as ex:  # noqa: B036 -- reported below
            errors.append(ex)

    threads = [threading.Thread(target=pingpong, args=(2000,)) for _ in range(3)]
    for t in threads:
        t.start()
    pingpong(2000)
    for t in threads:
        t.join()
    assert errors == []
    assert totals == [2000] * 4


# -- the hub's loop -----------------------------------------------------------------

def test_new_hub_after_destroy_notifies_through_its_own_loop():
    for _ in range(3):
        hub = get_hub()
        loop = hub.loop
        r = AsyncResult()
        gevent_c.spawn(r.set, 5)
        assert r.get() == 5
        hub.destroy(destroy_loop=True)
        assert hub.loop is None
        assert get_hub() is not hub
        assert get_hub().loop is not loop


@pytest.mark.parametrize('how', ['attribute', 'dict'])
def test_replaced_loop_is_the_one_notifications_go_through(how):
    hub = get_hub()
    real = hub.loop
    calls = []
    # a notification first, so that whatever the C side remembers of
    # hub.loop is the real loop
    ev = Event()
    gevent_c.spawn(ev.set)
    assert ev.wait()

    class StandIn:
        # forwards to the real loop, counting run_callback
        def __getattr__(self, name):
            return getattr(real, name)

        def run_callback(self, func, *args):
            calls.append(func)
            return real.run_callback(func, *args)

    if how == 'attribute':
        hub.loop = StandIn()
    else:
        hub.__dict__['loop'] = StandIn()
    try:
        ev = Event()
        g = gevent_c.spawn(ev.wait)
        gevent_c.sleep(0)
        calls.clear()
        ev.set()
        g.join()
        assert g.value is True
        # the notifier went through the stand-in
        assert [c for c in calls if getattr(c, '__name__', '') == '_notify_links']
    finally:
        hub.loop = real


def test_hub_class_with_a_loop_property_is_asked():
    out = run_child('''
        import gevent_c
        from gevent_c.hub import Hub, set_hub
        from gevent_c.event import AsyncResult
        asked = []
        class MyHub(Hub):
            @property
            def loop(self):
                asked.append(1)
                return self.__dict__['_my_loop']
            @loop.setter
            def loop(self, value):
                self.__dict__['_my_loop'] = value
        set_hub(MyHub())
        r = AsyncResult()
        gevent_c.spawn(r.set, 7)
        print(r.get(), bool(asked))
    ''')
    assert out.split() == ['7', 'True']


def test_class_changes_between_objects_are_seen():
    # objects of two subclasses alternate; one class later overrides ready()
    class A(AsyncResult):
        pass

    class B(Event):
        pass

    for _ in range(2):
        a, b = A(), B()
        gevent_c.spawn(a.set, 1)
        gevent_c.spawn(b.set)
        assert a.get() == 1 and b.wait() is True
    A.ready = lambda self: False      # never ready: set() wakes nobody now
    a = A()
    got = []
    g = gevent_c.spawn(lambda: got.append(a.get(timeout=0.01)))
    gevent_c.sleep(0)
    a.set(2)
    g.join()
    assert isinstance(g.exception, Timeout) and got == []
    del A.ready
    a = A()
    gevent_c.spawn(a.set, 3)
    assert a.get() == 3


# -- the wake's argument tuple ----------------------------------------------------

def pingpong(n, check=lambda: None):
    requests = [AsyncResult() for _ in range(n)]
    replies = [AsyncResult() for _ in range(n)]
    values = [object() for _ in range(n)]
    got = []

    def server():
        for request, reply in zip(requests, replies):
            value = request.get()
            check()            # the hub is inside the wake that brought value
            reply.set(value)

    g = gevent_c.spawn(server)
    for request, reply, value in zip(requests, replies, values):
        request.set(value)
        got.append(reply.get())
    g.join()
    gevent_c.sleep(0.001)      # the hub gets back from its last wake (no Waiter)
    assert all(a is b for a, b in zip(got, values))


def test_each_wake_delivers_its_own_value():
    pingpong(50)


def test_switch_argument_tuple_held_elsewhere_is_not_reused():
    # no collection in between: it would untrack the kept (None,) tuple,
    # and gc.get_objects() would not find it
    gc.disable()
    try:
        pingpong(5)
        # whatever (None,) tuples are alive now, the one kept for the next
        # wake among them: held here, none may be used for a wake
        held = [o for o in gc.get_objects()
                if type(o) is tuple and len(o) == 1 and o[0] is None]
        changed = []

        def check():
            changed.extend(t for t in held if t != (None,))

        pingpong(20, check)
    finally:
        gc.enable()
    assert changed == []
    del held
    pingpong(20)


# -- freed Waiters' memory ----------------------------------------------------------

def test_waiters_made_and_freed_keep_no_reference_to_their_type():
    # every internal Waiter (sleep(0), join, waits) gives back the type
    # reference it took
    def rounds(n):
        for _ in range(n):
            gevent_c.sleep(0)
            gevent_c.spawn(lambda: None).join()
            ev = Event()
            gevent_c.spawn(ev.set)
            ev.wait()
        gevent_c.sleep(0)

    rounds(10)      # the pool fills up to what these rounds need
    before = sys.getrefcount(_core.Waiter)
    rounds(300)
    # a reference kept per Waiter would add 900; the pool holds a few
    assert sys.getrefcount(_core.Waiter) - before < 10


def test_waiter_subclasses_beside_reused_memory():
    class MyWaiter(_core.Waiter):
        pass

    hub = get_hub()
    for i in range(20):
        gevent_c.sleep(0)          # internal Waiters freed and made again
        w = MyWaiter()
        hub.loop.run_callback(w.switch, i)
        assert w.get() == i
        assert type(w) is MyWaiter
        plain = _core.Waiter()
        hub.loop.run_callback(plain.switch, -i)
        assert plain.get() == -i


def test_interpreter_exit_with_kept_waiters_is_clean():
    # -X dev poisons freed memory: a kept Waiter used after free, or freed
    # twice at exit, would show
    out = run_child('''
        import gevent_c
        from gevent_c.event import Event, AsyncResult
        for _ in range(50):
            gevent_c.sleep(0)
            ev = Event()
            gevent_c.spawn(ev.set)
            ev.wait()
            r = AsyncResult()
            gevent_c.spawn(r.set, 1)
            r.get()
        print('ok')
    ''', dev=True)
    assert out.strip() == 'ok'


def test_pooled_waiter_switched_through_gc_is_not_handed_out():
    # code that finds an idle pooled Waiter through the collector and
    # switches it must not make a later, unrelated wait return at once
    ev = Event()
    g = gevent_c.spawn(ev.wait)
    gevent_c.sleep(0)
    ev.set()
    g.join()
    found = [o for o in gc.get_objects() if type(o) is _core.Waiter]
    for w in found:
        w.switch(None)
    del found, w
    later = Event()
    gevent_c.spawn_later(0.02, later.set)
    assert later.wait(timeout=5) is True
    assert later.is_set()


def test_weak_reference_to_a_link_dies_with_its_wait():
    # as in gevent: the link of a finished wait is gone; a pooled one must
    # not come back to life as another wait's link
    ev, ev2 = Event(), Event()
    g = gevent_c.spawn(ev.wait)
    gevent_c.sleep(0)
    ref = weakref.ref(ev._links[0])
    ev.set()
    g.join()
    g2 = gevent_c.spawn(ev2.wait)
    gevent_c.sleep(0)
    assert ref() is None
    ev2.set()
    g2.join()


def test_python_ready_that_empties_the_links_while_notifying():
    out = run_child('''
        import gevent_c
        from gevent_c._abstract_linkable import AbstractLinkable
        calls = []
        class L(AbstractLinkable):
            _notify_all = False
            def ready(self):
                calls.append(1)
                if len(calls) > 1:
                    del self._links[:]
                return True
        l = L()
        l.rawlink(print)
        l._check_and_notify()
        gevent_c.sleep(0.01)
        print("survived", len(calls))
    ''')
    assert out.split() == ['survived', '2']
