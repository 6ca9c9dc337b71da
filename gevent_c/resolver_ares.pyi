"""Type stubs for gevent_c.resolver_ares (deprecated name of gevent_c.resolver.ares)."""
from gevent_c.resolver.ares import Resolver as Resolver

__all__ = ['Resolver']
