"""Switching, run semantics and argument/return shapes of gevent_c._greenlet."""
import copy
import pickle
import weakref

import pytest

from gevent_c._greenlet import greenlet, getcurrent, GreenletExit, error


def test_ping_pong_runs_in_strict_alternation():
    order = []
    main = getcurrent()

    def pong():
        for i in range(3):
            order.append(("pong", i))
            main.switch()

    g = greenlet(pong)
    for i in range(3):
        order.append(("ping", i))
        g.switch()
    g.switch()
    assert order == [("ping", 0), ("pong", 0), ("ping", 1), ("pong", 1),
                     ("ping", 2), ("pong", 2)]
    assert g.dead


def test_first_switch_calls_run_with_args_and_kwargs():
    seen = []
    g = greenlet(lambda *a, **k: seen.append((a, k)))
    g.switch(1, 2, x=3)
    assert seen == [((1, 2), {"x": 3})]


@pytest.mark.parametrize("args,kwargs,expected", [
    ((), {}, ()),
    ((1,), {}, 1),
    ((1, 2), {}, (1, 2)),
    ((), {"a": 1}, {"a": 1}),
    ((1,), {"a": 1}, ((1,), {"a": 1})),
    ((None,), {}, None),
    (((),), {}, ()),
])
def test_switch_returns_value_in_greenlet_shape(args, kwargs, expected):
    got = []
    main = getcurrent()
    g = greenlet(lambda: got.append(main.switch()))
    g.switch()
    g.switch(*args, **kwargs)
    assert got == [expected]


@pytest.mark.parametrize("args,kwargs,expected", [
    ((), {}, ()),
    ((5,), {}, 5),
    ((5, 6), {}, (5, 6)),
    ((), {"k": 1}, {"k": 1}),
    ((5,), {"k": 1}, ((5,), {"k": 1})),
])
def test_value_switched_to_parent_has_the_same_shapes(args, kwargs, expected):
    main = getcurrent()
    g = greenlet(lambda: main.switch(*args, **kwargs))
    assert g.switch() == expected


def test_return_value_of_run_goes_to_parent():
    g = greenlet(lambda: 42)
    assert g.switch() == 42
    assert g.dead
    assert greenlet(lambda: (1, 2)).switch() == (1, 2)
    assert greenlet(lambda: None).switch() is None


def test_exception_in_run_propagates_to_parent():
    def boom():
        raise KeyError("x")
    g = greenlet(boom)
    with pytest.raises(KeyError):
        g.switch()
    assert g.dead


def test_greenlet_exit_in_run_returns_its_instance_to_parent():
    exc = GreenletExit("bye")

    def leave():
        raise exc
    assert greenlet(leave).switch() is exc


def test_switch_to_dead_greenlet_goes_to_parent():
    main = getcurrent()
    g = greenlet(lambda: 1)
    g.switch()
    assert g.switch(7) == 7
    inner = []

    def outer_run():
        child = greenlet(lambda: None)
        child.switch()
        inner.append(child.switch("to-outer"))
        return "end"
    outer = greenlet(outer_run)
    assert outer.switch() == "end"
    assert inner == ["to-outer"]
    assert main.switch(3) == 3


def test_switch_to_self_returns_arguments():
    assert getcurrent().switch(1) == 1
    assert getcurrent().switch(1, 2) == (1, 2)
    assert getcurrent().switch() == ()


def test_finished_greenlet_starts_unstarted_parent():
    seen = []
    parent = greenlet(lambda v: seen.append(v) or "parent-done")
    child = greenlet(lambda: "child-result", parent=parent)
    assert child.switch() == "parent-done"
    assert seen == ["child-result"]


def test_nested_greenlets_return_through_parents():
    def level(n):
        if n == 0:
            return 0
        return greenlet(level).switch(n - 1) + 1
    assert greenlet(level).switch(50) == 50


def test_switch_from_nested_greenlet_resumes_outer_correctly():
    main = getcurrent()
    log = []

    def a():
        b = greenlet(lambda: log.append(main.switch("b-suspended")) or "b")
        log.append(b.switch())
        log.append(main.switch("a-suspended"))
        log.append(b.switch("wake-b"))
        return "a"
    ga = greenlet(a)
    assert ga.switch() == "b-suspended"
    assert ga.switch("x") == "a-suspended"
    assert ga.switch("wake-a") == "a"
    assert log == ["x", "wake-a", "wake-b", "b"]


def test_run_can_be_set_only_before_start():
    g = greenlet()
    with pytest.raises(AttributeError):
        g.run
    g.run = lambda: getcurrent().parent.switch()
    g.switch()
    with pytest.raises(AttributeError):
        g.run
    with pytest.raises(AttributeError, match="after the start"):
        g.run = len
    g.switch()


def test_switch_without_run_raises_attribute_error():
    with pytest.raises(AttributeError):
        greenlet().switch()


def test_subclass_run_method_is_used():
    class G(greenlet):
        def run(self, x):
            return ("sub", x)
    g = G()
    assert g.switch(1) == ("sub", 1)


def test_subclass_with_init_and_attributes():
    class G(greenlet):
        def __init__(self, run):
            super().__init__(run)
            self.tag = "t"
    g = G(lambda: getcurrent().tag)
    assert g.switch() == "t"
    assert g.__dict__ == {"tag": "t"}


def test_bool_and_dead_follow_the_lifecycle():
    main = getcurrent()
    g = greenlet(lambda: main.switch())
    assert not g and not g.dead
    g.switch()
    assert g and not g.dead
    g.switch()
    assert not g and g.dead
    assert main and not main.dead


def test_repr_shows_state():
    main = getcurrent()
    g = greenlet(lambda: main.switch())
    assert "pending" in repr(g)
    g.switch()
    assert "suspended" in repr(g) and "started" in repr(g)
    assert "current" in repr(main) and "main" in repr(main)
    g.switch()
    assert repr(g).endswith("dead>")


def test_weakref_and_dict():
    g = greenlet(lambda: None)
    r = weakref.ref(g)
    g.x = 1
    assert g.__dict__["x"] == 1
    del g
    assert r() is None


def test_cannot_pickle_or_copy():
    g = greenlet(lambda: None)
    for fn in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            fn(g)


def test_module_names_are_copied_onto_the_type():
    assert greenlet.getcurrent() is getcurrent()
    assert greenlet.GreenletExit is GreenletExit
    assert greenlet.error is error
    assert issubclass(GreenletExit, BaseException)
    assert not issubclass(GreenletExit, Exception)
    assert issubclass(error, Exception)


def test_getcurrent_inside_greenlet_is_that_greenlet():
    g = greenlet(lambda: getcurrent())
    assert g.switch() is g


def test_main_greenlet_has_no_parent():
    main = getcurrent()
    assert main.parent is None
    assert greenlet().parent is main


def test_c_api_capsule_is_exported():
    import gevent_c._greenlet as mod
    assert type(mod._C_API).__name__ == "PyCapsule"
    assert "gevent_c._greenlet._C_API" in repr(mod._C_API)


def test_abc_subclass_works():
    import abc

    class G(greenlet, metaclass=abc.ABCMeta):
        def run(self):
            return "abc"
    assert G().switch() == "abc"


def test_bad_constructor_arguments_raise_type_error():
    with pytest.raises(TypeError):
        greenlet(None, None, None)
    with pytest.raises(TypeError):
        greenlet(nope=1)


def test_constructor_takes_run_and_parent_by_position_or_keyword():
    def run():
        return "r"

    other = greenlet(lambda: None)
    for g in (greenlet(run, other), greenlet(run=run, parent=other),
              greenlet(run, parent=other), greenlet(parent=other, run=run)):
        assert g.run is run and g.parent is other
    g = greenlet(None, None)
    assert g.run is None and g.parent is getcurrent()
    g = greenlet()
    assert g.parent is getcurrent()
    with pytest.raises(AttributeError):
        g.run
    assert greenlet(run).switch() == "r"


@pytest.mark.parametrize("args, kwargs, message", [
    ((None, None, None), {}, "at most 2 arguments"),
    ((), {"nope": 1}, "'nope'"),      # the wording differs per version
    ((None,), {"run": None}, "given by name ('run') and position (1)"),
    ((), {"parent": 1}, "Expected any type of greenlet, not int"),
    ((None, 1), {}, "Expected any type of greenlet, not int"),
])
def test_bad_constructor_arguments_say_what_is_wrong(args, kwargs, message):
    with pytest.raises(TypeError) as info:
        greenlet(*args, **kwargs)
    assert message in str(info.value)


def test_constructor_obeys_init_and_new_replaced_on_a_subclass():
    seen = []

    class G(greenlet):
        def __new__(cls, *args, **kwargs):
            seen.append(("new", args, kwargs))
            return super().__new__(cls, *args, **kwargs)

        def __init__(self, tag, run=None):
            seen.append(("init", tag))
            super().__init__(run)

    g = G("t", run=lambda: 5)
    assert seen == [("new", ("t",), {"run": g.run}), ("init", "t")]
    assert g.switch() == 5


def test_type_is_immutable_and_a_subclass_obeys_a_replaced_init():
    # as greenlet's type: its attributes cannot be replaced, so the
    # constructor's fast path (which skips __init__ lookups) cannot miss one;
    # a subclass's can be, and its constructor obeys the replacement
    from tests._isolated import run_isolated
    out = run_isolated('''
        from gevent_c._greenlet import greenlet
        try:
            greenlet.__init__ = lambda self, *a, **k: None
        except TypeError:
            print("refused")
        class G(greenlet):
            pass
        def init(self, *args, **kwargs):
            print("init", len(args), sorted(kwargs))
            greenlet.__init__(self, *args, **kwargs)
        G.__init__ = init
        g = G(lambda: 7, parent=None)
        print(g.switch())
        del G.__init__
        G(lambda: 8)
        print("restored")
    ''')
    assert out.splitlines() == ["refused", "init 1 ['parent']", "7", "restored"]


def test_non_callable_run_raises_in_the_caller():
    g = greenlet(1)
    with pytest.raises(TypeError):
        g.switch()
    assert g.dead


def test_gr_context_running_in_other_thread_is_refused():
    import threading
    ready = threading.Event()
    done = threading.Event()
    box = {}

    def worker():
        box["g"] = getcurrent()
        ready.set()
        done.wait(30)
    t = threading.Thread(target=worker)
    t.start()
    ready.wait(30)
    try:
        with pytest.raises(ValueError):
            box["g"].gr_context
        with pytest.raises(ValueError):
            box["g"].gr_context = None
    finally:
        done.set()
        t.join(30)


def test_abc_subclass_leaving_run_abstract_cannot_be_created():
    import abc

    class Abstract(greenlet, metaclass=abc.ABCMeta):
        @abc.abstractmethod
        def run(self):
            pass

    class Concrete(Abstract):
        def run(self):
            return "concrete"

    class StillAbstract(Abstract):
        pass
    with pytest.raises(TypeError, match="abstract"):
        StillAbstract()
    assert Concrete().switch() == "concrete"


def test_run_none_is_kept_and_fails_when_started():
    g = greenlet(run=None)
    assert g.run is None
    with pytest.raises(TypeError):
        g.switch()
    assert g.dead


def test_subclass_run_is_looked_up_through_getattribute():
    calls = []

    class G(greenlet):
        def __getattribute__(self, name):
            if name == "run":
                calls.append(name)
                return lambda: "from __getattribute__"
            return greenlet.__getattribute__(self, name)
    g = G(lambda: "from the constructor")
    assert g.switch() == "from __getattribute__"
    assert calls == ["run"]


def test_repr_speaks_from_the_calling_thread():
    import threading
    main = getcurrent()
    box = {}

    def worker():
        box["main_seen_there"] = repr(main)
        box["its_main"] = getcurrent()
        box["its_main_there"] = repr(getcurrent())
    t = threading.Thread(target=worker)
    t.start()
    t.join(30)
    assert box["main_seen_there"].endswith(" suspended active started main>")
    assert box["its_main_there"].endswith(" current active started main>")
    assert repr(main).endswith(" current active started main>")
    assert box["its_main"].dead
    assert repr(box["its_main"]).endswith(" (thread exited) dead>")
