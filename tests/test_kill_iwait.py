"""Greenlet.kill, hub.kill, killall and iwait (all in C in gevent_c), run
against gevent as the reference where the behaviour is gevent's."""
import gc
import sys
import textwrap

import pytest

from _hubtest import clean_hub, lib, gc_lib, errors  # noqa: F401 -- fixtures
from _isolated import run_isolated


def _stubborn(lib, log, linger=0.05):
    """A function that survives its first GreenletExit for *linger* seconds."""
    def run():
        try:
            lib.top.sleep(10)
        except lib.top.GreenletExit:
            log.append('exit')
            lib.top.sleep(linger)
            log.append('done')
    return run


# ---- Greenlet.kill ---------------------------------------------------------

def test_kill_before_start_never_runs_and_runs_the_links(lib):
    ran, linked = [], []
    g = lib.greenlet.Greenlet(ran.append, 1)
    g.rawlink(linked.append)
    g.kill()
    assert g.dead and g.ready() and g.successful()
    assert isinstance(g.value, lib.top.GreenletExit)
    assert g.args == ()
    g.start()
    lib.top.sleep(0)
    lib.top.sleep(0)
    assert ran == [] and linked == [g]


def test_kill_before_start_with_a_class_or_an_instance_or_junk(lib, errors):
    g = lib.top.spawn(lambda: None)
    g.kill(KeyError)
    assert type(g.exception) is KeyError and g.exc_info[0] is KeyError
    err = ValueError('v')
    g = lib.top.spawn(lambda: None)
    g.kill(err, block=False)
    assert g.exception is err
    g = lib.top.spawn(lambda: None)
    g.kill('not an exception')
    assert type(g.exception) is BaseException
    with pytest.raises(BaseException):
        g.get()


def test_kill_spawn_later_stops_the_timer(lib):
    ran = []
    g = lib.greenlet.Greenlet.spawn_later(0.01, ran.append, 1)
    g.kill()
    assert g.dead
    lib.top.sleep(0.03)
    assert ran == []


def test_kill_with_a_three_tuple_throws_it_as_exc_info(lib, errors):
    try:
        raise KeyError('tb')
    except KeyError:
        exc_info = sys.exc_info()
    g = lib.top.spawn(lib.top.sleep, 10)
    lib.top.sleep(0)
    g.kill(exc_info)
    assert g.dead and g.exception is exc_info[1]
    assert g.exc_info[0] is KeyError


def test_kill_before_start_with_a_three_tuple(lib, errors):
    err = ValueError('before')
    g = lib.top.spawn(lambda: None)
    g.kill((ValueError, err, None))
    assert g.exception is err and g.exc_info[:2] == (ValueError, err)


def test_kill_blocks_until_dead_and_does_not_with_block_false(lib):
    log = []
    g = lib.top.spawn(_stubborn(lib, log, 0.01))
    lib.top.sleep(0)
    g.kill()
    assert g.dead and log == ['exit', 'done']
    log = []
    g = lib.top.spawn(_stubborn(lib, log, 0.01))
    lib.top.sleep(0)
    g.kill(block=False)
    assert log == [] and not g.dead
    g.join()
    assert log == ['exit', 'done']


def test_kill_with_a_timeout_returns_while_it_lingers(lib):
    log = []
    g = lib.top.spawn(_stubborn(lib, log, 10))
    lib.top.sleep(0)
    g.kill(timeout=0.01)
    assert log == ['exit'] and not g.dead
    g.kill(block=False)
    g.join()
    assert g.dead


def test_kill_with_a_timeout_object_ends_the_join_quietly(lib):
    log = []
    g = lib.top.spawn(_stubborn(lib, log, 10))
    lib.top.sleep(0)
    t = lib.timeout.Timeout(0.01)
    g.kill(timeout=t)
    assert not g.dead and log == ['exit']
    g.kill()
    assert g.dead


def test_kill_with_a_timeout_exception_is_thrown_as_such(lib):
    seen = []

    def run():
        try:
            lib.top.sleep(10)
        except lib.timeout.Timeout as ex:
            seen.append(ex)

    g = lib.top.spawn(run)
    lib.top.sleep(0)
    t = lib.timeout.Timeout(5)
    g.kill(t)
    assert seen == [t] and g.dead and g.successful()


def test_kill_of_a_finished_greenlet_is_a_no_op(lib):
    g = lib.top.spawn(lambda: 7)
    g.join()
    g.kill(KeyError)
    assert g.value == 7 and g.successful()


def test_kill_from_inside_itself_raises_there(lib):
    log = []

    def run():
        try:
            lib.top.getcurrent().kill(block=False)
            lib.top.sleep(0.01)
        except lib.top.GreenletExit:
            log.append('killed')
            raise

    g = lib.top.spawn(run)
    g.join()
    assert log == ['killed'] and g.dead


def test_an_error_escaping_throw_goes_to_the_hub(lib):
    calls = []

    class Bad(lib.greenlet.Greenlet):
        def throw(self, *args):
            raise RuntimeError('throw failed')

    hub = lib.hub.get_hub()
    g = Bad(lib.top.sleep, 10)
    g.start()
    lib.top.sleep(0)
    orig = hub.handle_error
    hub.handle_error = lambda *a: calls.append(a)
    try:
        g.kill(timeout=0.01)
    finally:
        hub.handle_error = orig
    assert len(calls) == 1
    context, typ, value = calls[0][:3]
    assert context is g and typ is RuntimeError and str(value) == 'throw failed'
    hub.loop.run_callback(lib.greenlet.Greenlet.throw, g)
    g.join()
    assert g.dead


def test_subclass_overrides_of_kill_and_its_parts_are_honoured(lib):
    log = []

    class Mine(lib.greenlet.Greenlet):
        def throw(self, *args):
            log.append(('throw',) + tuple(a if not isinstance(a, BaseException) else type(a)
                                          for a in args))
            return lib.greenlet.Greenlet.throw(self, *args)

        def ready(self):
            log.append('ready')
            return lib.greenlet.Greenlet.ready(self)

        def join(self, timeout=None):
            log.append(('join', timeout))
            return lib.greenlet.Greenlet.join(self, timeout)

    g = Mine(lib.top.sleep, 10)
    g.start()
    lib.top.sleep(0)
    g.kill(KeyError, timeout=1)
    # join asks the override again, as gevent's does
    assert log[:4] == ['ready', ('throw', KeyError), ('join', 1), 'ready']
    assert g.dead
    del log[:]
    with pytest.raises(KeyError):   # get() asks the override too
        g.get()
    assert log == ['ready']


def test_subclass_overriding_maybe_kill_before_start(lib):
    calls = []

    class Mine(lib.greenlet.Greenlet):
        def _maybe_kill_before_start(self, exception):
            calls.append(exception)
            return lib.greenlet.Greenlet._maybe_kill_before_start(self, exception)

    g = Mine(lambda: None)
    g.kill(KeyError)
    h = Mine(lambda: None)
    lib.top.killall([h], ValueError)
    assert calls == [KeyError, ValueError]
    assert type(g.exception) is KeyError and type(h.exception) is ValueError


def test_subclass_overriding_kill_is_called_by_hub_kill(lib):
    calls = []

    class Mine(lib.greenlet.Greenlet):
        def kill(self, *args, **kwargs):
            calls.append((args, kwargs))
            return lib.greenlet.Greenlet.kill(self, *args, **kwargs)

    g = Mine(lib.top.sleep, 10)
    g.start()
    lib.top.sleep(0)
    lib.hub.kill(g, KeyError)
    assert calls == [((), {'exception': KeyError, 'block': False})]
    g.kill()
    assert calls[-1] == ((), {}) and g.dead


def test_killall_throws_through_throw_not_kill(lib):
    # as gevent: killall stops unstarted ones with _maybe_kill_before_start
    # and throws into the others itself; a kill override is not called
    calls = []

    class Mine(lib.greenlet.Greenlet):
        def kill(self, *args, **kwargs):
            calls.append('kill')
            return lib.greenlet.Greenlet.kill(self, *args, **kwargs)

        def throw(self, *args):
            calls.append('throw')
            return lib.greenlet.Greenlet.throw(self, *args)

    gs = [Mine(lib.top.sleep, 10) for _ in range(2)]
    for g in gs:
        g.start()
    lib.top.sleep(0)
    lib.top.killall(gs)
    assert calls == ['throw', 'throw'] and all(g.dead for g in gs)


# ---- hub.kill -------------------------------------------------------------

def test_hub_kill_throws_into_a_raw_greenlet_from_the_hub(lib):
    log = []

    def run():
        try:
            lib.top.sleep(10)
        except KeyError:
            log.append('key')

    g = lib.top.spawn_raw(run)
    lib.top.sleep(0)
    lib.hub.kill(g, KeyError)
    assert log == []
    lib.top.sleep(0)
    assert log == ['key'] and g.dead
    lib.hub.kill(g)            # dead: nothing happens


def test_hub_kill_stops_an_unstarted_greenlet(lib):
    ran = []
    g = lib.top.spawn(ran.append, 1)
    lib.hub.kill(g)
    assert g.dead
    lib.top.sleep(0)
    assert ran == []


# ---- killall --------------------------------------------------------------

def test_killall_takes_raw_greenlets_and_any_iterable(lib):
    raw = [lib.top.spawn_raw(lib.top.sleep, 10) for _ in range(2)]
    gs = [lib.top.spawn(lib.top.sleep, 10) for _ in range(2)]
    lib.top.sleep(0)
    lib.top.killall(iter(raw + gs))
    assert all(g.dead for g in raw + gs)


def test_killall_waits_for_those_that_linger(lib):
    log = []
    gs = [lib.top.spawn(_stubborn(lib, log, 0.01)) for _ in range(2)]
    quick = lib.top.spawn(lib.top.sleep, 10)
    lib.top.sleep(0)
    lib.top.killall(gs + [quick])
    assert all(g.dead for g in gs + [quick])
    assert log == ['exit', 'exit', 'done', 'done']


def test_killall_timeout_raises_that_timeout(lib):
    log = []
    g = lib.top.spawn(_stubborn(lib, log, 10))
    lib.top.sleep(0)
    with pytest.raises(lib.timeout.Timeout) as info:
        lib.top.killall([g], timeout=0.01)
    assert info.value.seconds == 0.01
    assert not g.dead and log == ['exit']
    lib.top.killall([g], block=False)
    g.join()
    assert g.dead


def test_killall_of_nothing_or_only_unstarted_does_not_switch(lib):
    ran = []
    lib.top.killall([])
    gs = [lib.top.spawn(ran.append, i) for i in range(3)]
    lib.top.killall(gs, KeyError)
    assert all(type(g.exception) is KeyError for g in gs)
    lib.top.sleep(0)
    assert ran == []


def test_killall_nonblocking_throws_the_exception_later(lib, errors):
    gs = [lib.top.spawn(lib.top.sleep, 10) for _ in range(3)]
    lib.top.sleep(0)
    lib.top.killall(gs, KeyError, block=False)
    assert not any(g.dead for g in gs)
    lib.top.sleep(0)
    assert all(type(g.exception) is KeyError for g in gs)


# ---- iwait ----------------------------------------------------------------

def test_iwait_count_stops_early_and_unlinks_the_rest(lib):
    ev = [lib.event.Event() for _ in range(3)]
    lib.top.spawn(ev[1].set)
    it = lib.top.iwait(ev, count=1)
    assert next(it) is ev[1]
    with pytest.raises(StopIteration):
        next(it)
    assert [e.linkcount() for e in ev] == [0, 0, 0]


def test_iwait_timeout_ends_the_iteration(lib):
    gs = [lib.top.spawn(lib.top.sleep, d) for d in (0, 10)]
    got = list(lib.top.iwait(gs, timeout=0.02))
    assert got == [gs[0]]
    assert not gs[1].has_links()
    gs[1].kill()


def test_iwait_as_a_context_manager_unlinks_on_exit(lib):
    ev = [lib.event.Event() for _ in range(3)]
    lib.top.spawn(ev[0].set)
    with lib.top.iwait(ev) as it:
        assert next(it) is ev[0]
        assert ev[1].linkcount() == 1 and ev[2].linkcount() == 1
    assert ev[1].linkcount() == 0 and ev[2].linkcount() == 0


def test_iwait_links_lazily_on_first_next(lib):
    ev = lib.event.Event()
    it = lib.top.iwait([ev])
    assert ev.linkcount() == 0
    ev.set()
    assert next(it) is ev
    with pytest.raises(StopIteration):
        next(it)


def test_iwait_interrupted_by_an_exception_unlinks(lib):
    ev = [lib.event.Event() for _ in range(2)]
    it = lib.top.iwait(ev)
    with pytest.raises(lib.timeout.Timeout):
        with lib.timeout.Timeout(0.01):
            next(it)
    assert [e.linkcount() for e in ev] == [0, 0]


def test_iwait_yields_failed_greenlets_too(lib, errors):
    gs = [lib.top.spawn(lambda: 1 / 0), lib.top.spawn(lambda: 2)]
    got = list(lib.top.iwait(gs))
    assert got == gs and isinstance(gs[0].exception, ZeroDivisionError)


def test_iwait_objects_none_waits_for_the_loop(lib):
    # in a fresh process: watchers other tests leave on the default loop
    # (in one process, as make asan runs them) would keep it from ending
    out = run_isolated('''
        import %s as top
        ran = []
        top.spawn(ran.append, 1)
        print(list(top.iwait(None)) == [True] and ran == [1])
    ''' % lib.name)
    assert out.strip() == 'True'


def test_iwait_with_no_objects_or_count_zero(lib):
    assert list(lib.top.iwait([])) == []
    ev = lib.event.Event()
    ev.set()
    assert list(lib.top.iwait([ev], count=0)) == []


def test_iwait_while_the_caller_switches_between_items(lib):
    gs = [lib.top.spawn(lib.top.sleep, 0.001 * i) for i in range(4)]
    got = []
    for g in lib.top.iwait(gs):
        got.append(g)
        lib.top.sleep(0.01)
    assert sorted(got, key=gs.index) == gs


def test_wait_iterator_is_importable_from_hub(lib):
    if lib.name == 'gevent':
        from gevent._hub_primitives import _WaitIterator
    else:
        from gevent_c.hub import _WaitIterator
    ev = lib.event.Event()
    ev.set()
    it = _WaitIterator([ev], lib.hub.get_hub(), None, None)
    assert list(it) == [ev]


# ---- gevent_c only: argument errors, the iterator's exhaustion, leaks --------

def test_iwait_and_killall_refuse_bad_arguments(gc_lib):
    with pytest.raises(TypeError):
        gc_lib.top.iwait(42)
    with pytest.raises(ValueError):
        gc_lib.top.iwait([], count=-1)
    with pytest.raises(TypeError):
        gc_lib.top.iwait([], count='x')
    with pytest.raises(TypeError):
        gc_lib.top.killall(42)
    with pytest.raises(TypeError):
        gc_lib.hub._WaitIterator()
    with pytest.raises(TypeError):
        gc_lib.top.spawn(lambda: None).kill(1, 2, 3, 4)


def test_killall_with_a_three_tuple_throws_it_as_exc_info(gc_lib, errors):
    # gevent passes the tuple itself to throw(), which refuses it (TypeError
    # to the hub) and leaves the greenlets alive; gevent_c throws it as kill does
    err = KeyError('all')
    running = [gc_lib.top.spawn(gc_lib.top.sleep, 10) for _ in range(2)]
    gc_lib.top.sleep(0)
    unstarted = gc_lib.top.spawn(lambda: None)
    gc_lib.top.killall(running + [unstarted], (KeyError, err, None))
    assert all(g.dead and g.exception is err for g in running + [unstarted])
    assert 'TypeError' not in errors.getvalue()


def test_iwait_over_objects_without_rawlink_unlinks_those_before(gc_lib):
    ev = gc_lib.event.Event()
    it = gc_lib.top.iwait([ev, object()])
    with pytest.raises(AttributeError):
        next(it)
    assert ev.linkcount() == 0
    with pytest.raises(StopIteration):
        next(it)


def test_iwait_is_exhausted_after_its_timeout(gc_lib):
    ev = gc_lib.event.Event()
    it = gc_lib.top.iwait([ev], timeout=0.001)
    assert list(it) == []
    ev.set()
    with pytest.raises(StopIteration):
        next(it)


def test_iwait_link_called_with_wrong_arguments_is_a_type_error(gc_lib):
    ev = gc_lib.event.Event()
    it = gc_lib.top.iwait([ev])
    with pytest.raises(TypeError):
        it()
    with pytest.raises(TypeError):
        it(1, 2)
    with pytest.raises(TypeError):
        it(1, x=2)


def test_a_greenlet_blocked_in_iwait_is_named_by_loop_exit(gc_lib):
    ev = gc_lib.event.Event()
    with pytest.raises(gc_lib.hub.LoopExit) as info:
        next(gc_lib.top.iwait([ev]))
    assert '_WaitIterator' in str(info.value)
    assert ev.linkcount() == 0


def test_abandoned_iterators_and_kills_leave_nothing_behind(gc_lib):
    top = gc_lib.top

    def work(n):
        for _ in range(n):
            ev = gc_lib.event.Event()
            it = top.iwait([ev, top.spawn(lambda: None)])
            next(it)           # one of two: abandoned, still linked to ev
            del it, ev
            gs = [top.spawn(lambda: None) for _ in range(2)]
            assert len(list(top.iwait(gs, timeout=1))) == 2
            g = top.spawn(top.sleep, 10)
            top.sleep(0)
            g.kill()
            top.killall([top.spawn(top.sleep, 10)])
    work(200)
    gc.collect()
    before = len(gc.get_objects())
    work(2000)
    gc.collect()
    assert len(gc.get_objects()) - before < 100


def test_iwait_link_that_cannot_queue_wakes_the_waiter_with_the_error():
    out = run_isolated(dev=True, code='''
        import _testcapi
        import gevent_c
        from gevent_c.hub import get_hub
        from gevent_c.event import Event
        hub = get_hub()
        ev = Event()
        it = gevent_c.iwait([ev])
        result = []
        def waiter():
            try:
                result.append(next(it))
            except MemoryError:
                result.append('MemoryError')
        g = gevent_c.spawn(waiter)
        gevent_c.sleep(0)
        def from_hub():
            _testcapi.set_nomemory(0, 1)    # the queue's growth fails
            try:
                it(ev)
            finally:
                _testcapi.remove_mem_hooks()
        hub.loop.run_callback(from_hub)
        g.join(timeout=5)
        print(result, ev.linkcount())
    ''')
    assert out.strip() == "['MemoryError'] 0"


# ---- references held across Python code (review findings) -------------------

def test_iwait_keeps_the_hub_while_reading_objects():
    """iwait() and _WaitIterator(hub=None) hold the hub while the objects
    are read: a generator destroying the hub meanwhile must not free it."""
    out = run_isolated(dev=True, code='''
        import gc, weakref
        from gevent_c import _core
        from gevent_c.hub import get_hub, iwait
        from gevent_c.event import Event
        ev = Event()
        kept = []
        def objects(ref):
            ref().destroy(destroy_loop=True)
            gc.collect()
            kept.append(ref() is not None)
            yield ev
        iwait(objects(weakref.ref(get_hub())))
        _core._WaitIterator(objects(weakref.ref(get_hub())), None, None, None)
        print(kept)
    ''')
    assert out.strip() == '[True, True]'


def test_hub_kill_keeps_the_hub_while_looking_up_throw():
    out = run_isolated(dev=True, code='''
        import gc, weakref
        from gevent_c import _core
        from gevent_c._greenlet import greenlet
        from gevent_c.hub import get_hub
        kept = []
        ref = weakref.ref(get_hub())
        class G(greenlet):
            @property
            def throw(self):
                ref().destroy(destroy_loop=True)
                gc.collect()
                kept.append(ref() is not None)
                return lambda *args: None
        try:
            _core.kill(G(lambda: None))
        except AttributeError:
            pass                # the destroyed hub has no loop left
        print(kept)
    ''')
    assert out.strip() == '[True]'


HUB_DESTROYER = """
import gc, weakref
import gevent_c
from gevent_c.hub import get_hub
ref = weakref.ref(get_hub())
kept = []                               # was the hub still alive after?

class Cycle:
    def __del__(self):
        hub = ref()
        if hub is not None:
            hub.destroy(destroy_loop=True)
        del hub
        kept.append(ref() is not None)

def destroy_hub_at_next_collection():
    c = Cycle()
    c.me = c
    del c
    gc.set_threshold(1)
"""


def run_with_hub_destroyer(code):
    """Run *code* in a child where destroy_hub_at_next_collection() makes
    the next collection destroy the hub (and record in `kept` whether
    something still held it)."""
    return run_isolated(dev=True, code=HUB_DESTROYER + textwrap.dedent(code))


def test_killall_keeps_the_hub_while_it_schedules():
    '''killall holds the hub while it makes its callback and waiter: a
    collection then may run a __del__ that destroys the hub.'''
    out = run_with_hub_destroyer('''
        class Odd:
            dead = False
            def throw(self, *args):
                pass
            def _maybe_kill_before_start(self, exc):
                destroy_hub_at_next_collection()    # killall's next allocation
                return False
        try:
            gevent_c.killall([Odd()])
        except AttributeError:
            pass                        # the destroyed hub has no loop left
        gc.set_threshold(700)
        print(kept)
    ''')
    assert out.strip() == '[True]'


def test_kill_before_start_when_freeing_run_reinitialises_the_greenlet():
    """Dropping the function when it is killed may run a __del__ that calls
    __init__ again, replacing the keyword arguments being emptied."""
    out = run_isolated(dev=True, code='''
        from gevent_c.greenlet import Greenlet
        class Run:
            def __call__(self, **kw):
                pass
            def __del__(self):
                g.__init__(print, y=1)
                [{'a': i} for i in range(100)]
        g = Greenlet(Run(), x=object())
        g.kill()
        print(g.dead, g.kwargs, g.args, g._run)
        g = Greenlet(Run())
        g.kill()
        print(g.dead, g.kwargs, g.args, g._run)
    ''')
    # as gevent: what __init__ set while run was dropped stays, but the
    # arguments are emptied after it
    assert out.split('\n')[:2] == ['True {} () <built-in function print>'] * 2


def test_iwait_needs_no_module_attribute_for_its_type():
    """iwait makes its iterator from the type it keeps, not from the module
    attribute, which code run while the objects are read may delete."""
    out = run_isolated(dev=True, code='''
        import gc
        from gevent_c import _core
        from gevent_c.hub import iwait
        from gevent_c.event import Event
        ev = Event()
        ev.set()
        tp = _core._WaitIterator
        def objects():
            del _core._WaitIterator
            gc.collect()
            yield ev
        it = iwait(objects())
        print(type(it) is tp, list(it) == [ev])
        _core._WaitIterator = int
        print(type(iwait([ev])) is tp)
    ''')
    assert out.split() == ['True', 'True', 'True']


def _live_iterators(gc_lib):
    tp = gc_lib.hub.iwait([]).__class__
    return sum(1 for o in gc.get_objects() if type(o) is tp)


def test_finished_iterators_are_freed_without_the_collector(gc_lib):
    top = gc_lib.top
    ev = gc_lib.event.Event()
    ev.set()
    gc.collect()
    before = _live_iterators(gc_lib)
    gc.disable()
    try:
        for _ in range(20):
            assert list(top.iwait([ev])) == [ev]                 # exhausted
            assert list(top.iwait([ev, gc_lib.event.Event()], count=1)) == [ev]
            assert list(top.iwait([gc_lib.event.Event()], timeout=0.001)) == []
            top.iwait([ev])                                      # never iterated
            with top.iwait([ev, gc_lib.event.Event()]) as it:    # left early
                next(it)
            del it
        top.sleep(0)
        assert _live_iterators(gc_lib) == before
    finally:
        gc.enable()


def test_kill_callback_and_iterator_type_belong_to_the_module_state(gc_lib):
    """They are the module's (visited by its traverse), not process-wide."""
    core = sys.modules['gevent_c._core']
    referents = gc.get_referents(core)
    assert core._WaitIterator in referents
    assert any(getattr(o, '__name__', None) == '_kill' and o.__self__ is core
               for o in referents)


def test_kill_before_start_wraps_junk_as_gevent_does(lib, errors):
    """A kill argument that is no exception becomes BaseException((type, arg,
    None)); a 3-tuple that is no exc_info becomes BaseException(tuple)."""
    for junk in ['junk', 5, (1, 2), (), (int, 2, 3)]:
        g = lib.top.spawn(lambda: None)
        g.kill(junk)
        assert g.dead and g.ready() and not g.successful()
        assert type(g.exception) is BaseException
        expected = junk if isinstance(junk, tuple) and len(junk) == 3 \
            else (type(junk), junk, None)
        assert g.exception.args == (expected,)
        assert g.exc_info[0] is BaseException and g.exc_info[1] is g.exception
    g = lib.top.spawn(lambda: None)
    lib.top.killall([g], 'junk')
    assert g.exception.args == ((str, 'junk', None),)


def test_kill_before_start_with_a_three_tuple_of_junk(gc_lib, errors):
    """gevent raises TypeError out of kill((1, 2, 3)) and leaves the greenlet
    dead without an outcome (its links never run); gevent_c wraps it."""
    linked = []
    g = gc_lib.top.spawn(lambda: None)
    g.rawlink(linked.append)
    g.kill((1, 2, 3))
    assert type(g.exception) is BaseException and g.exception.args == ((1, 2, 3),)
    gc_lib.top.sleep(0)
    assert linked == [g]


def test_joinall_keeps_the_hub_while_it_allocates():
    '''joinall holds the hub while it makes its countdown and waiter: a
    collection then may run a __del__ that destroys the hub.'''
    out = run_with_hub_destroyer('''
        from gevent_c.event import Event
        ev = Event()                    # holds no hub yet
        def objects():
            yield ev
            destroy_hub_at_next_collection()    # joinall's next allocation
        try:
            gevent_c.joinall(objects(), timeout=0.01)
        except Exception:
            pass                        # the destroyed hub has no loop left
        gc.set_threshold(700)
        print(kept)
    ''')
    assert out.strip() == '[True]'
