"""Type stubs for gevent_c.subprocess: the stdlib subprocess API with
cooperative pipes and waits (same signatures as the stdlib's)."""
import subprocess as _subprocess
from subprocess import (
    DEVNULL as DEVNULL,
    PIPE as PIPE,
    STDOUT as STDOUT,
    CalledProcessError as CalledProcessError,
    CompletedProcess as CompletedProcess,
    SubprocessError as SubprocessError,
    TimeoutExpired as TimeoutExpired,
    call as call,
    check_call as check_call,
    check_output as check_output,
    getoutput as getoutput,
    getstatusoutput as getstatusoutput,
    run as run,
)
from typing import Any, AnyStr, Callable

__all__ = ['Popen', 'call', 'check_call', 'check_output', 'run', 'getoutput', 'getstatusoutput',
           'PIPE', 'STDOUT', 'CalledProcessError', 'DEVNULL', 'SubprocessError',
           'TimeoutExpired', 'CompletedProcess']

class Popen(_subprocess.Popen[AnyStr]):
    def rawlink(self, callback: Callable[[Popen[AnyStr]], object]) -> None: ...
    def unlink(self, callback: Callable[[Popen[AnyStr]], object]) -> None: ...
