"""Structured concurrency on greenlets: task groups and cancel scopes.

Not in gevent. A :class:`TaskGroup` owns the greenlets spawned through it:
leaving its ``with`` block waits for all of them, the first one to fail
cancels the block and kills the others, and the block then raises an
``ExceptionGroup`` of every error (asyncio.TaskGroup's and trio's nursery
rules)::

    with gevent_c.TaskGroup() as tg:
        tg.spawn(fetch, 'a')
        tg.spawn(fetch, 'b')
    # both finished here, or the block raised

A :class:`CancelScope` is a block that can be cancelled from anywhere, or
at a deadline: :func:`move_on_after` leaves the block silently when time is
up, :func:`fail_after` raises ``TimeoutError``. Each scope raises its own
:class:`Cancelled` instance and catches only that one, so an inner scope's
expiry never escapes as an outer one's, and an outer one's is never
swallowed by an inner ``with`` (or by a ``Timeout``) on the way out. A
``shield=True`` scope defers outer cancellations until it exits.

Cancellation is delivered once, at the greenlet's next blocking point, as a
``Timeout`` is; code that catches :class:`Cancelled` and keeps going is not
cancelled again (trio would raise again at every later checkpoint).
"""
import builtins
import math
import sys
import threading
import time
import weakref

from gevent_c._hub_local import get_hub
from gevent_c.event import Event
from gevent_c.greenlet import Greenlet
from gevent_c.hub import GreenletExit
from gevent_c.hub import getcurrent

__all__ = ['Cancelled', 'CancelScope', 'move_on_after', 'fail_after',
           'TaskGroup', 'BaseExceptionGroup', 'ExceptionGroup']


def _exception_groups():
    """The builtin exception groups (3.11+); on 3.10 the ``exceptiongroup``
    backport when installed, else the minimal pair below."""
    if hasattr(builtins, 'BaseExceptionGroup'):
        return builtins.BaseExceptionGroup, builtins.ExceptionGroup
    try:
        import exceptiongroup
    except ImportError:
        return _BaseExceptionGroup, _ExceptionGroup
    return exceptiongroup.BaseExceptionGroup, exceptiongroup.ExceptionGroup


class _BaseExceptionGroup(BaseException):
    """CPython 3.10 stand-in for the builtin: ``message`` and a tuple of
    ``exceptions``; no ``split``/``subgroup`` and no ``except*``."""

    def __new__(cls, message, exceptions):
        if cls is _BaseExceptionGroup and all(isinstance(e, Exception) for e in exceptions):
            cls = _ExceptionGroup
        return super().__new__(cls, message, exceptions)

    def __init__(self, message, exceptions):
        if not isinstance(message, str):
            raise TypeError('argument 1 must be str, not %s' % type(message).__name__)
        exceptions = tuple(exceptions)
        if not exceptions:
            raise ValueError('second argument (exceptions) must be a non-empty sequence')
        for exc in exceptions:
            if not isinstance(exc, BaseException):
                raise ValueError('Item %d of second argument (exceptions) is not an '
                                 'exception' % exceptions.index(exc))
        super().__init__(message, exceptions)
        self.message = message
        self.exceptions = exceptions

    def __str__(self):
        count = len(self.exceptions)
        return '%s (%d sub-exception%s)' % (self.message, count, '' if count == 1 else 's')


class _ExceptionGroup(_BaseExceptionGroup, Exception):
    pass


if hasattr(builtins, 'BaseExceptionGroup'):
    BaseExceptionGroup, ExceptionGroup = _exception_groups()
else:
    def __getattr__(name):
        # 3.10: the backport (which imports typing_extensions, inspect, ...)
        # is imported when a group is first needed, not with gevent_c
        if name in ('BaseExceptionGroup', 'ExceptionGroup'):
            groups = dict(zip(('BaseExceptionGroup', 'ExceptionGroup'), _exception_groups()))
            globals().update(groups)
            return groups[name]
        raise AttributeError('module %r has no attribute %r' % (__name__, name))


class Cancelled(BaseException):
    """Raised inside a cancelled :class:`CancelScope`; the scope that raised
    it (``scope``) catches it on the way out. A BaseException, so
    ``except Exception`` does not swallow it."""

    def __init__(self, scope):
        super().__init__(scope)
        self.scope = scope

    def __str__(self):
        return 'cancelled by %r' % (self.scope,)


def _caller(depth):
    """'file:line' of the frame *depth* levels above the caller."""
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:
        return '?'
    return '%s:%d' % (frame.f_code.co_filename, frame.f_lineno)


# the cancel scopes each greenlet is inside, innermost last
_scopes = weakref.WeakKeyDictionary()


class CancelScope:
    """A block that :meth:`cancel` (from any greenlet or thread) or its
    *deadline* (``time.monotonic()`` seconds) ends at its next blocking
    point. ``cancelled_caught`` tells afterwards whether it did; *shield*
    holds off every outer scope's cancellation until this one exits."""

    def __init__(self, deadline=math.inf, shield=False):
        self._deadline = self._check_deadline(deadline)
        self.shield = bool(shield)
        self.cancel_called = False
        self.cancelled_caught = False
        self.where = _caller(1)
        self._owner = None
        self._hub = None
        self._thread = None
        self._state = 'new'
        self._timer = None
        self._delivery = None
        self._exc = None
        self._on_exit = None

    @staticmethod
    def _check_deadline(deadline):
        try:
            deadline = float(deadline)
        except (TypeError, ValueError):
            raise TypeError('deadline must be a number, not %s'
                            % type(deadline).__name__) from None
        if math.isnan(deadline):
            raise ValueError('deadline must not be NaN')
        return deadline

    def __repr__(self):
        if self._state == 'new':
            state = 'not entered'
        elif self._state == 'active':
            state = 'active'
        else:
            state = 'exited'
        extra = ''
        if self._deadline != math.inf:
            extra += ' deadline=%.3f' % self._deadline
        if self.shield:
            extra += ' shield'
        if self.cancel_called:
            extra += ' cancelled'
        return '<%s %s set at %s%s>' % (type(self).__name__, state, self.where, extra)

    @property
    def deadline(self):
        return self._deadline

    @deadline.setter
    def deadline(self, deadline):
        self._deadline = self._check_deadline(deadline)
        if self._state == 'active' and not self.cancel_called:
            self._arm()

    def __enter__(self):
        if self._state != 'new':
            raise RuntimeError('a CancelScope can be entered only once')
        self._owner = getcurrent()
        self._hub = get_hub()
        self._thread = threading.get_ident()
        self._state = 'active'
        _scopes.setdefault(self._owner, []).append(self)
        if self.cancel_called:
            self._deliver()
        else:
            self._arm()
        return self

    def _arm(self):
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        if self._deadline == math.inf:
            return
        delay = max(0.0, self._deadline - time.monotonic())
        self._timer = self._hub.loop.timer(delay)
        self._timer.start(self.cancel)

    def cancel(self):
        """Cancel the block: its greenlet gets :class:`Cancelled` at its next
        blocking point (at once if it is blocked now). Idempotent; callable
        before the block is entered and from another thread."""
        if self._thread is not None and self._thread != threading.get_ident():
            self._hub.loop.run_callback_threadsafe(self.cancel)
            return
        if self.cancel_called:
            return
        self.cancel_called = True
        if self._state == 'active':
            self._deliver()

    def _shielded(self):
        """Whether a shielding scope inside this one holds off delivery."""
        stack = _scopes.get(self._owner, ())
        inner = False
        for scope in stack:
            if scope is self:
                inner = True
            elif inner and scope.shield:
                return True
        return False

    def _deliver(self):
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        if self._state != 'active' or self._delivery is not None or self._shielded():
            return
        self._delivery = self._hub.loop.run_callback(self._throw)

    def _throw(self):
        self._delivery = None
        if self._state != 'active' or self._shielded():
            return
        self._exc = Cancelled(self)
        self._owner.throw(self._exc)

    def __exit__(self, typ, value, tb):
        stack = _scopes.get(self._owner)
        if not stack or stack[-1] is not self:
            raise RuntimeError('%r exited out of order (scopes must nest)' % (self,))
        stack.pop()
        if not stack:
            del _scopes[self._owner]
        self._state = 'exited'
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        if self._delivery is not None:
            self._delivery.stop()
            self._delivery = None
        mine = value is not None and value is self._exc
        self._exc = None
        if stack and self.shield:
            # outer cancellations held off by this shield go out now
            for scope in stack:
                if scope.cancel_called and scope._delivery is None:
                    scope._deliver()
                    break
        if mine:
            self.cancelled_caught = True
            if self._on_exit is not None:
                self._on_exit()
            value.__traceback__ = None
            return True
        return False


def move_on_after(seconds, shield=False):
    """A :class:`CancelScope` that leaves its block silently after *seconds*
    (``cancelled_caught`` is then True)."""
    scope = CancelScope(_deadline_after(seconds), shield)
    scope.where = _caller(1)
    return scope


def fail_after(seconds, shield=False):
    """A :class:`CancelScope` whose expiry raises ``TimeoutError`` out of its
    block, naming where the deadline was set."""
    scope = CancelScope(_deadline_after(seconds), shield)
    scope.where = _caller(1)

    def fail():
        raise TimeoutError('fail_after(%s) set at %s expired' % (seconds, scope.where))
    scope._on_exit = fail
    return scope


def _deadline_after(seconds):
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise TypeError('seconds must be a number, not %s' % type(seconds).__name__) from None
    if math.isnan(seconds):
        raise ValueError('seconds must not be NaN')
    return time.monotonic() + seconds


class TaskGroup:
    """Spawn greenlets that cannot outlive a ``with`` block.

    Leaving the block waits for every child. The first child to fail (any
    exception but GreenletExit) kills the others and cancels the block's
    body; the block then raises an ExceptionGroup of the body's and the
    children's errors. If the body is left by an error, or the greenlet is
    killed or timed out, the children are killed, waited for, and the
    exception goes on (children's errors, if any, take precedence, grouped).
    KeyboardInterrupt and SystemExit go on as they are.
    """

    def __init__(self):
        self._scope = CancelScope()
        self._scope.where = _caller(1)
        self._children = set()
        self._errors = []
        self._state = 'new'
        self._aborting = False
        self._idle = Event()

    def __repr__(self):
        return '<%s %s, %d children, set at %s>' % (
            type(self).__name__, self._state, len(self._children), self._scope.where)

    def __enter__(self):
        if self._state != 'new':
            raise RuntimeError('a TaskGroup can be entered only once')
        self._scope.__enter__()
        self._state = 'open'
        return self

    def spawn(self, func, *args, **kwargs):
        """Start ``func(*args, **kwargs)`` in a child greenlet and return it."""
        if self._state not in ('open', 'closing'):
            raise RuntimeError('%r is not active' % (self,))
        if self._aborting:
            raise RuntimeError('%r is shutting down after an error' % (self,))
        child = Greenlet(func, *args, **kwargs)
        child.rawlink(self._child_done)
        self._children.add(child)
        self._idle.clear()
        child.start()
        return child

    def _child_done(self, child):
        self._children.discard(child)
        exc = child.exception
        if exc is not None and not isinstance(exc, GreenletExit):
            self._errors.append(exc)
            self._abort()
        if not self._children:
            self._idle.set()

    def _abort(self):
        if self._aborting:
            return
        self._aborting = True
        for child in list(self._children):
            child.kill(block=False)
        self._scope.cancel()

    def __exit__(self, typ, value, tb):
        self._state = 'closing'
        propagate = None
        if value is not None and not (isinstance(value, Cancelled) and value.scope is self._scope):
            propagate = value
            self._abort()
        while self._children:
            try:
                self._idle.wait()
            except Cancelled as exc:
                if exc.scope is not self._scope:
                    propagate = propagate or exc
                    self._abort()
            except BaseException as exc:  # killed, timed out, interrupted
                propagate = propagate or exc
                self._abort()
        self._scope.__exit__(None, None, None)
        self._state = 'closed'
        if isinstance(propagate, (KeyboardInterrupt, SystemExit)):
            raise propagate
        errors = list(self._errors)
        if propagate is not None and isinstance(propagate, Exception):
            errors.insert(0, propagate)
        if errors:
            group = globals().get('BaseExceptionGroup') or __getattr__('BaseExceptionGroup')
            raise group('unhandled errors in a TaskGroup', errors) from None
        if propagate is not None:
            if propagate is value:
                return False
            raise propagate
        return value is not None  # the body's own cancellation ends here
