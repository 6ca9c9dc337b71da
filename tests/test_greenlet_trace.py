"""settrace/gettrace callbacks, and sys.settrace across switches."""
import sys

import pytest

from gevent_c._greenlet import greenlet, getcurrent, settrace, gettrace


@pytest.fixture
def trace_log():
    log = []

    def tracer(event, args):
        origin, target = args
        log.append((event, origin, target, getcurrent()))
    old = settrace(tracer)
    try:
        yield log
    finally:
        settrace(old)


def test_settrace_returns_previous_and_gettrace_reports_it():
    def t1(*a):
        pass
    old = settrace(t1)
    try:
        assert gettrace() is t1
        assert settrace(None) is t1
        assert gettrace() is None
    finally:
        settrace(old)


def test_switch_and_throw_events_in_order(trace_log):
    main = getcurrent()

    def run():
        try:
            main.switch()
        except ValueError:
            pass
    g = greenlet(run)
    g.switch()
    g.throw(ValueError)
    events = [(e, o, t) for e, o, t, _ in trace_log]
    assert events == [
        ("switch", main, g),
        ("switch", g, main),
        ("throw", main, g),
        ("switch", g, main),
    ]
    # the callback runs in the target
    assert all(cur is t for _, _, t, cur in trace_log)


def test_throw_into_unstarted_greenlet_traces_throw(trace_log):
    main = getcurrent()
    g = greenlet(lambda: None)
    with pytest.raises(KeyError):
        g.throw(KeyError)
    assert [(e, o, t) for e, o, t, _ in trace_log] == [
        ("throw", main, g), ("throw", g, main)]


def test_failing_trace_function_is_removed_and_error_raised_in_target():
    main = getcurrent()
    ran = []

    def bad(event, args):
        raise RuntimeError("trace failed")
    old = settrace(bad)
    try:
        g = greenlet(lambda: ran.append(1))
        with pytest.raises(RuntimeError, match="trace failed"):
            g.switch()
        assert gettrace() is None
        assert ran == [] and g.dead
    finally:
        settrace(old)

    def run():
        try:
            main.switch()
        except RuntimeError as e:
            return "target saw %s" % e
    g = greenlet(run)
    g.switch()
    settrace(bad)
    try:
        assert g.switch() == "target saw trace failed"
    finally:
        settrace(old)


def test_trace_function_keeps_pending_exception(trace_log):
    g = greenlet(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        g.switch()


def test_sys_settrace_sees_calls_and_returns_across_switches():
    main = getcurrent()
    events = []

    def tracer(frame, event, arg):
        if frame.f_code.co_name in ("work", "helper"):
            events.append((event, frame.f_code.co_name))
        return tracer

    def helper():
        main.switch()
        return 1

    def work():
        helper()
        helper()
    g = greenlet(work)
    sys.settrace(tracer)
    try:
        g.switch()
        g.switch()
        g.switch()
    finally:
        sys.settrace(None)
    calls = [e for e in events if e[0] in ("call", "return")]
    assert calls == [("call", "work"), ("call", "helper"), ("return", "helper"),
                     ("call", "helper"), ("return", "helper"),
                     ("return", "work")]


def test_sys_setprofile_sees_greenlet_started_after_it_is_set():
    main = getcurrent()
    events = []

    def prof(frame, event, arg):
        if frame.f_code.co_name == "body":
            events.append(event)

    def body():
        main.switch()
    sys.setprofile(prof)
    try:
        g = greenlet(body)
        g.switch()
        g.switch()
    finally:
        sys.setprofile(None)
    assert events.count("call") == 1 and events.count("return") == 1
