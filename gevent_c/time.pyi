"""Type stubs for gevent_c.time: the stdlib time module with a cooperative sleep."""
from gevent_c.hub import sleep as sleep

# Every other name is the stdlib's (ignored: the star import clashes with sleep).
from time import *  # type: ignore[assignment]  # noqa: E402,F403
