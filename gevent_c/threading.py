"""What :func:`gevent_c.monkey.patch_thread` puts into :mod:`threading`.

The stdlib's ``threading`` is written over ``_thread``: once its few
references to ``_thread`` (start a thread, allocate a lock, get the ident)
are the greenlet versions of :mod:`gevent_c.thread`, its own ``Thread``,
``Timer``, ``Condition``, ``Semaphore``, ``Barrier`` and ``Event`` work
cooperatively, each "thread" a greenlet. So this module replaces only those
references, plus:

- ``_CRLock``, what ``threading.RLock()`` makes: a C reentrant lock with
  ``_thread.RLock``'s API, owned by a greenlet;
- ``_DummyThread`` (what ``current_thread()`` returns in a greenlet that
  ``threading`` did not start), which leaves ``threading._active`` when its
  greenlet ends instead of staying there forever;
- ``local``, greenlet-local storage.

``Thread`` and ``Timer`` are the stdlib classes themselves, so subclasses
defined before patching work and ``isinstance(threading.main_thread(),
threading.Thread)`` holds (gevent replaces them with subclasses).

    from gevent_c import monkey; monkey.patch_all()
    import threading
    t = threading.Thread(target=print, args=('in a greenlet',))
    t.start(); t.join()
"""
import sys
import threading as _threading

from gevent_c import _core
from gevent_c import thread as _gthread
from gevent_c.local import local

_PY313 = sys.version_info[:2] >= (3, 13)

__implements__ = ['local', '_allocate_lock', 'Lock', 'get_ident', '_DummyThread', '_CRLock']
if _PY313:
    __implements__ += ['_start_joinable_thread', '_ThreadHandle', '_make_thread_handle',
                       '_thread_local_info']
else:
    __implements__ += ['_start_new_thread', '_set_sentinel']
__extensions__ = []
# What was made before patching keeps working: Events' Conditions are made
# cooperative by monkey.patch_thread; the rest are native locks and handles.
__early_safe__ = ['Event', 'Lock', '_CRLock', '_DummyThread', '_ThreadHandle',
                  '_thread_local_info']
__imports__ = ['Thread', 'Timer']
Thread = _threading.Thread
Timer = _threading.Timer
__all__ = ['local', 'Lock', 'get_ident', 'Thread', 'Timer']

_allocate_lock = Lock = _gthread.LockType
get_ident = _gthread.get_ident
_start_new_thread = _gthread.start_new_thread
_start_joinable_thread = _gthread.start_joinable_thread
_ThreadHandle = _gthread._ThreadHandle
_make_thread_handle = _gthread._make_thread_handle
_set_sentinel = _gthread._sentinel_for_current
# What threading.RLock() makes: _thread.RLock's API over a cooperative lock,
# in C (invisible to sys.settrace, as the stdlib's C RLock). None would make
# it threading's Python _RLock, built on the two above.
_CRLock = getattr(_core, 'ThreadRLock', None)
# monkey replaces a module's early threading.local() (gevent_c.thread's hook)
_gevent_replace_early_object = _gthread._gevent_replace_early_object
# 3.13 keeps one object per dummy thread here, deleted with its "thread".
_thread_local_info = local()


def _forget_dummy(key, dummy):
    active = _threading._active
    if active.get(key) is dummy:
        active.pop(key, None)


class _DummyThread(_threading._DummyThread):
    """The Thread object of a greenlet not started by ``threading``.

    Named ``Dummy-N`` and daemonic as the stdlib's; it leaves
    ``threading._active`` when its greenlet ends. It is a complete Thread,
    so when a greenlet forks, threading._after_fork may turn it into the
    child's main thread (3.11.8+, 3.12.2+) as it does for native threads.
    """

    # gevent's flag: whether this Python turns the forking dummy thread into
    # the child's _MainThread (gevent must then repair its reduced dummies).
    _NEEDS_CLASS_FORK_FIXUP = ((sys.version_info[:2] == (3, 11) and sys.version_info >= (3, 11, 8))
                               or sys.version_info >= (3, 12, 2))

    def __init__(self):
        from weakref import ref
        from gevent_c._greenlet import getcurrent
        super().__init__()
        glet = getcurrent()
        key = self._ident
        me = ref(self)
        rawlink = getattr(glet, 'rawlink', None)
        if rawlink is not None:
            rawlink(lambda _glet: _forget_dummy(key, me()))
        else:
            # raw greenlets (a thread's main greenlet) cannot be linked
            self._glet_ref = ref(glet, lambda _r: _forget_dummy(key, me()))
