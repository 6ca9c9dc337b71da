"""Type stubs for gevent_c.pywsgi: the WSGI server."""
import logging
from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
from types import TracebackType
from typing import Any, BinaryIO, Iterable, Iterator

from typing_extensions import Self

from gevent_c.baseserver import _Listener, _Spawn
from gevent_c.server import StreamServer
from gevent_c.socket import socket as _gsocket

__all__ = [
    'WSGIServer',
    'WSGIHandler',
    'LoggingLogAdapter',
    'Environ',
    'SecureEnviron',
    'WSGISecureEnviron',
]

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

def format_date_time(timestamp: float) -> str: ...

class Input:
    rfile: BinaryIO
    content_length: int | None
    socket: _gsocket | None
    position: int
    chunked_input: bool
    chunk_length: int
    send_100_continue_enabled: bool
    max_size: int | None
    def __init__(self, rfile: BinaryIO, content_length: int | None,
                 socket: _gsocket | None = None, chunked_input: bool = False) -> None: ...
    def read(self, length: int | None = None) -> bytes: ...
    def readline(self, size: int | None = None) -> bytes: ...
    def readlines(self, hint: int | None = None) -> list[bytes]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> bytes: ...
    def next(self) -> bytes: ...

class WSGIHandler:
    ApplicationError: type[BaseException]
    protocol_version: str
    provided_date: str | None
    provided_content_length: str | None
    idle_timeout: float | None
    header_timeout: float | None
    socket_timeout: float | None
    max_header_line: int
    max_header_count: int
    max_header_bytes: int
    max_body_size: int | None
    max_discard: int
    linger_timeout: float | None
    ignored_socket_errors: tuple[int, ...]
    status: bytes | None
    response_headers: list[tuple[bytes, bytes]] | None
    code: int | None
    close_connection: bool
    time_start: float
    time_finish: float
    headers_sent: bool
    response_use_chunked: bool
    connection_upgraded: bool
    environ: dict[str, Any] | None
    application: WSGIApplication | None
    requestline: str | None
    response_length: int
    result: Iterable[bytes] | None
    wsgi_input: Input | None
    content_length: int
    request_version: str | None
    command: str | None
    path: str | None
    socket: _gsocket
    client_address: Any
    server: WSGIServer
    rfile: BinaryIO
    def __init__(self, sock: _gsocket, address: Any, server: WSGIServer,
                 rfile: BinaryIO | None = None) -> None: ...
    def MessageClass(self, *args: Any) -> Any: ...
    @property
    def headers(self) -> Any: ...
    @headers.setter
    def headers(self, message: Any) -> None: ...
    def handle(self) -> None: ...
    def read_requestline(self) -> bytes: ...
    def read_request(self, raw_requestline: bytes) -> bool | None: ...
    def log_error(self, msg: str, *args: Any) -> None: ...
    def handle_one_request(self) -> Any: ...
    def finalize_headers(self) -> None: ...
    def write(self, data: bytes) -> None: ...
    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: _ExcInfo | None = None) -> Any: ...
    def log_request(self) -> None: ...
    def format_request(self) -> str: ...
    def process_result(self) -> None: ...
    def run_application(self) -> None: ...
    def handle_one_response(self) -> None: ...
    def handle_error(self, t: type[BaseException], v: BaseException,
                     tb: TracebackType | None) -> None: ...
    def get_environ(self) -> dict[str, Any]: ...

class LoggingLogAdapter:
    def __init__(self, logger: logging.Logger, level: int = 20) -> None: ...
    def write(self, msg: str) -> None: ...
    def flush(self) -> None: ...
    def writelines(self, lines: Iterable[str]) -> None: ...
    def __getattr__(self, name: str) -> Any: ...

class Environ(dict[str, Any]):
    def copy(self) -> Self: ...
    def iteritems(self) -> Iterator[tuple[str, Any]]: ...

class SecureEnviron(Environ):
    default_secure_repr: bool
    default_whitelist_keys: tuple[str, ...]
    default_print_masked_keys: bool
    secure_repr: bool
    whitelist_keys: tuple[str, ...]
    print_masked_keys: bool

class WSGISecureEnviron(SecureEnviron): ...

class WSGIServer(StreamServer):
    handler_class: type[WSGIHandler]
    log: Any
    error_log: Any
    environ_class: type[dict[str, Any]]
    secure_environ_class: type[dict[str, Any]]
    base_env: dict[str, Any]
    environ: dict[str, Any]
    application: WSGIApplication
    # log / error_log: 'default' (stderr), None (off), a logging.Logger or
    # anything with write(); ssl_args as StreamServer's
    def __init__(self, listener: _Listener, application: WSGIApplication | None = None,
                 backlog: int | None = None, spawn: _Spawn = 'default',
                 log: Any = 'default', error_log: Any = 'default',
                 handler_class: type[WSGIHandler] | None = None,
                 environ: dict[str, Any] | None = None, **ssl_args: Any) -> None: ...
    def set_environ(self, environ: dict[str, Any] | None = None) -> None: ...
    def set_max_accept(self) -> None: ...
    def get_environ(self) -> dict[str, Any]: ...
    def update_environ(self) -> None: ...
    def handle(self, sock: _gsocket, address: Any) -> None: ...
