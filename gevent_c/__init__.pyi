"""Type stubs for the gevent_c package: gevent's top-level API."""
import sys
from typing import Any, Callable, NamedTuple, TypeVar

from typing_extensions import ParamSpec

# submodules, as ``gevent_c.<name>`` after a bare ``import gevent_c``
from gevent_c import (
    baseserver as baseserver,
    blocking as blocking,
    event as event,
    events as events,
    exceptions as exceptions,
    fileobject as fileobject,
    greenlet as greenlet,
    hub as hub,
    local as local,
    lock as lock,
    monkey as monkey,
    os as os,
    pool as pool,
    pywsgi as pywsgi,
    queue as queue,
    resolver as resolver,
    select as select,
    selectors as selectors,
    server as server,
    socket as socket,
    ssl as ssl,
    structured as structured,
    subprocess as subprocess,
    threadpool as threadpool,
    timeout as timeout,
    util as util,
)
from gevent_c._config import config as config
from gevent_c._greenlet import GreenletExit as GreenletExit
from gevent_c._greenlet import getcurrent as getcurrent
from gevent_c.greenlet import Greenlet as Greenlet
from gevent_c.greenlet import joinall as joinall
from gevent_c.greenlet import killall as killall
from gevent_c.hub import get_hub as get_hub
from gevent_c.hub import idle as idle
from gevent_c.hub import iwait as iwait
from gevent_c.hub import kill as kill
from gevent_c.hub import reinit as reinit
from gevent_c.hub import signal as signal_handler
from gevent_c.hub import sleep as sleep
from gevent_c.hub import spawn_raw as spawn_raw
from gevent_c.hub import wait as wait
from gevent_c.os import fork as fork
from gevent_c.structured import CancelScope as CancelScope
from gevent_c.structured import Cancelled as Cancelled
from gevent_c.structured import TaskGroup as TaskGroup
from gevent_c.structured import fail_after as fail_after
from gevent_c.structured import move_on_after as move_on_after
from gevent_c.timeout import Timeout as Timeout
from gevent_c.timeout import with_timeout as with_timeout

__all__ = [
    'CancelScope', 'Cancelled', 'Greenlet', 'GreenletExit', 'TaskGroup', 'Timeout', 'config',
    'fail_after', 'move_on_after', 'get_hub', 'getcurrent',
    'getswitchinterval', 'idle', 'install_as_gevent', 'iwait', 'joinall', 'kill', 'killall',
    'reinit', 'setswitchinterval', 'signal_handler', 'sleep', 'spawn',
    'spawn_later', 'spawn_raw', 'wait', 'with_timeout', 'fork',
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

__version__: str

class _VersionInfo(NamedTuple):
    major: int
    minor: int
    micro: int
    releaselevel: str
    serial: int

version_info: _VersionInfo

def spawn(run: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> Greenlet[_R]: ...
def spawn_later(seconds: float, run: Callable[_P, _R], /,
                *args: _P.args, **kwargs: _P.kwargs) -> Greenlet[_R]: ...
def getswitchinterval() -> float: ...
def setswitchinterval(interval: float, /) -> None: ...
def install_as_gevent() -> None: ...
