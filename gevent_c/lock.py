"""Semaphores and locks for greenlets.

:class:`Semaphore` and :class:`BoundedSemaphore` block the calling greenlet
(not the thread) until a slot is free; blocked waiters get slots in the
order they asked (``acquire(blocking=False)`` takes any free slot). :class:`RLock` is a reentrant lock owned by a greenlet.
:class:`DummySemaphore` never blocks. All are context managers::

    sem = Semaphore(2)
    with sem:
        ...   # at most two greenlets here at once
"""
from gevent_c._abstract_linkable import AbstractLinkable
from gevent_c._greenlet import getcurrent
from gevent_c import _core
# native, whatever monkey-patching does to _thread later
from _thread import allocate_lock as _native_allocate_lock

__all__ = ['Semaphore', 'BoundedSemaphore', 'DummySemaphore', 'RLock']


class Semaphore(AbstractLinkable):
    """A counter of free slots: ``acquire`` takes one (blocking while none),
    ``release`` returns one and wakes the longest waiting greenlet.

    ``acquire(blocking=True, timeout=None)`` returns True, or False when not
    blocking or after *timeout* seconds without a slot.
    """

    __slots__ = ('counter',)
    _notify_all = False

    def __init__(self, value=1, hub=None):
        if value < 0:
            raise ValueError('semaphore initial value must be >= 0')
        AbstractLinkable.__init__(self, hub)
        self.counter = value

    def __repr__(self):
        return '<%s at %#x counter=%s _links[%d]>' % (type(self).__name__, id(self),
                                                       self.counter, len(self._links))

    def locked(self):
        """True if ``acquire`` would block."""
        return self.counter <= 0

    def ready(self):
        """True if ``acquire`` would not block."""
        return self.counter > 0

    def release(self):
        """Return a slot and wake the next waiter; returns the new counter."""
        self.counter += 1
        self._check_and_notify()
        return self.counter

    def wait(self, timeout=None):
        """Block until a slot is free (without taking it); return the counter."""
        if self.counter > 0:
            return self.counter
        self._wait_core(timeout)
        return self.counter

    def acquire(self, blocking=True, timeout=None):
        """Take a slot; True on success, False if not blocking or timed out."""
        # a free slot is taken at once, even with greenlets queued (as in
        # ext/core/hub/linkable.c)
        if self.counter > 0:
            self.counter -= 1
            return True
        if not blocking:
            return False
        if timeout is not None and timeout < 0:
            timeout = 0
        while True:
            if not self._wait_core(timeout):
                return False
            if self.counter > 0:
                self.counter -= 1
                return True

    def __enter__(self):
        self.acquire()

    def __exit__(self, t, v, tb):
        self.release()


# ext/core provides Semaphore in C (same methods, attributes and rules).
Semaphore = getattr(_core, 'Semaphore', Semaphore)


def _acquire_from_other_thread(sem, timeout):
    """``sem.acquire()`` that has to wait, in a thread other than sem.hub's.

    Only the owning hub's thread touches the semaphore: a link run there
    takes the slot for this thread and wakes it, through an async watcher
    of this thread's hub if it has one (its other greenlets keep running),
    through a native lock otherwise. Called by the C Semaphore.acquire.
    """
    from gevent_c._hub_local import get_hub_if_exists
    owner, mine = sem.hub, get_hub_if_exists()
    guard = _native_allocate_lock()
    state = [None]                   # None: waiting; True: granted; False: gave up
    if mine is None:
        done = _native_allocate_lock()
        done.acquire()
        wake = done.release
    else:
        from gevent_c.hub import Waiter
        waiter = Waiter(mine)
        watcher = mine.loop.async_()
        watcher.start(waiter.switch, True)
        wake = watcher.send

    def grant(s):
        with guard:
            if state[0] is not None:
                return
            if s.counter <= 0:       # taken by a greenlet of the owner first
                s.rawlink(grant)
                return
            s.counter -= 1
            state[0] = True
        wake()

    owner.loop.run_callback_threadsafe(sem.rawlink, grant)
    try:
        if mine is None:
            done.acquire(True, -1 if timeout is None else max(timeout, 0))
        else:
            from gevent_c.timeout import Timeout
            with Timeout._start_new_or_dummy(timeout, False):
                waiter.get()
    finally:
        if mine is not None:
            watcher.close()
        with guard:
            granted = state[0] is True
            state[0] = granted
    if not granted:
        owner.loop.run_callback_threadsafe(sem.unlink, grant)
    return granted


class BoundedSemaphore(Semaphore):
    """A Semaphore whose ``release`` raises ValueError past its initial value."""

    __slots__ = ('_initial_value',)

    def __init__(self, value=1, hub=None):
        Semaphore.__init__(self, value, hub)
        self._initial_value = value

    def release(self):
        if self.counter >= self._initial_value:
            raise ValueError('Semaphore released too many times')
        return Semaphore.release(self)


# ext/core provides BoundedSemaphore in C too (same methods and attributes).
BoundedSemaphore = getattr(_core, 'BoundedSemaphore', BoundedSemaphore)


class DummySemaphore:
    """A semaphore with unlimited slots: never blocks (for ``Pool(size=None)``)."""

    __slots__ = ()
    counter = 1

    def __init__(self, value=None):
        pass

    def __repr__(self):
        return '<%s>' % (type(self).__name__,)

    def locked(self):
        return False

    def ready(self):
        return True

    def release(self):
        return 1

    def rawlink(self, callback):
        raise AssertionError('DummySemaphore cannot be linked')

    def unlink(self, callback):
        pass

    def wait(self, timeout=None):
        return 1

    def acquire(self, blocking=True, timeout=None):
        return True

    def __enter__(self):
        pass

    def __exit__(self, t, v, tb):
        pass


class RLock:
    """A reentrant lock owned by the greenlet that acquired it.

    ``release`` by a greenlet that does not own it raises RuntimeError.
    """

    __slots__ = ('_block', '_owner', '_count', '__weakref__')

    def __init__(self, hub=None):
        self._block = Semaphore(1, hub)
        self._owner = None
        self._count = 0

    def __repr__(self):
        return '<%s at %#x _block=%s _count=%r _owner=%r>' % (
            type(self).__name__, id(self), self._block, self._count, self._owner)

    def acquire(self, blocking=True, timeout=None):
        """Acquire (or re-acquire) the lock; see Semaphore.acquire."""
        me = getcurrent()
        if self._owner is me:
            self._count += 1
            return True
        if self._block.acquire(blocking, timeout):
            self._owner = me
            self._count = 1
            return True
        return False

    def release(self):
        """Release one level; the lock is free when the count reaches 0."""
        if self._owner is not getcurrent():
            raise RuntimeError('cannot release un-acquired lock')
        self._count -= 1
        if not self._count:
            self._owner = None
            self._block.release()

    def locked(self):
        return self._block.locked()

    def _is_owned(self):
        return self._owner is getcurrent()

    # threading.Condition support
    def _acquire_restore(self, count_owner):
        count, owner = count_owner
        self._block.acquire()
        self._count = count
        self._owner = owner

    def _release_save(self):
        count, owner = self._count, self._owner
        self._count = 0
        self._owner = None
        self._block.release()
        return count, owner

    def __enter__(self):
        return self.acquire()

    def __exit__(self, t, v, tb):
        self.release()


# ext/core provides RLock in C (same methods, attributes and rules).
RLock = getattr(_core, 'RLock', RLock)
