"""Type stubs for gevent_c.fileobject. A file object delegates read, write,
readline, ... to the io object it wraps (``io``: bytes or text by mode)."""
from typing import IO, Any

from typing_extensions import Self

from gevent_c.threadpool import ThreadPool

__all__ = ['FileObjectPosix', 'FileObjectThread', 'FileObjectBlock', 'FileObject']

class FileObjectClosed(OSError):
    def __init__(self) -> None: ...

class _FileObjectBase:
    io: IO[Any]
    def __getattr__(self, name: str) -> Any: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> None: ...
    @property
    def closed(self) -> bool: ...

class FileObjectPosix(_FileObjectBase):
    def __init__(self, fobj: Any, mode: str = 'rb', bufsize: int = -1, close: bool = True,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None, buffering: int | None = None,
                 closefd: bool | None = None) -> None: ...
    def close(self) -> None: ...

class FileObjectThread(_FileObjectBase):
    def __init__(self, fobj: Any, mode: str = 'rb', bufsize: int = -1, close: bool = True,
                 threadpool: ThreadPool | None = None, lock: Any = True,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None, buffering: int | None = None,
                 closefd: bool | None = None) -> None: ...
    def close(self) -> None: ...

class FileObjectBlock(_FileObjectBase):
    def __init__(self, fobj: Any, mode: str = 'rb', bufsize: int = -1, close: bool = True,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None, buffering: int | None = None,
                 closefd: bool | None = None) -> None: ...
    def close(self) -> None: ...

FileObject = FileObjectPosix
