"""Queues for passing items between greenlets.

The classes mirror the stdlib ``queue`` module (``put``/``get`` with *block*
and *timeout*, ``task_done``/``join``, 3.13's ``shutdown``), but a blocked
call blocks only the calling greenlet. Blocked getters and putters are served
first come, first served. Extras: :class:`Channel` (an unbuffered
rendezvous), ``peek``, iteration (stops at a ``StopIteration`` item)::

    q = Queue()
    gevent_c.spawn(q.put, 'x')
    q.get()          # -> 'x'

``Empty`` and ``Full`` are the stdlib classes; ``ShutDown`` is the stdlib one
on 3.13+.
"""
import collections
import heapq
import queue as _stdlib_queue
import sys
import types

from gevent_c._greenlet import getcurrent
from gevent_c._hub_local import get_hub
from gevent_c.event import Event
from gevent_c.exceptions import InvalidSwitchError
from gevent_c.hub import Waiter
from gevent_c.timeout import Timeout
from gevent_c import _core

# ext/core provides the queues' storage and non-blocking put/get in C; the
# Python methods below then serve as the slow paths (_put_slow/_get_slow).
_CQueueBase = getattr(_core, 'QueueBase', None)

Empty = _stdlib_queue.Empty
Full = _stdlib_queue.Full

if hasattr(_stdlib_queue, 'ShutDown'):
    ShutDown = _stdlib_queue.ShutDown
    __extensions__ = ['JoinableQueue', 'Channel', 'UnboundQueue']
else:
    class ShutDown(Exception):
        """Raised by put/get on a queue that was shut down (stdlib 3.13 name)."""

    __extensions__ = ['JoinableQueue', 'Channel', 'UnboundQueue', 'ShutDown']

__implements__ = ['Queue', 'PriorityQueue', 'LifoQueue', 'SimpleQueue']
__imports__ = ['Empty', 'Full'] + (['ShutDown'] if 'ShutDown' not in __extensions__ else [])
__all__ = __implements__ + __extensions__ + __imports__
# Queues of these stdlib classes made before monkey.patch_all() work: the
# thread patch gives their (idle) Conditions cooperative locks.
__early_safe__ = ['Queue', 'PriorityQueue', 'LifoQueue']


class _TimedOut:
    __slots__ = ()


_TIMED_OUT = _TimedOut()


class ItemWaiter(Waiter):
    """A Waiter for a blocked ``put``, carrying the item to store."""

    __slots__ = ('item', 'queue')

    def __init__(self, item, queue):
        Waiter.__init__(self, queue.hub)
        self.item = item
        self.queue = queue

    def put_and_switch(self):
        self.queue._put(self.item)
        self.queue._did_put_task()
        self.queue = None
        self.item = None
        return self.switch(self)


# ext/core provides the same class in C.
ItemWaiter = getattr(_core, 'ItemWaiter', ItemWaiter)


def _safe_remove(deq, item):
    # usually already taken by _unlock; a failing remove() costs an exception
    if item in deq:
        deq.remove(item)


def _start_timer(hub, timeout, switch):
    """A started timer that switches _TIMED_OUT after *timeout* seconds; or
    *timeout* itself, started, when it is a Timeout (it raises itself, as in
    gevent). The caller closes what it gets."""
    if not isinstance(timeout, (float, int)) and isinstance(timeout, Timeout):
        if not timeout.pending:
            timeout.start()
        return timeout
    timer = hub.loop.timer(timeout)
    timer.start(switch, _TIMED_OUT, update=True)
    return timer


class _Unlocking:
    """What SimpleQueue and Channel share: one ``_unlock`` callback per batch
    of hand-offs, and iteration until a ``StopIteration`` item is got."""

    __slots__ = ()

    def _schedule_unlock(self):
        if self._event_unlock is None:
            self._event_unlock = self.hub.loop.run_callback(self._unlock)

    def __iter__(self):
        return self

    def __next__(self):
        result = self.get()
        if result is StopIteration:
            raise result
        return result


# QueueBase (C), when present, comes before _Unlocking so its fast
# _schedule_unlock takes precedence.
_SIMPLEQUEUE_BASES = (_CQueueBase, _Unlocking) if _CQueueBase is not None else (_Unlocking,)


class SimpleQueue(*_SIMPLEQUEUE_BASES):
    """A FIFO queue, unbounded unless *maxsize* > 0.

    ``put`` blocks while the queue is full, ``get`` while it is empty; with
    *timeout* they raise Full/Empty after that many seconds.
    """

    __slots__ = ('_maxsize', 'getters', 'putters', 'hub', '_event_unlock', 'queue',
                 'is_shutdown', '__weakref__') if _CQueueBase is None else ()

    __class_getitem__ = classmethod(types.GenericAlias)

    #: True while the stdlib bottleneck methods are the deque-based ones, so
    #: put/get may touch ``self.queue`` directly.
    _fast = True
    _BOTTLENECKS = ('_init', '_get', '_peek', '_put', '_qsize')

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if any(name in cls.__dict__ for name in cls._BOTTLENECKS):
            cls._fast = False

    def __init__(self, maxsize=None, items=()):
        if maxsize is not None and maxsize <= 0:
            maxsize = None
        self._maxsize = -1 if maxsize is None else maxsize
        self.getters = collections.deque()
        self.putters = collections.deque()
        self.hub = get_hub()
        self._event_unlock = None
        self.is_shutdown = False
        if items:
            self._init(maxsize, items)
        else:
            self._init(maxsize)  # stdlib-style subclasses define _init(self, maxsize)

    # The stdlib's four bottleneck methods, overridden by subclasses.
    def _init(self, maxsize, items=()):
        self.queue = collections.deque(items)

    def _get(self):
        return self.queue.popleft()

    def _peek(self):
        return self.queue[0]

    def _put(self, item):
        self.queue.append(item)

    def _qsize(self):
        return len(self.queue)

    @property
    def maxsize(self):
        return self._maxsize if self._maxsize > 0 else None

    @maxsize.setter
    def maxsize(self, value):
        self._maxsize = -1 if value is None or value <= 0 else value

    def copy(self):
        return type(self)(self.maxsize, self.queue)

    def __repr__(self):
        return '<%s at %#x%s>' % (type(self).__name__, id(self), self._format())

    def __str__(self):
        return '<%s%s>' % (type(self).__name__, self._format())

    def _format(self):
        result = []
        if self.maxsize is not None:
            result.append('maxsize=%r' % (self.maxsize,))
        if getattr(self, 'queue', None):
            result.append('queue=%r' % (self.queue,))
        if self.getters:
            result.append('getters[%s]' % len(self.getters))
        if self.putters:
            result.append('putters[%s]' % len(self.putters))
        return (' ' + ' '.join(result)) if result else ''

    def qsize(self):
        """Number of items in the queue."""
        return self._qsize()

    def __len__(self):
        return self._qsize()

    def __bool__(self):
        return True

    def empty(self):
        return not self._qsize()

    def full(self):
        return self._maxsize > 0 and self._qsize() >= self._maxsize

    def _did_put_task(self):
        pass

    def put(self, item, block=True, timeout=None):
        """Put *item*, blocking while full; Full if not *block* or after *timeout*."""
        if self.is_shutdown:
            raise ShutDown
        maxsize = self._maxsize
        if maxsize == -1 or self._qsize() < maxsize:
            self._put(item)
            self._did_put_task()
            if self.getters:
                self._schedule_unlock()
            return
        hub = self.hub
        if hub is getcurrent():
            # The hub cannot block: hand items to waiting getters to make room.
            while self.getters and self._qsize() and self._qsize() >= maxsize:
                getter = self.getters.popleft()
                getter.switch(getter)
            if self._qsize() < maxsize:
                self._put(item)
                self._did_put_task()
                return
            raise Full
        if not block:
            raise Full
        waiter = ItemWaiter(item, self)
        self.putters.append(waiter)
        timer = None if timeout is None else _start_timer(hub, timeout, waiter.switch)
        try:
            if self.getters:
                self._schedule_unlock()
            result = waiter.get()
            if result is _TIMED_OUT:
                raise Full
            if result is not waiter:
                raise InvalidSwitchError('Invalid switch into Queue.put: %r' % (result,))
        finally:
            if timer is not None:
                timer.close()
            _safe_remove(self.putters, waiter)

    def put_nowait(self, item):
        self.put(item, False)

    def _get_or_peek(self, method, block, timeout):
        if self._qsize():
            if self.putters:
                self._schedule_unlock()
            return method()
        if self.is_shutdown:
            raise ShutDown
        hub = self.hub
        if hub is getcurrent():
            # The hub cannot block: take an item from a waiting putter, if any.
            while self.putters:
                self.putters.popleft().put_and_switch()
                if self._qsize():
                    return method()
            raise Empty
        if not block:
            raise Empty
        if timeout is not None and not isinstance(timeout, Timeout) and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        waiter = Waiter(hub)
        timer = None if timeout is None else _start_timer(hub, timeout, waiter.switch)
        try:
            self.getters.append(waiter)
            if self.putters:
                self._schedule_unlock()
            result = waiter.get()
            if result is _TIMED_OUT:
                raise Empty
            if result is not waiter:
                raise InvalidSwitchError('Invalid switch into Queue.get: %r' % (result,))
            return method()
        finally:
            if timer is not None:
                timer.close()
            _safe_remove(self.getters, waiter)

    def get(self, block=True, timeout=None):
        """Remove and return an item, blocking while empty; Empty on timeout."""
        if self._fast and self.queue and not self.putters:
            return self.queue.popleft()
        return self._get_or_peek(self._get, block, timeout)

    def get_nowait(self):
        return self._get_or_peek(self._get, False, None)

    def peek(self, block=True, timeout=None):
        """Return the next item without removing it (blocking like get)."""
        return self._get_or_peek(self._peek, block, timeout)

    def peek_nowait(self):
        return self._get_or_peek(self._peek, False, None)

    def _unlock(self):
        self._event_unlock = None
        while True:
            repeat = False
            if self.putters and (self._maxsize == -1 or self._qsize() < self._maxsize):
                repeat = True
                putter = self.putters.popleft()
                try:
                    self._put(putter.item)
                    self._did_put_task()
                except:  # noqa: E722 -- _put of a subclass failed: raise it in the putter
                    putter.throw(*sys.exc_info())
                else:
                    putter.switch(putter)
            if self.getters and self._qsize():
                repeat = True
                getter = self.getters.popleft()
                getter.switch(getter)
            if not repeat:
                return


class Queue(SimpleQueue):
    """A SimpleQueue with ``task_done``/``join`` and ``shutdown`` (3.13 API)."""

    __slots__ = ('_cond', 'unfinished_tasks') if _CQueueBase is None else ()

    def __init__(self, maxsize=None, items=(), unfinished_tasks=None):
        self._cond = Event()
        self._cond.set()
        self.unfinished_tasks = 0
        SimpleQueue.__init__(self, maxsize, items)
        if unfinished_tasks:
            self.unfinished_tasks = unfinished_tasks
        elif items:
            self.unfinished_tasks = len(items)
        if self.unfinished_tasks:
            self._cond.clear()

    def copy(self):
        return type(self)(self.maxsize, self.queue, self.unfinished_tasks)

    def _format(self):
        result = SimpleQueue._format(self)
        if self.unfinished_tasks:
            result += ' tasks=%s' % (self.unfinished_tasks,)
        return result

    def _did_put_task(self):
        self.unfinished_tasks += 1
        if self.unfinished_tasks == 1:
            self._cond.clear()

    def put(self, item, block=True, timeout=None):
        """Put *item*, blocking while full; Full if not *block* or after *timeout*."""
        if self._fast and not self.is_shutdown:
            queue = self.queue
            maxsize = self._maxsize
            if maxsize == -1 or len(queue) < maxsize:
                queue.append(item)
                self.unfinished_tasks += 1
                if self.unfinished_tasks == 1:
                    self._cond.clear()
                if self.getters:
                    self._schedule_unlock()
                return
        SimpleQueue.put(self, item, block, timeout)

    def task_done(self):
        """Mark one item got earlier as processed (for ``join``)."""
        if self.unfinished_tasks <= 0:
            raise ValueError('task_done() called too many times')
        self.unfinished_tasks -= 1
        if self.unfinished_tasks == 0:
            self._cond.set()

    def join(self, timeout=None):
        """Block until every item put was marked done; False after *timeout*."""
        return self._cond.wait(timeout=timeout)

    def shutdown(self, immediate=False):
        """Make puts (and, once empty, gets) raise ShutDown; wake every waiter.

        With *immediate*, drop the remaining items (marking them done) so gets
        raise at once.
        """
        self.is_shutdown = True
        if immediate:
            while self._qsize():
                self._get()
                if self.unfinished_tasks > 0:
                    self.unfinished_tasks -= 1
            if self.unfinished_tasks == 0:
                self._cond.set()
        waiters = list(self.getters) + list(self.putters)
        self.getters.clear()
        self.putters.clear()
        run_callback = self.hub.loop.run_callback
        for waiter in waiters:
            run_callback(waiter.throw, ShutDown)


if _CQueueBase is not None:
    # QueueBase.put/get take the fast paths and call these for the rest
    # (blocking, handing over to waiters, subclasses' bottleneck methods,
    # Queue's task counting included).
    SimpleQueue._put_slow = SimpleQueue.put
    del SimpleQueue.put
    del Queue.put

    def _get_slow(self, block=True, timeout=None):
        return self._get_or_peek(self._get, block, timeout)

    SimpleQueue._get_slow = _get_slow
    del SimpleQueue.get, _get_slow
    # the C _unlock serves deque-based queues and calls this for the others
    SimpleQueue._unlock_slow = SimpleQueue._unlock
    del SimpleQueue._unlock

JoinableQueue = Queue


class UnboundQueue(Queue):
    """A Queue that can never be bounded (``put`` never blocks)."""

    __slots__ = ()

    def __init__(self, maxsize=None, items=()):
        if maxsize is not None:
            raise ValueError('UnboundQueue has no maxsize')
        Queue.__init__(self, maxsize, items)

    @property
    def maxsize(self):
        return None

    @maxsize.setter
    def maxsize(self, value):
        pass  # always unbounded


class PriorityQueue(Queue):
    """A Queue that returns the lowest item first (``(priority, data)`` tuples)."""

    __slots__ = ()

    def _init(self, maxsize, items=()):
        self.queue = list(items)
        heapq.heapify(self.queue)

    def _put(self, item, heappush=heapq.heappush):
        heappush(self.queue, item)

    def _get(self, heappop=heapq.heappop):
        return heappop(self.queue)


class LifoQueue(Queue):
    """A Queue that returns the most recently added item first."""

    __slots__ = ()

    def _init(self, maxsize, items=()):
        self.queue = list(items)

    def _put(self, item):
        self.queue.append(item)

    def _get(self):
        return self.queue.pop()

    def _peek(self):
        return self.queue[-1]


class Channel(_Unlocking):
    """An unbuffered queue: ``put`` blocks until a ``get`` takes the item."""

    __slots__ = ('getters', 'putters', 'hub', '_event_unlock', '__weakref__')

    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, maxsize=1):
        if maxsize != 1:
            raise ValueError('Channels have a maxsize of 1')
        self.getters = collections.deque()
        self.putters = collections.deque()
        self.hub = get_hub()
        self._event_unlock = None

    def __repr__(self):
        return '<%s at %#x getters[%d] putters[%d]>' % (
            type(self).__name__, id(self), len(self.getters), len(self.putters))

    @property
    def balance(self):
        return len(self.putters) - len(self.getters)

    def qsize(self):
        return 0

    def empty(self):
        return True

    def full(self):
        return True

    def put(self, item, block=True, timeout=None):
        """Hand *item* to a getter, blocking until one takes it."""
        hub = self.hub
        if hub is getcurrent():
            if self.getters:
                self.getters.popleft().switch(item)
                return
            raise Full
        if not block:
            timeout = 0
        waiter = Waiter(hub)
        entry = (item, waiter)
        self.putters.append(entry)
        timer = None if timeout is None else _start_timer(hub, timeout, waiter.switch)
        try:
            if self.getters:
                self._schedule_unlock()
            result = waiter.get()
            if result is _TIMED_OUT:
                raise Full
            if result is not waiter:
                raise InvalidSwitchError('Invalid switch into Channel.put: %r' % (result,))
        except:  # noqa: E722 -- timed out or killed: withdraw the item
            _safe_remove(self.putters, entry)
            raise
        finally:
            if timer is not None:
                timer.close()

    def put_nowait(self, item):
        self.put(item, False)

    def get(self, block=True, timeout=None):
        """Take an item from a putter, blocking until one comes."""
        hub = self.hub
        if hub is getcurrent():
            if self.putters:
                item, putter = self.putters.popleft()
                hub.loop.run_callback(putter.switch, putter)
                return item
            raise Empty
        if not block:
            timeout = 0
        waiter = Waiter(hub)
        timer = None if timeout is None else _start_timer(hub, timeout, waiter.switch)
        try:
            self.getters.append(waiter)
            if self.putters:
                self._schedule_unlock()
            result = waiter.get()
            if result is _TIMED_OUT:
                raise Empty
            return result
        except:  # noqa: E722
            _safe_remove(self.getters, waiter)
            raise
        finally:
            if timer is not None:
                timer.close()

    def get_nowait(self):
        return self.get(False)

    def _unlock(self):
        self._event_unlock = None
        while self.putters and self.getters:
            getter = self.getters.popleft()
            item, putter = self.putters.popleft()
            getter.switch(item)
            putter.switch(putter)
