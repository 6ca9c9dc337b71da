"""Timeout: raises in its greenlet only, silent mode, never leaks into a later wait."""
import pytest

from _hubtest import clean_hub, lib, gc_lib  # noqa: F401 -- fixtures


def test_timeout_raises_itself_in_a_with_block(lib):
    with pytest.raises(lib.timeout.Timeout) as info:
        with lib.timeout.Timeout(0.01) as t:
            lib.top.sleep(1)
    assert info.value is t


def test_timeout_with_false_exits_silently(lib):
    reached = []
    with lib.timeout.Timeout(0.01, False):
        lib.top.sleep(1)
        reached.append('no')
    assert reached == []


def test_timeout_with_custom_exception(lib):
    with pytest.raises(KeyError):
        with lib.timeout.Timeout(0.01, KeyError('k')):
            lib.top.sleep(1)


def test_timeout_none_never_expires(lib):
    with lib.timeout.Timeout(None) as t:
        lib.top.sleep(0.01)
    assert not t.pending


def test_negative_timeout_expires_at_once(lib):
    with pytest.raises(lib.timeout.Timeout):
        with lib.timeout.Timeout(-1):
            lib.top.sleep(1)


def test_timeout_is_a_base_exception(lib):
    assert issubclass(lib.timeout.Timeout, BaseException)
    assert not issubclass(lib.timeout.Timeout, Exception)


def test_timeout_fires_only_in_its_greenlet(lib):
    outcomes = {}

    def guarded():
        try:
            with lib.timeout.Timeout(0.01):
                lib.top.sleep(1)
        except lib.timeout.Timeout:
            outcomes['guarded'] = 'timeout'

    def other():
        lib.top.sleep(0.03)
        outcomes['other'] = 'ok'

    lib.top.joinall([lib.top.spawn(guarded), lib.top.spawn(other)])
    assert outcomes == {'guarded': 'timeout', 'other': 'ok'}


def test_cancelled_timeout_does_not_leak_into_a_later_wait(lib):
    with lib.timeout.Timeout(0.01):
        pass
    lib.top.sleep(0.03)  # must not raise


def test_timeout_that_expired_while_busy_does_not_fire_later(lib):
    t = lib.timeout.Timeout.start_new(0.005)
    try:
        lib.top.sleep(0.02)
    except lib.timeout.Timeout as ex:
        assert ex is t
    t.cancel()
    lib.top.sleep(0.02)


def test_start_new_and_pending_and_cancel(lib):
    t = lib.timeout.Timeout.start_new(1)
    assert t.pending
    t.cancel()
    assert not t.pending
    t.close()


def test_starting_twice_raises(lib):
    t = lib.timeout.Timeout(1)
    t.start()
    try:
        with pytest.raises(AssertionError):
            t.start()
    finally:
        t.close()


def test_str_and_repr(lib):
    assert str(lib.timeout.Timeout(1)) == '1 second'
    assert str(lib.timeout.Timeout(2)) == '2 seconds'
    assert str(lib.timeout.Timeout(2, False)) == '2 seconds (silent)'
    assert 'seconds=3' in repr(lib.timeout.Timeout(3))


def test_with_timeout_returns_value_or_timeout_value(lib):
    assert lib.top.with_timeout(1, lambda: 5) == 5
    assert lib.top.with_timeout(0.01, lib.top.sleep, 1, timeout_value='late') == 'late'
    with pytest.raises(lib.timeout.Timeout):
        lib.top.with_timeout(0.01, lib.top.sleep, 1)


def test_timeout_interrupts_every_blocking_primitive(lib):
    blocking = [
        lambda: lib.event.Event().wait(),
        lambda: lib.event.AsyncResult().get(),
        lambda: lib.queue.Queue().get(),
        lambda: lib.queue.Channel().put(1),
        lambda: lib.lock.Semaphore(0).acquire(),
        lambda: lib.top.spawn(lib.top.sleep, 1).join(),
    ]
    for call in blocking:
        with pytest.raises(lib.timeout.Timeout):
            with lib.timeout.Timeout(0.005):
                call()


def test_timeout_subclass_can_override_on_expiration(lib):
    seen = []

    class Recorder(lib.timeout.Timeout):
        def _on_expiration(self, glet, exc):
            seen.append(exc)
            glet.throw(exc)

    with pytest.raises(Recorder):
        with Recorder(0.005):
            lib.top.sleep(1)
    assert len(seen) == 1


# ---- gevent_c's C TimeoutBase: what its fast path must keep ---------------

def test_timeout_args_are_empty_and_attributes_settable():
    import gevent_c
    t = gevent_c.Timeout(2, False)
    assert t.args == () and t.seconds == 2 and t.exception is False
    t.seconds = 0.01
    t.note = 'free-form attributes still work'
    with t:
        gevent_c.sleep(1)
    assert t.note == 'free-form attributes still work'


def test_timeout_restarts_after_cancel_and_after_firing():
    import gevent_c
    t = gevent_c.Timeout(0.01)
    for _ in range(3):
        with pytest.raises(gevent_c.Timeout) as info:
            with t:
                gevent_c.sleep(1)
        assert info.value is t and not t.pending
    t.start()
    t.cancel()
    t.start()
    assert t.pending
    t.close()
    assert not t.pending


def test_a_finished_timeout_is_freed_without_the_collector():
    import gc
    import weakref
    import gevent_c
    gc.disable()
    try:
        t = gevent_c.Timeout(5)
        with t:
            gevent_c.sleep(0)
        t2 = gevent_c.Timeout(5)
        t2.start()
        t2.cancel()
        refs = [weakref.ref(t), weakref.ref(t2)]
        del t, t2
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()


def test_bad_seconds_or_priority_raise_at_start_not_in_the_loop():
    import gevent_c
    with pytest.raises(TypeError):
        gevent_c.Timeout('5').start()
    with pytest.raises(TypeError):
        gevent_c.Timeout(1, priority='high').start()
    with pytest.raises(TypeError):
        gevent_c.Timeout(1, 2, 3, 4, 5)
    with pytest.raises(TypeError):
        gevent_c.Timeout(1).__exit__(None, None)


def test_subclass_init_and_start_overrides_are_honoured():
    import gevent_c
    started = []

    class Labelled(gevent_c.Timeout):
        def __init__(self, seconds, label):
            super().__init__(seconds)
            self.label = label

        def start(self):
            started.append(self.label)
            super().start()

    with pytest.raises(Labelled) as info:
        with Labelled(0.01, 'db'):
            gevent_c.sleep(1)
    assert info.value.label == 'db' and started == ['db']


def test_uninitialised_or_deleted_attributes_are_read_as_none():
    import gevent_c

    class NoInit(gevent_c.Timeout):
        def __init__(self):
            pass

    t = NoInit()
    assert (t.seconds, t.exception, t.pending) == (None, None, False)
    t.start()                      # seconds None: never expires
    t.seconds = 0.01
    with pytest.raises(NoInit):
        with t:
            gevent_c.sleep(1)
    u = gevent_c.Timeout(0.01)
    del u.seconds, u.exception
    u.start()
    assert not u.pending

# ---- a Timeout object as the timeout= of a blocking call -------------------------

def _full_queue(lib):
    q = lib.queue.Queue(1)
    q.put(1)
    return q


def _blocking_calls(lib):
    """name -> (call taking timeout=, whether its own expiry is swallowed)."""
    ev, ar = lib.event.Event(), lib.event.AsyncResult()
    sleeper = lib.top.spawn(lib.top.sleep, 10)
    return sleeper, {
        'Event.wait': (lambda t: ev.wait(timeout=t), True),
        'AsyncResult.get': (lambda t: ar.get(timeout=t), False),
        'AsyncResult.wait': (lambda t: ar.wait(timeout=t), True),
        'Semaphore.acquire': (lambda t: lib.lock.Semaphore(0).acquire(timeout=t), True),
        'Semaphore.wait': (lambda t: lib.lock.Semaphore(0).wait(timeout=t), True),
        'Queue.get': (lambda t: lib.queue.Queue().get(timeout=t), False),
        'Queue.put': (lambda t: _full_queue(lib).put(2, timeout=t), False),
        'Channel.get': (lambda t: lib.queue.Channel().get(timeout=t), False),
        'Greenlet.get': (lambda t: sleeper.get(timeout=t), False),
        'Greenlet.join': (lambda t: sleeper.join(timeout=t), True),
    }


def test_timeout_object_is_started_and_raises_itself(lib):
    sleeper, calls = _blocking_calls(lib)
    try:
        for name, (call, swallowed) in calls.items():
            timeout = lib.timeout.Timeout(0.01)
            if swallowed:
                call(timeout)  # returns, as after a timeout in seconds
            else:
                with pytest.raises(lib.timeout.Timeout) as info:
                    call(timeout)
                assert info.value is timeout, name
            assert not timeout.pending, name
    finally:
        sleeper.kill()


def test_timeout_object_with_its_own_exception_raises_that(lib):
    sleeper, calls = _blocking_calls(lib)
    try:
        for name, (call, _) in calls.items():
            error = KeyError(name)
            with pytest.raises(KeyError) as info:
                call(lib.timeout.Timeout(0.01, error))
            assert info.value is error, name
    finally:
        sleeper.kill()


def test_another_timeout_still_propagates_through_a_swallowing_wait(lib):
    outer = lib.timeout.Timeout(0.01)
    outer.start()
    try:
        with pytest.raises(lib.timeout.Timeout) as info:
            lib.event.Event().wait(timeout=lib.timeout.Timeout(5))
        assert info.value is outer
    finally:
        outer.close()


def test_timeout_on_a_stand_in_loop_starts_its_timer_with_update(lib):
    hub = lib.hub.get_hub()
    real = hub.loop
    calls = []

    class Timer:
        pending = active = False

        def start(self, *args, **kwargs):
            calls.append(kwargs.get('update'))

        def stop(self):
            pass

        close = stop

    class StandIn:
        def __getattr__(self, name):
            return getattr(real, name)

        def timer(self, *args, **kwargs):
            return Timer()

    hub.loop = StandIn()
    try:
        with lib.timeout.Timeout(5):
            pass
    finally:
        hub.loop = real
    assert calls == [True]


# -- where a timeout was set and whose deadline fired (gevent_c only) --------

def test_an_expired_timeout_says_where_it_was_set_and_in_which_greenlet():
    import gevent_c
    from gevent_c import Timeout

    def fetch():
        with Timeout(0.01):
            gevent_c.sleep(10)

    line = fetch.__code__.co_firstlineno + 1
    g = gevent_c.spawn(fetch)
    g.join()
    message = str(g.exception)
    assert message.startswith('0.01 seconds (set at %s:%d in fetch, expired in %r)'
                              % (__file__, line, g)), message


def test_the_site_skips_gevent_cs_own_frames_and_survives_restarts():
    import gevent_c
    from gevent_c import Timeout
    t = Timeout.start_new(0.01)  # started inside gevent_c/timeout.py
    try:
        gevent_c.sleep(10)
    except Timeout as exc:
        assert exc is t
    text = str(t)
    assert 'in test_the_site_skips' in text and 'expired in the main greenlet' in text
    assert t._set_at[0][0].endswith('timeout.py')  # the raw sites keep it
    t.start()  # a restart forgets where it expired
    t.cancel()
    assert 'expired in' not in str(t) and 'set at' in str(t)


def test_silent_and_string_timeouts_keep_their_endings():
    import gevent_c
    from gevent_c import Timeout
    with Timeout(0.01, False) as silent:
        gevent_c.sleep(10)
    assert str(silent).endswith(' (silent)') and 'set at' in str(silent)
    with pytest.raises(Timeout) as info:
        with Timeout(0.01, 'XXX'):
            gevent_c.sleep(10)
    assert str(info.value).endswith(': XXX') and 'set at' in str(info.value)


def test_not_started_means_no_site_and_restarts_do_not_leak():
    import sys
    from gevent_c import Timeout
    assert Timeout(1)._set_at == () and Timeout(1)._fired_in is None

    def start_cancel(t):
        t.start()
        t.cancel()

    code = start_cancel.__code__
    t = Timeout(1)
    start_cancel(t)
    before = sys.getrefcount(code)
    for _ in range(1000):
        start_cancel(t)
    assert sys.getrefcount(code) == before
    del t
    assert sys.getrefcount(code) == before - 1


# ---- calling Timeout without an argument tuple (its tp_vectorcall) ----------

def test_timeout_call_takes_keywords_and_refuses_bad_arguments():
    import gevent_c
    t = gevent_c.Timeout(seconds=3, exception=False, ref=False, priority=2)
    assert (t.seconds, t.exception, t._ref, t._priority, t.args) == (3, False, False, 2, ())
    t = gevent_c.Timeout(1, None, priority=0)
    assert (t.seconds, t.exception, t._ref, t._priority) == (1, None, True, 0)
    t = gevent_c.Timeout()
    assert t.seconds is None and t._priority == -1
    with pytest.raises(TypeError, match='unexpected keyword'):
        gevent_c.Timeout(1, secs=2)
    with pytest.raises(TypeError, match='multiple values'):
        gevent_c.Timeout(1, seconds=2)
    with pytest.raises(TypeError, match='at most 4'):
        gevent_c.Timeout(1, None, True, 0, 5)
    with pytest.raises(ZeroDivisionError):
        class Bad:
            def __bool__(self):
                raise ZeroDivisionError
        gevent_c.Timeout(1, ref=Bad())
    assert type(gevent_c.Timeout(1)) is gevent_c.Timeout


def test_timeout_seconds_of_every_number_type_and_bad_ones():
    import decimal
    import fractions
    import gevent_c
    for seconds in (1, 0.5, True, fractions.Fraction(1, 2), decimal.Decimal('0.5')):
        with gevent_c.Timeout(seconds) as t:
            assert t.pending and t.timer.active
        assert not t.pending
    for falsy in (0, 0.0, False):
        with pytest.raises(gevent_c.Timeout):
            with gevent_c.Timeout(falsy):
                gevent_c.sleep(0.5)
    with pytest.raises(ValueError, match='nan'):
        gevent_c.Timeout(float('nan')).start()
    with pytest.raises(TypeError):
        gevent_c.Timeout(object()).start()


def test_timeout_new_and_init_replaced_later_are_honoured():
    from _isolated import run_isolated
    out = run_isolated('''
        import gevent_c
        from gevent_c import Timeout
        calls = []
        plain_init = Timeout.__init__

        def init(self, *args, **kwargs):
            calls.append((args, kwargs))
            plain_init(self, *args, **kwargs)

        Timeout.__init__ = init
        t = Timeout(2, exception=False)
        assert calls == [((2,), {'exception': False})], calls
        assert t.seconds == 2 and t.exception is False
        del Timeout.__init__
        Timeout(3)
        assert len(calls) == 1

        def new(cls, *args, **kwargs):
            calls.append('new')
            return super(Timeout, cls).__new__(cls)

        Timeout.__new__ = new
        t = Timeout(4)
        assert calls[-1] == 'new' and t.seconds == 4
        del Timeout.__new__
        t = Timeout(5)
        assert calls[-1] == 'new' and t.seconds == 5 and len(calls) == 2
        with t:
            gevent_c.sleep(0)
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_timeout_subclasses_are_called_the_ordinary_way():
    import gevent_c

    class Sub(gevent_c.Timeout):
        pass

    class WithNew(gevent_c.Timeout):
        def __new__(cls, seconds=None, *rest, **kw):
            self = super().__new__(cls)
            self.made_by_new = seconds
            return self

    t = Sub(1, False)
    assert type(t) is Sub and t.seconds == 1 and t.exception is False and t.args == ()
    t = WithNew(7)
    assert type(t) is WithNew and t.made_by_new == 7 and t.seconds == 7
    with pytest.raises(TypeError):
        Sub(1, 2, 3, 4, 5)


def test_timeout_setup_refuses_what_is_not_a_timeout_class():
    from gevent_c import _core
    from gevent_c import timeout
    with pytest.raises(TypeError):
        _core._timeout_setup(timeout._FakeTimer, int)
    with pytest.raises(TypeError):
        _core._timeout_setup(timeout._FakeTimer, 'Timeout')
    with pytest.raises(TypeError):
        _core._timeout_setup(timeout._FakeTimer)


def test_enter_of_a_started_or_overridden_timeout():
    import gevent_c
    t = gevent_c.Timeout(5)
    t.start()
    with t as entered:   # already pending: enter does not start again
        assert entered is t and t.pending
    assert not t.pending
    starts = []

    class Counting(gevent_c.Timeout):
        def start(self):
            starts.append(self)
            return super().start()

    c = Counting(5)
    with c:
        assert c.pending
    assert starts == [c] and not c.pending


# ---- the loop keeps a finished Timeout's timer for the next one -------------

def test_timeouts_one_after_another_each_fire_with_their_own_settings():
    import gevent_c
    for i in range(3):
        with pytest.raises(gevent_c.Timeout) as info:
            with gevent_c.Timeout(0.01) as t:
                gevent_c.sleep(1)
        assert info.value is t
    quiet = gevent_c.Timeout(5, ref=False, priority=1)
    quiet.start()
    assert quiet.timer.ref is False and quiet.timer.priority == 1 and quiet.timer.active
    quiet.close()
    loud = gevent_c.Timeout(5)
    loud.start()
    assert loud.timer.ref is True and loud.timer.priority == -1 and loud.timer.active
    loud.close()
    # a ref=False timeout does not keep the loop running, after reuse too
    hub = gevent_c.get_hub()
    for _ in range(2):
        t = gevent_c.Timeout(60, ref=False)
        t.start()
        hub.loop.run(nowait=True)
        t.cancel()


def test_a_timer_someone_else_holds_is_never_handed_out_again():
    import weakref
    import gevent_c
    t = gevent_c.Timeout(5)
    with t:
        held = t.timer
    assert not held.active
    t2 = gevent_c.Timeout(5)
    with t2:
        assert t2.timer is not held and t2.timer.active and not held.active
    # one watched by a weak reference is freed, not kept
    t3 = gevent_c.Timeout(5)
    t3.start()
    ref = weakref.ref(t3.timer)
    t3.close()
    assert ref() is None


def test_a_spare_timer_does_not_keep_its_loop_alive():
    from _isolated import run_isolated
    out = run_isolated('''
        import gc, threading, weakref
        import gevent_c
        gc.disable()
        refs = []

        def run():
            hub = gevent_c.get_hub()
            for _ in range(3):
                with gevent_c.Timeout(1):
                    gevent_c.sleep(0)
            refs.append(weakref.ref(hub.loop))
            hub.destroy(destroy_loop=True)

        th = threading.Thread(target=run)
        th.start()
        th.join()
        # freed by reference counting alone, its spare timer with it
        assert refs[0]() is None
        # the main hub: destroying its loop drops the spare as well
        hub = gevent_c.get_hub()
        with gevent_c.Timeout(1):
            pass
        hub.loop.destroy()
        gc.enable()
        gc.collect()
        print('ok')
    ''', dev=True)
    assert out.strip() == 'ok'
