"""Regression tests for crashes and bad input found reviewing ext/core's
loop and watchers.  Crash-prone scenarios run in a fresh interpreter."""
import pytest

from _isolated import run_isolated


def test_priority_of_pending_watcher_cannot_change():
    # libev files a pending watcher under its priority: changing it made
    # stop() write into another priority's (NULL) pending array
    out = run_isolated("""
        from gevent_c import core
        l = core.loop(default=False)
        i = l.idle()
        i.feed(1, lambda: print("fired"))
        try:
            i.priority = 2
        except AttributeError as e:
            print("refused:", e)
        i.stop()
        del i
        l.run()
        i = l.idle()
        i.priority = 2          # inactive and not pending: allowed
        print(i.priority)
        l.destroy()
        print("done")
    """, dev=True)
    assert out.splitlines() == [
        "refused: Cannot set priority of a pending watcher", "2", "done"]


def test_feed_with_out_of_range_priority():
    # ev_feed_event indexes the pending arrays by priority unclamped
    out = run_isolated("""
        from gevent_c import core
        l = core.loop(default=False)
        hi = l.idle(priority=1000)
        print(hi.priority)
        hi.feed(1, lambda: print("hi fired"))
        lo = l.idle()
        lo.priority = -100000
        lo.feed(1, lambda: print("lo fired"))
        l.run()
        print(hi.priority == core.MAXPRI, lo.priority == core.MINPRI)
        l.destroy()
    """, dev=True)
    assert out.splitlines() == ["1000", "hi fired", "lo fired", "True True"]


def test_destroy_reentered_from_del_of_released_objects():
    # destroy() releases signal watchers and queued callbacks; a __del__
    # calling destroy() again ran a second destroy inside the first one
    # (ev_loop_destroy twice).  Now the inner call is a no-op, and what the
    # __del__ queues or starts is released too before libev's loop is freed.
    out = run_isolated("""
        import os, signal
        from gevent_c import core
        events = []
        signal.signal(signal.SIGUSR2, lambda *a: events.append("SIGUSR2"))

        class D:
            def __init__(self, loop, what):
                self.loop, self.what = loop, what
            def __del__(self):
                l = self.loop
                events.append(self.what)
                l.destroy()
                l.run_callback(print, "never")
                s = l.signal(signal.SIGUSR2)
                s.start(print, "never")

        # a queued callback's argument
        l = core.loop(default=False)
        l.run_callback(lambda x: None, D(l, "callback"))
        l.destroy()
        events.append(l.ptr)
        # a signal watcher's argument
        l = core.loop(default=False)
        s = l.signal(signal.SIGUSR1)
        s.start(lambda x: None, D(l, "signal"))
        del s
        l.destroy()
        events.append(l.ptr)
        # destroy() inside run(): done when run() returns, with a callback
        # still queued (SystemExit stops the batch)
        l = core.loop(default=False)
        def exit():
            raise SystemExit
        l.run_callback(l.destroy)
        l.run_callback(exit)
        l.run_callback(lambda x: None, D(l, "queued"))
        try:
            l.run()
        except SystemExit:
            events.append("exit")
        events.append(l.ptr)
        # every loop let go of SIGUSR2: Python's handler is back
        os.kill(os.getpid(), signal.SIGUSR2)
        print(events)
        print(signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL)
        try:
            l.run_callback(print)
        except ValueError as e:
            print(e)
    """, dev=True)
    assert out.splitlines() == [
        repr(["callback", 0, "signal", 0, "queued", "exit", 0, "SIGUSR2"]),
        "True", "operation on destroyed loop"]


def test_default_loop_of_another_type_is_refused_while_live():
    # the live wrapper used to be detached with its watchers still active in
    # libev's default loop: their events went to a dead wrapper (run() hung)
    # and stopping one freed a watcher libev still held
    out = run_isolated("""
        from gevent_c import core
        class L(core.loop):
            pass
        a = core.loop(default=True)
        t = a.timer(0.001, 0.001)
        ticks = []
        def cb():
            ticks.append(1)
            t.stop()
        t.start(cb)
        try:
            L(default=True)
        except ValueError as e:
            print("refused")
        a.run()
        print(len(ticks), a.ptr != 0)
        del t
        a.destroy()
        b = L(default=True)
        print(type(b).__name__, b.default, L(default=True) is b)
        b.destroy()
    """, dev=True)
    assert out.splitlines() == ["refused", "1 True", "L True True"]


def test_nan_timer_and_stat_interval_are_refused():
    import math
    import pytest
    from gevent_c import core
    loop = core.loop(default=False)
    try:
        with pytest.raises(ValueError, match="after"):
            loop.timer(math.nan)
        with pytest.raises(ValueError, match="repeat"):
            loop.timer(1, math.nan)
        with pytest.raises(ValueError, match="repeat"):
            core.timer(loop, 0, -math.nan)
        with pytest.raises(ValueError, match="interval"):
            loop.stat(".", math.nan)
        # inf stays allowed: such a timer never fires
        t = loop.timer(math.inf, math.inf, ref=False)
        t.start(lambda: None)
        assert t.active
        t.stop()
    finally:
        loop.destroy()


def test_int_arguments_out_of_c_int_range():
    import pytest
    from gevent_c import core
    loop = core.loop(default=False)
    try:
        with pytest.raises(OverflowError):
            loop.closing_fd(2 ** 32 + 3)
        with pytest.raises(ValueError):
            loop.closing_fd(-1)
    finally:
        loop.destroy()
    out = run_isolated("""
        from gevent_c import core
        l = core.loop(default=True)
        for f in (lambda: l.child(2 ** 32 + 1), lambda: l.child(0, 2 ** 32),
                  lambda: setattr(l.child(0), "rpid", 2 ** 40),
                  lambda: setattr(l.child(0), "rstatus", -2 ** 40)):
            try:
                f()
            except OverflowError:
                print("overflow")
        c = l.child(0)
        c.rpid = 5
        print(c.rpid)
    """)
    assert out.splitlines() == ["overflow"] * 4 + ["5"]


def test_priority_and_revents_out_of_c_int_range():
    import pytest
    from gevent_c import core
    loop = core.loop(default=False)
    try:
        with pytest.raises(OverflowError):
            loop.idle(priority=2 ** 40)
        i = loop.idle()
        with pytest.raises(OverflowError):
            i.priority = -2 ** 40
        assert i.priority == 0
        with pytest.raises(OverflowError):
            i.feed(2 ** 40, lambda: None)
        assert not i.pending
    finally:
        loop.destroy()


_BLOCKED_RUN = """
    import threading
    from gevent_c import core
    l = core.loop(default=False)
    t = l.timer(3600)
    t.start(print, "never")
    ready = threading.Event()
    def run():
        p = l.prepare()
        p.start(ready.set)
        l.run()
        print("returned")
        if l.ptr:
            p.stop()
    th = threading.Thread(target=run)
    th.start()
    ready.wait()
"""


@pytest.mark.parametrize('then,expected', [
    # the break made from the other thread was lost while the backend
    # polled: run() stayed blocked until its next event (here: never)
    ("l.destroy(); th.join(); print(l.ptr)", ["returned", "0"]),
    ("l.break_(); th.join(); t.stop(); l.run(); print('second run returned'); l.destroy()",
     ["returned", "second run returned"]),
], ids=['destroy', 'break_'])
def test_destroy_or_break_from_another_thread_wakes_a_blocked_run(then, expected):
    out = run_isolated(_BLOCKED_RUN + "    " + then + "\n", timeout=30)
    assert out.splitlines() == expected


def test_python_code_run_by_an_argument_destroying_the_loop():
    # start()/feed()/again() release the old callback and args, and
    # __bool__/__index__/fileno() of an argument run Python code: each may
    # destroy the loop (or start the watcher) before libev is called
    out = run_isolated("""
        import os, signal
        from gevent_c import core

        def attempt(name, make, act):
            l = core.loop(default=False)
            w = make(l)
            class D:
                def __del__(self):
                    l.destroy()
            try:
                act(l, w, D)
            except ValueError as e:
                print(name, e)
            else:
                print(name, "no error", l.ptr)

        def via_args(method):
            def act(l, w, D):
                w.args = (D(),)
                if method == "feed":
                    w.feed(1, print)
                elif method == "again":
                    w.again(print)
                else:
                    getattr(w, method)(print)
            return act

        attempt("timer.start", lambda l: l.timer(1), via_args("start"))
        attempt("timer.again", lambda l: l.timer(1, 1), via_args("again"))
        attempt("idle.start", lambda l: l.idle(), via_args("start"))
        attempt("idle.feed", lambda l: l.idle(), via_args("feed"))
        attempt("signal.start", lambda l: l.signal(signal.SIGUSR1), via_args("start"))

        class Bool:
            def __init__(self, l):
                self.l = l
            def __bool__(self):
                self.l.destroy()
                return False
        def run_nowait(l, w, D):
            l.run(nowait=Bool(l))
        attempt("run", lambda l: None, run_nowait)
        def set_ref(l, w, D):
            w.start(print)
            w.ref = Bool(l)
        attempt("ref", lambda l: l.timer(1), set_ref)
        print("ok")

        # __index__ starting the watcher while its priority is set
        l = core.loop(default=False)
        i = l.idle()
        class Pri:
            def __index__(self):
                i.feed(1, print, "fed")
                return 2
        try:
            i.priority = Pri()
        except AttributeError as e:
            print(e)
        # fileno() starting an io watcher while its fd is set
        r, w = os.pipe()
        io = l.io(r, core.READ)
        class F:
            def fileno(self):
                io.start(print)
                return w
        try:
            io.fd = F()
        except AttributeError as e:
            print("io.fd refused")
        io.stop()
        l.run()
        l.destroy()
        os.close(r); os.close(w)
    """, dev=True)
    msg = "operation on destroyed loop"
    assert out.splitlines() == [
        "timer.start " + msg, "timer.again " + msg, "idle.start " + msg,
        "idle.feed " + msg, "signal.start " + msg, "run " + msg,
        "ref no error 0", "ok", "Cannot set priority of a pending watcher",
        "io.fd refused", "fed"]


def test_python_signal_handler_may_reenter_the_loop():
    # Python signal handlers ran inside libev's backend poll: one calling
    # run() tripped libev's "recursion during release" assertion (abort)
    out = run_isolated("""
        import signal
        from gevent_c import core
        l = core.loop(default=False)
        t = l.timer(3600)
        t.start(print, "never")
        def handler(*a):
            print("handler")
            l.run(nowait=True)
            print("nested returned")
            t.stop()
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        l.run()
        print("done")
    """, dev=True)
    assert out.splitlines() == ["handler", "nested returned", "done"]
