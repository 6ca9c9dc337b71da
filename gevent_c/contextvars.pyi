"""Type stubs for gevent_c.contextvars: greenlet-aware context variables with
the API of the stdlib's contextvars (typed as those)."""
from contextvars import Context as Context
from contextvars import ContextVar as ContextVar
from contextvars import Token as Token
from contextvars import copy_context as copy_context

__all__ = ['ContextVar', 'Context', 'copy_context', 'Token']
