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
from gevent_c._greenlet import getcurrent
from gevent_c._hub_local import get_hub

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


class Timeout(BaseException):
    """Raise an exception in the current greenlet after *seconds*.

    *exception* None raises this Timeout; False (as a context manager) exits
    the ``with`` block silently; anything else is raised instead. ``ref``
    False lets the loop exit while the timeout is pending.
    """

    def __init__(self, seconds=None, exception=None, ref=True, priority=-1):
        BaseException.__init__(self)
        self.seconds = seconds
        self.exception = exception
        self._ref = ref
        self._priority = priority
        self.timer = _FakeTimer

    def start(self):
        """Arm the timeout for the current greenlet."""
        if self.pending:
            raise AssertionError('%r is already started; to restart it, cancel it first' % (self,))
        if self.seconds is None:
            return  # never expires
        exception = self.exception
        if exception is None or exception is False or isinstance(exception, str):
            throws = self
        else:
            throws = exception
        timer = self.timer
        if timer is _FakeTimer:
            loop = get_hub().loop
            timer = self.timer = loop.timer(self.seconds or 0.0, ref=self._ref,
                                            priority=self._priority)
        timer.start(self._on_expiration, getcurrent(), throws, update=True)

    def _on_expiration(self, prev_greenlet, ex):
        prev_greenlet.throw(ex)

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

    @property
    def pending(self):
        """True while the timeout is armed and has not fired."""
        timer = self.timer
        return timer.pending or timer.active

    def cancel(self):
        """Disarm the timeout; it can be started again."""
        self.timer.stop()

    def close(self):
        """Disarm the timeout and release its timer."""
        timer = self.timer
        if timer is not _FakeTimer:
            self.timer = _FakeTimer
            timer.stop()
            timer.close()

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
        if self.exception is None:
            return '%s second%s' % (self.seconds, suffix)
        if self.exception is False:
            return '%s second%s (silent)' % (self.seconds, suffix)
        return '%s second%s: %s' % (self.seconds, suffix, self.exception)

    def __enter__(self):
        if not self.pending:
            self.start()
        return self

    def __exit__(self, typ, value, tb):
        self.close()
        if value is self and self.exception is False:
            return True
        return None


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
