"""gevent-level Greenlet: spawn order, results, errors, kill, links, joinall/killall."""
import sys

import pytest

from _hubtest import clean_hub, lib, gc_lib, errors  # noqa: F401 -- fixtures


def test_spawned_greenlets_start_in_spawn_order_on_the_next_iteration(lib):
    order = []
    for i in range(5):
        lib.top.spawn(order.append, i)
    assert order == []
    lib.top.sleep(0)
    assert order == [0, 1, 2, 3, 4]


def test_get_returns_the_result(lib):
    g = lib.top.spawn(lambda a, b=0: a + b, 1, b=2)
    assert g.get() == 3
    assert g.value == 3 and g.successful() and g.ready() and g.dead


def test_get_reraises_with_the_original_traceback(lib, errors):
    def inner():
        raise ValueError('from inner')

    def outer():
        inner()

    g = lib.top.spawn(outer)
    with pytest.raises(ValueError, match='from inner') as info:
        g.get()
    names = [entry.name for entry in info.traceback]
    assert 'inner' in names and 'outer' in names
    assert g.exc_info[0] is ValueError and g.exc_info[1] is g.exception
    assert not g.successful()


def test_exception_is_reported_once_even_if_get_is_called_twice(lib, errors):
    g = lib.top.spawn(lambda: 1 / 0)
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            g.get()
    assert errors.getvalue().count('ZeroDivisionError: division by zero') == 1


def test_non_callable_raises_type_error_at_spawn(lib):
    with pytest.raises(TypeError):
        lib.top.spawn(42)
    with pytest.raises(TypeError):
        lib.greenlet.Greenlet(run='nope')


def test_get_nonblocking_and_timeout_raise_timeout(lib):
    g = lib.top.spawn(lib.top.sleep, 1)
    with pytest.raises(lib.timeout.Timeout):
        g.get(block=False)
    with pytest.raises(lib.timeout.Timeout):
        g.get(timeout=0.005)
    g.kill()


def test_join_timeout_returns_without_raising(lib):
    g = lib.top.spawn(lib.top.sleep, 1)
    assert g.join(timeout=0.005) is None
    assert not g.ready()
    g.kill()
    g.join()
    assert g.ready()


def test_start_later_and_spawn_later(lib):
    order = []
    lib.top.spawn_later(0.02, order.append, 'late')
    g = lib.greenlet.Greenlet(order.append, 'early')
    g.start_later(0.005)
    lib.top.sleep(0.05)
    assert order == ['early', 'late']


def test_start_is_idempotent(lib):
    calls = []
    g = lib.greenlet.Greenlet(calls.append, 1)
    g.start()
    g.start()
    g.join()
    assert calls == [1]


def test_kill_before_start_prevents_it_from_ever_running(lib):
    ran = []
    g = lib.top.spawn(ran.append, 1)
    g.kill()
    lib.top.sleep(0.01)
    assert ran == [] and g.dead and g.ready() and g.successful()
    assert isinstance(g.value, lib.top.GreenletExit)


def test_kill_of_never_started_greenlet_runs_links(lib):
    g = lib.greenlet.Greenlet(lambda: None)
    seen = []
    g.rawlink(seen.append)
    g.kill(block=False)
    lib.top.sleep(0)
    assert seen == [g] and g.dead
    g.start()
    lib.top.sleep(0)
    assert g.dead


def test_kill_with_custom_exception(lib, errors):
    g = lib.top.spawn(lib.top.sleep, 1)
    lib.top.sleep(0)
    g.kill(KeyError('x'))
    assert isinstance(g.exception, KeyError)


def test_kill_with_timeout_returns_if_the_greenlet_ignores_it(lib, errors):
    def stubborn():
        while True:
            try:
                lib.top.sleep(1)
            except lib.top.GreenletExit:
                pass

    g = lib.top.spawn(stubborn)
    lib.top.sleep(0)
    g.kill(timeout=0.01)
    assert not g.dead
    g.kill(ValueError, block=False)
    lib.top.sleep(0.001)
    assert g.dead and isinstance(g.exception, ValueError)


def test_kill_while_blocked_in_join_of_another(lib):
    target = lib.top.spawn(lib.top.sleep, 1)
    joiner = lib.top.spawn(target.join)
    lib.top.sleep(0)
    joiner.kill()
    assert joiner.dead
    assert not target.ready()
    target.kill()


def test_killed_greenlet_inside_kill_raises_in_itself(lib):
    out = []

    def suicide():
        try:
            lib.top.getcurrent().kill()
        except lib.top.GreenletExit:
            out.append('exit')
            raise

    g = lib.top.spawn(suicide)
    g.join()
    assert out == ['exit']


def test_links_run_in_order_added_once_from_the_hub(lib):
    order = []
    g = lib.top.spawn(lambda: 7)
    hub = lib.hub.get_hub()
    g.rawlink(lambda s: order.append(('first', s.value, lib.hub.getcurrent() is hub)))
    g.rawlink(lambda s: order.append(('second', s.value, lib.hub.getcurrent() is hub)))
    g.join()
    lib.top.sleep(0)
    lib.top.sleep(0)
    assert order == [('first', 7, True), ('second', 7, True)]


def test_rawlink_after_death_still_runs(lib):
    g = lib.top.spawn(lambda: 1)
    g.join()
    seen = []
    g.rawlink(seen.append)
    lib.top.sleep(0)
    assert seen == [g]


def test_link_runs_in_a_new_greenlet_that_may_block(lib):
    seen = []

    def callback(source):
        lib.top.sleep(0.001)
        seen.append(source.value)

    g = lib.top.spawn(lambda: 'v')
    g.link(callback)
    g.join()
    lib.top.sleep(0.01)
    assert seen == ['v']


def test_link_value_and_link_exception(lib, errors):
    seen = []
    ok = lib.top.spawn(lambda: 1)
    bad = lib.top.spawn(lambda: 1 / 0)
    for g in (ok, bad):
        g.link_value(lambda s: seen.append(('value', s)))
        g.link_exception(lambda s: seen.append(('exception', s)))
    lib.top.joinall([ok, bad])
    lib.top.sleep(0.01)
    assert sorted(seen, key=str) == sorted([('value', ok), ('exception', bad)], key=str)


def test_unlink_and_unlink_all_and_has_links(lib):
    seen = []
    g = lib.top.spawn(lambda: 1)
    g.rawlink(seen.append)
    assert g.has_links()
    g.unlink(seen.append)
    assert not g.has_links()
    g.link(seen.append)
    g.unlink_all()
    g.join()
    lib.top.sleep(0)
    assert seen == []


def test_error_in_a_link_is_reported_and_the_next_link_still_runs(lib, errors):
    seen = []
    g = lib.top.spawn(lambda: 1)
    g.rawlink(lambda s: 1 / 0)
    g.rawlink(seen.append)
    g.join()
    lib.top.sleep(0)
    assert seen == [g]
    assert 'ZeroDivisionError' in errors.getvalue()


def test_link_to_async_result(lib):
    result = lib.event.AsyncResult()
    g = lib.top.spawn(lambda: 'r')
    g.link(result)
    assert result.get() == 'r'


def test_not_dead_while_being_switched_into_for_its_start(lib):
    # A trace function runs inside the greenlet being switched into, after
    # the hub has consumed its start callback and before run() begins.
    import importlib
    settrace = importlib.import_module(
        'greenlet' if lib.name == 'gevent' else 'gevent_c._greenlet').settrace
    seen = []

    def tracer(event, args):
        if event == 'switch' and args[1] is g:
            seen.append(g.dead)

    g = lib.greenlet.Greenlet(lambda: 42)
    old = settrace(tracer)
    try:
        g.start()
        g.join()
    finally:
        settrace(old)
    assert seen and not any(seen), seen
    assert g.dead and g.value == 42


def test_state_properties_through_the_lifecycle(lib):
    g = lib.greenlet.Greenlet(lib.top.sleep, 0.01)
    assert not g and not g.started and not g.dead and not g.ready()
    g.start()
    assert g and g.started and not g.dead
    lib.top.sleep(0)
    assert g and not g.dead
    g.join()
    assert not g and g.dead and g.ready() and g.successful()


def test_name_and_minimal_ident(lib):
    a = lib.top.spawn(lambda: None)
    b = lib.top.spawn(lambda: None)
    assert a.minimal_ident != b.minimal_ident
    assert a.name == 'Greenlet-%d' % a.minimal_ident
    a.name = 'custom'
    assert a.name == 'custom' and '"custom"' in repr(a)
    lib.top.joinall([a, b])


def test_repr_shows_the_function_and_arguments(lib):
    def work(x, y=None):
        return x

    g = lib.greenlet.Greenlet(work, 1, y='z')
    assert "work(1, y='z')" in repr(g)


def test_subclass_overriding_run(lib):
    class Worker(lib.greenlet.Greenlet):
        def __init__(self, n):
            lib.greenlet.Greenlet.__init__(self)
            self.n = n

        def _run(self):
            return self.n * 2

    assert Worker.spawn(4).get() == 8


def test_joinall_returns_finished_and_honours_count_and_timeout(lib):
    gs = [lib.top.spawn(lib.top.sleep, d) for d in (0.001, 0.002, 1)]
    done = lib.top.joinall(gs, timeout=0.05)
    assert set(done) == set(gs[:2])
    assert lib.top.joinall(gs, count=1) == [gs[0]] or len(lib.top.joinall(gs, count=1)) == 1
    lib.top.killall(gs)


def test_joinall_raise_error(lib, errors):
    ok = lib.top.spawn(lambda: None)
    bad = lib.top.spawn(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        lib.top.joinall([ok, bad], raise_error=True)


def test_killall_kills_started_and_unstarted(lib):
    ran = []
    started = lib.top.spawn(lib.top.sleep, 1)
    lib.top.sleep(0)
    unstarted = lib.top.spawn(ran.append, 1)
    lib.top.killall([started, unstarted])
    assert started.dead and unstarted.dead and ran == []


def test_killall_nonblocking(lib):
    gs = [lib.top.spawn(lib.top.sleep, 1) for _ in range(3)]
    lib.top.sleep(0)
    lib.top.killall(gs, block=False)
    lib.top.sleep(0.01)
    assert all(g.dead for g in gs)


def test_kill_module_function_does_not_block(lib):
    g = lib.top.spawn(lib.top.sleep, 1)
    lib.top.sleep(0)
    lib.top.kill(g)
    assert not g.dead
    lib.top.sleep(0)
    assert g.dead


def test_killall_with_timeout_raises_timeout_if_they_ignore_it(lib):
    def stubborn():
        try:
            lib.top.sleep(1)
        except lib.top.GreenletExit:
            lib.top.sleep(0.5)

    g = lib.top.spawn(stubborn)
    lib.top.sleep(0)
    with pytest.raises(lib.timeout.Timeout):
        lib.top.killall([g], timeout=0.01)
    assert not g.dead
    g.kill()
    assert g.dead


def test_error_in_greenlet_keeps_traceback_frames(gc_lib):
    import io
    gc_lib.hub.get_hub().exception_stream = io.StringIO()

    def crash():
        local_marker = 'here'  # noqa: F841
        raise RuntimeError('x')

    g = gc_lib.top.spawn(crash)
    g.join()
    tb = g.exc_info[2]
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_frame.f_locals['local_marker'] == 'here'


def test_spawn_callbacks(gc_lib):
    seen = []
    gc_lib.greenlet.Greenlet.add_spawn_callback(seen.append)
    try:
        g = gc_lib.top.spawn(lambda: None)
    finally:
        gc_lib.greenlet.Greenlet.remove_spawn_callback(seen.append)
    assert seen == [g]
    g.join()


def test_greenlet_is_a_subclass_of_the_coroutine_type(gc_lib):
    from gevent_c._greenlet import greenlet
    assert issubclass(gc_lib.greenlet.Greenlet, greenlet)
    assert sys.modules['gevent_c.greenlet'].Greenlet is gc_lib.top.Greenlet


# ---- Greenlet as a context manager ---------------------------------------------

def test_with_block_joins_the_greenlet(lib):
    with lib.top.spawn(lib.top.sleep, 0.01) as g:
        assert not g.dead
    assert g.dead and g.successful()


def test_error_in_with_block_kills_the_greenlet_with_it(lib):
    class Boom(Exception):
        pass
    with pytest.raises(Boom):
        with lib.top.spawn(lib.top.sleep, 10) as g:
            lib.top.sleep(0)  # started
            raise Boom
    assert g.dead and not g.successful()
    assert isinstance(g.exception, Boom)
    with pytest.raises(Boom):
        with lib.top.spawn(lib.top.sleep, 10) as g2:
            raise Boom      # not started yet: it never runs
    assert g2.dead
    with pytest.raises(Boom):
        g2.get()


def test_greenlet_error_shows_through_get_after_the_block(lib, errors):
    def fails():
        raise KeyError('k')
    with lib.top.spawn(fails) as g:
        pass
    with pytest.raises(KeyError):
        g.get()


# ---- the greenlet tree ------------------------------------------------------------

def test_children_share_spawn_tree_locals_and_know_their_spawner(lib):
    getcurrent = lib.hub.getcurrent
    seen = []

    def parent():
        child = lib.greenlet.Greenlet()
        seen.append((child.spawn_tree_locals is getcurrent().spawn_tree_locals,
                     child.spawning_greenlet() is getcurrent()))
    a, b = lib.greenlet.Greenlet(parent), lib.greenlet.Greenlet(parent)
    assert not hasattr(getcurrent(), 'spawn_tree_locals')  # main keeps none
    assert a.spawn_tree_locals is not b.spawn_tree_locals
    assert a.spawning_greenlet() is getcurrent()
    a.start()
    a.join()
    assert seen == [(True, True)]
    raw = lib.top.spawn_raw(parent)
    assert raw.spawning_greenlet() is getcurrent()
    assert raw.spawn_tree_locals is not None and raw.spawn_tree_locals is not a.spawn_tree_locals
    lib.top.sleep(0)


def test_spawning_stack_shows_where_it_was_spawned(lib):
    import traceback

    def where_spawned():
        return lib.top.spawn(lambda: None)
    g = where_spawned()
    text = ''.join(traceback.format_stack(g.spawning_stack))
    assert 'where_spawned' in text and __file__ in text
    assert len(traceback.extract_stack(g.spawning_stack)) <= g.spawning_stack_limit
    g.join()


def test_tree_tracking_can_be_turned_off(lib):
    config = lib.top.config
    saved = config.track_greenlet_tree
    config.track_greenlet_tree = False
    try:
        g = lib.greenlet.Greenlet()
        assert (g.spawning_greenlet, g.spawn_tree_locals, g.spawning_stack) == (None, None, None)
    finally:
        config.track_greenlet_tree = saved
    assert lib.greenlet.Greenlet().spawning_stack is not None


def test_minimal_ident_of_greenlets_and_of_the_hub(lib):
    g = lib.top.spawn(lambda: 1)
    assert g.minimal_ident >= 0 and g.parent.minimal_ident >= 0
    assert g.minimal_ident != g.parent.minimal_ident
    g.join()
    h = lib.top.spawn(lambda: 1)
    h.parent = lib.hub.getcurrent()
    try:
        with pytest.raises((TypeError, AttributeError), match='ident_registry|Cannot convert'):
            h.minimal_ident
    finally:
        h.parent = lib.hub.get_hub()
        h.kill()


def test_spawn_later_needs_a_callable(lib):
    with pytest.raises(TypeError):
        lib.top.spawn_later(1)
    with pytest.raises(TypeError):
        lib.top.spawn_later(1, 1)
    with pytest.raises(TypeError):
        lib.top.spawn(1)


def test_spawning_stacks_from_one_site_are_shared_and_from_another_are_not():
    import traceback
    import gevent_c

    def spawner_alpha():
        return [gevent_c.spawn(lambda: None) for _ in range(3)]

    def spawner_beta():
        return gevent_c.spawn(lambda: None)
    a = spawner_alpha()
    b = spawner_beta()
    assert a[0]._spawning_frames is a[1]._spawning_frames is a[2]._spawning_frames
    assert b._spawning_frames is not a[0]._spawning_frames
    assert 'spawner_alpha' in ''.join(traceback.format_stack(a[2].spawning_stack))
    assert 'spawner_beta' in ''.join(traceback.format_stack(b.spawning_stack))
    assert 'spawner_alpha' not in ''.join(traceback.format_stack(b.spawning_stack))
    gevent_c.joinall(a + [b])


def test_spawning_stack_limit_beyond_the_inline_frames_is_honoured():
    import gevent_c

    class Deep(gevent_c.Greenlet):
        spawning_stack_limit = 40

    def recurse(n):
        if n == 0:
            return Deep.spawn(lambda: None)
        return recurse(n - 1)
    g = recurse(50)
    assert len(g._spawning_frames) == 2 * 40
    g.join()
