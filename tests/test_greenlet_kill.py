"""Unfinished greenlets get GreenletExit when their last reference goes;
GC collects cycles through dead greenlets."""
import gc
import subprocess
import sys
import threading
import weakref

import pytest

from gevent_c._greenlet import greenlet, getcurrent, GreenletExit


def _suspended_greenlet(log):
    main = getcurrent()

    def run():
        try:
            main.switch()
        except GreenletExit as e:
            log.append(("exit", getcurrent() is g_ref(), str(e)))
            raise
        finally:
            log.append("finally")
    g = greenlet(run)
    g_ref = weakref.ref(g)
    g.switch()
    return g


def test_dropping_last_reference_kills_in_same_thread():
    log = []
    g = _suspended_greenlet(log)
    r = weakref.ref(g)
    del g
    assert log[0][0] == "exit" and log[0][1] is True
    assert "references have vanished" in log[0][2]
    assert log[1] == "finally"
    assert r() is None


def test_kill_returns_to_the_current_greenlet_not_the_parent():
    log = []
    main = getcurrent()
    other = greenlet(lambda: main.switch())
    other.switch()

    def run():
        try:
            main.switch()
        finally:
            log.append(getcurrent().parent)
    g = greenlet(run, parent=other)
    g.switch()
    del g
    assert log == [main]   # parent was temporarily the killer
    other.switch()


def test_unstarted_and_dead_greenlets_are_freed_without_running():
    ran = []
    g = greenlet(lambda: ran.append(1))
    r = weakref.ref(g)
    del g
    assert r() is None and ran == []
    g = greenlet(lambda: ran.append(2))
    g.switch()
    r = weakref.ref(g)
    del g
    assert r() is None and ran == [2]


def test_greenlet_dropped_in_another_thread_is_killed_in_its_own_thread():
    log = []
    g = _suspended_greenlet(log)
    box = [g]
    del g
    seen_in = []

    def drop():
        box.clear()     # last reference goes away in this thread
        seen_in.append(list(log))
    t = threading.Thread(target=drop)
    t.start()
    t.join(30)
    assert seen_in == [[]]      # not run in the other thread
    getcurrent()                # the owning thread drains its queue
    assert log and log[0][0] == "exit" and log[-1] == "finally"


def test_greenlet_of_exited_thread_is_freed_without_running():
    log = []
    box = []

    def make():
        box.append(_suspended_greenlet(log))
    t = threading.Thread(target=make)
    t.start()
    t.join(30)
    r = weakref.ref(box[0])
    assert box[0].dead
    box.clear()
    gc.collect()
    assert r() is None
    assert log == []


def test_gc_collects_cycles_through_dead_greenlets():
    class Holder:
        pass
    refs = []
    for _ in range(10):
        h = Holder()
        g = greenlet(lambda h=h: h)
        g.switch()
        h.g = g
        g.h = h
        refs.append(weakref.ref(g))
        del h, g
    gc.collect()
    assert all(r() is None for r in refs)


def test_gc_collects_cycle_through_unstarted_greenlet():
    g = greenlet()
    g.run = lambda: g
    r = weakref.ref(g)
    del g
    gc.collect()
    assert r() is None


def test_greenlet_that_refuses_to_die_is_reported_not_freed():
    code = r"""
import gc
from gevent_c._greenlet import greenlet, getcurrent, GreenletExit
main = getcurrent()
def stubborn():
    while True:
        try:
            main.switch()
        except GreenletExit:
            pass
g = greenlet(stubborn)
g.switch()
del g
gc.collect()
print("survived")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "survived" in p.stdout
    assert "did not kill" in p.stderr


def test_exception_other_than_greenlet_exit_during_kill_is_unraisable():
    main = getcurrent()
    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(u.exc_type)

    def run():
        try:
            main.switch()
        except GreenletExit:
            raise KeyError("while dying")
    try:
        g = greenlet(run)
        g.switch()
        del g
    finally:
        sys.unraisablehook = old
    assert seen == [KeyError]


@pytest.mark.timeout(60)
def test_interpreter_exit_with_suspended_greenlets_does_not_crash():
    code = r"""
import threading
from gevent_c._greenlet import greenlet, getcurrent
main = getcurrent()
keep = []
for i in range(100):
    g = greenlet(lambda: main.switch())
    g.switch()
    keep.append(g)
def th():
    m = getcurrent()
    for i in range(10):
        g = greenlet(lambda: m.switch()); g.switch(); keep.append(g)
t = threading.Thread(target=th); t.start(); t.join()
print("end")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "end"


def test_gc_kills_and_collects_unreachable_suspended_greenlet_cycle():
    main = getcurrent()
    log = []

    def run():
        try:
            main.switch()
        finally:
            log.append("unwound")
    g = greenlet(run)
    g.switch()
    g.me = g            # a cycle the frames do not take part in
    r = weakref.ref(g)
    del g
    gc.collect()
    assert log == ["unwound"]
    gc.collect()
    assert r() is None


@pytest.mark.timeout(60)
def test_getcurrent_raises_while_the_interpreter_finalizes():
    # A cycle left for the collections of interpreter shutdown: its
    # finalizer runs when greenlets can no longer be used.
    code = r"""
import gc, os, threading
from gevent_c._greenlet import greenlet, getcurrent
gc.disable()
main = getcurrent()
keep = [greenlet(lambda: main.switch()) for _ in range(3)]
for g in keep:
    g.switch()
class AtShutdown:
    def __del__(self):
        try:
            getcurrent()
        except RuntimeError as e:
            os.write(1, b"RuntimeError: " + str(e).encode() + b"\n")
        else:
            os.write(1, b"no error\n")
a = AtShutdown()
a.cycle = {"a": a}
del a
print("end", flush=True)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "end", "RuntimeError: greenlet is being finalized"]


@pytest.mark.timeout(60)
def test_exited_threads_main_greenlet_held_by_a_local_stays_valid():
    # greenlet 3.5.6 frees such a main greenlet when gc.get_referrers finds
    # no holder (a local variable is invisible to it) and then crashes.
    code = r"""
import sys, threading, time
from gevent_c._greenlet import greenlet, getcurrent
def hold():
    box, go = [], threading.Event()
    def worker():
        box.append(getcurrent())
        go.wait(30)
    t = threading.Thread(target=worker)
    t.start()
    while not box:
        time.sleep(0.001)
    m = box.pop()       # from here only this local holds it
    go.set(); t.join(30); del t
    for _ in range(20):
        time.sleep(0.001)
        getcurrent()
    junk = [bytearray(64) for _ in range(1000)]
    print(sys.getrefcount(m), m.dead, repr(m).endswith("(thread exited) dead>"))
hold()
"""
    p = subprocess.run([sys.executable, "-X", "dev", "-c", code],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["2", "True", "True"]


def test_greenlet_that_survived_its_kill_is_killed_again_when_dropped_again():
    main = getcurrent()
    hub = greenlet(lambda: None)
    saved, log = [], []

    def worker():
        try:
            try:
                main.switch()
            except GreenletExit:
                log.append("first kill")
                saved.append(getcurrent())  # referenced again while killed
                hub.switch()                # and leaves without dying
        finally:
            log.append("unwound")
    g = greenlet(worker, parent=hub)
    g.switch()
    r = weakref.ref(g)
    del g
    assert log == ["first kill"]
    assert saved[0].parent is hub and not saved[0].dead
    del saved[:]                            # the last reference again
    assert log == ["first kill", "unwound"]
    assert r() is None


def test_finished_and_unstarted_greenlets_are_freed_with_what_they_hold():
    """Neither can be killed, so they are freed at once: weak references
    are cleared (their callbacks run), the instance dict is released, and a
    subclass's __del__ still runs once."""
    events = []

    class Held:
        pass

    class Sub(greenlet):
        def __del__(self):
            events.append("del")

    for make in (lambda: greenlet(lambda: 1), lambda: Sub(lambda: 1)):
        for start in (True, False):
            g = make()
            held = Held()
            g.held = held
            held_ref = weakref.ref(held)
            del held
            g_ref = weakref.ref(g, lambda r: events.append("callback"))
            if start:
                assert g.switch() == 1
                assert g.dead
            del g
            assert g_ref() is None and held_ref() is None
    assert events == ["callback"] * 2 + ["del", "callback"] * 2


def test_a_greenlet_made_after_others_were_freed_starts_out_fresh():
    """Freed greenlets' memory is reused; nothing of the old ones shows."""
    import contextvars
    var = contextvars.ContextVar("var")
    main = getcurrent()
    other = greenlet(lambda: None)

    def run(*args):
        var.set(args)
        getcurrent().extra = args
        return args

    refs = []
    for i in range(40):
        g = greenlet(run, parent=other if i % 2 else None)
        refs.append(weakref.ref(g))
        if i % 4 == 0:
            assert g.switch(i) == (i,) and g.extra == (i,)
        del g
    assert all(r() is None for r in refs)
    for _ in range(40):
        g = greenlet()
        assert not g.dead and not g and g.parent is main
        assert g.gr_context is None and g.gr_frame is None
        assert g._stack_saved == 0 and vars(g) == {}
        with pytest.raises(AttributeError):
            g.run
        g.run = lambda: "fresh"
        assert g.switch() == "fresh" and g.dead
        del g


def test_greenlets_freed_in_other_threads_and_at_thread_exit():
    made = []

    def worker():
        gs = [greenlet(lambda: 1) for _ in range(30)]
        for g in gs[:20]:
            g.switch()
        made.extend(gs[10:])
        del gs[:]        # ten of them freed here, the rest by the main thread

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    refs = [weakref.ref(g) for g in made]
    del made[:]
    gc.collect()
    assert all(r() is None for r in refs)
    assert greenlet(lambda: 2).switch() == 2
