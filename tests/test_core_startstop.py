"""start(callback) and stop() of timer, io and the other watchers.

start with a callback alone, on a stopped watcher, takes a short path in C
(timer.c, io.c, watchers.c); these tests pin that it behaves exactly as the
general path does and as gevent's watchers do: callback/args attributes,
active, the self reference, ref=False, errors, and what a restart keeps.
"""
import gc
import socket
import sys
import weakref

import pytest

from gevent_c import core
from gevent import core as gcore

READ = 1


@pytest.fixture
def sock():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def make(lp, kind, sock):
    if kind == "timer":
        return lp.timer(0)
    if kind == "io":
        sock[1].send(b"x")          # readable at once
        return lp.io(sock[0].fileno(), READ)
    return getattr(lp, kind)()


KINDS = ["timer", "io", "idle", "prepare", "check"]


def run_once(lp):
    """One loop iteration that does not block: prepare and check watchers
    alone would leave the poll waiting for libev's maximum block time."""
    kick = lp.timer(0.001)   # not due yet: idle watchers still run
    kick.start(lambda: None)
    lp.run(once=True)
    kick.stop()


class Callback:
    """A callable that can be weakly referenced and counts its calls."""

    def __init__(self, log=None, name=None):
        self.calls = 0
        self.log = log
        self.name = name

    def __call__(self, *args):
        self.calls += 1
        if self.log is not None:
            self.log.append((self.name, args))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("impl", [core, gcore], ids=["gevent_c", "gevent"])
def test_start_stop_attributes_match_gevent(impl, kind, sock):
    lp = impl.loop(default=False)
    w = make(lp, kind, sock)
    cb = Callback()
    assert (w.callback, w.args, w.active) == (None, None, False)
    w.start(cb)
    assert w.callback is cb
    assert w.args == ()
    assert w.active
    w.stop()
    assert (w.callback, w.args, w.active, w.pending) == (None, None, False, False)
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_stop_releases_the_callback_at_once(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    cb = Callback()
    ref = weakref.ref(cb)
    for _ in range(3):
        w.start(cb)
        w.stop()
    del cb
    assert ref() is None, "stop() kept the callback alive"
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_restart_with_another_callback_calls_the_new_one(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    log = []
    old, new = Callback(log, "old"), Callback(log, "new")
    w.start(old)
    w.stop()
    w.start(new)
    assert w.callback is new
    run_once(lp)
    w.stop()
    assert log and all(name == "new" for name, _ in log)
    assert old.calls == 0
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_restart_after_stop_with_args_then_without(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    log = []
    cb = Callback(log)
    arg = Callback()                # weakly referenceable argument
    ref = weakref.ref(arg)
    w.start(cb, arg, 2)
    assert w.args == (arg, 2)
    w.stop()
    del arg
    assert ref() is None
    w.start(cb)
    assert w.args == ()
    run_once(lp)
    w.stop()
    assert log and log[0][1] == ()
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_start_while_active_replaces_callback_and_args_keeps_one_self_ref(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    base = sys.getrefcount(w)
    first, second = Callback(), Callback()
    w.start(first, 1)
    held = sys.getrefcount(w)
    assert held == base + 1          # the self reference of an active watcher
    w.start(second)
    assert sys.getrefcount(w) == held
    assert (w.callback, w.args, w.active) == (second, (), True)
    w.stop()
    assert sys.getrefcount(w) == base
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_start_after_callback_attribute_was_set(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    preset, given = Callback(), Callback()
    ref = weakref.ref(preset)
    w.callback = preset
    w.start(given)
    assert w.callback is given
    del preset
    assert ref() is None
    run_once(lp)
    w.stop()
    assert given.calls >= 1
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_active_watcher_keeps_itself_alive_and_is_freed_after_stop(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    wref = weakref.ref(w)
    cb = Callback()
    w.start(cb)
    del w
    gc.collect()
    assert wref() is not None
    wref().stop()
    gc.collect()
    assert wref() is None
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_start_with_a_non_callable_raises_and_leaves_it_stopped(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    base = sys.getrefcount(w)
    for bad in (None, 1, "f"):
        with pytest.raises(TypeError):
            w.start(bad)
        assert (w.callback, w.active) == (None, False)
    assert sys.getrefcount(w) == base
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_start_and_stop_argument_errors(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    with pytest.raises(TypeError):
        w.start()
    with pytest.raises(TypeError):
        w.stop(1)
    assert not w.active
    lp.destroy()


@pytest.mark.parametrize("kind", KINDS)
def test_start_on_a_destroyed_loop_raises(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    lp.destroy()
    with pytest.raises(ValueError):
        w.start(Callback())
    assert w.callback is None
    w.stop()                         # harmless


@pytest.mark.parametrize("kind", KINDS)
def test_destroy_releases_a_watcher_started_by_the_short_path(kind, sock):
    lp = core.loop(default=False)
    w = make(lp, kind, sock)
    wref = weakref.ref(w)
    cref_holder = Callback()
    cref = weakref.ref(cref_holder)
    w.start(cref_holder)
    del w, cref_holder
    lp.destroy()
    gc.collect()
    assert wref() is None and cref() is None


@pytest.mark.parametrize("kind", ["timer", "io", "idle"])
def test_unref_watcher_restarted_keeps_the_loop_refcount_balanced(kind, sock):
    """A ref=False watcher started and stopped again and again takes and
    gives back libev's reference each time: a ref'd timer still keeps run()
    going (no reference lost), and run() returns when it is done (none
    left over; the unref'd guard would end a run that blocks)."""
    lp = core.loop(default=False)
    if kind == "timer":
        w = lp.timer(60)
    elif kind == "io":
        w = lp.io(sock[0].fileno(), READ)   # never readable
    else:
        w = lp.idle()
    w.ref = False
    cb = Callback()
    for _ in range(5):
        w.start(cb)
        w.stop()
    w.start(cb)
    log = []
    guard = lp.timer(5, ref=False)
    guard.start(lambda: (log.append("guard"), lp.break_()))
    done = lp.timer(0.01)
    done.start(log.append, "done")
    lp.run()
    assert log == ["done"]
    w.stop()
    guard.stop()
    lp.destroy()


def test_timers_started_by_the_short_path_keep_start_order(sock):
    lp = core.loop(default=False)
    log = []
    lp.update_now()
    timers = [lp.timer(0.001) for _ in range(20)]
    cbs = [Callback(log, i) for i in range(20)]
    order = list(range(20))[::-1]
    for i in order:
        timers[i].start(cbs[i], update=False)
    # restart a few: a restart counts as a new start
    for i in (5, 3):
        timers[i].stop()
        timers[i].start(cbs[i])
        order.remove(i)
        order.append(i)
    lp.run()
    assert [name for name, _ in log] == order
    lp.destroy()


def test_timer_start_from_a_callback_updates_the_loop_time():
    """update=None (the default) refreshes the cached time when started
    from a run_callback callback, with or without arguments."""
    import time
    lp = core.loop(default=False)
    stale, fresh, fresh_args = lp.timer(0), lp.timer(0), lp.timer(0)
    noop = Callback()

    def queued():
        time.sleep(0.02)
        stale.start(noop, update=False)
        fresh.start(noop)
        fresh_args.start(noop, 1)

    lp.update_now()
    lp.run_callback(queued)
    lp.run(once=True)
    assert fresh.at - stale.at >= 0.015
    assert fresh_args.at >= fresh.at
    for t in (stale, fresh, fresh_args):
        t.stop()
    lp.destroy()


def test_stop_whose_callback_release_restarts_the_watcher():
    """Releasing the callback in stop() may run code that starts the watcher
    again; it ends active with the new callback and one self reference."""
    lp = core.loop(default=False)
    t = lp.timer(60)
    base = sys.getrefcount(t)
    new = Callback()

    class Restarts:
        def __call__(self):
            pass

        def __del__(self):
            t.start(new)

    t.start(Restarts())
    t.stop()
    assert (t.callback, t.active) == (new, True)
    assert sys.getrefcount(t) == base + 1
    t.stop()
    assert sys.getrefcount(t) == base
    lp.destroy()


def test_io_pass_events_after_plain_start(sock):
    lp = core.loop(default=False)
    w = make(lp, "io", sock)
    log = []
    cb = Callback(log)
    w.start(cb)
    w.stop()
    w.start(cb, "a", pass_events=True)
    run_once(lp)
    w.stop()
    assert log == [(None, (READ, "a"))]
    w.start(cb)
    run_once(lp)
    w.stop()
    assert log[-1] == (None, ())
    lp.destroy()


def test_io_callback_error_stops_the_watcher_started_by_the_short_path(sock):
    lp = core.loop(default=False)
    w = make(lp, "io", sock)
    errors = []

    class Handler:
        def handle_error(self, context, type, value, tb):
            errors.append(type)

    lp.error_handler = Handler()

    def boom():
        raise ZeroDivisionError

    w.start(boom)
    run_once(lp)
    assert (w.active, w.callback) == (False, None)
    assert errors == [ZeroDivisionError]
    lp.destroy()


def test_destroy_after_watchers_were_started_stopped_and_freed(sock):
    """Stopped watchers stay known to their loop until freed; destroy()
    stops the active ones and leaves the rest, and nothing is touched after
    it was freed (this runs under the sanitizer job too)."""
    lp = core.loop(default=False)
    cb = Callback()
    ws = [lp.timer(60) for _ in range(4)] + \
        [lp.io(sock[0].fileno(), READ) for _ in range(4)] + [lp.idle()]
    for w in ws:
        w.start(cb)
        w.stop()
    del ws[6], ws[1]              # freed while stopped
    gc.collect()
    for w in ws[::2]:
        w.start(cb)
    refs = [weakref.ref(w) for w in ws]
    active = [w for w in ws if w.active]
    assert len(active) == 4
    del ws, w, active
    lp.destroy()
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)


def test_destroy_while_releasing_a_callback_frees_other_stopped_watchers():
    lp = core.loop(default=False)
    stopped = [lp.timer(60) for _ in range(3)]
    for t in stopped:
        t.start(Callback())
        t.stop()
    holder = {"stopped": stopped}
    del stopped, t

    class FreesOthers:
        def __call__(self):
            pass

        def __del__(self):
            holder.clear()

    active = lp.timer(60)
    active.start(FreesOthers())
    ref = weakref.ref(active)
    del active
    lp.destroy()                  # stops `active`: __del__ frees the three
    gc.collect()
    assert ref() is None and holder == {}



@pytest.mark.parametrize("make_args", [
    "core.timer(lp, Sneaky())",
    "lp.timer(Sneaky())",
    "core.io(lp, Sneaky(), 1)",
    "lp.io(Sneaky(), 1)",
    "core.idle(lp, ref=Sneaky())",
    "core.stat(lp, '.', Sneaky())",
])
def test_a_watcher_being_built_is_not_reachable_through_gc(make_args):
    """Python code run while a watcher is built (an argument's __float__,
    fileno(), __bool__) cannot find the half-built watcher with
    gc.get_objects() and use it (that crashed: it has no loop yet)."""
    from _isolated import run_isolated
    out = run_isolated("""
        import gc, socket
        from gevent_c import core
        lp = core.loop(default=False)
        a, b = socket.socketpair()
        seen = []

        class Sneaky:
            def _poke(self):
                for o in gc.get_objects():
                    if isinstance(o, core.watcher) and o.loop is not lp:
                        seen.append(o)
                        for call in (o.stop, lambda: o.start(print), o.close,
                                     lambda: o.active, lambda: repr(o)):
                            try:
                                call()
                            except Exception:
                                pass

            def __float__(self):
                self._poke()
                return 0.5

            def __index__(self):
                self._poke()
                return a.fileno()

            def fileno(self):
                self._poke()
                return a.fileno()

            def __bool__(self):
                self._poke()
                return True

        w = %s
        print(len(seen), type(w).__name__, w.loop is lp)
        lp.destroy()
    """ % make_args)
    count, name, same_loop = out.split()
    assert count == "0" and same_loop == "True"
