"""Type stubs for gevent_c.signal: signal.signal/getsignal that keep child
watching working; every other name is the stdlib's."""
from signal import Handlers, Signals
from types import FrameType
from typing import Any, Callable

_Handler = Callable[[int, FrameType | None], Any] | int | Handlers | None

def signal(signalnum: int | Signals, handler: _Handler) -> _Handler: ...
def getsignal(signalnum: int | Signals) -> _Handler: ...
def set_wakeup_fd(fd: int, /, *, warn_on_full_buffer: bool = True) -> int: ...

# The rest of the stdlib module (ignored: the star import clashes with the above).
from signal import *  # noqa: E402,F403
