"""Semaphore, BoundedSemaphore, DummySemaphore, RLock."""
import time
import pytest

from _hubtest import clean_hub, lib, gc_lib  # noqa: F401 -- fixtures


def test_semaphore_counts_down_and_refuses_when_empty(lib):
    sem = lib.lock.Semaphore(2)
    assert sem.acquire() and sem.acquire()
    assert sem.locked()
    assert sem.acquire(blocking=False) is False
    sem.release()
    assert not sem.locked()


def test_semaphore_wakes_waiters_in_fifo_order(lib):
    sem = lib.lock.Semaphore(0)
    order = []

    def worker(i):
        sem.acquire()
        order.append(i)

    gs = [lib.top.spawn(worker, i) for i in range(5)]
    lib.top.sleep(0)
    for _ in range(5):
        sem.release()
    lib.top.joinall(gs)
    assert order == [0, 1, 2, 3, 4]


def test_semaphore_free_slot_is_taken_even_with_waiters_queued(lib):
    # as gevent (and threading): release() then acquire() without blocking
    # in between keeps the slot; the queued greenlets wake, in order, when a
    # slot is free while the notifier runs, and each woken one gets a slot
    sem = lib.lock.Semaphore(1)
    order = []

    def worker(i):
        for _ in range(3):
            with sem:
                order.append(i)
                lib.top.sleep(0)

    gs = [lib.top.spawn(worker, i) for i in range(3)]
    lib.top.joinall(gs)
    assert order == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert sem.counter == 1


def test_semaphore_one_release_wakes_one_waiter(lib):
    sem = lib.lock.Semaphore(0)
    woke = []
    gs = [lib.top.spawn(lambda i=i: (sem.acquire(), woke.append(i))) for i in range(3)]
    lib.top.sleep(0)
    sem.release()
    lib.top.sleep(0.001)
    assert woke == [0]
    sem.release()
    sem.release()
    lib.top.joinall(gs)
    assert woke == [0, 1, 2]


def test_acquire_timeout_returns_false(lib):
    sem = lib.lock.Semaphore(0)
    assert sem.acquire(timeout=0.001) is False
    assert sem.acquire(True, 0.001) is False
    sem.release()
    assert sem.acquire(timeout=0.001) is True


def test_wait_returns_counter_without_acquiring(lib):
    sem = lib.lock.Semaphore(0)
    lib.top.spawn_later(0.001, sem.release)
    assert sem.wait() == 1
    assert sem.counter == 1
    assert lib.lock.Semaphore(0).wait(timeout=0.001) == 0


def test_kill_while_blocked_in_acquire(lib):
    sem = lib.lock.Semaphore(0)
    g = lib.top.spawn(sem.acquire)
    lib.top.sleep(0)
    g.kill()
    assert g.dead
    sem.release()
    assert sem.acquire(blocking=False) is True


def test_timed_out_acquirer_does_not_consume_a_later_release(lib):
    sem = lib.lock.Semaphore(0)
    assert sem.acquire(timeout=0.001) is False
    sem.release()
    assert sem.counter == 1


def test_semaphore_context_manager(lib):
    sem = lib.lock.Semaphore(1)
    with sem:
        assert sem.locked()
    assert not sem.locked()


def test_semaphore_negative_value_raises(lib):
    with pytest.raises(ValueError):
        lib.lock.Semaphore(-1)


def test_bounded_semaphore_over_release_raises_value_error(lib):
    sem = lib.lock.BoundedSemaphore(1)
    with pytest.raises(ValueError):
        sem.release()
    sem.acquire()
    sem.release()


def test_semaphore_limits_concurrency(lib):
    sem = lib.lock.Semaphore(2)
    active = []
    peak = []

    def worker():
        with sem:
            active.append(1)
            peak.append(len(active))
            lib.top.sleep(0.001)
            active.pop()

    lib.top.joinall([lib.top.spawn(worker) for _ in range(6)])
    assert max(peak) == 2


def test_dummy_semaphore_never_blocks(lib):
    sem = lib.lock.DummySemaphore()
    for _ in range(3):
        assert sem.acquire()
    assert not sem.locked()
    with sem:
        pass


def test_rlock_is_reentrant_for_its_owner_only(lib):
    lock = lib.lock.RLock()
    assert lock.acquire() and lock.acquire()
    outcome = []
    g = lib.top.spawn(lambda: outcome.append(lock.acquire(timeout=0.001)))
    g.join()
    assert outcome == [False]
    lock.release()
    lock.release()
    g2 = lib.top.spawn(lambda: outcome.append(lock.acquire(blocking=False)))
    g2.join()
    assert outcome == [False, True]


def test_rlock_release_by_non_owner_raises(lib):
    lock = lib.lock.RLock()
    with pytest.raises(RuntimeError):
        lock.release()
    lock.acquire()
    g = lib.top.spawn(lock.release)
    g.join()
    assert isinstance(g.exception, RuntimeError)


def test_rlock_context_manager_and_waiter_wakes(lib):
    lock = lib.lock.RLock()
    order = []

    def worker(i):
        with lock:
            order.append(i)
            lib.top.sleep(0.001)

    lib.top.joinall([lib.top.spawn(worker, i) for i in range(3)])
    assert order == [0, 1, 2]


def test_kill_while_blocked_in_rlock_acquire(lib):
    lock = lib.lock.RLock()
    lock.acquire()
    g = lib.top.spawn(lock.acquire)
    lib.top.sleep(0)
    g.kill()
    lock.release()
    assert lock.acquire(blocking=False)


# -- acquiring from another native thread (the owning hub grants the slot) ----------

def _hold_in_hub(lib, sem):
    """A greenlet of this thread's hub holds the semaphore (so sem.hub is ours)."""
    sem.acquire()
    waiter = lib.top.spawn(sem.acquire)      # blocks: captures this thread's hub
    lib.top.sleep(0)
    waiter.kill()
    assert sem.hub is lib.hub.get_hub()


def test_a_thread_without_a_hub_waits_for_a_release_in_the_owning_hub(lib):
    import threading
    sem = lib.lock.Semaphore(1)
    _hold_in_hub(lib, sem)
    got = []
    thread = threading.Thread(target=lambda: got.append(sem.acquire()))
    thread.start()
    lib.top.sleep(0.05)
    assert got == []                        # still waiting for the slot
    sem.release()
    while thread.is_alive():
        lib.top.sleep(0.01)
    assert got == [True] and sem.counter == 0


def test_a_thread_that_gives_up_leaves_the_slot_to_others(lib):
    import threading
    sem = lib.lock.Semaphore(1)
    _hold_in_hub(lib, sem)
    got = []
    thread = threading.Thread(target=lambda: got.append(sem.acquire(timeout=0.05)))
    thread.start()
    while thread.is_alive():
        lib.top.sleep(0.01)
    assert got == [False]
    sem.release()
    lib.top.sleep(0.01)
    assert sem.counter == 1 and sem.acquire(blocking=False)


def test_a_thread_with_its_own_hub_keeps_running_its_greenlets_while_it_waits(gc_lib):
    import threading
    lib = gc_lib
    sem = lib.lock.Semaphore(1)
    _hold_in_hub(lib, sem)
    result = {}

    def other_thread():
        ticks = []

        def ticker():
            while True:
                ticks.append(1)
                lib.top.sleep(0.005)

        t = lib.top.spawn(ticker)
        result['acquired'] = sem.acquire(timeout=5)
        result['ticks'] = len(ticks)
        t.kill()
        lib.hub.get_hub().destroy(destroy_loop=True)

    thread = threading.Thread(target=other_thread)
    thread.start()
    lib.top.sleep(0.1)
    sem.release()
    while thread.is_alive():
        lib.top.sleep(0.01)
    assert result['acquired'] is True and result['ticks'] > 1


@pytest.mark.parametrize('main_has_hub', [False, True])
def test_thread_blocked_on_a_semaphore_no_hub_owns_is_woken_by_another_thread(
        lib, main_has_hub):
    import threading
    if main_has_hub:
        lib.top.sleep(0)
    sem = lib.lock.Semaphore()
    sem.acquire()
    running, done, got = threading.Event(), threading.Event(), []

    def thread_main():
        running.set()
        got.append(sem.acquire())
        done.set()
    thread = threading.Thread(target=thread_main, daemon=True)
    thread.start()
    running.wait(10)
    time.sleep(0.05)  # the thread is blocked in acquire
    sem.release()
    for _ in range(50):
        lib.top.idle()
        if done.wait(0.1):
            break
    thread.join(10)
    assert got == [True]


def test_semaphore_class_changed_after_use_is_seen(gc_lib):
    # the C side caches what the class says (ready, _notify_all,
    # _notify_links) per object until the class changes.  (gevent's
    # compiled Semaphore reads _notify_all per instance, so only gevent_c.)
    class S(gc_lib.lock.Semaphore):
        pass

    calls = []

    def taker(s):
        calls.append("taker")
        s.acquire(blocking=False)

    def other(s):
        calls.append("other")

    s = S(0)
    s.rawlink(taker)
    s.rawlink(other)
    s.release()
    gc_lib.top.sleep(0)
    assert calls == ["taker"]          # links run only while ready
    s.unlink(other)
    S._notify_all = True
    del calls[:]
    s.rawlink(taker)
    s.rawlink(other)
    s.release()
    gc_lib.top.sleep(0)
    assert calls == ["taker", "other"]


def test_event_ready_overridden_after_use_is_seen(gc_lib):
    class E(gc_lib.event.Event):
        pass

    calls = []
    e = E()
    e.rawlink(calls.append)
    gc_lib.top.sleep(0)
    assert calls == []
    E.ready = lambda self: True
    e.rawlink(calls.append)
    gc_lib.top.sleep(0)
    assert calls == [e, e]
