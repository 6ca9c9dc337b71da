"""Per-greenlet interpreter state: exc_info, contextvars, frames, recursion."""
import contextvars
import subprocess
import sys

import pytest

from gevent_c._greenlet import greenlet, getcurrent

VAR = contextvars.ContextVar("VAR", default="unset")


def test_new_greenlet_starts_without_a_handled_exception():
    def run():
        return sys.exc_info()
    try:
        raise ValueError("outer")
    except ValueError:
        assert greenlet(run).switch() == (None, None, None)
        assert sys.exc_info()[0] is ValueError


def test_exc_info_is_kept_per_greenlet_across_switches():
    main = getcurrent()
    seen = []

    def run():
        try:
            raise KeyError("inner")
        except KeyError:
            main.switch()
            seen.append(sys.exc_info()[0])
    g = greenlet(run)
    try:
        raise ValueError("outer")
    except ValueError:
        g.switch()
        assert sys.exc_info()[0] is ValueError
        g.switch()
        assert sys.exc_info()[0] is ValueError
    assert seen == [KeyError]
    assert sys.exc_info() == (None, None, None)


def test_context_vars_are_isolated_between_greenlets():
    main = getcurrent()
    seen = []

    def run():
        seen.append(VAR.get())
        VAR.set("inner")
        main.switch()
        seen.append(VAR.get())
    token = VAR.set("outer")
    try:
        g = greenlet(run)
        g.switch()
        assert VAR.get() == "outer"
        VAR.set("outer2")
        g.switch()
        assert VAR.get() == "outer2"
    finally:
        VAR.reset(token)
    assert seen == ["unset", "inner"]


def test_gr_context_can_be_given_before_start_and_read_while_suspended():
    main = getcurrent()
    ctx = contextvars.copy_context()
    ctx.run(VAR.set, "given")
    g = greenlet(lambda: main.switch(VAR.get()))
    g.gr_context = ctx
    assert g.switch() == "given"
    assert g.gr_context is ctx
    with pytest.raises(TypeError):
        g.gr_context = 1
    with pytest.raises(AttributeError):
        del g.gr_context
    g.switch()


def test_gr_context_of_running_greenlet_is_the_current_context():
    def run():
        VAR.set("x")
        return getcurrent().gr_context[VAR]
    assert greenlet(run).switch() == "x"


def test_context_run_inside_greenlet_switching_out_and_back():
    main = getcurrent()

    def run():
        return contextvars.copy_context().run(lambda: main.switch("in-ctx"))
    g = greenlet(run)
    assert g.switch() == "in-ctx"
    assert g.switch("back") == "back"


def _frames(f):
    names = []
    while f is not None:
        names.append(f.f_code.co_name)
        f = f.f_back
    return names


def test_gr_frame_is_none_unless_suspended():
    main = getcurrent()
    g = greenlet(lambda: main.switch())
    assert g.gr_frame is None
    g.switch()
    assert g.gr_frame is not None
    g.switch()
    assert g.gr_frame is None
    assert main.gr_frame is None


def test_gr_frame_f_back_chain_of_suspended_greenlet():
    main = getcurrent()

    def inner():
        main.switch()

    def outer():
        inner()
    g = greenlet(outer)
    g.switch()
    assert _frames(g.gr_frame) == ["inner", "outer"]
    assert _frames(g.gr_frame) == ["inner", "outer"]
    g.switch()


def test_f_back_walk_through_c_calls_sorted_and_map():
    main = getcurrent()

    def key(x):
        main.switch()
        return x

    def in_sorted():
        return sorted([3, 1, 2], key=key)

    def in_map():
        return list(map(key, [1, 2]))

    for fn, name in ((in_sorted, "in_sorted"), (in_map, "in_map")):
        g = greenlet(fn)
        g.switch()
        while not g.dead:
            names = _frames(g.gr_frame)
            assert names == ["key", name]
            # deeper C stack activity between walks must not matter
            sorted(range(50), key=lambda v: -v)
            assert _frames(g.gr_frame) == names
            g.switch()


def test_f_back_walk_with_nested_c_calls_and_other_greenlets_running():
    main = getcurrent()

    def key(x):
        main.switch()
        return x

    def level2():
        return list(map(key, [1]))

    def level1():
        return sorted([1, 2], key=lambda v: level2() and v)
    gs = [greenlet(level1) for _ in range(3)]
    for g in gs:
        g.switch()
    for _ in range(3):
        for g in gs:
            if not g.dead:
                names = _frames(g.gr_frame)
                assert names[0] == "key" and names[-1] == "level1"
                assert "level2" in names
        for g in gs:
            if not g.dead:
                g.switch()


def test_saved_frame_objects_of_suspended_greenlet_walk_safely():
    main = getcurrent()
    saved = []

    def key(x):
        saved.append(sys._getframe())
        try:
            raise ValueError(x)
        except ValueError as e:
            saved.append(e.__traceback__.tb_frame)
        main.switch()
        return x

    def in_sorted():
        return sorted([2, 1], key=key)
    g = greenlet(in_sorted)
    g.switch()
    other = greenlet(lambda: sorted(range(100), key=lambda v: [v] * 20))
    other.switch()
    for f in saved:
        assert _frames(f) == ["key", "in_sorted"]
    g.switch()
    for f in saved[2:]:
        assert _frames(f) == ["key", "in_sorted"]
    g.switch()
    assert g.dead


def test_main_greenlet_frame_visible_from_other_greenlet():
    main = getcurrent()

    def run():
        return _frames(main.gr_frame)
    names = greenlet(run).switch()
    assert names[0] == "test_main_greenlet_frame_visible_from_other_greenlet"


def test_new_greenlet_frame_has_no_f_back():
    g = greenlet(lambda: sys._getframe().f_back)
    assert g.switch() is None


@pytest.mark.timeout(60)
def test_deep_recursion_inside_greenlet_raises_recursion_error():
    code = r"""
import sys
from gevent_c._greenlet import greenlet
def rec(n):
    return rec(n + 1)
def c_rec(n):
    return sorted([1, 2], key=lambda v: c_rec(n + 1))
def run(fn):
    try:
        fn(0)
    except RecursionError:
        return "ok"
for fn in (rec, c_rec):
    print(greenlet(run).switch(fn))
    print(greenlet(lambda: greenlet(run).switch(fn)).switch())
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["ok"] * 4


def test_recursion_depth_is_per_greenlet():
    main = getcurrent()

    def deep(n):
        if n:
            return deep(n - 1)
        main.switch()

    limit = sys.getrecursionlimit()
    g = greenlet(lambda: deep(limit // 2))
    g.switch()

    def deep2(n):
        return deep2(n - 1) if n else "fine"
    # main still has nearly its whole budget
    assert deep2(limit // 2) == "fine"
    g.switch()


@pytest.mark.timeout(60)
def test_switching_inside_deferred_deallocation_keeps_trashcan_consistent():
    code = r"""
from gevent_c._greenlet import greenlet, getcurrent
main = getcurrent()
events = []
class Switcher:
    def __init__(self, target):
        self.target = target
    def __del__(self):
        events.append("del")
        self.target.switch()
def nested(leaf, depth=5000):
    x = [leaf]
    for _ in range(depth):
        x = [x]
    return x
def other_run():
    while True:
        junk = nested(None)
        del junk             # trashcan work in this greenlet too
        main.switch()
other = greenlet(other_run)
for i in range(20):
    x = nested(Switcher(other))
    del x                    # __del__ switches away mid-deallocation
print(len(events))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "20"


def test_finished_greenlet_keeps_the_context_it_ran_in():
    def run():
        VAR.set("inside")
    g = greenlet(run)
    g.switch()
    assert g.dead
    assert g.gr_context is not None and g.gr_context[VAR] == "inside"
    # one given before the start is kept through the end
    ctx = contextvars.copy_context()
    g = greenlet(lambda: VAR.set("given"))
    g.gr_context = ctx
    g.switch()
    assert g.gr_context is ctx and ctx[VAR] == "given"
    # Context.run() leaves its context on return: nothing is left under it
    g = greenlet(contextvars.copy_context().run)
    g.switch(VAR.set, "run")
    assert g.dead and g.gr_context is None


def test_trashcan_nesting_is_kept_per_greenlet():
    from gevent_c._greenlet import _trash_delete_nesting as nesting
    if sys.version_info >= (3, 13):
        assert nesting() is None      # the interpreter keeps no such count
        return
    main = getcurrent()
    seen = []

    def other_run():
        while True:
            seen.append(("other", nesting()))
            main.switch()
    other = greenlet(other_run)

    class SwitchesInDel:
        def __del__(self):
            seen.append(("del", nesting()))
            other.switch()          # starts other, then resumes it
            seen.append(("back", nesting()))
    assert nesting() == 0
    for _ in range(2):
        items = [SwitchesInDel()]
        del items
    assert nesting() == 0
    inside = seen[0][1]
    assert inside > 0
    assert seen == [("del", inside), ("other", 0), ("back", inside)] * 2
