"""throw() forms, validation errors and exception propagation."""
import sys

import pytest

from gevent_c._greenlet import greenlet, getcurrent, GreenletExit


def suspended(catch=()):
    """A greenlet suspended in switch() that records what reaches it."""
    main = getcurrent()
    seen = []

    def run():
        try:
            main.switch()
        except BaseException as e:
            seen.append(e)
            if not isinstance(e, catch):
                raise
            return "caught"
    g = greenlet(run)
    g.switch()
    return g, seen


def test_throw_default_is_greenlet_exit_returned_to_parent():
    g, seen = suspended()
    r = g.throw()
    assert isinstance(r, GreenletExit)
    assert seen == [r]
    assert g.dead


def test_throw_class_is_raised_in_greenlet_and_propagates_back():
    g, seen = suspended()
    with pytest.raises(ValueError):
        g.throw(ValueError)
    assert isinstance(seen[0], ValueError) and g.dead


def test_throw_class_with_value_and_tuple_value():
    g, seen = suspended(catch=ValueError)
    assert g.throw(ValueError, "msg") == "caught"
    assert seen[0].args == ("msg",)
    g, seen = suspended(catch=ValueError)
    g.throw(ValueError, (1, 2))
    assert seen[0].args == (1, 2)


def test_throw_instance():
    g, seen = suspended(catch=KeyError)
    e = KeyError("k")
    assert g.throw(e) == "caught"
    assert seen[0] is e


def test_throw_with_traceback():
    try:
        raise IndexError("i")
    except IndexError:
        tb = sys.exc_info()[2]
    g, seen = suspended(catch=IndexError)
    g.throw(IndexError, None, tb)
    assert seen[0].__traceback__ is not None


def test_throw_caught_and_switched_back_resumes_thrower():
    main = getcurrent()

    def run():
        try:
            main.switch()
        except ValueError:
            main.switch("handled")
    g = greenlet(run)
    g.switch()
    assert g.throw(ValueError) == "handled"
    assert not g.dead
    g.switch()


def test_throw_into_unstarted_greenlet_never_runs_it():
    ran = []
    g = greenlet(lambda: ran.append(1))
    with pytest.raises(ValueError):
        g.throw(ValueError)
    assert ran == [] and g.dead
    g = greenlet(lambda: ran.append(1))
    assert isinstance(g.throw(), GreenletExit)
    assert ran == [] and g.dead


def test_throw_into_dead_greenlet_goes_to_parent():
    g = greenlet(lambda: None)
    g.switch()
    assert isinstance(g.throw(GreenletExit), GreenletExit)
    with pytest.raises(KeyError):
        g.throw(KeyError)


def test_throw_validation_errors():
    g, _ = suspended()
    with pytest.raises(TypeError, match="traceback object"):
        g.throw(ValueError, None, "not a tb")
    with pytest.raises(TypeError, match="may not have a separate value"):
        g.throw(ValueError("x"), "y")
    with pytest.raises(TypeError, match="exceptions must be classes, or instances, not int"):
        g.throw(1)
    with pytest.raises(TypeError, match="exceptions must be classes, or instances, not str"):
        g.throw("bad")
    with pytest.raises(TypeError):
        g.throw(ValueError, None, None, None)
    assert not g.dead
    g.throw()


def test_exception_propagates_through_parent_chain():
    def inner():
        raise OSError("deep")

    def outer():
        try:
            greenlet(inner).switch()
        except OSError as e:
            return "outer saw %s" % e
    assert greenlet(outer).switch() == "outer saw deep"


def test_greenlet_exit_subclass_is_caught_too():
    class MyExit(GreenletExit):
        pass
    g, seen = suspended()
    r = g.throw(MyExit)
    assert isinstance(r, MyExit)


def test_uncaught_exception_from_unrelated_parent_reaches_the_parent():
    main = getcurrent()
    order = []

    def p():
        try:
            main.switch()
        except ZeroDivisionError:
            order.append("parent got it")
            return "p"
    parent = greenlet(p)
    parent.switch()
    child = greenlet(lambda: 1 / 0, parent=parent)
    assert child.switch() == "p"
    assert order == ["parent got it"]


def test_throw_into_greenlet_without_run_raises_attribute_error():
    g = greenlet()
    with pytest.raises(AttributeError, match="run"):
        g.throw(ValueError)
    assert not g.dead and not g     # never started


def test_throw_into_unstarted_subclass_survives_its_run_lookup():
    class G(greenlet):
        def __getattribute__(self, name):
            if name == "run":
                try:                # Python code that handles an error
                    raise KeyError(name)
                except KeyError:
                    pass
            return greenlet.__getattribute__(self, name)

    class Thrown(Exception):
        pass
    g = G(lambda: "never runs")
    with pytest.raises(Thrown):
        g.throw(Thrown("x"))
    assert g.dead
