"""gevent_c.core: the libev event loop, its watchers and the callback queue.

This is gevent.core (libev-cext backend) rebuilt over the system libev; the
names are gevent's: ``loop``, ``callback``, the watcher types ``io``,
``timer``, ``signal``, ``idle``, ``prepare``, ``check``, ``fork``,
``async_`` (also ``async``), ``child``, ``stat``, the event and backend
constants, and the version/backend helpers.

Differences from gevent.core:

- timers that expire at the same moment fire in the order they were
  started (libev alone gives ties no stable order);
- ``loop.activecnt``, ``loop.sig_pending`` and ``loop.fileno()`` return -1:
  the system libev keeps those internals private;
- at most one ``loop`` object wraps the process default loop at a time;
  ``loop(default=True)`` returns the live one.

Example::

    from gevent_c import core
    loop = core.loop(default=False)
    t = loop.timer(0.1)
    t.start(print, "tick")
    loop.run()          # prints "tick", returns once nothing is left
"""
from gevent_c._core import *  # noqa: F401,F403
from gevent_c._core import (  # noqa: F401
    _check_flags,
    _events,
    _events_to_str,
    _flags,
    _flags_to_int,
    _flags_to_list,
)
from gevent_c import _core

__all__ = [
    "get_version", "get_header_version", "supported_backends",
    "recommended_backends", "embeddable_backends", "time", "loop", "callback",
    "watcher", "io", "timer", "signal", "idle", "prepare", "check", "fork",
    "async_", "child", "stat", "EVENTS", "GEVENT_CORE_EVENTS",
] + [name for name in dir(_core) if name.isupper()]

del _core
