"""Type stubs for gevent_c.timeout."""
from typing import Any, Callable, TypeVar, overload

from typing_extensions import ParamSpec, Self

from gevent_c._core import TimeoutBase

__all__ = ['Timeout', 'with_timeout']

_P = ParamSpec("_P")
_T = TypeVar("_T")
_D = TypeVar("_D")

class Timeout(TimeoutBase):
    @classmethod
    def start_new(cls, timeout: float | Timeout | None = None,
                  exception: type[BaseException] | BaseException | bool | None = None,
                  ref: bool = True) -> Self: ...

# timeout_value is with_timeout's own keyword: a call passing it returns the
# function's type or timeout_value's.
@overload
def with_timeout(seconds: float | None, function: Callable[..., _T], /, *args: Any,
                 timeout_value: _D, **kwargs: Any) -> _T | _D: ...
@overload
def with_timeout(seconds: float | None, function: Callable[_P, _T], /,
                 *args: _P.args, **kwargs: _P.kwargs) -> _T: ...
