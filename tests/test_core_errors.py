"""gevent_c.core error routing and bad input."""
import sys

import pytest

from _isolated import run_python as run_script
from gevent_c import core
from gevent import core as gcore




@pytest.fixture
def loop():
    lp = core.loop(default=False)
    yield lp
    lp.destroy()


class Recorder:
    def __init__(self):
        self.calls = []

    def handle_error(self, context, type, value, tb):
        self.calls.append((context, type, value, tb))


def boom():
    raise ZeroDivisionError("boom")


def test_watcher_error_goes_to_error_handler(loop):
    rec = Recorder()
    loop.error_handler = rec
    t = loop.timer(0)
    t.start(boom)
    after = loop.timer(0.01)
    ran = []
    after.start(ran.append, 1)
    loop.run()
    [(context, type_, value, tb)] = rec.calls
    assert context is t
    assert type_ is ZeroDivisionError and isinstance(value, ZeroDivisionError)
    assert tb is not None
    assert ran == [1]


def test_callback_error_goes_to_error_handler_with_callback_as_context(loop):
    rec = Recorder()
    loop.error_handler = rec
    cb = loop.run_callback(boom)
    loop.run()
    assert rec.calls[0][0] is cb
    assert rec.calls[0][1] is ZeroDivisionError


def test_error_without_handler_prints_naming_the_watcher_and_breaks(loop, capsys):
    t = loop.timer(0)
    t.start(boom)
    later = loop.timer(0.001)
    ran = []
    later.start(ran.append, 1)
    loop.run()          # breaks after the error, as gevent's loop does
    err = capsys.readouterr().err
    assert "ZeroDivisionError: boom" in err
    assert "timer" in err and "failed with ZeroDivisionError" in err
    loop.run()
    assert ran == [1]


def test_default_error_behaviour_matches_gevent():
    code = """
    import sys
    from %s import core
    loop = core.loop(default=False)
    out = []
    def boom():
        raise ValueError("x")
    loop.run_callback(boom)
    loop.run_callback(out.append, "second")
    t = loop.timer(0.001)
    t.start(out.append, "timer")
    loop.run()
    out.append("returned")
    loop.run()
    print(out)
    """
    ours = run_script(code % "gevent_c")
    theirs = run_script(code % "gevent")
    assert ours.stdout == theirs.stdout
    assert "ValueError: x" in ours.stderr and "ValueError: x" in theirs.stderr


@pytest.mark.parametrize("exc", ["SystemExit(3)", "KeyboardInterrupt()"])
def test_system_errors_without_handler_are_raised_by_run(loop, exc):
    def raiser():
        raise eval(exc)
    t = loop.timer(0)
    t.start(raiser)
    other = loop.timer(30)
    other.start(lambda: None)
    with pytest.raises(type(eval(exc))):
        loop.run()
    other.stop()


def test_system_error_from_run_callback_is_raised_by_run(loop):
    def stop():
        raise SystemExit(5)
    loop.run_callback(stop)
    with pytest.raises(SystemExit) as info:
        loop.run()
    assert info.value.code == 5


def test_handler_that_raises_is_reported_as_unraisable(loop, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    class Bad:
        def handle_error(self, *args):
            raise RuntimeError("handler broke")
    loop.error_handler = Bad()
    cb = loop.run_callback(boom)
    ran = []
    loop.run_callback(ran.append, "next")
    loop.run()
    assert [str(r.exc_value) for r in reported] == ["handler broke"]
    assert reported[0].object is cb
    assert ran == ["next"]


def test_handle_error_can_be_called_directly(loop):
    rec = Recorder()
    loop.error_handler = rec
    loop.handle_error(None, ValueError, ValueError("v"), None)
    assert rec.calls[0][1] is ValueError


def test_non_callable_start_raises_type_error(loop):
    t = loop.timer(1)
    with pytest.raises(TypeError, match="Expected callable, not 1"):
        t.start(1)
    with pytest.raises(TypeError):
        t.start()
    with pytest.raises(TypeError):
        t.callback = 5
    assert not t.active


def test_priority_of_active_watcher_cannot_change(loop):
    t = loop.timer(1)
    t.priority = core.MAXPRI
    t.start(print)
    with pytest.raises(AttributeError, match="Cannot set priority of an active watcher"):
        t.priority = 0
    t.stop()
    t.priority = 0
    assert t.priority == 0


def test_watcher_on_destroyed_loop_raises(loop):
    lp = core.loop(default=False)
    t = lp.timer(1)
    i = lp.idle()
    a = lp.async_()
    lp.destroy()
    for call in (lambda: t.start(print), lambda: t.again(print),
                 lambda: i.start(print), lambda: i.feed(core.IDLE, print),
                 lambda: a.send()):
        with pytest.raises(ValueError, match="operation on destroyed loop"):
            call()
    t.stop()
    t.close()


def test_active_watcher_keeps_working_after_its_loop_object_is_dropped():
    lp = core.loop(default=False)
    out = []
    lp.timer(0).start(out.append, 1)
    lp.run()
    assert out == [1]


def test_bad_inputs_raise_the_same_types_as_gevent():
    r = 65000           # surely not open (a just-closed fd may be reused)
    cases = [
        lambda m, lp: lp.io(-1, m.READ),
        lambda m, lp: lp.io(0, 0x100),
        lambda m, lp: lp.io(r, m.READ),
        lambda m, lp: lp.signal(0),
        lambda m, lp: lp.timer(1, -1),
        lambda m, lp: lp.child(1),
        lambda m, lp: lp.timer(1).start(None),
        lambda m, lp: m.loop("nosuch", default=False),
    ]
    for case in cases:
        kinds = []
        for mod in (core, gcore):
            lp = mod.loop(default=False)
            try:
                case(mod, lp)
            except Exception as exc:
                kinds.append(type(exc))
            else:
                kinds.append(None)
            finally:
                lp.destroy()
        assert kinds[0] is kinds[1] and kinds[0] is not None, kinds


def test_feed_delivers_the_given_events(loop):
    got = []
    w = loop.idle()
    w.feed(core.READ | core.WRITE, got.append, core.EVENTS)
    assert w.pending
    loop.run()
    assert got == [core.READ | core.WRITE]
    assert not w.pending and w.callback is None
