"""The hub: one per thread, error reporting, LoopExit, blocking rules, Waiter."""
import io
import threading

import importlib
import sys

import pytest

from _hubtest import clean_hub, lib, gc_lib, errors  # noqa: F401 -- fixtures


def test_get_hub_returns_the_same_hub_in_one_thread(lib):
    assert lib.hub.get_hub() is lib.hub.get_hub()


def test_hub_is_created_lazily(gc_lib):
    assert gc_lib.hub.get_hub_if_exists() is None
    hub = gc_lib.hub.get_hub()
    assert gc_lib.hub.get_hub_if_exists() is hub


def test_each_thread_gets_its_own_hub(lib):
    main_hub = lib.hub.get_hub()
    seen = []

    def in_thread():
        hub = lib.hub.get_hub()
        seen.append(hub)
        lib.top.sleep(0.001)
        hub.destroy(destroy_loop=True)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert seen and seen[0] is not main_hub
    assert lib.hub.get_hub() is main_hub


def test_hub_parent_is_the_main_greenlet_and_spawned_greenlets_have_hub_as_parent(lib):
    hub = lib.hub.get_hub()
    main = lib.hub.getcurrent()
    assert hub.parent is main
    g = lib.top.spawn(lambda: None)
    assert g.parent is hub
    g.join()


def test_hub_class_attributes_match_gevent(gc_lib):
    import gevent.hub
    Hub = gc_lib.hub.Hub
    assert Hub.SYSTEM_ERROR == gevent.hub.Hub.SYSTEM_ERROR
    assert len(Hub.NOT_ERROR) == 2 and issubclass(Hub.NOT_ERROR[1], SystemExit)
    assert Hub.threadpool_size == 10


def test_loop_exit_when_main_blocks_with_nothing_to_wake_it(lib):
    ev = lib.event.Event()
    with pytest.raises(lib.exceptions.LoopExit) as info:
        ev.wait()
    assert str(info.value).startswith('This operation would block forever')
    assert info.value.hub is lib.hub.get_hub()


def test_loop_exit_message_names_the_blocked_greenlet_and_the_event(gc_lib):
    ev = gc_lib.event.Event()
    with pytest.raises(gc_lib.exceptions.LoopExit) as info:
        ev.wait()
    message = str(info.value)
    assert message.startswith('This operation would block forever: <main greenlet>')
    assert '<Event unset' in message and 'Event.wait' in message


def test_loop_exit_message_names_the_greenlet_being_joined(gc_lib):
    ev = gc_lib.event.Event()
    g = gc_lib.top.spawn(ev.wait)
    g.name = 'stuck'
    with pytest.raises(gc_lib.exceptions.LoopExit) as info:
        g.join()
    message = str(info.value)
    assert 'is waiting on <Greenlet "stuck"' in message and 'Greenlet.join' in message


def test_loop_exit_message_names_an_unreferenced_sleep(gc_lib):
    with pytest.raises(gc_lib.exceptions.LoopExit) as info:
        gc_lib.top.sleep(30, ref=False)
    assert 'sleep(seconds=30' in str(info.value)


def test_loop_exit_message_names_a_queue_get(gc_lib):
    q = gc_lib.queue.Queue()
    with pytest.raises(gc_lib.exceptions.LoopExit) as info:
        q.get()
    assert 'Queue' in str(info.value) and 'get' in str(info.value)


def test_hub_is_usable_after_loop_exit(lib):
    with pytest.raises(lib.exceptions.LoopExit):
        lib.event.Event().wait()
    g = lib.top.spawn(lambda: 5)
    assert g.get() == 5


def test_blocking_inside_the_hub_raises_blocking_switch_out_error(lib, errors):
    hub = lib.hub.get_hub()
    caught = []

    def callback():
        try:
            lib.top.sleep(0.01)
        except lib.exceptions.BlockingSwitchOutError as ex:
            caught.append(ex)

    hub.loop.run_callback(callback)
    lib.top.sleep(0.01)
    assert len(caught) == 1


def test_greenlet_error_is_reported_once_with_traceback_greenlet_and_time(lib, errors):
    def boom():
        raise ValueError('bad thing')

    g = lib.top.spawn(boom)
    g.join()
    lib.top.sleep(0)
    text = errors.getvalue()
    assert text.count('ValueError: bad thing') == 1
    assert 'Traceback' in text and 'in boom' in text
    assert 'failed with ValueError' in text
    assert repr(g) in text
    assert isinstance(g.exception, ValueError)


def test_greenlet_exit_is_not_reported(lib, errors):
    g = lib.top.spawn(lib.top.sleep, 10)
    lib.top.sleep(0)
    g.kill()
    assert errors.getvalue() == ''
    assert isinstance(g.value, lib.top.GreenletExit)


def test_system_exit_in_a_greenlet_reaches_the_main_greenlet(lib, errors):
    def quit_():
        raise SystemExit(3)

    lib.top.spawn(quit_)
    with pytest.raises(SystemExit) as info:
        lib.top.sleep(0.01)
    assert info.value.code == 3
    lib.top.sleep(0.01)  # let the failed greenlet finish
    assert errors.getvalue() == ''


def test_keyboard_interrupt_in_a_greenlet_reaches_the_main_greenlet(lib, errors):
    def interrupt():
        raise KeyboardInterrupt

    lib.top.spawn(interrupt)
    with pytest.raises(KeyboardInterrupt):
        lib.top.sleep(0.01)
    lib.top.sleep(0.01)  # let the failed greenlet finish
    assert 'KeyboardInterrupt' in errors.getvalue()


def test_system_error_can_be_reassigned_on_the_class(lib, errors):
    Hub = lib.hub.Hub
    saved = Hub.SYSTEM_ERROR
    Hub.SYSTEM_ERROR = saved + (ZeroDivisionError,)
    try:
        lib.top.spawn(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            lib.top.sleep(0.01)
        lib.top.sleep(0.01)  # let the failed greenlet finish
    finally:
        Hub.SYSTEM_ERROR = saved


def test_not_error_on_the_instance_silences_reports(lib, errors):
    hub = lib.hub.get_hub()
    hub.NOT_ERROR = hub.NOT_ERROR + (KeyError,)

    def fail():
        raise KeyError('quiet')

    g = lib.top.spawn(fail)
    g.join()
    assert errors.getvalue() == ''
    assert isinstance(g.exception, KeyError)


def test_handle_error_can_be_overridden_on_the_instance_and_deleted(lib, errors):
    hub = lib.hub.get_hub()
    seen = []
    hub.handle_error = lambda context, t, v, tb: seen.append((context, t))
    g = lib.top.spawn(lambda: 1 / 0)
    g.join()
    assert seen == [(g, ZeroDivisionError)]
    del hub.handle_error
    g2 = lib.top.spawn(lambda: 1 / 0)
    g2.join()
    assert 'ZeroDivisionError' in errors.getvalue()


def test_exception_stream_defaults_to_stderr_at_report_time(gc_lib, capsys):
    g = gc_lib.top.spawn(lambda: 1 / 0)
    g.join()
    assert 'ZeroDivisionError' in capsys.readouterr().err


def test_print_exception_with_string_context(lib, errors):
    hub = lib.hub.get_hub()
    try:
        raise RuntimeError('x')
    except RuntimeError as ex:
        hub.print_exception('my context', RuntimeError, ex, ex.__traceback__)
    assert 'my context failed with RuntimeError' in errors.getvalue()


def test_error_in_a_loop_callback_is_reported_and_the_loop_continues(lib, errors):
    hub = lib.hub.get_hub()
    hub.loop.run_callback(lambda: 1 / 0)
    lib.top.sleep(0.01)
    assert 'ZeroDivisionError' in errors.getvalue()
    assert lib.top.spawn(lambda: 'ok').get() == 'ok'


def test_waiter_switch_from_outside_the_hub_raises_assertion_error(lib):
    waiter = lib.hub.Waiter()
    main = lib.hub.getcurrent()
    results = []

    def other():
        try:
            waiter.switch(1)
        except AssertionError as ex:
            results.append(ex)
        lib.hub.get_hub().loop.run_callback(waiter.switch, 'done')

    lib.top.spawn(other)
    assert waiter.get() == 'done'
    assert len(results) == 1
    assert lib.hub.getcurrent() is main


def test_waiter_stores_a_value_switched_before_get(lib):
    waiter = lib.hub.Waiter()
    waiter.switch(42)
    assert waiter.ready() and waiter.successful()
    assert waiter.get() == 42


def test_waiter_throw_before_get_raises_in_get(lib):
    waiter = lib.hub.Waiter()
    waiter.throw(KeyError('k'))
    with pytest.raises(KeyError):
        waiter.get()


def test_waiter_has_gevents_attributes(gc_lib):
    waiter = gc_lib.hub.Waiter()
    assert waiter.hub is gc_lib.hub.get_hub()
    assert waiter.greenlet is None and waiter.value is None
    assert not waiter.ready()
    with pytest.raises(AttributeError):
        waiter.unexpected_attribute = 1


def test_hub_wait_on_a_timer(lib):
    hub = lib.hub.get_hub()
    timer = hub.loop.timer(0.001)
    hub.wait(timer)
    assert not timer.active


def test_cancel_wait_raises_in_the_waiting_greenlet(lib):
    hub = lib.hub.get_hub()
    timer = hub.loop.timer(30)

    def waiter():
        hub.wait(timer)

    g = lib.top.spawn(waiter)
    lib.top.sleep(0)
    hub.cancel_wait(timer, OSError('closed elsewhere'))
    with pytest.raises(OSError, match='closed elsewhere'):
        g.get()


def test_hub_join_returns_true_when_the_loop_is_done(lib):
    results = []
    lib.top.spawn(results.append, 1)
    assert lib.hub.get_hub().join() is True
    assert results == [1]


def test_hub_join_timeout_returns_false(lib):
    lib.top.spawn(lib.top.sleep, 5)
    assert lib.hub.get_hub().join(timeout=0.01) is False


def test_wait_without_objects_runs_everything(lib):
    results = []
    for i in range(3):
        lib.top.spawn(results.append, i)
    assert lib.top.wait() is True
    assert results == [0, 1, 2]


def test_iwait_yields_objects_in_completion_order(lib):
    gs = [lib.top.spawn(lib.top.sleep, d) for d in (0.03, 0.01, 0.02)]
    order = list(lib.top.iwait(gs))
    assert order == [gs[1], gs[2], gs[0]]


def test_iwait_count_and_timeout(lib):
    gs = [lib.top.spawn(lib.top.sleep, d) for d in (0.001, 5, 5)]
    assert list(lib.top.iwait(gs, count=1)) == [gs[0]]
    assert lib.top.wait(gs[1:], timeout=0.01) == []
    lib.top.killall(gs)


def test_destroyed_hub_is_replaced_by_a_new_one(lib):
    hub = lib.hub.get_hub()
    lib.top.sleep(0)
    hub.destroy(destroy_loop=True)
    hub2 = lib.hub.get_hub()
    assert hub2 is not hub
    assert lib.top.spawn(lambda: 1).get() == 1


def test_destroy_keeps_the_default_loop_for_the_next_hub(gc_lib):
    hub = gc_lib.hub.get_hub()
    loop = hub.loop
    gc_lib.top.sleep(0)
    hub.destroy()
    assert gc_lib.hub.get_hub().loop is loop


def test_destroy_unwinds_the_hub_greenlet(gc_lib):
    hub = gc_lib.hub.get_hub()
    g = gc_lib.top.spawn(gc_lib.event.Event().wait)  # blocked, but on no watcher
    gc_lib.top.sleep(0)
    hub.destroy(destroy_loop=True)
    assert hub.dead and hub.loop is None
    assert gc_lib.hub.get_hub_if_exists() is None
    g.parent = gc_lib.hub.getcurrent()
    g.throw()


def test_threadpool_and_resolver_are_lazy_settable_deletable(gc_lib):
    hub = gc_lib.hub.get_hub()
    marker = object()
    hub.threadpool = marker
    assert hub.threadpool is marker
    del hub.threadpool
    hub.resolver = marker
    assert hub.resolver is marker
    del hub.resolver
    try:
        import gevent_c.threadpool  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match='gevent_c.threadpool'):
            hub.threadpool


def test_spawn_raw_runs_function_with_args_and_kwargs(lib):
    results = []
    g = lib.hub.spawn_raw(lambda a, b=None: results.append((a, b)), 1, b=2)
    lib.top.sleep(0)
    assert results == [(1, 2)]
    assert g.dead


def test_spawn_raw_rejects_non_callable(lib):
    with pytest.raises(TypeError):
        lib.hub.spawn_raw(42)


def test_kill_a_raw_greenlet(lib):
    g = lib.hub.spawn_raw(lib.top.sleep, 10)
    lib.top.sleep(0)
    lib.top.kill(g)
    lib.top.sleep(0)
    assert g.dead


def test_idle_returns_when_nothing_else_is_ready(lib):
    order = []
    lib.top.spawn(lambda: order.append('spawned'))
    lib.top.idle()
    order.append('idle')
    assert order == ['spawned', 'idle']


def test_signal_handler_runs_in_a_greenlet(lib):
    import os
    import signal
    called = []
    handler = lib.top.signal_handler(signal.SIGUSR1, called.append, 'sig')
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(100):
            lib.top.sleep(0.001)
            if called:
                break
        assert called == ['sig']
    finally:
        handler.cancel()


def test_getswitchinterval_is_sys_switchinterval(lib):
    import sys
    assert lib.top.getswitchinterval() == sys.getswitchinterval()


def test_top_level_exports_match_gevent(gc_lib):
    import gevent
    missing = set(gevent.__all__) - set(gc_lib.top.__all__) - {'fork'}
    assert not missing
    for name in gc_lib.top.__all__:
        assert hasattr(gc_lib.top, name)
    for name in ('Hub', 'Waiter', 'get_hub', 'getcurrent', 'GreenletExit', 'spawn_raw', 'sleep',
                 'idle', 'kill', 'reinit', 'signal', 'iwait', 'wait', 'LoopExit', 'set_hub',
                 'get_hub_if_exists'):
        assert hasattr(gc_lib.hub, name), name


def test_exception_classes_have_gevents_bases(gc_lib):
    ex = gc_lib.exceptions
    assert issubclass(ex.LoopExit, Exception)
    for name in ('BlockingSwitchOutError', 'InvalidSwitchError', 'ConcurrentObjectUseError'):
        assert issubclass(getattr(ex, name), AssertionError)
    assert issubclass(ex.InvalidThreadUseError, RuntimeError)
    assert issubclass(ex.HubDestroyed, gc_lib.top.GreenletExit)


def test_config_reads_and_validates_settings(gc_lib):
    config = gc_lib.top.config
    assert config.threadpool_size >= 1
    config.resolver = 'ares,thread'
    assert config.resolver is importlib.import_module('gevent_c.resolver.ares').Resolver
    config.resolver = ['thread', 'ares', 'block']
    assert config.resolver is importlib.import_module('gevent_c.resolver.thread').Resolver
    with pytest.raises(AttributeError):
        config.no_such_setting = 1
    with pytest.raises(ValueError):
        config.set('threadpool_size', 0)


def test_reinit_keeps_the_hub_working(lib):
    lib.top.sleep(0)
    lib.top.reinit()
    assert lib.top.spawn(lambda: 2).get() == 2


def test_waiter_get_twice_concurrently_raises(gc_lib):
    waiter = gc_lib.hub.Waiter()
    g = gc_lib.top.spawn(waiter.get)
    gc_lib.top.sleep(0)
    with pytest.raises(gc_lib.exceptions.ConcurrentObjectUseError):
        waiter.get()
    g.kill()


def test_exception_stream_can_be_replaced(gc_lib):
    hub = gc_lib.hub.get_hub()
    stream = io.StringIO()
    hub.exception_stream = stream
    assert hub.exception_stream is stream
    del hub.exception_stream
    import sys
    assert hub.exception_stream is sys.stderr


def test_sigint_while_the_main_greenlet_sleeps_raises_keyboard_interrupt_in_it(lib):
    import os
    import signal
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.fail('SIGINT handler replaced by the test runner')
    hub = lib.hub.get_hub()
    hub.loop.timer(0.001).start(os.kill, os.getpid(), signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        lib.top.sleep(5)


def test_iwait_yields_in_the_order_objects_became_ready(lib):
    top, event = lib.top, lib.event
    sleepers = [top.spawn(top.sleep, d) for d in (0.03, 0.01, 0.02)]
    assert [sleepers.index(g) for g in top.iwait(sleepers)] == [1, 2, 0]
    events = [event.Event() for _ in range(4)]

    def setter():
        for i in (2, 0, 3, 1):
            events[i].set()
    top.spawn(setter)
    assert [events.index(e) for e in top.iwait(events)] == [2, 0, 3, 1]
    ready = [event.Event() for _ in range(3)]
    for i in (2, 1, 0):
        ready[i].set()
    assert [ready.index(e) for e in top.iwait(ready)] == [0, 1, 2]  # already ready: as given
    quick = [top.spawn(lambda: None) for _ in range(3)]
    given = [quick[2], quick[0], quick[1]]
    assert [quick.index(g) for g in top.iwait(given)] == [0, 1, 2]  # as they finished


# ---- the periodic monitoring thread ---------------------------------------------

def _greenlet_module(lib):
    return importlib.import_module('greenlet' if lib.name == 'gevent' else 'gevent_c._greenlet')


def test_monitoring_thread_reports_a_blocked_hub_and_stops_cleanly(lib):
    import io
    import sys
    import time
    config = lib.top.config
    saved = config.monitor_thread
    config.monitor_thread = True
    hub = lib.hub.get_hub()
    stream = hub.exception_stream = io.StringIO()
    try:
        monitor = hub.start_periodic_monitoring_thread()
        assert monitor is hub.start_periodic_monitoring_thread()  # one per hub
        assert _greenlet_module(lib).gettrace() is not None
        functions = [entry.function for entry in monitor.monitoring_functions()]
        assert len(functions) >= 1
        calls = []
        monitor.add_monitoring_function(calls.append, 0.01)
        assert monitor.monitoring_functions()[-1].period == 0.01
        lib.top.sleep(0.01)         # a switch, so a later silence is noticed
        time.sleep(0.35)            # blocks the hub: more than max_blocking_time
        lib.top.sleep(0.01)
        assert 'appears to be blocked' in stream.getvalue()
        assert calls and calls[0] is hub
        monitor.add_monitoring_function(calls.append, None)
        assert [e.function for e in monitor.monitoring_functions()] == functions
        with pytest.raises(ValueError):
            monitor.add_monitoring_function(calls.append, -1)
        ident = getattr(monitor, 'monitor_thread_ident', None)
        monitor.kill()
        assert _greenlet_module(lib).gettrace() is None
        if ident is not None:
            deadline = time.monotonic() + 10
            while ident in sys._current_frames() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ident not in sys._current_frames()
    finally:
        config.monitor_thread = saved
        if hub.periodic_monitoring_thread is not None:
            hub.periodic_monitoring_thread.kill()
            hub.periodic_monitoring_thread = None
        del hub.exception_stream


def test_no_monitoring_thread_unless_configured(lib):
    hub = lib.hub.get_hub()
    assert lib.top.config.monitor_thread is False
    assert hub.start_periodic_monitoring_thread() is None
    lib.top.sleep(0)
    assert hub.periodic_monitoring_thread is None


def test_exception_stream_none_silences_error_reports(lib, capfd):
    hub = lib.hub.get_hub()
    hub.exception_stream = None
    try:
        def fails():
            raise KeyError('silenced')
        g = lib.top.spawn(fails)
        g.join()
        assert isinstance(g.exception, KeyError)
    finally:
        del hub.exception_stream
    assert 'silenced' not in capfd.readouterr().err
    assert hub.exception_stream is sys.stderr


def test_waiter_str_is_gevents(lib):
    waiter = lib.hub.Waiter()
    assert str(waiter) == '<Waiter greenlet=None>'
    waiter.switch(25)
    assert str(waiter) == '<Waiter greenlet=None value=25>'
    assert waiter.get() == 25


def test_monitoring_thread_memory_check(gc_lib, monkeypatch):
    psutil = pytest.importorskip('psutil')
    from gevent_c._monitor import PeriodicMonitoringThread
    config = gc_lib.top.config
    hub = gc_lib.hub.get_hub()
    monitor = PeriodicMonitoringThread(hub)
    try:
        assert monitor.can_monitor_memory_usage()
        setting = config.settings['max_memory_usage']
        saved = (setting._value, setting._is_set)
        try:
            config.max_memory_usage = None
            assert monitor.monitor_memory_usage(hub) == -1
            config.max_memory_usage = 1  # one byte: exceeded
            assert monitor.monitor_memory_usage(hub) > 1 and monitor._memory_exceeded
            config.max_memory_usage = 1 << 50
            assert monitor.monitor_memory_usage(hub) > 1 and not monitor._memory_exceeded
        finally:
            setting._value, setting._is_set = saved
    finally:
        monitor.kill()
