"""Regression tests for crashes and bad input found reviewing ext/core's
loop and watchers.  Crash-prone scenarios run in a fresh interpreter."""
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


def test_destroy_from_another_thread_wakes_a_blocked_run():
    # the break made from the other thread was lost while the backend
    # polled: run() stayed blocked until its next event (here: never)
    out = run_isolated("""
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
            print("returned", l.ptr)
        th = threading.Thread(target=run)
        th.start()
        ready.wait()
        l.destroy()
        th.join()
    """, timeout=30)
    assert out.splitlines() == ["returned 0"]
