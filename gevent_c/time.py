"""The stdlib's :mod:`time` module with a cooperative :func:`sleep`.

:func:`gevent_c.monkey.patch_time` puts this ``sleep`` into ``time``:
``time.sleep(seconds)`` then lets the other greenlets run instead of
blocking the thread. Every other name is the stdlib's.
"""
import time as _time

from gevent_c.hub import sleep  # noqa: F401 -- the replacement

__implements__ = ['sleep']
__extensions__ = []
__imports__ = [name for name in dir(_time) if not name.startswith('__') and name != 'sleep']
for _name in __imports__:
    globals()[_name] = getattr(_time, _name)
del _name
__all__ = __implements__ + __imports__
