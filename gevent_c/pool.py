"""Groups and pools of greenlets.

:class:`Group` tracks greenlets so they can be joined or killed together.
:class:`Pool` is a Group with at most *size* members: ``spawn`` blocks while
it is full. Both offer ``multiprocessing.Pool``-style mapping (``map``,
``imap`` with results in input order, ``imap_unordered``, ``apply*``)::

    pool = Pool(10)
    pool.map(fetch, urls)    # at most 10 fetches at a time, results in order
"""
from gevent_c._greenlet import getcurrent
from gevent_c._greenlet import GreenletExit
from gevent_c.event import Event
from gevent_c.greenlet import Greenlet
from gevent_c.greenlet import joinall
from gevent_c.hub import kill as _kill
from gevent_c.lock import DummySemaphore
from gevent_c.lock import Semaphore
from gevent_c.queue import Full as QueueFull
from gevent_c.queue import UnboundQueue
from gevent_c.timeout import Timeout

__all__ = ['Group', 'Pool', 'PoolFull']


class _Failure:
    __slots__ = ('exc', 'raise_exception')

    def __init__(self, exc, raise_exception=None):
        self.exc = exc
        self.raise_exception = raise_exception

    def reraise(self):
        if self.raise_exception is not None:
            self.raise_exception()
        raise self.exc


class _End:
    __slots__ = ()


_END = _End()


class IMapUnordered(Greenlet):
    """Iterator over ``func(item)`` results as they finish (a greenlet that spawns)."""

    def __init__(self, func, iterable, spawn, maxsize=None, _zipped=False):
        Greenlet.__init__(self)
        self.func = func
        self.iterable = iterable
        self.spawn = spawn
        self._zipped = _zipped
        self.queue = UnboundQueue()
        # Bounds the results finished but not yet consumed (back-pressure).
        self._result_semaphore = Semaphore(maxsize) if maxsize else DummySemaphore()
        self.count = 0
        self.index = 0
        self.finished = False
        # one bound method for every item's link, and the items' indexes
        # here rather than in a __dict__ made on each greenlet
        self._on_result_link = self._on_result
        self._indexes = {}
        self.rawlink(self._on_finish)

    def __iter__(self):
        return self

    def __next__(self):
        self._result_semaphore.release()
        value = self._inext()
        if isinstance(value, _Failure):
            value.reraise()
        return value

    def _inext(self):
        value = self.queue.get()
        if value is _END:
            raise StopIteration
        return value

    def _ispawn(self, func, item, index):
        self._result_semaphore.acquire()
        self.count += 1
        glet = self.spawn(func, *item) if self._zipped else self.spawn(func, item)
        self._indexes[glet] = index
        glet.rawlink(self._on_result_link)
        return glet

    def _run(self):
        func = self.func
        index = 0
        try:
            for item in self.iterable:
                self._ispawn(func, item, index)
                index += 1
        finally:
            self.index = index
            self.spawn = self.func = self.iterable = None

    def _on_result(self, glet):
        self.count -= 1
        index = self._indexes.pop(glet, None)
        if glet.successful():
            self.queue.put(self._value_for_success(glet, index))
        else:
            self.queue.put(self._value_for_failure(glet, index))
        if self.ready() and self.count <= 0 and not self.finished:
            self.finished = True
            self.queue.put(self._value_for_finished())

    def _on_finish(self, _self):
        if self.finished:
            return
        if not self.successful():
            self.finished = True
            self.queue.put(self._value_for_self_failure())
            return
        if self.count <= 0:
            self.finished = True
            self.queue.put(self._value_for_finished())

    def _value_for_success(self, glet, index):
        return glet.value

    def _value_for_failure(self, glet, index):
        return _Failure(glet.exception, glet._raise_exception)

    def _value_for_finished(self):
        return _END

    def _value_for_self_failure(self):
        return _Failure(self.exception, self._raise_exception)


class IMap(IMapUnordered):
    """Like IMapUnordered, but yields results in input order."""

    def __init__(self, *args, **kwargs):
        self._results = {}
        self.waiting_for = 0
        IMapUnordered.__init__(self, *args, **kwargs)

    def _inext(self):
        results = self._results
        want = self.waiting_for
        while want not in results:
            index, value = self.queue.get()
            results[index] = value
        value = results.pop(want)
        if value is _END:
            results[want] = value  # stay exhausted
            raise StopIteration
        self.waiting_for = want + 1
        return value

    def _value_for_success(self, glet, index):
        return (index, glet.value)

    def _value_for_failure(self, glet, index):
        return (index, _Failure(glet.exception, glet._raise_exception))

    def _value_for_finished(self):
        return (self.index, _END)

    def _value_for_self_failure(self):
        return (self.index, _Failure(self.exception, self._raise_exception))


class _BoundOnce:
    """A class attribute that, on first access, stores the bound method
    *method* in the instance's dict under *name* (non-data descriptor: later
    reads find the dict entry and never come here)."""

    def __init__(self, name, method):
        self.name = name
        self.method = method

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        bound = getattr(instance, self.method)
        instance.__dict__[self.name] = bound
        return bound


class GroupMappingMixin:
    """``apply``/``map``/``imap`` on top of ``spawn``."""

    def spawn(self, func, *args, **kwargs):
        raise NotImplementedError

    def _apply_immediately(self):
        # apply() from one of our own greenlets runs inline: spawning could
        # deadlock on a full pool.
        return getcurrent() in self

    def _apply_async_use_greenlet(self):
        return self.full()

    def apply_cb(self, func, args=None, kwds=None, callback=None):
        """apply, then ``callback(result)`` if given."""
        result = self.apply(func, args, kwds)
        if callback is not None:
            Greenlet.spawn(callback, result)
        return result

    def apply_async(self, func, args=None, kwds=None, callback=None):
        """Spawn ``func(*args, **kwds)``; return its greenlet (never blocks)."""
        if args is None:
            args = ()
        if kwds is None:
            kwds = {}
        if self._apply_async_use_greenlet():
            # spawn() would block: let a helper greenlet wait for a slot.
            return Greenlet.spawn(self.apply_cb, func, args, kwds, callback)
        glet = self.spawn(func, *args, **kwds)
        if callback is not None:
            glet.link_value(lambda source: callback(source.value))
        return glet

    def apply(self, func, args=None, kwds=None):
        """Run ``func(*args, **kwds)`` in the group and return its result."""
        if args is None:
            args = ()
        if kwds is None:
            kwds = {}
        if self._apply_immediately():
            return func(*args, **kwds)
        return self.spawn(func, *args, **kwds).get()

    def map(self, func, iterable):
        """``[func(x) for x in iterable]``, computed concurrently, in order.

        As gevent does, a helper greenlet spawns one member per item (each
        spawn waiting for a free slot), then collects their results in input
        order; the first failure in that order is raised.
        """
        return Greenlet.spawn(self._map_all, func, iterable).get()

    def _map_all(self, func, iterable):
        spawn = self.spawn
        greenlets = [spawn(func, item) for item in iterable]
        return [greenlet.get() for greenlet in greenlets]

    def map_cb(self, func, iterable, callback=None):
        result = self.map(func, iterable)
        if callback is not None:
            callback(result)
        return result

    def map_async(self, func, iterable, callback=None):
        """map in a new greenlet; returns that greenlet."""
        return Greenlet.spawn(self.map_cb, func, iterable, callback)

    def _imap(self, cls, func, iterables, maxsize):
        if not callable(func):
            raise TypeError('func must be callable')
        if maxsize is not None and maxsize < 0:
            raise ValueError('maxsize must be >= 0 or None')
        maxsize = maxsize or None  # 0 means unbounded, as in gevent
        if len(iterables) == 1:
            iterable, zipped = iterables[0], False
        else:
            iterable, zipped = zip(*iterables), True
        return cls.spawn(func, iter(iterable), spawn=self.spawn, maxsize=maxsize, _zipped=zipped)

    def imap(self, func, *iterables, maxsize=None):
        """Iterator of ``func(*items)`` results in input order.

        At most *maxsize* results are held unconsumed (back-pressure).
        """
        return self._imap(IMap, func, iterables, maxsize)

    def imap_unordered(self, func, *iterables, maxsize=None):
        """Like imap, but yields results as they finish."""
        return self._imap(IMapUnordered, func, iterables, maxsize)


class Group(GroupMappingMixin):
    """A set of greenlets that leave it when they finish.

    ``join`` waits for all of them; ``kill`` kills all of them.
    """

    greenlet_class = Greenlet

    def __init__(self, *args):
        if len(args) > 1:
            raise TypeError('Group takes at most one iterable of greenlets')
        self.greenlets = set()
        self.dying = set()
        self._empty_event = Event()
        self._empty_event.set()
        for glet in (args[0] if args else ()):
            self.add(glet)

    def __repr__(self):
        return '<%s at %#x %s>' % (type(self).__name__, id(self), self.greenlets)

    def __len__(self):
        return len(self.greenlets)

    def __contains__(self, item):
        return item in self.greenlets

    def __iter__(self):
        return iter(self.greenlets)

    _discard_link = _BoundOnce('_discard_link', '_discard')

    def add(self, greenlet):
        """Track *greenlet* until it finishes."""
        rawlink = getattr(greenlet, 'rawlink', None)
        if rawlink is not None:
            rawlink(self._discard_link)
        self.greenlets.add(greenlet)
        self._empty_event.clear()

    def _discard(self, greenlet):
        self.greenlets.discard(greenlet)
        self.dying.discard(greenlet)
        if not self.greenlets:
            self._empty_event.set()

    def discard(self, greenlet):
        """Stop tracking *greenlet*."""
        self._discard(greenlet)
        unlink = getattr(greenlet, 'unlink', None)
        if unlink is not None:
            unlink(self._discard_link)

    def start(self, greenlet):
        """Add and start *greenlet*."""
        self.add(greenlet)
        greenlet.start()

    def spawn(self, *args, **kwargs):
        """Create a greenlet of ``greenlet_class``, add and start it."""
        greenlet = self.greenlet_class(*args, **kwargs)
        cls = type(self)
        attrs = self.__dict__
        if (cls.start is _GROUP_START and cls.add is _GROUP_ADD
                and 'start' not in attrs and 'add' not in attrs):
            # Group.start and Group.add, inline: one frame per spawn (looked
            # up each time: a subclass, or a patch of the class or of this
            # instance, may replace either)
            rawlink = getattr(greenlet, 'rawlink', None)
            if rawlink is not None:
                rawlink(self._discard_link)
            self.greenlets.add(greenlet)
            self._empty_event.clear()
            greenlet.start()
        else:
            self.start(greenlet)
        return greenlet

    def empty(self):
        return not self.greenlets

    def join(self, timeout=None, raise_error=False):
        """Wait until the group is empty; True if it is.

        With *raise_error*, raise the first error of a member that failed.
        """
        if raise_error:
            greenlets = list(self.greenlets)
            self._empty_event.wait(timeout=timeout)
            for greenlet in greenlets:
                if greenlet.exception is not None:
                    raise_exception = getattr(greenlet, '_raise_exception', None)
                    if raise_exception is not None:
                        raise_exception()
                    raise greenlet.exception
            return self.empty()
        return self._empty_event.wait(timeout=timeout)

    def kill(self, exception=GreenletExit, block=True, timeout=None):
        """Kill every member; with *block*, wait up to *timeout* for them."""
        timer = Timeout._start_new_or_dummy(timeout)
        try:
            while self.greenlets:
                for greenlet in list(self.greenlets):
                    if greenlet in self.dying:
                        continue
                    kill = getattr(greenlet, 'kill', None)
                    if kill is None:
                        _kill(greenlet, exception)
                    else:
                        kill(exception, block=False)
                    self.dying.add(greenlet)
                if not block:
                    break
                joinall(self.greenlets)
        except Timeout as ex:
            if ex is not timer:
                raise
        finally:
            timer.cancel()

    def killone(self, greenlet, exception=GreenletExit, block=True, timeout=None):
        """Kill one member."""
        if greenlet not in self.dying and greenlet in self.greenlets:
            greenlet.kill(exception, block=False)
            self.dying.add(greenlet)
            if block:  # only the call that kills it waits for it
                greenlet.join(timeout)

    def full(self):
        return False

    def wait_available(self, timeout=None):
        return None


class PoolFull(QueueFull):
    """A Pool was full and ``add``/``spawn`` was not allowed to block."""


class Pool(Group):
    """A Group of at most *size* greenlets (None: unlimited).

    ``spawn``/``add`` block while the pool is full (``PoolFull`` if not
    blocking or after *timeout*). Size 0 makes every ``spawn`` block forever.
    """

    def __init__(self, size=None, greenlet_class=None):
        if size is not None and size < 0:
            raise ValueError('size must not be negative: %r' % (size,))
        Group.__init__(self)
        self.size = size
        if greenlet_class is not None:
            self.greenlet_class = greenlet_class
        self._semaphore = DummySemaphore() if size is None else Semaphore(size)

    def wait_available(self, timeout=None):
        """Block until a slot is free (or *timeout*); return the free count."""
        return self._semaphore.wait(timeout=timeout)

    def full(self):
        return self.free_count() <= 0

    def free_count(self):
        """Number of greenlets that can be added without blocking."""
        if self.size is None:
            return 1
        return max(0, self.size - len(self))

    def start(self, greenlet, blocking=True, timeout=None):
        self.add(greenlet, blocking, timeout)
        greenlet.start()

    def spawn(self, *args, **kwargs):
        """Create a greenlet of ``greenlet_class``; add it (waiting for a
        free slot) and start it."""
        greenlet = self.greenlet_class(*args, **kwargs)
        cls = type(self)
        attrs = self.__dict__
        if (cls.start is _POOL_START and cls.add is _POOL_ADD
                and 'start' not in attrs and 'add' not in attrs):
            # Pool.start, Pool.add and Group.add, inline: one frame per spawn
            semaphore = self._semaphore
            if not semaphore.acquire():
                raise PoolFull()
            try:
                rawlink = getattr(greenlet, 'rawlink', None)
                if rawlink is not None:
                    rawlink(self._discard_link)
                self.greenlets.add(greenlet)
                self._empty_event.clear()
            except:  # noqa: E722
                semaphore.release()
                raise
            greenlet.start()
        else:
            self.start(greenlet)
        return greenlet

    def add(self, greenlet, blocking=True, timeout=None):
        """Add *greenlet*, blocking while full; PoolFull if that is not allowed."""
        if not self._semaphore.acquire(blocking=blocking, timeout=timeout):
            raise PoolFull()
        try:
            Group.add(self, greenlet)
        except:  # noqa: E722
            self._semaphore.release()
            raise

    def _discard(self, greenlet):
        # Group._discard, inline (this runs once per member)
        greenlets = self.greenlets
        was_member = greenlet in greenlets
        greenlets.discard(greenlet)
        self.dying.discard(greenlet)
        if not greenlets:
            self._empty_event.set()
        if was_member:
            self._semaphore.release()


# what spawn may run inline, as first defined
_GROUP_START = Group.start
_GROUP_ADD = Group.add
_POOL_START = Pool.start
_POOL_ADD = Pool.add
