"""Exceptions raised by gevent_c's hub and blocking primitives.

The same classes, bases and constructor arguments as ``gevent.exceptions``, so
code that catches gevent's exceptions catches these too.
"""
from gevent_c._greenlet import GreenletExit

__all__ = [
    'LoopExit',
]


class LoopExit(Exception):
    """The loop has nothing left to do while a greenlet is still blocked.

    Raised in the blocked greenlet (the hub's parent) when every greenlet is
    waiting and no watcher or callback could ever wake one of them: the
    operation would block forever. ``args`` are ``(message, hub, details)``;
    the message names the blocked greenlet and what it waits on.
    """

    @property
    def hub(self):
        """The hub whose loop ran out of work, or None."""
        return self.args[1] if len(self.args) > 1 else None

    def __repr__(self):
        return '%s(%r)' % (type(self).__name__, self.args[0] if self.args else '')

    def __str__(self):
        return str(self.args[0]) if self.args else ''


class BlockingSwitchOutError(AssertionError):
    """A blocking function was called from inside the hub (a loop callback)."""


class InvalidSwitchError(AssertionError):
    """A blocked greenlet was switched to with an unexpected value."""


class ConcurrentObjectUseError(AssertionError):
    """Two greenlets tried to wait on the same one-waiter object at once."""


class InvalidThreadUseError(RuntimeError):
    """An object bound to one thread's hub was used from another thread."""


class HubDestroyed(GreenletExit):
    """Thrown into a hub that is being destroyed, to unwind its frames."""

    def __init__(self, destroy_loop):
        GreenletExit.__init__(self, destroy_loop)
        self.destroy_loop = destroy_loop
