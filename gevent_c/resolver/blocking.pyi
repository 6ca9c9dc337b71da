"""Type stubs for gevent_c.resolver.blocking: libc's resolver, called directly."""
from gevent_c.hub import Hub
from gevent_c.resolver import AbstractResolver

__all__ = ['Resolver']

class Resolver(AbstractResolver):
    def __init__(self, hub: Hub | None = None) -> None: ...
