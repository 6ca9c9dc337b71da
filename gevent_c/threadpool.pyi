"""Type stubs for gevent_c.threadpool: native threads for blocking work."""
import concurrent.futures
from typing import Any, Callable, Iterable, TypeVar

from typing_extensions import ParamSpec

from gevent_c.event import AsyncResult
from gevent_c.hub import Hub
from gevent_c.pool import GroupMappingMixin

__all__ = ['ThreadPool', 'ThreadResult', 'ThreadPoolExecutor']

_T = TypeVar("_T")
_R = TypeVar("_R")
_A = TypeVar("_A")
_P = ParamSpec("_P")

class ThreadResult(AsyncResult[_T]):
    context: Any
    def __init__(self, hub: Hub | None = None) -> None: ...

class ThreadPool(GroupMappingMixin):
    hub: Hub
    pid: int
    def __init__(self, maxsize: int, hub: Hub | None = None,
                 idle_task_timeout: float = -1) -> None: ...
    def __len__(self) -> int: ...
    @property
    def maxsize(self) -> int: ...
    @maxsize.setter
    def maxsize(self, value: int) -> None: ...
    @property
    def size(self) -> int: ...
    @size.setter
    def size(self, value: int) -> None: ...
    def adjust(self) -> None: ...
    def spawn(self, func: Callable[_P, _R], /,  # type: ignore[override]
              *args: _P.args, **kwargs: _P.kwargs) -> ThreadResult[_R]: ...
    def map(self, func: Callable[[_A], _R], iterable: Iterable[_A]) -> list[_R]: ...
    def join(self) -> None: ...
    def kill(self) -> None: ...

class ThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A concurrent.futures executor on a ThreadPool; its futures' result()
    and exception() block only the calling greenlet."""
    def kill(self, wait: bool = True, *, cancel_futures: bool = False) -> None: ...
