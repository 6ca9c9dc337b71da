"""Greenlet on its C base type (_core.GreenletBase): subclassing, attributes,
pickling, the lazily made __dict__/links/kwargs, bad input, and no leaks."""
import gc
import pickle
import sys
import weakref

import pytest

from _hubtest import clean_hub, lib, gc_lib, errors  # noqa: F401 -- fixtures


def _has_dict(obj):
    """Whether obj's instance dict exists (without making it): the only
    other dict a greenlet holds is its spawn tree's."""
    return any(type(r) is dict and r is not obj.spawn_tree_locals
               for r in gc.get_referents(obj))


def test_greenlet_derives_from_the_c_base(gc_lib):
    from gevent_c import _core
    assert issubclass(gc_lib.greenlet.Greenlet, _core.GreenletBase)


def test_subclass_with_init_calling_super_and_run_override(lib):
    class Worker(lib.greenlet.Greenlet):
        def __init__(self, n, scale=1):
            super().__init__()
            self.n = n
            self.scale = scale

        def _run(self):
            return self.n * self.scale

    w = Worker(4, scale=3)
    w.start()
    assert w.get() == 12 and w.n == 4 and w.successful()


def test_subclass_init_calling_base_init_with_run_and_args(lib):
    class Named(lib.greenlet.Greenlet):
        def __init__(self, label, *args):
            lib.greenlet.Greenlet.__init__(self, lambda *a: (label,) + a, *args)

    g = Named('x', 1, 2)
    g.start()
    assert g.get() == ('x', 1, 2)


def test_subclass_with_slots_and_arbitrary_attributes(lib):
    class Slotted(lib.greenlet.Greenlet):
        __slots__ = ('extra',)

    g = Slotted.spawn(lambda: 5)
    g.extra = 1
    g.other = 2
    assert g.get() == 5 and g.extra == 1 and g.other == 2


def test_run_given_by_keyword_and_kwargs_reach_it(lib):
    g = lib.greenlet.Greenlet(run=lambda a=1, b=0: a + b, b=2)
    g.start()
    assert g.get() == 3


def test_args_and_kwargs_are_read_only(lib):
    g = lib.greenlet.Greenlet(len, 'abc')
    with pytest.raises(AttributeError):
        g.args = ()
    with pytest.raises(AttributeError):
        g.kwargs = {}
    assert g.args == ('abc',) and g.kwargs == {}


def test_run_twice_is_a_type_error(gc_lib):
    with pytest.raises(TypeError):
        gc_lib.greenlet.Greenlet(len, run=len)


def test_non_callable_run_is_refused(lib):
    with pytest.raises(TypeError):
        lib.greenlet.Greenlet(1)


def test_spawn_later_classmethod_on_a_subclass(lib):
    class Sub(lib.greenlet.Greenlet):
        pass

    g = Sub.spawn_later(0.001, lambda: 'late')
    assert isinstance(g, Sub) and g.get() == 'late'


def test_pickling_and_copying_are_refused(lib):
    import copy
    g = lib.greenlet.Greenlet(lambda: None)
    with pytest.raises(TypeError):
        pickle.dumps(g)
    with pytest.raises(TypeError):
        copy.copy(g)


def test_spawn_and_join_make_no_instance_dict(gc_lib):
    g = gc_lib.top.spawn(lambda: 1)
    g.join()
    assert g.value == 1
    assert not _has_dict(g)
    g.anything = 3
    assert _has_dict(g) and g.__dict__ == {'anything': 3}


def test_run_and_args_are_released_once_it_ran(lib):
    def work(*args, **kwargs):
        return len(args) + len(kwargs)

    g = lib.greenlet.Greenlet(work, 1, 2, k=3)
    kwargs = g.kwargs
    g.start()
    assert g.get() == 3
    assert g.args == () and kwargs == {} and g.kwargs == {}
    # gevent deletes _run: reading it gives the default method again
    assert g._run() is None


def test_kwargs_stays_the_same_dict_once_read(lib):
    g = lib.greenlet.Greenlet(lambda **kw: sorted(kw))
    g.kwargs['a'] = 1
    g.start()
    assert g.get() == ['a']


def test_links_list_is_made_lazily_and_dropped_after_notifying(gc_lib):
    seen = []
    g = gc_lib.top.spawn(lambda: 1)
    assert not g.has_links()
    g.rawlink(seen.append)
    assert g.has_links()
    g.join()
    gc_lib.top.sleep(0)
    assert seen == [g] and not g.has_links()


def test_unlink_removes_only_the_first_equal_link(lib):
    seen = []
    g = lib.greenlet.Greenlet(lambda: 1)
    g.rawlink(seen.append)
    g.rawlink(seen.append)
    g.unlink(seen.append)
    g.unlink(len)  # not linked: nothing happens
    g.start()
    g.join()
    lib.top.sleep(0)
    assert seen == [g]


def test_rawlink_refuses_non_callables(lib):
    g = lib.greenlet.Greenlet(lambda: 1)
    with pytest.raises(TypeError):
        g.rawlink(42)


def test_bad_input_to_c_entry_points(gc_lib):
    from gevent_c import _core
    g = gc_lib.greenlet.Greenlet(lambda: 1)
    with pytest.raises(TypeError):
        g._report_error(1)
    with pytest.raises(TypeError):
        g._report_error((1, 2))
    with pytest.raises(TypeError):
        g.join(1, 2)
    with pytest.raises(TypeError):
        g.get(True, None, 3)
    with pytest.raises(TypeError):
        type(g)._notify_links(object())
    with pytest.raises(TypeError):
        _core._greenlet_setup(1)
    with pytest.raises(TypeError):
        g._raise_exception()  # not finished


def test_spawn_of_a_class_that_makes_something_else(gc_lib):
    class Odd(gc_lib.greenlet.Greenlet):
        def __new__(cls, *args):
            return 42

    with pytest.raises(TypeError):
        Odd.spawn(len)


def test_get_and_join_with_timeouts_take_the_python_path(lib):
    ev = lib.event.Event()
    g = lib.top.spawn(ev.wait)
    with pytest.raises(lib.timeout.Timeout):
        g.get(block=False)
    with pytest.raises(lib.timeout.Timeout):
        g.get(timeout=0.001)
    assert g.join(timeout=0.001) is None and not g.ready()
    assert not g.has_links()
    ev.set()
    g.join()
    assert g.successful()


def test_join_interrupted_by_a_timeout_unlinks_its_waiter(lib):
    ev = lib.event.Event()
    g = lib.top.spawn(ev.wait)
    with pytest.raises(lib.timeout.Timeout):
        with lib.timeout.Timeout(0.001):
            g.join()
    assert not g.has_links()
    ev.set()
    g.join()


def test_greenlet_exit_is_a_successful_outcome(lib):
    def stop():
        raise lib.top.GreenletExit('bye')

    g = lib.top.spawn(stop)
    value = g.get()
    assert isinstance(value, lib.top.GreenletExit)
    assert g.successful() and g.exception is None and g.exc_info is None


def test_error_report_sees_the_exception_as_handled(gc_lib, errors):
    seen = []
    hub = gc_lib.hub.get_hub()
    original = hub.handle_error

    def handle_error(context, typ, value, tb):
        seen.append(sys.exc_info()[1])
        return original(context, typ, value, tb)

    hub.handle_error = handle_error

    def fail():
        raise KeyError('k')

    try:
        g = gc_lib.top.spawn(fail)
        g.join()
    finally:
        del hub.handle_error
    assert len(seen) == 1 and seen[0] is g.exception


def test_spawn_tree_locals_of_main_children_are_separate(gc_lib):
    a = gc_lib.top.spawn(lambda: 1)
    b = gc_lib.top.spawn(lambda: 1)
    assert a.spawn_tree_locals is a.spawn_tree_locals
    assert a.spawn_tree_locals is not b.spawn_tree_locals
    assert a.spawning_greenlet() is gc_lib.hub.getcurrent()
    gc_lib.top.joinall([a, b])


def test_greenlets_in_cycles_are_collected(gc_lib):
    g = gc_lib.top.spawn(lambda: 1)
    g.join()
    g.cycle = g
    g.rawlink(lambda x: None)
    ref = weakref.ref(g)
    del g
    gc_lib.top.sleep(0)
    gc.collect()
    assert ref() is None


def test_spawn_join_link_do_not_leak(gc_lib):
    top = gc_lib.top
    seen = []

    def work(n):
        for _ in range(n):
            gs = [top.spawn(lambda: 1) for _ in range(10)]
            gs[0].rawlink(seen.append)
            top.joinall(gs)
            gs[1].join()
            gs[2].get()
        seen.clear()

    work(200)
    gc.collect()
    before = len(gc.get_objects())
    work(2000)
    gc.collect()
    assert len(gc.get_objects()) - before < 100


# -- joinall / wait(objects): _core.wait_all ---------------------------------

def test_joinall_returns_greenlets_in_the_order_they_finished(lib):
    slow = lib.top.spawn(lib.top.sleep, 0.02)
    fast = lib.top.spawn(lambda: 1)
    assert lib.top.joinall([slow, fast]) == [fast, slow]


def test_joinall_count_and_timeout(lib):
    ev = lib.event.Event()
    blocked = lib.top.spawn(ev.wait)
    quick = [lib.top.spawn(lambda: 1) for _ in range(3)]
    assert lib.top.joinall(quick + [blocked], count=2) == quick[:2]
    done = lib.top.joinall(quick + [blocked], timeout=0.01)
    # in the order their links ran: the one whose notifier was mid-run first
    assert sorted(map(id, done)) == sorted(map(id, quick))
    assert not blocked.has_links() and not any(g.has_links() for g in quick)
    ev.set()
    assert lib.top.joinall([blocked]) == [blocked]


def test_joinall_with_raise_error_raises_the_first_failure(lib, errors):
    def fail():
        raise ZeroDivisionError('first')

    gs = [lib.top.spawn(lambda: 1), lib.top.spawn(fail)]
    with pytest.raises(ZeroDivisionError, match='first'):
        lib.top.joinall(gs, raise_error=True)
    assert sorted(map(id, lib.top.joinall(gs))) == sorted(map(id, gs))


def test_wait_takes_any_object_with_rawlink(lib):
    ev = lib.event.Event()
    res = lib.event.AsyncResult()
    g = lib.top.spawn(lambda: (ev.set(), res.set(5)))
    ready = lib.top.wait([ev, res, g])
    assert set(map(id, ready)) == {id(ev), id(res), id(g)}


def test_joinall_of_nothing_and_count_zero(lib):
    g = lib.top.spawn(lambda: 1)
    assert lib.top.joinall([]) == []
    assert lib.top.joinall([g], count=0) == []
    assert not g.has_links()
    lib.top.joinall([g])


def test_joinall_interrupted_by_a_timeout_unlinks_everything(lib):
    ev = lib.event.Event()
    gs = [lib.top.spawn(ev.wait) for _ in range(3)]
    with pytest.raises(lib.timeout.Timeout):
        with lib.timeout.Timeout(0.005):
            lib.top.joinall(gs)
    assert not any(g.has_links() for g in gs)
    ev.set()
    lib.top.joinall(gs)


def test_wait_all_bad_input(gc_lib):
    from gevent_c import _core
    g = gc_lib.top.spawn(lambda: 1)
    with pytest.raises(TypeError):
        _core.wait_all(42)
    with pytest.raises(ValueError):
        _core.wait_all([g], None, False, -1)
    with pytest.raises(TypeError):
        _core.wait_all([g], None, False, 'x')
    with pytest.raises(AttributeError):
        _core.wait_all([g, object()])
    assert not g.has_links()
    with pytest.raises(TypeError):
        _core.wait_all()
    assert _core.wait_all([g]) == [g]


# -- timed sleep in C (no Python frame kept on a sleeping greenlet's stack) --

def test_timed_sleeps_end_in_deadline_order(lib):
    order = []

    def nap(seconds, tag):
        lib.top.sleep(seconds)
        order.append(tag)

    gs = [lib.top.spawn(nap, 0.03, 'c'), lib.top.spawn(nap, 0.01, 'a'),
          lib.top.spawn(nap, 0.02, 'b'), lib.top.spawn(nap, 1, 'never')]
    lib.top.joinall(gs[:3])
    assert order == ['a', 'b', 'c']
    gs[3].kill()
    assert order == ['a', 'b', 'c'] and gs[3].dead


def test_killed_sleeper_leaves_no_active_timer(gc_lib):
    # gevent_c only: gevent's loop on 3.10 keeps other watchers alive here
    g = gc_lib.top.spawn(gc_lib.top.sleep, 30)
    gc_lib.top.sleep(0)
    g.kill()
    # the loop has nothing left: waiting for it ends at once, not by timeout
    assert gc_lib.top.wait(timeout=10) is True


def test_positional_ref_false_sleep_ends_in_loop_exit(gc_lib):
    with pytest.raises(gc_lib.hub.LoopExit):
        gc_lib.top.sleep(1, False)


def test_a_ref_flag_whose_bool_fails_or_destroys_the_hub_is_safe(gc_lib):
    # the flag's __bool__ runs before the hub is looked up
    class Bad:
        def __bool__(self):
            raise ValueError('no truth')

    class Destroying:
        def __bool__(self):
            gc_lib.hub.get_hub().destroy(destroy_loop=True)
            return True

    with pytest.raises(ValueError, match='no truth'):
        gc_lib.top.sleep(0.001, Bad())
    gc_lib.top.sleep(0.001, Destroying())
    gc_lib.top.sleep(0.001)


def test_a_stray_switch_into_a_sleeper_is_an_invalid_switch(lib, errors):
    g = lib.top.spawn(lib.top.sleep, 5)
    lib.top.sleep(0)
    lib.hub.get_hub().loop.run_callback(g.switch, 'stray')
    with pytest.raises(lib.exceptions.InvalidSwitchError if hasattr(lib.exceptions, 'InvalidSwitchError')
                       else lib.hub.InvalidSwitchError):
        g.get()


@pytest.mark.no_sanitizer('the -O0 sanitizer build keeps larger C frames on the saved stack')
def test_sleeping_greenlets_are_small(gc_lib):
    """The C sleep keeps no Python frame, no bound methods and no dict per
    sleeping greenlet; what is saved of its stack stays well under 2 KiB."""
    gs = [gc_lib.top.spawn(gc_lib.top.sleep, 5) for _ in range(20)]
    gc_lib.top.sleep(0)
    assert all(g._stack_saved < 2048 for g in gs)
    assert not any(_has_dict(g) for g in gs)
    gc_lib.top.killall(gs)


@pytest.mark.parametrize('method', ['join', 'get'])
def test_a_stray_switch_into_join_or_get_is_an_invalid_switch(lib, method):
    ev = lib.event.Event()
    g = lib.top.spawn(ev.wait)
    main = lib.hub.getcurrent()
    lib.hub.get_hub().loop.run_callback(main.switch, 'stray')
    with pytest.raises(lib.exceptions.InvalidSwitchError, match='stray'):
        getattr(g, method)()
    assert not g.has_links()
    ev.set()
    g.join()


# -- Python code run from inside C paths (found by review) --------------------

def test_unlink_survives_a_link_eq_that_replaces_the_links():
    from tests._isolated import run_isolated
    out = run_isolated('''
        from gevent_c.greenlet import Greenlet
        class Link:
            def __call__(self, g):
                pass
            def __eq__(self, other):
                g.__init__(lambda: 2)   # drops g's links while unlink walks them
                return False
            __hash__ = object.__hash__
        g = Greenlet(lambda: 1)
        for _ in range(3):
            g.rawlink(Link())
        g.unlink(object())
        elsewhere = [0, object(), 2]
        g2 = Greenlet(lambda: 1)
        class Sleepy(Link):
            def __eq__(self, other):
                g2.__init__(lambda: 3)
                return other is elsewhere[1]
        g2.rawlink(Sleepy())
        g2.rawlink(Sleepy())
        g2.unlink(elsewhere[1])
        print('ok', len(elsewhere))
    ''')
    assert out.split() == ['ok', '3']


def test_dead_survives_a_start_event_whose_attributes_replace_it():
    from tests._isolated import run_isolated
    out = run_isolated('''
        from gevent_c.greenlet import Greenlet
        class Event:
            @property
            def pending(self):
                g._start_event = None   # drops the only reference to this event
                return False
            active = False
        g = Greenlet(lambda: 1)
        g._start_event = Event()
        print(g.dead)
    ''')
    assert out.split() == ['True']


def test_exc_info_accepts_only_a_triple_or_none():
    g = __import__('gevent_c').greenlet.Greenlet(lambda: 1)
    for bad in (5, (), (1, 2), 'abc'):
        with pytest.raises(TypeError, match='_exc_info'):
            g._exc_info = bad
    g._exc_info = None
    assert g.exception is None
