"""What a suspended greenlet keeps in memory: an interpreter data-stack
chunk only while Python frames live in it, no bound method for a run method
of its class.  Structural checks (which objects and chunks exist), never
byte thresholds."""

import functools
import gc
import sys
import threading
import weakref

import pytest

from _hubtest import clean_hub, lib, gc_lib, errors  # noqa: F401 -- fixtures
from _isolated import run_isolated
from gevent_c._greenlet import GreenletExit, getcurrent, greenlet

HAS_DATA_STACK = sys.version_info >= (3, 11)
needs_data_stack = pytest.mark.skipif(
    not HAS_DATA_STACK, reason='3.10 has no data stack: frames are objects')


def depth(n):
    return 0 if n == 0 else depth(n - 1) + 1


def c_code_loop():
    """A run made of C code only that calls Python code (depth) with each
    value it is switched, and suspends in C in between: list(map(depth,
    iter(parent.switch, None))).  It returns the depths once switched None."""
    main = getcurrent()
    return functools.partial(list, map(depth, iter(main.switch, None)))


@needs_data_stack
def test_greenlet_suspended_in_c_code_holds_no_datastack_chunk():
    main = getcurrent()
    gs = [greenlet(main.switch) for _ in range(50)]
    for g in gs:
        g.switch()
    assert all(g and not g.dead for g in gs)
    assert [g._datastack_held for g in gs] == [0] * 50
    for g in gs:
        assert g.switch('done') == 'done'
    assert all(g.dead for g in gs)


@needs_data_stack
def test_greenlet_suspended_in_python_code_keeps_its_chunk():
    main = getcurrent()

    def shallow():
        main.switch()

    def deep(n):
        if n == 0:
            main.switch()
            return 0
        return deep(n - 1) + 1

    a, b = greenlet(shallow), greenlet(deep)
    a.switch()
    b.switch(400)       # well past the root chunk: CPython pushed more
    assert 0 < a._datastack_held < b._datastack_held
    assert b._datastack_held >= 16 * 1024
    assert a.switch() is None and b.switch() == 400
    assert a._datastack_held == b._datastack_held == 0


def test_greenlet_in_c_code_gets_a_chunk_back_to_run_python_code():
    gs = [greenlet(c_code_loop()) for _ in range(20)]
    for g in gs:
        g.switch()
    # 300 frames need more than the root chunk: CPython pushes and pops its own
    for n in (5, 300, 10):
        for g in gs:
            assert g.switch(n) == ()
        if HAS_DATA_STACK:
            assert all(g._datastack_held == 0 for g in gs)
    assert [g.switch(None) for g in gs] == [[5, 300, 10]] * 20
    assert all(g.dead for g in gs)


def test_greenlet_killed_while_suspended_in_c_code_dies_cleanly():
    gs = [greenlet(c_code_loop()) for _ in range(20)]
    for g in gs:
        g.switch()
    for i, g in enumerate(gs):
        if i % 2:
            g.switch(50)
    for g in gs:
        r = g.throw(GreenletExit('bye'))
        assert isinstance(r, GreenletExit) and g.dead
    # garbage-collected ones are killed the same way
    gs = [greenlet(c_code_loop()) for _ in range(20)]
    for g in gs:
        g.switch()
    refs = [weakref.ref(g) for g in gs]
    del g, gs
    gc.collect()
    assert all(r() is None for r in refs)


@pytest.mark.timeout(60)
def test_greenlets_of_an_exited_thread_suspended_in_c_or_python_are_freed():
    out = run_isolated("""
        import gc, sys, threading, weakref, functools
        from gevent_c._greenlet import greenlet, getcurrent

        def depth(n):
            return 0 if n == 0 else depth(n - 1) + 1

        refs = []
        def thread_main():
            main = getcurrent()
            def deep(n):
                if n == 0:
                    main.switch()
                return deep(n - 1) + 1 if n else 0
            c_only = [greenlet(main.switch) for _ in range(20)]
            mixed = [greenlet(functools.partial(
                list, map(depth, iter(main.switch, None)))) for _ in range(20)]
            py = [greenlet(deep) for _ in range(20)]
            for g in c_only + mixed:
                g.switch()
            for g in mixed:
                g.switch(200)
            for g in py:
                g.switch(300)
            refs.extend(weakref.ref(g) for g in c_only + mixed + py)
            keep.extend(c_only + mixed + py)

        keep = []
        t = threading.Thread(target=thread_main)
        t.start()
        t.join()
        assert all(r() is not None and r().dead for r in refs)
        del keep[:]
        gc.collect()
        assert all(r() is None for r in refs), sum(r() is not None for r in refs)
        print("ok")
        """, dev=True)
    assert out.strip() == 'ok'


class RunMethod(greenlet):
    def run(self, *args, **kwargs):
        return (self, args, kwargs)


@pytest.mark.parametrize('args, kwargs, expected', [
    ((), {}, ((), {})),
    ((1,), {}, ((1,), {})),
    ((1, 2, 3), {}, ((1, 2, 3), {})),
    ((), {'k': 1}, ((), {'k': 1})),
    ((1, 2), {'k': 1}, ((1, 2), {'k': 1})),
])
def test_run_method_of_a_subclass_gets_self_and_the_first_switch_arguments(
        args, kwargs, expected):
    g = RunMethod()
    me, got_args, got_kwargs = g.switch(*args, **kwargs)
    assert me is g and (got_args, got_kwargs) == expected


def test_run_method_is_looked_up_as_an_attribute_each_start():
    calls = []

    class Dynamic(greenlet):
        def __getattribute__(self, name):
            if name == 'run':
                calls.append(name)
                return lambda *a: ('from getattribute', a)
            return greenlet.__getattribute__(self, name)

    class Shadowed(greenlet):
        def run(self):
            return 'class'

    assert Dynamic().switch(1) == ('from getattribute', (1,))
    assert calls == ['run']
    g = Shadowed(run=lambda: 'instance')
    # greenlet's run property stores the callable; the class method wins,
    # as it does for greenlet
    assert g.switch() == 'class'


def test_another_types_method_as_run_is_refused_as_the_descriptor_refuses_it():
    # found unbound on the class, a method of another C type must not be
    # called with a greenlet as its self (it would treat it as a list)
    from tests._isolated import run_isolated
    out = run_isolated('''
        from gevent_c._greenlet import greenlet
        class Borrowed(greenlet):
            run = list.clear
        for _ in range(3):
            try:
                Borrowed().switch()
            except TypeError as exc:
                assert 'list' in str(exc), exc
            else:
                raise AssertionError('list.clear ran on a greenlet')
        class Own(greenlet):
            run = greenlet.__repr__        # the greenlet type's own: allowed
        assert 'Own' in Own().switch()
        print('ok')
    ''', dev=True)
    assert out.strip() == 'ok'


def test_a_suspended_subclass_greenlet_keeps_itself_alive_as_greenlet_does():
    ref_greenlet = pytest.importorskip('greenlet')
    for mod in (sys.modules['gevent_c._greenlet'], ref_greenlet):
        main = mod.getcurrent()

        class Suspends(mod.greenlet):
            def run(self):
                main.switch()

        g = Suspends()
        g.switch()
        r = weakref.ref(g)
        del g
        gc.collect()
        # its running run() holds it, in both implementations
        assert r() is not None, mod
        r().throw()
        assert r() is None or r().dead


def _count(type_name):
    return sum(type(o).__name__ == type_name for o in gc.get_objects())


def test_sleeping_gevent_greenlets_hold_no_bound_method_waiter_or_chunk(gc_lib):
    """gevent_c's Greenlet.run is a C method: it is called unbound, so no
    bound-method object lives as long as the greenlet; sleep's timer
    switches to the greenlet itself, with no Waiter; and sleep blocks in C,
    so the greenlet gives its data-stack chunk back while it sleeps."""
    top = gc_lib.top
    top.sleep(0)
    gc.collect()
    methods, waiters, timers = (_count('builtin_function_or_method'),
                                _count('Waiter'), _count('timer'))
    gs = [top.spawn(top.sleep, 10) for _ in range(200)]
    top.sleep(0)
    assert all(g and not g.dead for g in gs)
    assert _count('builtin_function_or_method') - methods < 50
    assert _count('Waiter') - waiters < 50
    assert _count('timer') - timers == 200          # one timer per sleep
    assert all(g._datastack_held == 0 for g in gs)
    top.killall(gs)
    assert all(g.dead for g in gs)
    gc.collect()
    assert _count('timer') == timers                # stopped and freed


def test_a_started_gevent_greenlet_keeps_itself_alive_as_gevents_does(lib):
    """With its run unbound the greenlet still holds itself while running,
    as gevent's does (its run frame holds self): a greenlet blocked on
    something nobody else references is not collected and killed."""
    top = lib.top
    hub = lib.hub.get_hub()
    ev = lib.event.Event()
    g = top.spawn(ev.wait)
    top.sleep(0)
    r = weakref.ref(g)
    del g, ev
    gc.collect()
    assert r() is not None and not r().dead
    r().kill()
    assert r() is None or r().dead
    assert hub is lib.hub.get_hub()


def test_greenlets_can_still_start_in_other_threads_after_lending_chunks():
    errors = []

    def worker():
        try:
            gs = [greenlet(c_code_loop()) for _ in range(10)]
            for g in gs:
                g.switch()
            for g in gs:
                g.switch(100)
            assert [g.switch(None) for g in gs] == [[100]] * 10
        except BaseException as e:  # noqa: B036 -- reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


def test_greenlet_running_a_builtin_gets_its_result_and_its_error(lib, errors):
    """A builtin _run (fast-call, with or without keywords) is called
    directly by gevent_c's run: same results and errors as a generic call."""
    top = lib.top
    assert top.spawn(divmod, 7, 2).get() == (3, 1)           # METH_FASTCALL
    assert top.spawn(sorted, [3, 1, 2]).get() == [1, 2, 3]   # | METH_KEYWORDS
    assert top.spawn(sorted, [3, 1, 2], reverse=True).get() == [3, 2, 1]
    assert top.spawn(len, 'abc').get() == 3                  # METH_O: generic
    g = top.spawn(divmod, 1, 0)
    g.join()
    assert isinstance(g.exception, ZeroDivisionError)
    g = top.spawn(divmod, 1)
    g.join()
    assert isinstance(g.exception, TypeError)
    assert 'ZeroDivisionError' in errors.getvalue()

