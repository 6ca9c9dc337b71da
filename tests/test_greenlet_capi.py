"""The C API capsule, driven through ctypes like an extension would."""
import ctypes

import pytest

import gevent_c._greenlet as mod
from gevent_c._greenlet import greenlet, getcurrent, GreenletExit

P = ctypes.py_object
F = ctypes.PYFUNCTYPE


class CAPI(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_int),
        ("type", ctypes.c_void_p),
        ("GreenletExit", ctypes.c_void_p),
        ("error", ctypes.c_void_p),
        ("getcurrent", F(P)),
        ("getcurrent_borrowed", ctypes.c_void_p),
        ("new_greenlet", F(P, P, ctypes.c_void_p)),
        ("switch_to", F(P, P, P, ctypes.c_void_p)),
        ("throw_into", F(P, P, P, ctypes.c_void_p, ctypes.c_void_p)),
        ("get_parent", ctypes.c_void_p),
        ("set_parent", F(ctypes.c_int, P, P)),
        ("started", F(ctypes.c_int, P)),
        ("active", F(ctypes.c_int, P)),
        ("is_main", F(ctypes.c_int, P)),
    ]


@pytest.fixture(scope="module")
def api():
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [P, ctypes.c_char_p]
    ptr = get(mod._C_API, b"gevent_c._greenlet._C_API")
    return ctypes.cast(ptr, ctypes.POINTER(CAPI)).contents


def test_capi_version_and_objects(api):
    assert api.version >= 1
    assert api.type == id(greenlet)
    assert api.GreenletExit == id(GreenletExit)
    assert api.error == id(mod.error)


def test_capi_getcurrent_and_flags(api):
    main = getcurrent()
    assert api.getcurrent() is main
    assert api.is_main(main) == 1 and api.started(main) == 1
    g = greenlet(lambda: None)
    assert api.started(g) == 0 and api.active(g) == 0 and api.is_main(g) == 0


def test_capi_new_switch_throw(api):
    main = getcurrent()

    def run(a, b):
        try:
            main.switch(a + b)
        except KeyError:
            return "caught"
    g = api.new_greenlet(run, None)
    assert isinstance(g, greenlet) and g.parent is main
    assert api.switch_to(g, (1, 2), None) == 3
    assert api.active(g) == 1
    assert api.throw_into(g, KeyError, None, None) == "caught"
    assert g.dead


def test_capi_set_parent_refuses_cycles(api):
    a = greenlet()
    b = greenlet(parent=a)
    with pytest.raises(ValueError):
        api.set_parent(a, b)
    assert api.set_parent(b, getcurrent()) == 0


def test_capi_switch_rejects_non_greenlet(api):
    with pytest.raises(TypeError):
        api.switch_to(object(), (), None)


def test_capi_flags_and_parent_refuse_other_objects(api):
    for flag in (api.started, api.active, api.is_main):
        with pytest.raises(TypeError, match="expected a greenlet, not int"):
            flag(1)
    get_parent = ctypes.cast(api.get_parent, F(P, P))
    with pytest.raises(TypeError, match="expected a greenlet"):
        get_parent(object())
    assert get_parent(greenlet()) is getcurrent()


def test_capi_throw_with_no_type_throws_greenlet_exit(api):
    throw = ctypes.cast(api.throw_into,
                        F(P, P, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p))
    main = getcurrent()

    def run():
        try:
            main.switch()
        except GreenletExit as exc:
            return type(exc).__name__
    g = greenlet(run)
    g.switch()
    assert throw(g, None, None, None) == "GreenletExit"
    assert g.dead
