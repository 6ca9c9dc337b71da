"""Event and AsyncResult: wake every waiting greenlet when something happens.

:class:`Event` is ``threading.Event`` for greenlets. :class:`AsyncResult` is
a one-shot Event that carries a value or an exception (a future)::

    result = AsyncResult()
    gevent_c.spawn(lambda: result.set(42))
    result.get()    # -> 42

Waiters are woken in the order they started waiting, from the hub.
"""
import types

from gevent_c._abstract_linkable import AbstractLinkable
from gevent_c.timeout import Timeout
from gevent_c import _core

# ext/core provides AsyncResult's hot methods (set/get/ready/successful and
# the _value/_exc_info storage) in C; the class below then adds the rest.
_CAsyncResult = getattr(_core, 'AsyncResult', None)
_C_RESULT_METHODS = ('__init__', 'set', 'set_result', 'get', 'ready', 'successful')

__all__ = ['Event', 'AsyncResult']


class Event(AbstractLinkable):
    """A flag that greenlets can wait to become true.

    ``set()`` wakes every waiter; ``wait(timeout)`` blocks until set and
    returns True, or False if *timeout* seconds passed first.
    """

    __slots__ = ('_flag',)

    def __init__(self):
        AbstractLinkable.__init__(self)
        self._flag = False

    def __repr__(self):
        return '<%s %s _links[%d]>' % (type(self).__name__, 'set' if self._flag else 'unset',
                                       len(self._links))

    def is_set(self):
        """True once set and until cleared."""
        return self._flag

    isSet = is_set
    ready = is_set

    def set(self):
        """Set the flag and wake every waiting greenlet (from the hub)."""
        self._flag = True
        self._check_and_notify()

    def clear(self):
        """Reset the flag; later ``wait`` calls block again."""
        self._flag = False

    def wait(self, timeout=None):
        """Block until set (True) or *timeout* seconds pass (False)."""
        if self._flag:
            return True
        return self._wait_core(timeout)

    def _reset_internal_locks(self):
        pass  # threading.Event compatibility after fork

    _at_fork_reinit = _reset_internal_locks  # the same, as threading >= 3.9 spells it


# ext/core provides Event in C (same methods, attributes and rules).
Event = getattr(_core, 'Event', Event)


class AsyncResult(_CAsyncResult or AbstractLinkable):
    """A one-shot value or exception that greenlets can wait for.

    ``get(block=True, timeout=None)`` returns the value or raises the
    exception (with its original traceback); on timeout it raises Timeout.
    It is also a link target: ``greenlet.link(result)`` copies the outcome.
    """

    __slots__ = ('_value', '_exc_info') if _CAsyncResult is None else ()
    # AsyncResult[int] in annotations (typed code; see event.pyi)
    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self):
        AbstractLinkable.__init__(self)
        self._value = _NOT_SET
        self._exc_info = ()

    def __repr__(self):
        if self.ready():
            state = 'value=%r' % (self.value,) if self.successful() else 'exception=%r' % (self.exception,)
        else:
            state = 'unset'
        return '<%s at %#x %s _links[%d]>' % (type(self).__name__, id(self), state, len(self._links))

    def ready(self):
        """True once a value or an exception was set."""
        return self._exc_info != () or self._value is not _NOT_SET

    def successful(self):
        """True if a value (not an exception) was set."""
        return self._value is not _NOT_SET

    @property
    def value(self):
        """The value set, or None."""
        value = self._value
        return None if value is _NOT_SET else value

    @property
    def exc_info(self):
        """(type, value, traceback) of the exception set, or ()."""
        return self._exc_info

    @property
    def exception(self):
        """The exception set, or None."""
        exc_info = self._exc_info
        return exc_info[1] if exc_info else None

    def set(self, value=None):
        """Store *value* and wake every waiter."""
        self._value = value
        self._check_and_notify()

    set_result = set

    def set_exception(self, exception, exc_info=None):
        """Store *exception* (with *exc_info*'s traceback) and wake every waiter."""
        if exc_info:
            self._exc_info = (exc_info[0], exc_info[1], exc_info[2])
        else:
            self._exc_info = (type(exception), exception, None)
        self._check_and_notify()

    def _raise_exception(self):
        _, value, tb = self._exc_info
        if value is None:
            value = self._exc_info[0]()
        raise value.with_traceback(tb)

    def get(self, block=True, timeout=None):
        """Return the value or raise the exception, blocking until set.

        With ``block=False`` or after *timeout* seconds, raise Timeout.
        """
        if self._value is not _NOT_SET:
            return self._value
        if self._exc_info:
            self._raise_exception()
        if not block:
            raise Timeout()
        if not self._wait_core(timeout):
            raise Timeout(timeout)
        return self.get(block=False)

    def get_nowait(self):
        return self.get(block=False)

    def wait(self, timeout=None):
        """Block until set or *timeout*; return the value (None on error/timeout)."""
        if not self.ready():
            self._wait_core(timeout)
        return self.value

    def __call__(self, source):
        """Link target: copy *source*'s value or exception."""
        if source.successful():
            self.set(source.value)
        else:
            self.set_exception(source.exception, getattr(source, 'exc_info', None))

    # concurrent.futures-like API
    def result(self, timeout=None):
        return self.get(timeout=timeout)

    def done(self):
        return self.ready()

    def cancel(self):
        return False

    def cancelled(self):
        return False

    def set_running_or_notify_cancel(self):
        return True


class _NotSet:
    __slots__ = ()

    def __repr__(self):
        return '<not set>'


_NOT_SET = _NotSet()

if _CAsyncResult is not None:
    _NOT_SET = _core._WAITER_UNSET
    for _name in _C_RESULT_METHODS:
        delattr(AsyncResult, _name)
    del _name
