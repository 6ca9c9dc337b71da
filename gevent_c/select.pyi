"""Type stubs for gevent_c.select: select() and poll() that block only the
calling greenlet; the constants are the stdlib's."""
from select import error as error
from typing import Any, Iterable

__all__ = ['select', 'poll', 'error']

def select(rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any],
           timeout: float | None = None) -> tuple[list[Any], list[Any], list[Any]]: ...

class poll:
    def __init__(self) -> None: ...
    def register(self, fd: Any, eventmask: int = ...) -> None: ...
    def modify(self, fd: Any, eventmask: int) -> None: ...
    def unregister(self, fd: Any) -> None: ...
    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]: ...

# The rest of the stdlib module's names, after the definitions above, which
# take precedence (mypy reports the star import's clashes with them: ignored).
from select import *  # type: ignore[assignment]  # noqa: E402,F403
