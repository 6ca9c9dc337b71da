"""Shared fixtures for the hub-layer tests (imported by tests/test_hub*.py etc.).

``lib`` runs a test once against gevent (the reference) and once against
gevent_c, giving the same module names for both. ``clean_hub`` (autouse in
the importing modules) destroys the hubs a test created, so every test starts
with no hub and a fresh loop.
"""
import importlib
import types

import pytest

_SUBMODULES = ('hub', 'greenlet', 'timeout', 'event', 'queue', 'lock', 'pool',
               'local', 'exceptions')


def load(name):
    """A namespace with the top-level package and its hub-layer submodules."""
    ns = types.SimpleNamespace(name=name, top=importlib.import_module(name))
    for sub in _SUBMODULES:
        setattr(ns, sub, importlib.import_module('%s.%s' % (name, sub)))
    return ns


def _kill_leftovers(hub, getcurrent):
    """Unwind greenlets a test left blocked, so no frame outlives the hub."""
    import gc
    main = getcurrent()
    greenlet_type = type(main)
    for obj in gc.get_objects():
        if isinstance(obj, greenlet_type) and obj is not hub and obj and obj.parent is hub:
            try:
                obj.parent = main
                obj.throw()
            except BaseException:  # noqa: B036 -- whatever it dies with
                pass


def _destroy_hub(pkg):
    hub_mod = importlib.import_module(pkg + '.hub')
    getter = getattr(hub_mod, 'get_hub_if_exists', None) or getattr(hub_mod, '_get_hub')
    hub = getter()
    if hub is not None:
        if hub.loop is not None and hub_mod.getcurrent() is hub.parent:
            try:
                hub_mod.sleep(0)  # let callbacks already queued (kills, links) run
            except BaseException:  # noqa: B036 -- whatever a leftover raised
                pass
        _kill_leftovers(hub, hub_mod.getcurrent)
        hub.destroy(destroy_loop=True)


@pytest.fixture(autouse=True)
def clean_hub():
    """Start and end each test with no hub (gevent_c and, if loaded, gevent)."""
    import sys

    def destroy_all():
        for pkg in ('gevent_c', 'gevent'):
            if pkg + '.hub' in sys.modules:
                _destroy_hub(pkg)

    destroy_all()  # a hub left by tests of other modules
    yield
    destroy_all()


@pytest.fixture(params=['gevent', 'gevent_c'])
def lib(request):
    """The reference (gevent) and gevent_c, as namespaces of the same modules."""
    return load(request.param)


@pytest.fixture
def gc_lib():
    """gevent_c alone, as the same kind of namespace."""
    return load('gevent_c')


@pytest.fixture
def errors(lib):
    """Capture what the current hub reports to exception_stream."""
    import io
    stream = io.StringIO()
    lib.hub.get_hub().exception_stream = stream
    return stream


def raised_in_native_thread(func):
    """Run func() in a new native thread (no hub there); return the exception
    it raised, or None. The calling thread polls, so its hub never runs."""
    import _thread
    import time
    box = []
    done = _thread.allocate_lock()
    done.acquire()

    def other():
        try:
            func()
        except BaseException as exc:  # noqa: B036 -- handed to the caller
            box.append(exc)
        finally:
            done.release()

    _thread.start_new_thread(other, ())
    while done.locked():
        time.sleep(0.001)
    return box[0] if box else None
