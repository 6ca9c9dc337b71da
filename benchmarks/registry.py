"""The workload registry and the implementation loaders.

A workload is declared once with :func:`workload` and gets one body per
*API family* with :meth:`Workload.body`. A family is a set of
implementations sharing one API, so one body serves all of them:

========== ========================== =====================================
family     implementations            what the body receives
========== ========================== =====================================
core       gevent_c, gevent           the loop module (``loop``, watchers)
coroutine  gevent_c, greenlet         the module (``greenlet``, ``getcurrent``)
hub        gevent_c, gevent           the package, submodules on attribute
blocking   blocking                   the stdlib module (``socket``)
asyncio    asyncio, uvloop            ``arun(coro)``: run on a fresh loop
========== ========================== =====================================

A body takes ``(api, n)`` and returns the measured quantity for ``n``
operations: seconds for a timing workload (the worker turns it into ns per
operation), bytes for a memory workload. It may return ``(quantity, ops)``
when the number of operations it really did differs from ``n``. Nothing is
imported until a worker loads an implementation, so a missing or broken
module only ever makes its own measurements ``n/a``.
"""
import asyncio
import importlib
import os
from dataclasses import dataclass, field

#: Column order of the report: gevent_c first, then the references.
IMPL_ORDER = ("gevent_c", "gevent", "greenlet", "blocking", "asyncio", "uvloop")

#: unit -> (label in tables, what one operation means)
UNITS = {
    "ns": "ns/op",
    "B": "B/obj",
}


class Unavailable(Exception):
    """The implementation (or the part a workload needs) is missing."""


class WrongResult(Exception):
    """A body finished but did not do the work it was asked to do."""


def check(condition, message):
    """Refuse a measurement whose work was not really done."""
    if not condition:
        raise WrongResult(message)


def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise Unavailable(f"cannot import {name}: {exc}") from exc


def _first_module(*names):
    errors = []
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
    raise Unavailable("cannot import " + "; ".join(errors))


class Api:
    """A package whose submodules load on first attribute access.

    ``Api("gevent").event.Event`` imports ``gevent.event`` when needed, so
    a hub body written against gevent's public API runs unchanged on
    gevent_c, and a submodule gevent_c lacks yet makes only the workloads
    that use it unavailable.
    """

    def __init__(self, package):
        self._name = package
        self._package = _import(package)

    def __getattr__(self, attr):
        try:
            return getattr(self._package, attr)
        except AttributeError:
            pass
        try:
            value = importlib.import_module(f"{self._name}.{attr}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{self._name}.{attr}":
                raise Unavailable(f"{self._name} has no {attr!r} yet") from exc
            raise Unavailable(f"cannot import {self._name}.{attr}: {exc}") from exc
        setattr(self, attr, value)
        return value


def _asyncio_runner(loop_factory):
    def arun(coro):
        if hasattr(asyncio, "Runner"):
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                return runner.run(coro)
        loop = loop_factory() if loop_factory else asyncio.new_event_loop()
        try:  # CPython 3.10 has no asyncio.Runner
            return loop.run_until_complete(coro)
        finally:
            loop.close()
    return arun


def _load_uvloop():
    uvloop = _import("uvloop")
    return _asyncio_runner(uvloop.new_event_loop)


#: family -> {implementation: loader}. The first entry is gevent_c where
#: it takes part; the reference of a workload is the first other entry of
#: the first family it has a body for.
FAMILIES = {
    "core": {
        "gevent_c": lambda: _first_module("gevent_c._core", "gevent_c.core"),
        "gevent": lambda: _import("gevent.libev.corecext"),
    },
    "coroutine": {
        "gevent_c": lambda: _import("gevent_c._greenlet"),
        "greenlet": lambda: _import("greenlet"),
    },
    "hub": {
        "gevent_c": lambda: Api("gevent_c"),
        "gevent": lambda: Api("gevent"),
    },
    "blocking": {
        "blocking": lambda: _import("socket"),
    },
    "asyncio": {
        "asyncio": lambda: _asyncio_runner(None),
        "uvloop": _load_uvloop,
    },
}


@dataclass
class Workload:
    """One thing measured, with a body per API family."""

    name: str
    title: str
    n: int
    quick_n: int
    unit: str = "ns"
    warmup: bool = True
    bodies: dict = field(default_factory=dict)  # impl -> (family, body)

    @property
    def group(self):
        return self.name.split(".", 1)[0]

    @property
    def impls(self):
        return [impl for impl in IMPL_ORDER if impl in self.bodies]

    @property
    def reference(self):
        """The implementation the speed-up column compares gevent_c with."""
        for impl in self.bodies:
            if impl != "gevent_c":
                return impl
        return None

    def body(self, family):
        """Decorator: ``fn(api, n)`` measures this workload for ``family``."""
        def register(fn):
            for impl in FAMILIES[family]:
                self.bodies[impl] = (family, fn)
            return fn
        return register

    def load(self, impl):
        """Return ``(body, api)`` ready to call; raises Unavailable."""
        if impl not in self.bodies:
            raise Unavailable(f"{self.name} has no body for {impl}")
        family, fn = self.bodies[impl]
        return fn, FAMILIES[family][impl]()


_REGISTRY = {}


def workload(name, title, *, n, quick_n, unit="ns", warmup=True):
    """Declare a workload; attach bodies with ``@w.body(family)``."""
    if name in _REGISTRY:
        raise ValueError(f"workload {name!r} is declared twice")
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    w = Workload(name, title, n, quick_n, unit, warmup)
    _REGISTRY[name] = w
    return w


def all_workloads():
    """Every workload, in declaration order (core, coroutine, dns, hub, io)."""
    from . import workloads  # noqa: F401  (registers on import)
    return list(_REGISTRY.values())


def get(name):
    all_workloads()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no workload named {name!r}") from None


def rss_bytes():
    """Resident set size of this process, in bytes."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
