"""Type stubs for gevent_c.resolver.ares: the c-ares resolver."""
from typing import Any

from gevent_c.hub import Hub
from gevent_c.resolver import AbstractResolver

__all__ = ['Resolver']

class Resolver(AbstractResolver):
    hub: Hub
    params: dict[str, Any]
    cares: Any
    pid: int
    # c-ares channel options: servers, timeout, tries, ndots, udp_port,
    # tcp_port, flags, lookups
    def __init__(self, hub: Hub | None = None, use_environ: bool = True, **kwargs: Any) -> None: ...
    def set_servers(self, servers: str | list[str] | None) -> None: ...
