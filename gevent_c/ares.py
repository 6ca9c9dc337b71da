"""Deprecated name of :mod:`gevent_c.resolver.cares`, kept because gevent
keeps ``gevent.ares`` for programs written before gevent 1.3."""
from gevent_c.resolver.cares import channel

__all__ = ['channel']
