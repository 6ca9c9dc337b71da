"""Type stubs for gevent_c.util."""
from types import FrameType, TracebackType
from typing import Any, Callable, Generic, TextIO, TypeVar

from typing_extensions import ParamSpec, Self

from gevent_c._greenlet import greenlet as _RawGreenlet
from gevent_c.hub import Hub

__all__ = [
    'wrap_errors', 'format_run_info', 'print_run_info', 'GreenletTree', 'assert_switches',
]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_E = TypeVar("_E", bound=BaseException)

class wrap_errors(Generic[_E, _P, _R]):
    __name__: str
    def __init__(self, errors: type[_E] | tuple[type[_E], ...], func: Callable[_P, _R]) -> None: ...
    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R | _E: ...
    def __getattr__(self, name: str) -> Any: ...

def format_run_info(thread_stacks: bool = True, greenlet_stacks: bool = True,
                    limit: int | None = None,
                    current_thread_ident: int | None = None) -> list[str]: ...
def print_run_info(thread_stacks: bool = True, greenlet_stacks: bool = True,
                   limit: int | None = None, file: TextIO | None = None) -> None: ...

dump_stacks = format_run_info

def clear_stack_frames(frame: FrameType | None) -> None: ...

class GreenletTree:
    greenlet: _RawGreenlet | None
    child_trees: list[GreenletTree]
    is_current_tree: bool
    DEFAULT_DETAILS: dict[str, Any]
    def __init__(self, greenlet: _RawGreenlet | None) -> None: ...
    def add_child(self, tree: GreenletTree) -> None: ...
    @property
    def root(self) -> bool: ...
    def format_lines(self, details: bool | dict[str, Any] = True) -> list[str]: ...
    def format(self, details: bool | dict[str, Any] = True) -> str: ...
    @classmethod
    def forest(cls) -> list[GreenletTree]: ...
    @classmethod
    def current_tree(cls) -> GreenletTree: ...
    def __getattr__(self, name: str) -> Any: ...

class assert_switches:
    max_blocking_time: float | None
    hub_only: bool
    hub: Hub | None
    def __init__(self, max_blocking_time: float | None = None, hub_only: bool = False) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None: ...
