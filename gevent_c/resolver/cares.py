"""The c-ares channel itself (gevent's ``gevent.resolver.cares``).

:class:`channel` is the C type ``gevent_c._ares.channel`` that
:class:`gevent_c.resolver.ares.Resolver` drives; programs written for gevent
that import it from here get the same object.
"""
from gevent_c._ares import channel

__all__ = ['channel']
