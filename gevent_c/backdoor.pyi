"""Type stubs for gevent_c.backdoor: an interactive Python prompt over TCP."""
from typing import Any

from gevent_c.baseserver import _Listener
from gevent_c.server import StreamServer
from gevent_c.socket import socket as _gsocket

__all__ = ['BackdoorServer']

class BackdoorServer(StreamServer):
    locals: dict[str, Any]
    banner: str | None
    def __init__(self, listener: _Listener, locals: dict[str, Any] | None = None,
                 banner: str | None = None, **server_args: Any) -> None: ...
    def handle(self, conn: _gsocket, _address: Any) -> None: ...
