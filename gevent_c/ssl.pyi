"""Type stubs for gevent_c.ssl: the stdlib ssl module's API, with sockets
that block only the calling greenlet."""
import socket as _stdsocket
import ssl as _ssl
from ssl import Purpose, SSLSession
from typing import Any

from gevent_c.socket import create_connection as create_connection
from gevent_c.socket import socket as _gsocket

socket = _gsocket

class SSLSocket(_ssl.SSLSocket, _gsocket):
    # gevent's constructor: wraps a connected socket (geventhttpclient, locust)
    def __new__(cls, sock: _stdsocket.socket | None = None, keyfile: str | None = None,
                certfile: str | None = None, server_side: bool = False, cert_reqs: int = ...,
                ssl_version: int | None = None, ca_certs: str | None = None,
                do_handshake_on_connect: bool = True, family: int = ..., type: int = ...,
                proto: int = 0, fileno: int | None = None, suppress_ragged_eofs: bool = True,
                npn_protocols: Any = None, ciphers: str | None = None,
                server_hostname: str | bytes | None = None, _session: SSLSession | None = None,
                _context: _ssl.SSLContext | None = None) -> SSLSocket: ...
    def __init__(self, sock: _stdsocket.socket | None = None, *args: Any, **kwargs: Any) -> None: ...
    def accept(self) -> tuple[SSLSocket, Any]: ...

class SSLContext(_ssl.SSLContext):
    sslsocket_class: type[SSLSocket]
    def wrap_socket(
        self, sock: _stdsocket.socket, server_side: bool = False, do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True, server_hostname: str | bytes | None = None,
        session: SSLSession | None = None) -> SSLSocket: ...

def create_default_context(purpose: Purpose = ..., *, cafile: str | None = None,
                           capath: str | None = None,
                           cadata: str | bytes | None = None) -> SSLContext: ...
def get_server_certificate(addr: tuple[str, int], ssl_version: int = ...,
                           ca_certs: str | None = None,
                           timeout: float | None = ...) -> str: ...
# the stdlib's private helpers, returning this module's SSLContext
def _create_unverified_context(
    protocol: int | None = None, *, cert_reqs: int = ..., check_hostname: bool = False,
    purpose: Purpose = ..., certfile: str | None = None, keyfile: str | None = None,
    cafile: str | None = None, capath: str | None = None,
    cadata: str | bytes | None = None) -> SSLContext: ...
def _create_default_https_context(
    purpose: Purpose = ..., *, cafile: str | None = None, capath: str | None = None,
    cadata: str | bytes | None = None) -> SSLContext: ...
_create_stdlib_context = _create_unverified_context

# The rest of the stdlib module's names, after the definitions above, which
# take precedence (mypy reports the star import's clashes with them: ignored).
from ssl import *  # type: ignore[assignment]  # noqa: E402,F403
