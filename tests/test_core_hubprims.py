"""The hub's hot paths in C (ext/core): Waiter, the per-thread hub registry,
hub_wait/sleep0, AbstractLinkable/Event/Semaphore/AsyncResult and QueueBase.

Behaviour shared with gevent is covered by test_hub/test_event/test_lock/
test_queue (they run on these types); here: the C types are in use, their
bad input, leaks over many cycles, and crash-prone paths in a subprocess.
"""
import gc
import sys
import threading

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c
from gevent_c import _core
from gevent_c import event, hub, lock, queue
from _isolated import run_isolated as run_child




def count(tp):
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is tp)


# -- the C types replace the Python ones ---------------------------------------

def test_python_modules_use_the_c_types():
    assert hub.Waiter is _core.Waiter
    assert event.Event is _core.Event
    assert lock.Semaphore is _core.Semaphore
    assert issubclass(event.AsyncResult, _core.AsyncResult)
    assert issubclass(queue.Queue, _core.QueueBase)
    assert hub.get_hub is _core.get_hub


# -- Waiter --------------------------------------------------------------------

def test_waiter_value_delivered_before_get_is_returned_at_once():
    w = hub.Waiter()
    assert not w.ready() and w.exc_info is None and w.greenlet is None
    w.switch(42)
    assert w.ready() and w.successful() and w.value == 42
    assert w.get() == 42
    assert 'value=42' in repr(w)
    w.clear()
    assert not w.ready() and w.value is None


def test_waiter_exception_delivered_before_get_is_raised_by_get():
    w = hub.Waiter()
    w.throw(ValueError, ValueError('boom'))
    assert w.ready() and not w.successful()
    assert w.exc_info[0] is ValueError
    with pytest.raises(ValueError, match='boom'):
        w.get()


def test_waiter_switch_args_delivers_a_tuple():
    w = hub.Waiter()
    w.switch_args(1, 2)
    assert w.get() == (1, 2)


def test_waiter_wakes_the_blocked_greenlet_from_the_hub():
    w = hub.Waiter()
    h = hub.get_hub()
    h.loop.run_callback(w.switch, 'x')
    assert w.get() == 'x'
    assert w.greenlet is None


def test_waiter_switch_from_a_non_hub_greenlet_raises_assertion_error():
    w = hub.Waiter()
    seen = []

    def other():
        try:
            w.switch(1)
        except AssertionError as exc:
            seen.append(str(exc))
        w.throw(ValueError)  # still from outside the hub: refused too

    g = gevent_c.spawn(other)
    hub.get_hub().loop.run_callback(w.switch, 'ok')
    assert w.get() == 'ok'
    g.join()
    assert seen and 'Hub' in seen[0]
    assert isinstance(g.exception, AssertionError)


def test_second_greenlet_in_get_raises_concurrent_object_use_error():
    from gevent_c.exceptions import ConcurrentObjectUseError
    w = hub.Waiter()
    g = gevent_c.spawn(w.get)
    gevent_c.sleep(0)
    with pytest.raises(ConcurrentObjectUseError):
        w.get()
    hub.get_hub().loop.run_callback(w.switch, 5)
    assert g.get() == 5


def test_waiter_as_a_link_target_copies_the_outcome():
    w = hub.Waiter()
    g = gevent_c.spawn(lambda: 7)
    g.rawlink(w)
    assert w.get() == 7
    w2 = hub.Waiter()
    bad = gevent_c.spawn(lambda: 1 / 0)
    bad.rawlink(w2)
    h = hub.get_hub()
    h.exception_stream = None
    with pytest.raises(ZeroDivisionError):
        w2.get()


def test_error_raised_by_the_woken_greenlet_goes_to_handle_error():
    h = hub.get_hub()
    reported = []
    h.handle_error = lambda *args: reported.append(args)
    w = hub.Waiter()

    def victim():
        w.get()

    g = gevent_c.spawn(victim)
    gevent_c.sleep(0)
    # throw from the hub: the exception ends victim and comes back to the hub
    # as its parent, which reports the switch that raised it.
    h.loop.run_callback(w.throw, KeyError('k'))
    gevent_c.sleep(0)
    gevent_c.sleep(0)
    assert g.dead


def test_waiter_bad_input_raises_type_error():
    with pytest.raises(TypeError):
        hub.Waiter(1, 2)
    with pytest.raises(TypeError):
        hub.Waiter(nohub=1)
    w = hub.Waiter()
    with pytest.raises(TypeError):
        w.switch()
    with pytest.raises(TypeError):
        w._exception = 'not a tuple'
    with pytest.raises(TypeError):
        w(1, 2)


def test_waiter_subclass_with_slots_works_like_the_python_one():
    mw = hub.MultipleWaiter()
    mw.switch(1)
    mw.switch(2)
    assert mw.get() == 1 and mw.get() == 2


def _waiter_cycles(h, value, n):
    # no assert in the loop: pytest's rewriting would keep values alive
    for _ in range(n):
        w = hub.Waiter(h)
        h.loop.run_callback(w.switch, value)
        if w.get() is not value:
            raise AssertionError('wrong value')


def test_waiter_cycles_do_not_leak():
    value = object()
    h = hub.get_hub()
    _waiter_cycles(h, value, 100)
    before = (count(hub.Waiter), sys.getrefcount(value))
    _waiter_cycles(h, value, 2000)
    assert (count(hub.Waiter), sys.getrefcount(value)) == before


# -- the hub registry ------------------------------------------------------------

def test_get_hub_returns_one_hub_per_thread():
    h = hub.get_hub()
    assert hub.get_hub() is h and hub.get_hub_if_exists() is h
    seen = {}

    def other():
        seen['before'] = hub.get_hub_if_exists()
        seen['hub'] = hub.get_hub()
        seen['hub'].destroy(destroy_loop=True)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen['before'] is None
    assert seen['hub'] is not h
    assert hub.get_hub() is h


def test_set_hub_none_forgets_the_hub():
    h = hub.get_hub()
    hub.set_hub(None)
    assert hub.get_hub_if_exists() is None
    hub.set_hub(h)
    assert hub.get_hub() is h


def test_registry_bad_input_raises_type_error():
    with pytest.raises(TypeError):
        _core.set_default_hub_class(42)
    with pytest.raises(TypeError):
        _core.set_hub_class(42)
    with pytest.raises(TypeError):
        _core.hub_wait(hub.get_hub())


def test_hubs_of_finished_threads_are_released():
    import weakref
    refs = []

    def other():
        refs.append(weakref.ref(hub.get_hub().loop))
        hub.get_hub().destroy(destroy_loop=True)

    for _ in range(3):
        t = threading.Thread(target=other)
        t.start()
        t.join()
    gc.collect()
    assert all(r() is None for r in refs)


# -- linkables -------------------------------------------------------------------

def test_semaphore_bad_input():
    with pytest.raises(ValueError):
        lock.Semaphore(-1)
    with pytest.raises(TypeError):
        lock.Semaphore('x')
    with pytest.raises(TypeError):
        lock.Semaphore(1).rawlink(42)
    with pytest.raises(TypeError):
        lock.Semaphore(1).acquire(1, 2, 3)
    with pytest.raises(TypeError):
        event.Event(1)
    with pytest.raises(NotImplementedError):
        _core.AbstractLinkable().ready()


@pytest.mark.parametrize('name', ['Event', 'AsyncResult'])
def test_event_and_async_result_take_no_arguments(name):
    cls = getattr(event, name)
    with pytest.raises(TypeError, match=r'^%s\(\) takes no positional arguments$' % name):
        cls(1)
    with pytest.raises(TypeError, match=r'^%s\(\) takes no keyword arguments$' % name):
        cls(x=1)
    cls(*(), **{})


def test_bounded_semaphore_python_subclass_keeps_its_release_in_with():
    sem = lock.BoundedSemaphore(1)
    with sem:
        assert sem.locked()
    assert not sem.locked()
    with pytest.raises(ValueError):
        sem.release()


def test_a_failing_link_is_reported_and_the_others_still_run():
    h = hub.get_hub()
    reported = []
    h.handle_error = lambda ctx, t, v, tb: reported.append(t)
    ev = event.Event()
    ran = []
    ev.rawlink(lambda e: 1 / 0)
    ev.rawlink(ran.append)
    ev.set()
    gevent_c.sleep(0)
    assert reported == [ZeroDivisionError] and ran == [ev]


def test_loop_exit_names_the_c_primitive_blocked_on():
    from gevent_c.exceptions import LoopExit
    sem = lock.Semaphore(0)
    with pytest.raises(LoopExit) as info:
        sem.acquire()
    assert 'Semaphore.acquire' in str(info.value)
    res = event.AsyncResult()
    with pytest.raises(LoopExit) as info:
        res.get()
    assert 'AsyncResult.get' in str(info.value)


def test_asyncresult_exception_keeps_its_traceback():
    res = event.AsyncResult()

    def fail():
        try:
            raise KeyError('x')
        except KeyError:
            res.set_exception(sys.exc_info()[1], sys.exc_info())

    gevent_c.spawn(fail)
    with pytest.raises(KeyError) as info:
        res.get()
    assert any(entry.name == 'fail' for entry in info.traceback)
    assert res.exc_info[0] is KeyError and not res.successful()


def test_linkable_cycles_do_not_leak():
    sem = lock.Semaphore(1)
    ev = event.Event()

    def user():
        with sem:
            gevent_c.sleep(0)
        ev.wait(0.0001)

    def cycles(n):
        for _ in range(n):
            gevent_c.joinall([gevent_c.spawn(user) for _ in range(3)])

    cycles(20)
    before = (count(hub.Waiter), count(_core.callback), count(_core.timer))
    cycles(300)
    assert (count(hub.Waiter), count(_core.callback), count(_core.timer)) == before
    assert sem.counter == 1 and sem.linkcount() == 0 and ev.linkcount() == 0


# -- QueueBase -------------------------------------------------------------------

def test_queue_fast_paths_keep_order_and_task_counts():
    q = queue.Queue()
    for i in range(5):
        q.put(i)
    assert q.unfinished_tasks == 5 and not q._cond.is_set()
    assert [q.get() for _ in range(5)] == list(range(5))
    for _ in range(5):
        q.task_done()
    assert q.join(0) is True
    pq = queue.PriorityQueue()
    for i in (3, 1, 2):
        pq.put(i)
    assert [pq.get() for _ in range(3)] == [1, 2, 3]
    with pytest.raises(queue.Empty):
        q.get(block=False)
    bq = queue.Queue(1)
    bq.put(1)
    with pytest.raises(queue.Full):
        bq.put(2, timeout=0.001)


# -- crash-prone paths, in a subprocess ------------------------------------------

@pytest.mark.timeout(60)
def test_crash_prone_paths_in_a_subprocess():
    out = run_child('''
        import gc, threading
        import gevent_c
        from gevent_c import hub, event, lock, queue, _core
        from gevent_c.exceptions import BlockingSwitchOutError

        # get() from inside the hub: refused, not a hang or crash
        w = hub.Waiter()
        err = []
        def in_hub():
            try:
                hub.Waiter().get()
            except BlockingSwitchOutError:
                err.append(1)
        hub.get_hub().loop.run_callback(in_hub)
        gevent_c.sleep(0)
        assert err == [1]

        # objects with pending notifiers outlive a destroyed hub
        ev = event.Event()
        ev.rawlink(lambda e: None)
        ev.set()
        q = queue.Queue()
        g = gevent_c.spawn(q.get)
        gevent_c.sleep(0)
        q.put(1)
        hub.get_hub().destroy(destroy_loop=True)
        del ev, q, g
        gc.collect()

        # a hub per thread, created and dropped in threads that end
        def worker():
            s = lock.Semaphore(0)
            gevent_c.spawn(s.release)
            s.acquire()
            gevent_c.sleep(0)
        ts = [threading.Thread(target=worker) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        gevent_c.sleep(0)
        print('ok')
    ''')
    assert out.strip() == 'ok'


# -- sleep in C ------------------------------------------------------------------

def test_c_sleep_yields_for_zero_and_negative_and_delegates_the_rest():
    assert gevent_c.sleep is _core.sleep
    order = []
    for arg in (0, -1, 0.0, -0.5, False):
        gevent_c.spawn(order.append, arg)
        gevent_c.sleep(arg)
    assert order == [0, -1, 0.0, -0.5, False]
    gevent_c.sleep(0.001, ref=True)
    gevent_c.sleep(seconds=0)
    with pytest.raises(TypeError):
        gevent_c.sleep('1')
    with pytest.raises(TypeError):
        _core._set_sleep_fallback(42)


def test_notifier_is_the_class_function_with_the_object_as_argument():
    gevent_c.get_hub()              # without a hub in the thread, links run at once
    ev = event.Event()
    ev.rawlink(lambda e: None)
    ev.set()
    notifier = ev._notifier
    assert notifier.args == (ev,)
    gevent_c.sleep(0)
    assert ev._notifier is None


def test_python_subclasses_of_the_c_waiters_are_collected():
    class IW(_core.ItemWaiter):
        pass

    class MW(_core.MultipleWaiter):
        pass

    q = queue.Queue(1)
    iw = IW(1, q)
    iw.cycle = iw
    mw = MW()
    mw.switch(1)
    assert mw.get() == 1
    mw.cycle = mw
    before = count(IW), count(MW)
    del iw, mw
    assert (count(IW), count(MW)) == (before[0] - 1, before[1] - 1)


def test_links_run_at_once_in_a_thread_without_a_hub():
    import threading
    from gevent_c._hub_local import get_hub_if_exists
    seen = []

    def worker():
        result = event.AsyncResult()
        result.rawlink(lambda r: seen.append(('link', r.value)))
        seen.append('linked')
        result.set(42)
        seen.append(('hub', get_hub_if_exists()))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == ['linked', ('link', 42), ('hub', None)]


def test_a_stray_switch_into_a_wait_raises_invalid_switch_error():
    from gevent_c.exceptions import InvalidSwitchError
    ev = event.Event()
    waiter = gevent_c.spawn(ev.wait)
    gevent_c.sleep(0)
    gevent_c.get_hub().loop.run_callback(waiter.switch, 'bogus')
    waiter.join(timeout=2)
    assert isinstance(waiter.exception, InvalidSwitchError)
    assert "Event.wait(): 'bogus'" in str(waiter.exception)
    assert ev.linkcount() == 0


def test_nonblocking_acquire_takes_a_slot_freed_for_queued_waiters():
    from gevent_c.lock import Semaphore
    sem = Semaphore(0)
    order = []
    waiter = gevent_c.spawn(lambda: order.append(sem.acquire()))
    gevent_c.sleep(0)
    sem.release()                   # the slot is promised to nobody yet
    assert not sem.locked()
    assert sem.acquire(blocking=False) is True
    sem.release()
    waiter.join(timeout=2)
    assert order == [True]


def test_wait_on_a_set_event_queues_behind_greenlets_still_to_be_woken():
    ev = event.Event()
    order = []

    def blocked(name):
        ev.wait()
        order.append(name)

    gevent_c.spawn(blocked, 'blocked-1')
    gevent_c.spawn(blocked, 'blocked-2')
    gevent_c.sleep(0)
    ev.set()
    late = gevent_c.spawn(blocked, 'late')
    gevent_c.joinall([late], timeout=2)
    gevent_c.sleep(0)
    assert order == ['blocked-1', 'blocked-2', 'late']


def test_async_result_set_takes_value_by_keyword_and_semaphore_a_whole_float():
    from gevent_c.lock import Semaphore
    result = event.AsyncResult()
    result.set(value=3)
    assert result.get() == 3
    result.set_result(value=4)
    assert result.get() == 4
    assert Semaphore(2.0).counter == 2
    with pytest.raises(TypeError):
        Semaphore(1.5)
    with pytest.raises(ValueError):
        Semaphore(-1.0)


def test_notify_links_called_by_hand_only_schedules_the_notifier():
    ev = event.Event()
    ran = []
    ev.rawlink(ran.append)
    ev._notify_links()              # nothing pending: no links run, none lost
    assert ran == [] and ev.linkcount() == 1
    ev.set()
    gevent_c.sleep(0)
    assert ran == [ev]
