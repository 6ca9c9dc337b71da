"""Type stubs for gevent_c.socket: the stdlib socket module's API, with
sockets that block only the calling greenlet."""
import socket as _stdsocket
from typing import Any

from typing_extensions import Self

from gevent_c._core import SocketMethods
from gevent_c._core import watcher as _watcher
from gevent_c.hub import Hub

class socket(SocketMethods, _stdsocket.socket):
    hub: Hub
    def __init__(self, family: int = -1, type: int = -1, proto: int = -1,
                 fileno: int | None = None) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def ref(self) -> bool: ...
    @ref.setter
    def ref(self, value: bool) -> None: ...
    def accept(self) -> tuple[socket, Any]: ...
    def dup(self) -> Self: ...

SocketType = socket

def create_connection(address: tuple[str | None, int], timeout: float | None = ...,
                      source_address: tuple[bytearray | bytes | str, int] | None = None, *,
                      all_errors: bool = False) -> socket: ...
def create_server(address: Any, *, family: int = ..., backlog: int | None = None,
                  reuse_port: bool = False, dualstack_ipv6: bool = False) -> socket: ...
def socketpair(family: int | None = None, type: int = ..., proto: int = 0) -> tuple[socket, socket]: ...
def fromfd(fd: Any, family: int, type: int, proto: int = 0) -> socket: ...

# extensions: block the calling greenlet until a file descriptor is ready
def wait_read(fileno: int, timeout: float | None = None,
              timeout_exc: BaseException | type[BaseException] = ...) -> None: ...
def wait_write(fileno: int, timeout: float | None = None,
               timeout_exc: BaseException | type[BaseException] = ...,
               event: Any = ...) -> None: ...
def wait_readwrite(fileno: int, timeout: float | None = None,
                   timeout_exc: BaseException | type[BaseException] = ...,
                   event: Any = ...) -> None: ...
def wait(io: _watcher, timeout: float | None = None,
         timeout_exc: BaseException | type[BaseException] = ...) -> None: ...
def cancel_wait(watcher: _watcher, error: BaseException | type[BaseException] = ...) -> None: ...

# The rest of the stdlib module's names, after the definitions above, which
# take precedence (mypy reports the star import's clashes with them: ignored).
from socket import *  # type: ignore[assignment]  # noqa: E402,F403
