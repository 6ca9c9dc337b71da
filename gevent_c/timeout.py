"""Timeouts for any blocking call in the current greenlet.

:class:`Timeout` raises itself (or a chosen exception) in the greenlet that
started it once its seconds elapse, wherever that greenlet is blocked::

    with Timeout(5):
        queue.get()          # raises Timeout after 5 s

    with Timeout(5, False):  # exits the block silently instead
        queue.get()

It is a BaseException so ``except Exception`` does not swallow it. A
``seconds`` of None never expires; a negative value expires at the next loop
iteration. Unlike ``gevent.Timeout`` no loop timer is created until ``start``.
"""
import os

from gevent_c import _core

__all__ = ['Timeout', 'with_timeout']


class _FakeTimer:
    """Stand-in for a timer that never fires (seconds=None)."""

    __slots__ = ()
    pending = False
    active = False
    seconds = None
    timer = None

    def start(self, *args, **kwargs):
        raise AssertionError('non-expiring timer cannot be started')

    def stop(self):
        pass

    cancel = close = stop

    def __enter__(self):
        return self

    def __exit__(self, typ, value, tb):
        pass


_FakeTimer = _FakeTimer()


class Timeout(_core.TimeoutBase):
    """Raise an exception in the current greenlet after *seconds*.

    *exception* None raises this Timeout; False (as a context manager) exits
    the ``with`` block silently; anything else is raised instead. ``ref``
    False lets the loop exit while the timeout is pending. ``start``,
    ``cancel``, ``close``, ``pending`` and the context manager are in C
    (``gevent_c._core.TimeoutBase``).
    """

    @classmethod
    def start_new(cls, timeout=None, exception=None, ref=True):
        """Create a started Timeout (or start *timeout* if it is one)."""
        if isinstance(timeout, Timeout):
            if not timeout.pending:
                timeout.start()
            return timeout
        timeout = cls(timeout, exception, ref=ref)
        timeout.start()
        return timeout

    @staticmethod
    def _start_new_or_dummy(timeout, exception=None, ref=True):
        if timeout is None:
            return _FakeTimer
        return Timeout.start_new(timeout, exception, ref)

    def __repr__(self):
        classname = type(self).__name__
        if self.pending:
            pending = ' pending'
        else:
            pending = ''
        if self.exception is None:
            exception = ''
        else:
            exception = ' exception=%r' % (self.exception,)
        return '<%s at %s seconds=%s%s%s>' % (classname, hex(id(self)), self.seconds, exception, pending)

    def __str__(self):
        if self.seconds is None:
            return ''
        suffix = '' if self.seconds == 1 else 's'
        text = '%s second%s%s' % (self.seconds, suffix, self._whose())
        if self.exception is None:
            return text
        if self.exception is False:
            return text + ' (silent)'
        return '%s: %s' % (text, self.exception)

    def _whose(self):
        """' (set at FILE:LINE in FUNCTION, expired in GREENLET)' once
        started: the innermost frame outside gevent_c when it was started,
        and the greenlet it was thrown into."""
        parts = []
        for filename, line, function in self._set_at:
            if not filename.startswith(_PACKAGE_DIR):
                parts.append('set at %s:%s in %s' % (filename, line, function))
                break
        if self._fired_in is not None:
            parts.append('expired in %s' % (self._fired_in,))
        return ' (%s)' % ', '.join(parts) if parts else ''


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

_core._timeout_setup(_FakeTimer, Timeout)


def with_timeout(seconds, function, *args, **kwds):
    """Call ``function(*args, **kwds)`` and cancel it after *seconds*.

    Raises Timeout, or returns the ``timeout_value`` keyword if given.
    """
    timeout_value = kwds.pop('timeout_value', _FakeTimer)
    timeout = Timeout.start_new(seconds)
    try:
        try:
            return function(*args, **kwds)
        except Timeout as ex:
            if ex is timeout and timeout_value is not _FakeTimer:
                return timeout_value
            raise
    finally:
        timeout.cancel()
