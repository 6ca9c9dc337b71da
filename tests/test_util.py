"""gevent_c.util: run reports, the greenlet tree, wrap_errors and
assert_switches; the same scenarios run against gevent."""
import _thread
import importlib
import io
import sys

import pytest

from _hubtest import clean_hub, lib  # noqa: F401 -- fixtures


def _util(lib):
    return importlib.import_module(lib.name + '.util')


def test_wrap_errors_returns_the_listed_exception(lib):
    util = _util(lib)
    wrapped = util.wrap_errors(ValueError, int)
    assert wrapped('12') == 12
    assert isinstance(wrapped('x'), ValueError)
    with pytest.raises(TypeError):
        util.wrap_errors(ValueError, int)(None)
    assert str(wrapped) == str(int) and repr(wrapped) == repr(int)
    assert wrapped.__name__ == 'int'


def test_run_info_names_threads_greenlets_spawn_sites_and_locals(lib):
    util = _util(lib)
    local = importlib.import_module(lib.name + '.local')

    class SomeLocal(local.local):
        def __init__(self, value):
            self.value = value

    def root():
        kept = SomeLocal(42)
        lib.hub.getcurrent().spawn_tree_locals['tree key'] = 'tree value'
        out = io.StringIO()
        lib.top.spawn(util.print_run_info, file=out).join()
        assert kept.value == 42
        return out.getvalue()

    g = lib.top.spawn(root)
    g.name = 'ReportingGreenlet'
    text = g.get()
    for expected in ('Threads', 'Greenlets', 'Spawned at', 'Parent:', 'Spawn Tree Locals',
                     "'tree key'", 'Greenlet Locals:', 'SomeLocal', 'ReportingGreenlet'):
        assert expected in text, expected
    plain = '\n'.join(util.format_run_info(thread_stacks=False, greenlet_stacks=False))
    assert 'Running:' not in plain and 'Threads' in plain


def test_greenlet_tree_follows_spawning_greenlets(lib):
    util = _util(lib)

    def child():
        lib.top.sleep(0.01)

    def parent():
        g = lib.top.spawn(child)
        g.name = 'TheChild'
        return g

    p = lib.top.spawn(parent)
    p.name = 'TheParent'
    kid = p.get()
    tree = util.GreenletTree.current_tree()
    assert tree.is_current_tree and tree.root
    assert tree.greenlet is lib.hub.getcurrent()
    text = str(tree)
    assert text.index('TheParent') < text.index('TheChild')
    parent_tree = next(t for t in tree.child_trees if t.greenlet is p)
    assert [t.greenlet for t in parent_tree.child_trees] == [kid]
    assert any(t.is_current_tree for t in util.GreenletTree.forest())
    kid.join()


def test_assert_switches(lib):
    util = _util(lib)
    with pytest.raises(AssertionError):
        with util.assert_switches():
            pass
    with util.assert_switches():
        lib.top.sleep(0)
    with util.assert_switches(max_blocking_time=5):
        pass
    import time
    with pytest.raises(AssertionError):
        with util.assert_switches(max_blocking_time=0.001, hub_only=True):
            time.sleep(0.05)
    with pytest.raises(KeyError):  # the block's own error is left alone
        with util.assert_switches():
            raise KeyError('k')


def test_assert_switches_restores_the_previous_trace_function(lib):
    util = _util(lib)
    greenlet_mod = importlib.import_module('greenlet' if lib.name == 'gevent'
                                           else 'gevent_c._greenlet')
    assert greenlet_mod.gettrace() is None
    with util.assert_switches():
        lib.top.sleep(0)
    assert greenlet_mod.gettrace() is None


def test_old_names_dump_stacks_clear_stack_frames_reraise_get_thread_ident(lib):
    util = _util(lib)
    assert util.dump_stacks is util.format_run_info
    assert lib.hub.get_thread_ident() == _thread.get_ident()

    def holder():
        big = ['x'] * 10
        return sys._getframe(), big

    frame, big = holder()
    assert frame.f_locals['big'] is big
    util.clear_stack_frames(frame)
    assert 'big' not in frame.f_locals
    # the running frames below are skipped, not an error
    util.clear_stack_frames(sys._getframe())

    try:
        raise KeyError('k')
    except KeyError as exc:
        caught, tb = exc, exc.__traceback__
    with pytest.raises(KeyError) as info:
        lib.hub.reraise(KeyError, caught, tb)
    assert info.value is caught
    with pytest.raises(ValueError):
        lib.hub.reraise(ValueError, ValueError('v'))
