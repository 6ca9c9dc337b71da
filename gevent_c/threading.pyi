"""Type stubs for gevent_c.threading: what monkey.patch_thread puts into threading."""
from threading import Thread as Thread
from threading import Timer as Timer

from gevent_c.local import local as local
from gevent_c.thread import LockType
from gevent_c.thread import get_ident as get_ident

__all__ = ['local', 'Lock', 'get_ident', 'Thread', 'Timer']

Lock = LockType
