"""Type stubs for gevent_c.server: TCP (optionally TLS) and UDP servers."""
from ssl import SSLContext
from typing import Any, Callable

from gevent_c.baseserver import BaseServer, _Listener, _Spawn
from gevent_c.socket import socket as _gsocket

__all__ = ['StreamServer', 'DatagramServer']

class StreamServer(BaseServer):
    backlog: int
    reuse_addr: int | None
    ssl_args: dict[str, Any] | None
    ssl_context: SSLContext
    # handle(client_socket, address) runs in its own greenlet per connection;
    # ssl_args: keyfile, certfile, ca_certs, cert_reqs, ssl_version, ciphers,
    # ssl_context and wrap_socket's keywords
    def __init__(self, listener: _Listener,
                 handle: Callable[[_gsocket, Any], object] | None = None,
                 backlog: int | None = None, spawn: _Spawn = 'default',
                 **ssl_args: Any) -> None: ...
    @property
    def ssl_enabled(self) -> bool: ...
    @classmethod
    def get_listener(cls, address: Any, backlog: int | None = None,
                     family: int | None = None) -> _gsocket: ...
    def do_read(self) -> tuple[_gsocket, Any] | None: ...
    def do_close(self, sock: _gsocket, *args: Any) -> None: ...
    def wrap_socket_and_handle(self, client_socket: _gsocket, address: Any) -> Any: ...

class DatagramServer(BaseServer):
    reuse_addr: int | None
    # handle(data, address) runs in its own greenlet per datagram
    def __init__(self, listener: _Listener,
                 handle: Callable[[bytes, Any], object] | None = None,
                 spawn: _Spawn = 'default') -> None: ...
    @classmethod
    def get_listener(cls, address: Any, family: int | None = None) -> _gsocket: ...
    def do_read(self) -> tuple[bytes, Any] | None: ...
    def sendto(self, *args: Any) -> int: ...  # (data[, flags], address)
