"""Type stubs for gevent_c.ares (deprecated name of gevent_c.resolver.cares)."""
from gevent_c.resolver.cares import channel as channel

__all__ = ['channel']
