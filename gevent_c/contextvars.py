"""Greenlet-local context variables with the :mod:`contextvars` API (PEP 567).

Not needed for patching: every greenlet of gevent_c already runs in its own
``contextvars`` context (the stdlib's, carried by the greenlet switch), so
:func:`gevent_c.monkey.patch_contextvars` does nothing, as gevent's does.
This module is gevent's pure-Python implementation of the same API, whose
"current context" is per greenlet, for code that wants exactly that::

    from gevent_c.contextvars import ContextVar, copy_context
    request_id = ContextVar('request_id', default=None)
    token = request_id.set(42)
    ctx = copy_context()          # a snapshot: ctx[request_id] == 42
    request_id.reset(token)

Setting a variable copies the context's mapping (not constant time).
"""
from collections.abc import Mapping

from gevent_c.local import local

__all__ = ['ContextVar', 'Context', 'copy_context', 'Token']
__implements__ = list(__all__)
__extensions__ = []
__imports__ = []

_MISSING = object()


class _State(local):
    """The current greenlet's context (created on first use)."""

    def __init__(self):
        self.context = Context()


def _current():
    return _state.context


class Context(Mapping):
    """A mapping of ContextVar to value; ``run()`` makes it current."""

    def __init__(self):
        self._data = {}
        self._entered = False

    def run(self, callable, *args, **kwargs):  # noqa: A002 -- the stdlib's name
        """Call *callable* with this context current; return its result."""
        if self._entered:
            raise RuntimeError('cannot enter context: %r is already entered' % (self,))
        previous = _state.context
        self._entered = True
        _state.context = self
        try:
            return callable(*args, **kwargs)
        finally:
            _state.context = previous
            self._entered = False

    def copy(self):
        """A new Context with the same variables and values."""
        new = Context()
        new._data = self._data
        return new

    def __getitem__(self, var):
        if not isinstance(var, ContextVar):
            raise TypeError('a ContextVar key was expected, got %r' % (var,))
        return self._data[var]

    def __contains__(self, var):
        if not isinstance(var, ContextVar):
            raise TypeError('a ContextVar key was expected, got %r' % (var,))
        return var in self._data

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return iter(self._data)


_state = _State()


def copy_context():
    """A copy of the current greenlet's context."""
    return _current().copy()


class ContextVar:
    """A variable whose value depends on the current (greenlet's) context."""

    __slots__ = ('_name', '_default')

    def __init__(self, name, *, default=_MISSING):
        if not isinstance(name, str):
            raise TypeError('context variable name must be a str')
        self._name = name
        self._default = default

    def __init_subclass__(cls, **kwargs):
        raise TypeError("type 'ContextVar' is not an acceptable base type")

    @property
    def name(self):
        return self._name

    def get(self, default=_MISSING):
        """The value in the current context, else *default*, else the
        variable's default; LookupError if there is none."""
        try:
            return _current()._data[self]
        except KeyError:
            pass
        if default is not _MISSING:
            return default
        if self._default is not _MISSING:
            return self._default
        raise LookupError(self)

    def set(self, value):
        """Set the value in the current context; return a Token for reset()."""
        ctx = _current()
        old = ctx._data.get(self, Token.MISSING)
        data = dict(ctx._data)
        data[self] = value
        ctx._data = data
        return Token(ctx, self, old)

    def reset(self, token):
        """Restore the value the variable had before ``set`` returned *token*."""
        if not isinstance(token, Token):
            raise TypeError('expected an instance of Token, got %r' % (token,))
        if token._used:
            raise RuntimeError('Token has already been used once')
        if token._var is not self:
            raise ValueError('Token was created by a different ContextVar')
        ctx = _current()
        if token._context is not ctx:
            raise ValueError('Token was created in a different Context')
        data = dict(ctx._data)
        if token._old_value is Token.MISSING:
            data.pop(self, None)
        else:
            data[self] = token._old_value
        ctx._data = data
        token._used = True

    def __repr__(self):
        default = '' if self._default is _MISSING else ' default=%r' % (self._default,)
        return '<ContextVar name=%r%s at 0x%x>' % (self._name, default, id(self))

    __class_getitem__ = classmethod(lambda cls, item: cls)


class Token:
    """What ``ContextVar.set`` returns: ``var.reset(token)`` undoes the set."""

    __slots__ = ('_context', '_var', '_old_value', '_used')
    MISSING = object()

    def __init__(self, context, var, old_value):
        self._context = context
        self._var = var
        self._old_value = old_value
        self._used = False

    @property
    def var(self):
        return self._var

    @property
    def old_value(self):
        return self._old_value

    def __repr__(self):
        return '<Token%s var=%r at 0x%x>' % (' used' if self._used else '', self._var, id(self))

    __class_getitem__ = classmethod(lambda cls, item: cls)
