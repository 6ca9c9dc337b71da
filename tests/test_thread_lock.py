"""gevent_c.thread.LockType (the cooperative _thread.lock) and the C
BoundedSemaphore it derives from."""
import math
import sys
import threading

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _isolated import run_isolated

import gevent_c
from gevent_c import _core
from gevent_c import lock as glock
from gevent_c import thread as gthread
from gevent_c.exceptions import LoopExit


def test_lock_type_is_the_c_bounded_semaphore_of_one_slot():
    lock = gthread.allocate_lock()
    assert type(lock) is gthread.LockType is _core.LockType is gthread.lock
    assert isinstance(lock, glock.BoundedSemaphore) and isinstance(lock, glock.Semaphore)
    assert glock.BoundedSemaphore is _core.BoundedSemaphore
    assert (lock.counter, lock._initial_value) == (1, 1)
    assert gthread.LockType.__module__ == 'gevent_c.thread'


def test_acquire_release_locked_and_their_aliases():
    lock = gthread.allocate_lock()
    assert not lock.locked() and not lock.locked_lock()
    assert lock.acquire() is True
    assert lock.locked() and lock.locked_lock()
    assert lock.acquire(False) is False
    assert lock.acquire(blocking=False) is False
    assert lock.acquire(True, 0) is False            # timed out at once
    assert lock.release() is None
    assert lock.acquire_lock(timeout=5) is True
    assert lock.release_lock() is None
    assert not lock.locked()


def test_context_manager_returns_true_and_releases():
    lock = gthread.allocate_lock()
    with lock as entered:
        assert entered is True and lock.locked()
    assert not lock.locked()
    with pytest.raises(KeyError):
        with lock:
            raise KeyError
    assert not lock.locked()


def test_repr_says_locked_or_unlocked_as_the_stdlib_lock():
    lock = gthread.allocate_lock()
    assert repr(lock) == '<unlocked gevent_c.thread.LockType object at %#x>' % id(lock)
    lock.acquire()
    assert repr(lock) == '<locked gevent_c.thread.LockType object at %#x>' % id(lock)


def test_releasing_an_unlocked_lock_is_a_runtime_error():
    lock = gthread.allocate_lock()
    with pytest.raises(RuntimeError, match='release unlocked lock'):
        lock.release()
    with pytest.raises(RuntimeError, match='release unlocked lock'):
        lock.__exit__(None, None, None)
    assert lock.counter == 1                    # not over-released


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(timeout='1'), TypeError, 'real number'),
    (dict(timeout=None), TypeError, 'real number'),
    (dict(blocking=False, timeout=1), ValueError, "non-blocking"),
    (dict(timeout=-2), ValueError, 'non-negative'),
    (dict(timeout=-0.5), ValueError, 'non-negative'),
    (dict(timeout=math.nan), ValueError, 'NaN'),
    (dict(timeout=1e300), OverflowError, 'too large'),
    (dict(timeout=10 ** 400), OverflowError, 'too large'),
    (dict(wait=True), TypeError, 'wait'),
])
def test_bad_acquire_arguments_raise_and_leave_the_lock_free(kwargs, error, message):
    lock = gthread.allocate_lock()
    with pytest.raises(error, match=message):
        lock.acquire(**kwargs)
    assert not lock.locked()
    with pytest.raises(TypeError):
        lock.acquire(True, -1, 'third')


def test_minus_one_and_no_timeout_both_mean_forever():
    lock = gthread.allocate_lock()
    assert lock.acquire(True, -1) and not lock.acquire(False, -1)
    lock.release()
    assert lock.acquire(timeout=-1.0)


def test_constructor_takes_no_arguments_and_the_type_no_subclasses():
    with pytest.raises(TypeError):
        gthread.LockType(1)
    with pytest.raises(TypeError):
        gthread.LockType(hub=None)
    with pytest.raises(TypeError, match='not an acceptable base type'):
        type('Sub', (gthread.LockType,), {})
    lock = gthread.LockType()
    lock.acquire()
    lock.__init__()                             # changes nothing
    assert lock.locked()


def test_a_blocked_greenlet_waits_and_another_greenlet_may_release():
    lock = gthread.allocate_lock()
    lock.acquire()
    order = []

    def waiter(name):
        with lock:
            order.append(name)

    glets = [gevent_c.spawn(waiter, n) for n in 'abc']
    gevent_c.sleep(0)
    assert order == [] and lock.linkcount() == 3
    releaser = gevent_c.spawn(lock.release)     # not the greenlet that acquired
    gevent_c.joinall(glets + [releaser], raise_error=True)
    assert order == ['a', 'b', 'c'] and not lock.locked()


def test_timed_acquire_gives_up_and_leaves_no_link():
    lock = gthread.allocate_lock()
    lock.acquire()
    assert gevent_c.spawn(lock.acquire, True, 0.01).get() is False
    assert lock.linkcount() == 0 and lock.locked()


def test_a_failed_try_lock_lets_the_holder_run():
    lock = gthread.allocate_lock()
    lock.acquire()
    gevent_c.spawn(lock.release)
    tries = 1
    while not lock.acquire(False):
        tries += 1
    assert tries == 2                           # the first failure ran the releaser


def test_a_native_thread_releases_a_lock_a_greenlet_waits_for():
    lock = gthread.allocate_lock()
    lock.acquire()
    got = gevent_c.spawn(lock.acquire)
    gevent_c.sleep(0)
    # a real thread (nothing is patched in this process)
    releaser = threading.Thread(target=lock.release)
    releaser.start()
    assert got.get(timeout=10) is True
    releaser.join()
    assert lock.locked()


def test_a_thread_without_a_hub_waits_for_a_greenlets_release():
    lock = gthread.allocate_lock()
    lock.acquire()                              # the lock now belongs to this hub
    results = []
    waiter = threading.Thread(target=lambda: results.append(lock.acquire(True, 10)))
    waiter.start()
    gevent_c.sleep(0.01)
    lock.release()
    while waiter.is_alive():
        gevent_c.sleep(0.001)
    waiter.join()
    assert results == [True] and lock.locked()


def test_at_fork_reinit_frees_the_lock_and_forgets_waiters():
    lock = gthread.allocate_lock()
    lock.acquire()
    lock.rawlink(lambda _lock: None)
    assert lock._at_fork_reinit() is None
    assert not lock.locked() and lock.linkcount() == 0 and lock.hub is None
    assert lock.acquire(False)


def _trace_collecting(seen, lock):
    def trace(frame, event, arg):
        with lock:                              # a lock used by the trace function
            seen.append(frame.f_code.co_filename)
        return trace
    return trace


def _uses_locks(lock):
    lock.acquire()
    lock.release()
    with lock:
        pass
    return True


def test_trace_functions_see_no_frame_of_the_lock_and_may_use_locks():
    own, used = gthread.allocate_lock(), gthread.allocate_lock()
    seen = []
    old = sys.gettrace()
    sys.settrace(_trace_collecting(seen, own))
    try:
        assert _uses_locks(used)
    finally:
        sys.settrace(old)
    assert seen and __file__ in seen           # the traced Python code was seen
    assert not [f for f in seen if 'gevent_c' in f], seen


def test_a_trace_function_waiting_for_a_lock_the_traced_code_holds_gets_loop_exit():
    held = gthread.allocate_lock()
    held.acquire()
    caught = None
    old = sys.gettrace()
    sys.settrace(_trace_collecting([], held))
    try:
        _uses_locks(gthread.allocate_lock())
    except LoopExit as exc:
        caught = exc
    finally:
        sys.settrace(old)
    assert isinstance(caught, LoopExit) and held.locked()


def test_patched_threading_lock_is_untraceable_at_shutdown():
    # bpo-1733757: a trace function that calls threading.current_thread()
    # must not deadlock on the locks threading takes while shutting down
    out = run_isolated('''
        from gevent_c import monkey; monkey.patch_all()
        import sys, threading
        assert threading.Lock is threading._allocate_lock
        def trace(frame, event, arg):
            threading.current_thread()
            with guard:
                pass
            return trace
        guard = threading.Lock()
        def work():
            with threading.Lock():
                pass
        sys.settrace(trace)
        t = threading.Thread(target=work)
        t.start(); t.join()
        print('done')
    ''', timeout=30)
    assert out.strip() == 'done'


# -- the C BoundedSemaphore ---------------------------------------------------

def test_bounded_semaphore_refuses_to_go_past_its_initial_value():
    sem = glock.BoundedSemaphore(2)
    assert sem._initial_value == 2
    assert sem.acquire() and sem.release() == 2
    with pytest.raises(ValueError, match='released too many times'):
        sem.release()
    with pytest.raises(ValueError):
        with sem:
            sem.release()                       # the with's release over-releases
    assert sem.counter == 2


@pytest.mark.parametrize('args, error', [
    ((-1,), ValueError), (('2',), TypeError), ((1, None, 3), TypeError),
    ((2 ** 70,), OverflowError),
])
def test_bounded_semaphore_bad_arguments(args, error):
    with pytest.raises(error):
        glock.BoundedSemaphore(*args)


def test_bounded_semaphore_python_subclass_release_runs_on_exit():
    calls = []

    class Counting(glock.BoundedSemaphore):
        def release(self):
            calls.append(self.counter)
            return super().release()

    sem = Counting(1)
    with sem:
        pass
    assert calls == [0] and sem.counter == 1


# -- the C RLocks: gevent_c.lock.RLock and threading's _CRLock once patched --

from gevent_c import threading as gthreading  # noqa: E402


def test_rlock_types_are_c():
    assert glock.RLock is _core.RLock
    assert gthreading._CRLock is _core.ThreadRLock
    assert issubclass(gthreading._CRLock, glock.RLock)


def test_gevent_rlock_owner_levels_and_condition_protocol():
    rlock = glock.RLock()
    assert rlock.acquire() and rlock.acquire(blocking=False) and rlock.acquire(timeout=1)
    me = gevent_c.getcurrent()
    assert (rlock._owner, rlock._count, rlock._is_owned(), rlock.locked()) == (me, 3, True, True)
    assert repr(rlock).startswith('<RLock at 0x') and '_count=3' in repr(rlock)
    assert rlock._release_save() == (3, me)
    assert not rlock.locked() and rlock._owner is None and not rlock._is_owned()
    rlock._acquire_restore((3, me))
    for _ in range(3):
        rlock.release()
    assert not rlock.locked()
    with pytest.raises(RuntimeError, match='un-acquired'):
        rlock.release()
    with rlock as entered:
        assert entered is True
    assert isinstance(rlock._block, glock.Semaphore)


def test_gevent_rlock_other_greenlets_wait_and_cannot_release():
    rlock = glock.RLock()
    rlock.acquire()

    def intruder():
        with pytest.raises(RuntimeError):
            rlock.release()
        return rlock.acquire(timeout=0.01)

    assert gevent_c.spawn(intruder).get() is False
    got = gevent_c.spawn(rlock.acquire)
    gevent_c.sleep(0)
    rlock.release()
    assert got.get() is True and rlock._owner is got


@pytest.mark.parametrize('args, kwargs', [((1, 2), {}), ((), {'x': 1})])
def test_gevent_rlock_bad_constructor_arguments(args, kwargs):
    with pytest.raises(TypeError):
        glock.RLock(*args, **kwargs)


def test_gevent_rlock_python_subclass_and_weakref():
    import weakref

    class Mine(glock.RLock):
        pass

    rlock = Mine()
    with rlock:
        assert rlock._is_owned()
    assert weakref.ref(rlock)() is rlock
    with pytest.raises(TypeError):
        rlock._acquire_restore('not a tuple')
    assert not rlock.locked()


def test_threading_rlock_has_the_stdlib_c_rlock_api():
    rlock = gthreading._CRLock()
    assert repr(rlock) == '<unlocked gevent_c.threading._CRLock object owner=0 count=0 at %#x>' % id(rlock)
    assert rlock.acquire() and rlock.acquire(True, -1)
    ident = gthread.get_ident()
    assert rlock._recursion_count() == 2
    assert repr(rlock) == ('<locked gevent_c.threading._CRLock object owner=%d count=2 at %#x>'
                           % (ident, id(rlock)))
    assert rlock._release_save() == (2, ident)
    with pytest.raises(RuntimeError):
        rlock._release_save()
    rlock._acquire_restore((2, ident))
    assert rlock._is_owned() and rlock._recursion_count() == 2
    assert gevent_c.spawn(rlock._recursion_count).get() == 0
    rlock.release()
    rlock.release()
    with pytest.raises(RuntimeError, match='un-acquired'):
        rlock.release()
    rlock.acquire()
    rlock._at_fork_reinit()
    assert not rlock.locked() and rlock._recursion_count() == 0
    with pytest.raises(TypeError):
        gthreading._CRLock(None)
    with pytest.raises(TypeError):
        type('Sub', (gthreading._CRLock,), {})


@pytest.mark.parametrize('kwargs, error', [
    (dict(timeout='1'), TypeError), (dict(blocking=False, timeout=1), ValueError),
    (dict(timeout=-3), ValueError), (dict(timeout=math.nan), ValueError),
    (dict(timeout=1e300), OverflowError),
])
def test_threading_rlock_bad_acquire_arguments(kwargs, error):
    rlock = gthreading._CRLock()
    with pytest.raises(error):
        rlock.acquire(**kwargs)
    assert not rlock.locked()


def test_threading_rlock_try_lock_lets_the_holder_run():
    rlock = gthreading._CRLock()
    holder = gevent_c.spawn(lambda: (rlock.acquire(), gevent_c.sleep(0), rlock.release()))
    gevent_c.sleep(0)
    while not rlock.acquire(False):
        pass
    assert rlock._is_owned()
    holder.join()


def test_patched_threading_rlock_serves_conditions_across_greenlets():
    out = run_isolated('''
        from gevent_c import monkey; monkey.patch_all()
        import threading
        cond = threading.Condition()          # over threading.RLock()
        assert type(cond._lock) is threading._CRLock
        items = []
        def producer(n):
            with cond:
                with cond:                    # reentrant
                    items.append(n)
                    cond.notify()
        threads = [threading.Thread(target=producer, args=(n,)) for n in range(5)]
        with cond:
            for t in threads:
                t.start()
            assert cond.wait_for(lambda: len(items) == 5, timeout=10)
        for t in threads:
            t.join()
        print(sorted(items))
    ''', timeout=30)
    assert out.strip() == '[0, 1, 2, 3, 4]'


def test_trace_functions_see_no_frame_of_either_rlock():
    seen = []
    rlocks = [glock.RLock(), gthreading._CRLock()]
    old = sys.gettrace()
    sys.settrace(_trace_collecting(seen, gthreading._CRLock()))
    try:
        for rlock in rlocks:
            assert _uses_locks(rlock)
    finally:
        sys.settrace(old)
    assert seen and not [f for f in seen if 'gevent_c' in f], seen


def test_gevent_rlock_subclass_with_its_own_constructor_and_the_hub_argument():
    class Named(glock.RLock):
        def __init__(self, name, hub=None):
            super().__init__(hub)
            self.name = name

    hub = gevent_c.get_hub()
    rlock = Named('x', hub=hub)
    assert rlock.name == 'x' and rlock._block.hub is hub
    with rlock:
        assert rlock._is_owned()
    assert glock.RLock()._block.hub is None
