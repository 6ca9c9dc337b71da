"""Deprecated name of :mod:`gevent_c.resolver.thread`, kept because gevent
keeps ``gevent.resolver_thread`` for programs written before gevent 1.3;
importing it warns as gevent's does."""
import warnings

from gevent_c.resolver.thread import Resolver

warnings.warn('%s is deprecated; use %s.resolver.thread instead'
              % (__name__, __name__.rpartition('.')[0]), DeprecationWarning, stacklevel=2)
del warnings

__all__ = ['Resolver']
