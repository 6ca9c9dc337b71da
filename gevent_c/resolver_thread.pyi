"""Type stubs for gevent_c.resolver_thread (deprecated name of gevent_c.resolver.thread)."""
from gevent_c.resolver.thread import Resolver as Resolver

__all__ = ['Resolver']
