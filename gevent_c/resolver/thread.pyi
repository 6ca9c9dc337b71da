"""Type stubs for gevent_c.resolver.thread: libc's resolver in the hub's threadpool."""
from gevent_c.hub import Hub
from gevent_c.resolver import AbstractResolver
from gevent_c.threadpool import ThreadPool

__all__ = ['Resolver']

class Resolver(AbstractResolver):
    def __init__(self, hub: Hub | None = None) -> None: ...
    @property
    def pool(self) -> ThreadPool: ...
