"""The :mod:`_thread` module where every "thread" is a greenlet.

This is what :func:`gevent_c.monkey.patch_thread` puts into ``_thread``:
``start_new_thread`` spawns a :class:`gevent_c.Greenlet`, ``get_ident`` is
the current greenlet's identity, locks are cooperative (a greenlet waiting
for one lets the others run) and ``_local`` is greenlet-local storage.
Everything else (``error``, ``TIMEOUT_MAX``, ``get_native_id``...) is the
stdlib's. Applications spawn greenlets with :func:`gevent_c.spawn`; this
module exists for code written against ``_thread`` and ``threading``.

    from gevent_c import thread
    lock = thread.allocate_lock()
    with lock:          # a second greenlet here would wait cooperatively
        ...
"""
import sys
import _thread as _native

from gevent_c import _core
from gevent_c._greenlet import getcurrent
from gevent_c._hub_local import get_hub_if_exists
from gevent_c.event import Event as _Event
from gevent_c.exceptions import LoopExit
from gevent_c.greenlet import Greenlet
from gevent_c.hub import GreenletExit
from gevent_c.hub import sleep
from gevent_c.local import local as _local
from gevent_c.lock import BoundedSemaphore
from gevent_c.lock import Semaphore

_PY313 = sys.version_info[:2] >= (3, 13)

__target__ = '_thread'
__implements__ = ['allocate_lock', 'get_ident', 'exit', 'LockType', 'stack_size',
                  'start_new_thread', '_local']
if _PY313:
    __implements__ += ['start_joinable_thread', 'lock', '_ThreadHandle', '_make_thread_handle']
__extensions__ = []
# Native locks and handles made before patching keep working (only a lock
# held across a greenlet switch would block; monkey cannot tell). A native
# thread-local made earlier would be shared by every greenlet of the thread.
__early_safe__ = ['LockType', 'lock', '_ThreadHandle']
__imports__ = [name for name in ('error', 'TIMEOUT_MAX', 'allocate', 'exit_thread',
                                 'interrupt_main', 'start_new', 'get_native_id',
                                 'daemon_threads_allowed', 'RLock', 'set_name')
               if hasattr(_native, name)]
for _name in __imports__:
    globals()[_name] = getattr(_native, _name)
del _name
__all__ = [name for name in __implements__ if name != '_local'] + __imports__

error = _native.error
_native_local = _native._local     # _native._local itself is replaced when patched


def get_ident(gr=None):
    """The identity of greenlet *gr* (default: the current one): ``id(gr)``."""
    if gr is None:
        try:
            gr = getcurrent()
        except RuntimeError:
            # very late in interpreter shutdown there may be no greenlet
            gr = None
    return id(gr)


def _run_as_thread(function, args, kwargs):
    # As a native thread: SystemExit ends it quietly; anything else is
    # reported (by the hub) and ends it.
    try:
        function(*args, **kwargs)
    except SystemExit:
        pass


def _spawn(function, args, kwargs):
    if not callable(function):
        raise TypeError('first arg must be callable')
    if not isinstance(args, tuple):
        raise TypeError('2nd arg must be a tuple')
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError('optional 3rd arg must be a dictionary')
    return Greenlet.spawn(_run_as_thread, function, args, kwargs or {})


def start_new_thread(function, args=(), kwargs=None):
    """Run ``function(*args, **kwargs)`` in a new greenlet; return its ident."""
    return get_ident(_spawn(function, args, kwargs))


def exit():  # noqa: A001 -- the stdlib's name
    """End the current "thread" (greenlet) quietly."""
    raise GreenletExit


_sem_acquire = Semaphore.acquire    # the C methods, called directly: fewer frames
_sem_release = Semaphore.release


class LockType(BoundedSemaphore):
    """A cooperative ``_thread.lock``: acquire blocks the greenlet, not the thread.

    ``acquire(blocking=True, timeout=-1)`` and ``release()`` have the stdlib's
    signature, errors and messages; it may be released by another greenlet
    (or thread) than the one that acquired it, as a native lock may.
    """

    def __init__(self):
        BoundedSemaphore.__init__(self, 1)

    def __init_subclass__(cls, **kwargs):
        raise TypeError("type '_thread.lock' is not an acceptable base type")

    def __repr__(self):
        return '<%s %s object at %#x>' % ('locked' if self.counter <= 0 else 'unlocked',
                                          type(self).__name__, id(self))

    def acquire(self, blocking=True, timeout=-1):
        """Acquire the lock; True on success, False if not blocking or timed out."""
        if timeout == -1:
            timeout = None
        if not blocking and timeout is not None:
            raise ValueError("can't specify a timeout for a non-blocking call")
        if timeout is not None:
            if timeout < 0:
                raise ValueError('timeout value must be a non-negative number')
            if timeout > _native.TIMEOUT_MAX:
                raise OverflowError('timeout value is too large')
        try:
            acquired = _sem_acquire(self, blocking, timeout)
        except LoopExit:
            # Nothing else in this thread can run to release it.
            if blocking:
                raise
            acquired = False
        if not acquired and not blocking and getcurrent() is not get_hub_if_exists():
            # Let the holder run: a spin loop on acquire(False) makes progress.
            sleep()
        return acquired

    acquire_lock = acquire

    def release(self):
        """Release the lock; RuntimeError if it is not locked."""
        if self.counter > 0:
            raise error('release unlocked lock')
        _sem_release(self)

    release_lock = release
    locked_lock = BoundedSemaphore.locked

    def __enter__(self):
        return _sem_acquire(self)

    def __exit__(self, t, v, tb):
        if self.counter > 0:
            raise error('release unlocked lock')
        _sem_release(self)

    def _at_fork_reinit(self):
        # In a forked child only the forking greenlet's thread goes on:
        # the lock becomes free and nobody waits for it.
        self._links = []
        self._notifier = None
        self.counter = 1


# ext/core provides LockType in C (same API and rules): being C, its
# methods are invisible to sys.settrace, so trace functions may use locks
# (and threading.Lock, which is this after patching) without recursing.
LockType = getattr(_core, 'LockType', LockType)
allocate_lock = lock = LockType


_native_stack_size = getattr(_native, 'stack_size', None)


def stack_size(size=None):
    """The stack size for new native threads; greenlets share their thread's."""
    if size is None:
        return _native_stack_size()
    if size > _native_stack_size():
        return _native_stack_size(size)
    if size == 0:
        return 0
    if size < 32768:
        raise ValueError('size not valid: %d bytes' % size)
    # Shrinking would starve the greenlets of this thread: leave it.
    return _native_stack_size()


def _sentinel_for_current():
    """A lock released when the current greenlet ends (if held then).

    threading's Thread (< 3.13) acquires it as its "tstate lock": join() and
    is_alive() wait on it, as on the lock the interpreter releases when a
    native thread's state is deleted.
    """
    sentinel = LockType()
    glet = getcurrent()
    rawlink = getattr(glet, 'rawlink', None)
    if rawlink is None:
        return sentinel

    def greenlet_ended(_glet):
        if sentinel.locked():
            sentinel.release()
    rawlink(greenlet_ended)
    return sentinel


class _ThreadHandle:
    """The handle of a greenlet "thread" (3.13's ``_thread._ThreadHandle``).

    ``join(timeout)`` waits cooperatively for the greenlet to end, and
    ``is_done()`` says whether it has; ``ident`` is its ``get_ident``.
    """

    def __init__(self, *args, **kwargs):
        # The stdlib's constructor accepts and ignores any arguments.
        self._ident = None
        self._glet = None
        self._done = _Event()

    def __repr__(self):
        return '<%s.%s object: ident=%r>' % (__name__, type(self).__name__, self._ident)

    def _set_greenlet(self, glet):
        from weakref import ref
        self._ident = get_ident(glet)
        self._glet = ref(glet)
        rawlink = getattr(glet, 'rawlink', None)
        if rawlink is not None:
            if glet.dead:
                self._done.set()
            else:
                rawlink(lambda _glet: self._done.set())

    @property
    def ident(self):
        return self._ident

    def is_done(self):
        return self._done.is_set()

    def join(self, timeout=None):
        if self._glet is None:
            raise RuntimeError('thread not started')
        if timeout is not None and timeout < 0:
            timeout = None
        if self._glet() is getcurrent() and not self._done.is_set():
            raise RuntimeError('Cannot join current thread')
        self._done.wait(timeout)

    def _set_done(self):
        if self._glet is None:
            raise RuntimeError('thread not started')
        self._done.set()


def start_joinable_thread(function, handle=None, daemon=True):
    """Start ``function()`` in a new greenlet; return its :class:`_ThreadHandle`.

    threading (3.13+) uses it; *daemon* is threading's business (its
    _shutdown joins the non-daemon threads).
    """
    if handle is None:
        handle = _ThreadHandle()
    elif not isinstance(handle, _ThreadHandle):
        raise TypeError('handle must be a _ThreadHandle')
    elif handle._glet is not None:
        raise RuntimeError('thread already started')
    handle._set_greenlet(_spawn(function, (), None))
    return handle


def _gevent_replace_early_object(obj):
    """monkey's hook for a ``threading.local()`` a module made before
    patching: unused yet, it becomes greenlet-local; otherwise None (kept,
    and reported: its values would be shared by all greenlets)."""
    if type(obj) is _native_local and not obj.__dict__:
        return _local()
    return None


def _make_thread_handle(ident=None):
    """A handle for the current greenlet (threading makes one for the main
    thread, dummy threads and after fork)."""
    handle = _ThreadHandle()
    handle._set_greenlet(getcurrent())
    return handle
