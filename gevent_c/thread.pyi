"""Type stubs for gevent_c.thread: the _thread module where every thread is a greenlet."""
import sys
from _thread import TIMEOUT_MAX as TIMEOUT_MAX
from _thread import RLock as RLock
from _thread import allocate as allocate
from _thread import error as error
from _thread import exit_thread as exit_thread
from _thread import get_native_id as get_native_id
from _thread import interrupt_main as interrupt_main
from _thread import start_new as start_new
from types import TracebackType
from typing import Any, Callable, NoReturn

from typing_extensions import final

from gevent_c._greenlet import greenlet
from gevent_c.local import local as _local
from gevent_c.lock import BoundedSemaphore

@final
class LockType(BoundedSemaphore):
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...  # type: ignore[override]
    def acquire_lock(self, blocking: bool = True, timeout: float = -1) -> bool: ...
    def release(self) -> int: ...
    def release_lock(self) -> int: ...
    def locked_lock(self) -> bool: ...
    def __enter__(self) -> bool: ...  # type: ignore[override]
    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None: ...

allocate_lock = LockType

def get_ident(gr: greenlet | None = None) -> int: ...
def exit() -> NoReturn: ...
def stack_size(size: int | None = None) -> int: ...
def start_new_thread(function: Callable[..., object], args: tuple[Any, ...] = (),
                     kwargs: dict[str, Any] | None = None) -> int: ...

if sys.version_info >= (3, 12):
    from _thread import daemon_threads_allowed as daemon_threads_allowed

if sys.version_info >= (3, 13):
    lock = LockType

    class _ThreadHandle:
        def __init__(self, *args: Any, **kwargs: Any) -> None: ...
        @property
        def ident(self) -> int: ...
        def is_done(self) -> bool: ...
        def join(self, timeout: float | None = None) -> None: ...

    def start_joinable_thread(function: Callable[[], object], handle: _ThreadHandle | None = None,
                              daemon: bool = True) -> _ThreadHandle: ...
    def _make_thread_handle(ident: int | None = None) -> _ThreadHandle: ...
