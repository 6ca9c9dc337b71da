"""Event and AsyncResult: FIFO wake-up, timeouts, kill while waiting, values/errors."""
import sys
import pytest

from _hubtest import clean_hub, lib, gc_lib, errors  # noqa: F401 -- fixtures


def test_event_set_wakes_every_waiter_in_wait_order(lib):
    ev = lib.event.Event()
    order = []

    def waiter(i):
        assert ev.wait() is True
        order.append(i)

    gs = [lib.top.spawn(waiter, i) for i in range(5)]
    lib.top.sleep(0)
    assert order == []
    ev.set()
    lib.top.joinall(gs)
    assert order == [0, 1, 2, 3, 4]


def test_event_wait_timeout_returns_false(lib):
    ev = lib.event.Event()
    assert ev.wait(0.005) is False
    assert ev.wait(timeout=0) is False


def test_event_wait_on_set_event_returns_true_at_once(lib):
    ev = lib.event.Event()
    ev.set()
    assert ev.wait() is True and ev.is_set() and ev.isSet() and ev.ready()
    ev.clear()
    assert not ev.is_set()


def test_event_set_then_clear_before_waiters_run_still_wakes_them(lib):
    ev = lib.event.Event()
    results = []
    g = lib.top.spawn(lambda: results.append(ev.wait()))
    lib.top.sleep(0)
    ev.set()
    ev.clear()
    g.join(timeout=0.05)
    assert results == [True]


def test_kill_while_waiting_on_event(lib):
    ev = lib.event.Event()
    g = lib.top.spawn(ev.wait)
    lib.top.sleep(0)
    g.kill()
    assert g.dead
    ev.set()
    lib.top.sleep(0)


def test_event_timeout_does_not_leak_a_link(lib):
    ev = lib.event.Event()
    assert ev.wait(0.001) is False
    assert ev.linkcount() == 0


def test_event_rawlink_and_unlink(lib):
    ev = lib.event.Event()
    seen = []
    ev.rawlink(seen.append)
    ev.rawlink(lambda e: seen.append('second'))
    ev.unlink(seen.append)
    ev.set()
    lib.top.sleep(0)
    assert seen == ['second']


def test_event_rawlink_requires_callable(lib):
    with pytest.raises(TypeError):
        lib.event.Event().rawlink(3)


def test_rawlink_on_set_event_runs_from_hub(lib):
    ev = lib.event.Event()
    ev.set()
    hub = lib.hub.get_hub()
    seen = []
    ev.rawlink(lambda e: seen.append(lib.hub.getcurrent() is hub))
    assert seen == []
    lib.top.sleep(0)
    assert seen == [True]


def test_async_result_get_value(lib):
    r = lib.event.AsyncResult()
    lib.top.spawn_later(0.001, r.set, 'v')
    assert r.get() == 'v'
    assert r.ready() and r.successful() and r.value == 'v' and r.exception is None


def test_async_result_set_exception_raises_in_get_with_traceback(lib):
    r = lib.event.AsyncResult()
    try:
        raise KeyError('k')
    except KeyError as ex:
        r.set_exception(ex, exc_info=(type(ex), ex, ex.__traceback__))
    with pytest.raises(KeyError) as info:
        r.get()
    assert any(entry.name.startswith('test_async_result') for entry in info.traceback)
    assert r.ready() and not r.successful() and isinstance(r.exception, KeyError)
    assert r.exc_info[0] is KeyError


def test_async_result_get_timeout_and_nowait(lib):
    r = lib.event.AsyncResult()
    with pytest.raises(lib.timeout.Timeout):
        r.get(timeout=0.001)
    with pytest.raises(lib.timeout.Timeout):
        r.get_nowait()
    with pytest.raises(lib.timeout.Timeout):
        r.get(block=False)


def test_async_result_wait_returns_value_or_none(lib):
    r = lib.event.AsyncResult()
    assert r.wait(0.001) is None
    r.set(5)
    assert r.wait() == 5


def test_async_result_wakes_getters_in_order(lib):
    r = lib.event.AsyncResult()
    order = []
    gs = [lib.top.spawn(lambda i=i: order.append((i, r.get()))) for i in range(3)]
    lib.top.sleep(0)
    r.set('x')
    lib.top.joinall(gs)
    assert order == [(0, 'x'), (1, 'x'), (2, 'x')]


def test_async_result_as_link_target_copies_failure(lib, errors):
    r = lib.event.AsyncResult()
    g = lib.top.spawn(lambda: 1 / 0)
    g.link(r)
    with pytest.raises(ZeroDivisionError):
        r.get()


def test_async_result_futures_api(lib):
    r = lib.event.AsyncResult()
    assert not r.done() and not r.cancelled() and r.cancel() is False
    r.set(1)
    assert r.done() and r.result() == 1


def test_kill_while_blocked_in_async_result_get(lib):
    r = lib.event.AsyncResult()
    g = lib.top.spawn(r.get)
    lib.top.sleep(0)
    g.kill()
    assert g.dead
    assert r.linkcount() == 0


def test_event_wait_with_timeout_in_many_greenlets_all_time_out(lib):
    ev = lib.event.Event()
    gs = [lib.top.spawn(ev.wait, 0.005) for _ in range(10)]
    lib.top.joinall(gs)
    assert [g.value for g in gs] == [False] * 10
    assert ev.linkcount() == 0


def test_link_added_during_notification_runs_in_next_batch(lib):
    ev = lib.event.Event()
    order = []

    def first(e):
        order.append('first')
        e.rawlink(lambda _: order.append('added'))

    ev.rawlink(first)
    ev.rawlink(lambda _: order.append('second'))
    ev.set()
    lib.top.sleep(0)
    lib.top.sleep(0)
    assert order == ['first', 'second', 'added']


def test_event_set_from_a_native_thread_wakes_the_waiting_greenlet(lib):
    import threading
    ev = lib.event.Event()
    keepalive = lib.hub.get_hub().loop.timer(5)  # keep the loop waiting for the thread
    keepalive.start(lambda: None)
    t = threading.Timer(0.01, ev.set)
    t.start()
    try:
        assert ev.wait(timeout=5) is True
    finally:
        keepalive.stop()
        t.join()


def test_async_result_set_from_a_native_thread(lib):
    import threading
    result = lib.event.AsyncResult()
    t = threading.Timer(0.01, result.set, ('from thread',))
    t.start()
    try:
        assert result.get(timeout=5) == 'from thread'
    finally:
        t.join()


def test_repeated_get_of_a_stored_exception_does_not_grow_its_traceback(lib):
    import traceback
    for tb_given in (False, True):
        result = lib.event.AsyncResult()
        if tb_given:
            try:
                raise KeyError('k')
            except KeyError:
                result.set_exception(*sys.exc_info()[1:2], exc_info=sys.exc_info())
        else:
            result.set_exception(KeyError('k'))
        lengths = []
        for _ in range(3):
            try:
                result.get()
            except KeyError as exc:
                lengths.append(len(traceback.extract_tb(exc.__traceback__)))
        assert lengths == [lengths[0]] * 3
