"""Type stubs for gevent_c.structured: TaskGroup and cancel scopes."""
import sys
from types import TracebackType
from typing import Any, Callable, TypeVar

from typing_extensions import ParamSpec, Self

from gevent_c.greenlet import Greenlet

__all__ = ['Cancelled', 'CancelScope', 'move_on_after', 'fail_after',
           'TaskGroup', 'BaseExceptionGroup', 'ExceptionGroup']

_P = ParamSpec("_P")
_R = TypeVar("_R")

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup as BaseExceptionGroup
    from builtins import ExceptionGroup as ExceptionGroup
else:
    # the exceptiongroup backport when installed, else a minimal stand-in
    # with ``message`` and ``exceptions``
    class BaseExceptionGroup(BaseException):
        message: str
        exceptions: tuple[BaseException, ...]
        def __init__(self, message: str, exceptions: list[BaseException]) -> None: ...
    class ExceptionGroup(BaseExceptionGroup, Exception): ...

class Cancelled(BaseException):
    scope: CancelScope
    def __init__(self, scope: CancelScope) -> None: ...

class CancelScope:
    shield: bool
    cancel_called: bool
    cancelled_caught: bool
    where: str
    def __init__(self, deadline: float = ..., shield: bool = False) -> None: ...
    @property
    def deadline(self) -> float: ...
    @deadline.setter
    def deadline(self, deadline: float) -> None: ...
    def cancel(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> bool: ...

def move_on_after(seconds: float, shield: bool = False) -> CancelScope: ...
def fail_after(seconds: float, shield: bool = False) -> CancelScope: ...

class TaskGroup:
    def __init__(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> bool: ...
    def spawn(self, func: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> Greenlet[_R]: ...
