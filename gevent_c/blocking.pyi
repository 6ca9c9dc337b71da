"""Type stubs for gevent_c.blocking: the watchdog that reports a blocked hub."""
import logging
from typing import Callable

from gevent_c.hub import Hub

__all__ = ['watch', 'unwatch', 'watched', 'REPORT_INTERVAL', 'logger']

logger: logging.Logger
REPORT_INTERVAL: float

def watch(hub: Hub | None = None, threshold: float | str | None = None,
          report: Callable[[str], object] | None = None) -> None: ...
def unwatch(hub: Hub | None = None) -> None: ...
def watched() -> list[Hub]: ...
