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
