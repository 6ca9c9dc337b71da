"""Deprecated name of :mod:`gevent_c.resolver.ares`, kept because gevent
keeps ``gevent.resolver_ares`` for programs written before gevent 1.3;
importing it warns as gevent's does."""
import warnings

from gevent_c.resolver.ares import Resolver

warnings.warn('%s is deprecated; use %s.resolver.ares instead'
              % (__name__, __name__.rpartition('.')[0]), DeprecationWarning, stacklevel=2)
del warnings

__all__ = ['Resolver']
