"""gevent_c: gevent's core rebuilt as a CPython C extension.

Import it where you imported gevent (``import gevent_c as gevent``).
"""
import collections as _collections
import sys as _sys

#: The version, a PEP 440 string (the same as the distribution's).
__version__ = "0.1.0.dev0"


def _version_info(version):
    """(major, minor, micro, releaselevel, serial) of a PEP 440 version
    string; releaselevel is 'dev', 'alpha', 'beta', 'candidate' or 'final'.
    Compared with (major, minor[, micro]) tuples it orders as the versions do."""
    import re
    match = re.fullmatch(r'(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc)(\d+))?(?:\.post\d+)?'
                         r'(?:\.dev(\d+))?', version)
    if match is None:
        raise ValueError('not a PEP 440 release version: %r' % (version,))
    major, minor, micro, pre, pre_n, dev_n = match.groups()
    if dev_n is not None:
        level, serial = 'dev', int(dev_n)
    elif pre is not None:
        level, serial = {'a': 'alpha', 'b': 'beta', 'rc': 'candidate'}[pre], int(pre_n)
    else:
        level, serial = 'final', 0
    return _VersionInfo(int(major), int(minor), int(micro or 0), level, serial)


_VersionInfo = _collections.namedtuple('version_info',
                                       'major minor micro releaselevel serial')
#: ``__version__`` as a tuple that compares with plain tuples: ``>= (0, 1)``.
version_info = _version_info(__version__)

from gevent_c import event, exceptions, greenlet, hub, os, timeout  # noqa: F401 -- as gevent
from gevent_c._alias import install_as_gevent
from gevent_c._config import config
from gevent_c._hub_local import get_hub
from gevent_c.hub import GreenletExit
from gevent_c.hub import getcurrent
from gevent_c.hub import idle
from gevent_c.hub import iwait
from gevent_c.hub import kill
from gevent_c.hub import reinit
from gevent_c.hub import signal as signal_handler
from gevent_c.hub import sleep
from gevent_c.hub import spawn_raw
from gevent_c.hub import wait
from gevent_c.greenlet import Greenlet
from gevent_c.greenlet import joinall
from gevent_c.greenlet import killall
from gevent_c.timeout import Timeout
from gevent_c.timeout import with_timeout
from gevent_c.structured import CancelScope
from gevent_c.structured import Cancelled
from gevent_c.structured import TaskGroup
from gevent_c.structured import fail_after
from gevent_c.structured import move_on_after

getswitchinterval = _sys.getswitchinterval
setswitchinterval = _sys.setswitchinterval
spawn = Greenlet.spawn
spawn_later = Greenlet.spawn_later

__all__ = [
    'CancelScope', 'Cancelled', 'Greenlet', 'GreenletExit', 'TaskGroup', 'Timeout', 'config',
    'fail_after', 'move_on_after', 'get_hub', 'getcurrent',
    'getswitchinterval', 'idle', 'install_as_gevent', 'iwait', 'joinall', 'kill', 'killall',
    'reinit', 'setswitchinterval', 'signal_handler', 'sleep', 'spawn',
    'spawn_later', 'spawn_raw', 'wait', 'with_timeout',
]

try:
    from gevent_c.os import fork
except ImportError:
    pass
else:
    __all__.append('fork')


def __getattr__(name):
    """Any other submodule, imported on first use (``gevent_c.ssl`` after a
    bare ``import gevent_c``), as libraries written for gevent expect."""
    if name.startswith('_') or name not in _submodules():
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    import importlib
    return importlib.import_module(__name__ + '.' + name)


def _submodules():
    global _SUBMODULES
    if _SUBMODULES is None:
        import pkgutil
        _SUBMODULES = frozenset(m.name for m in pkgutil.iter_modules(__path__))
    return _SUBMODULES


_SUBMODULES = None
