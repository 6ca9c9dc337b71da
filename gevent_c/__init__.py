"""gevent_c: gevent's core rebuilt as a CPython C extension.

Import it where you imported gevent (``import gevent_c as gevent``).
"""
__version__ = "0.1.0.dev0"
version_info = (0, 1, 0, "dev", 0)

import sys as _sys

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

getswitchinterval = _sys.getswitchinterval
setswitchinterval = _sys.setswitchinterval
spawn = Greenlet.spawn
spawn_later = Greenlet.spawn_later

__all__ = [
    'Greenlet', 'GreenletExit', 'Timeout', 'config', 'get_hub', 'getcurrent',
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
