"""A pool of native threads whose results come back to the hub.

:class:`ThreadPool` runs functions in real OS threads (for blocking C calls,
CPU work, libc's DNS functions) while the greenlet that asked waits
cooperatively: the hub keeps serving other greenlets. Results travel back
through one ``async_`` watcher per pool, so a worker thread never touches the
hub's loop except through its thread-safe ``send()``::

    pool = gevent_c.get_hub().threadpool
    pool.spawn(time.sleep, 1).get()     # other greenlets run meanwhile
    pool.map(hashlib.sha256, blobs)

Differences from ``gevent.threadpool``: ``spawn`` returns a
:class:`ThreadResult`, an :class:`~gevent_c.event.AsyncResult` subclass; one
async watcher per pool (not per task) carries every result back, batched;
``join`` waits on an event instead of polling. As in gevent, a task's
exception is reported through ``hub.handle_error`` (so it is printed unless
it is one of ``hub.NOT_ERROR``) and raised, with its traceback, by ``get()``;
``spawn`` blocks while *maxsize* tasks are unfinished; a pool may only be
used from the thread of its hub (``apply`` from a worker thread runs the
function inline).

Internally only native primitives are used (``_thread`` locks, the C
``_queue.SimpleQueue``, ``collections.deque``), taken from the original
modules even if ``thread``/``queue`` are monkey-patched.
"""
import collections
import importlib
import os
import sys
import threading as _threading

from gevent_c._hub_local import get_hub
from gevent_c._hub_local import get_hub_if_exists
from gevent_c.event import AsyncResult
from gevent_c.event import Event
from gevent_c.exceptions import InvalidThreadUseError
from gevent_c.greenlet import Greenlet
from gevent_c.hub import getcurrent
from gevent_c.hub import sleep
from gevent_c.lock import Semaphore
from gevent_c.pool import GroupMappingMixin

__all__ = ['ThreadPool', 'ThreadResult', 'ThreadPoolExecutor']


def _original(module, name):
    """*module*.*name* as it was before any monkey patching."""
    try:
        from gevent_c.monkey import get_original
    except ImportError:
        return getattr(importlib.import_module(module), name)
    return get_original(module, name)


_start_new_thread = _original('_thread', 'start_new_thread')
_allocate_lock = _original('_thread', 'allocate_lock')
_get_ident = _original('_thread', 'get_ident')
_SimpleQueue = _original('_queue', 'SimpleQueue')
_Empty = _original('_queue', 'Empty')

# A worker that dequeues this exits.
_STOP = None


def _capture(func, args):
    """(True, result) or (False, exception) of ``func(*args)``."""
    try:
        return True, func(*args)
    except Exception as exc:  # noqa: BLE001 -- re-raised by the caller
        return False, exc


class ThreadResult(AsyncResult):
    """The outcome of one task submitted with :meth:`ThreadPool.spawn`.

    An AsyncResult: ``get()`` blocks the calling greenlet (not the thread)
    and returns the value or raises the task's exception with the traceback
    from the worker thread; ``rawlink``/``gevent_c.wait`` work on it.
    """

    __slots__ = ('_imap_index', 'context', '_holds_slot')

    def __init__(self, hub=None):
        AsyncResult.__init__(self)
        self.hub = hub
        self.context = None
        self._holds_slot = True


class _Worker:
    """Bookkeeping for one worker thread (its loop runs in :meth:`ThreadPool._work`)."""

    __slots__ = ('ident', '__weakref__')

    def __init__(self):
        self.ident = None

    def __repr__(self):
        return '<ThreadPool worker thread_ident=%#x>' % (self.ident or 0,)


class ThreadPool(GroupMappingMixin):
    """At most *maxsize* native threads running submitted functions.

    Threads start on demand and, if *idle_task_timeout* is positive, exit
    after that many idle seconds (-1: never). ``len(pool)`` is the number of
    unfinished tasks. *hub* (default: this thread's) receives the results;
    only greenlets of that hub's thread may submit work.
    """

    def __init__(self, maxsize, hub=None, idle_task_timeout=-1):
        if hub is None:
            hub = get_hub()
        if isinstance(idle_task_timeout, bool) or not isinstance(idle_task_timeout, (int, float)):
            raise TypeError('idle_task_timeout must be a number: %r' % (idle_task_timeout,))
        self.hub = hub
        self._idle_task_timeout = idle_task_timeout
        self._maxsize = 0
        self._semaphore = Semaphore(0, hub)
        self._setup()
        self._set_maxsize(maxsize)

    def _setup(self):
        """(Re)create the per-process state: queue, lock, async watcher."""
        self.pid = os.getpid()
        self._lock = _allocate_lock()
        self._tasks = _SimpleQueue()
        self._finished = collections.deque()
        self._workers = set()
        self._stopping = 0       # STOP markers queued and not yet taken
        self._unfinished = 0     # tasks spawned and not yet delivered (hub thread)
        self._all_done = Event()
        self._all_done.hub = self.hub
        self._all_done.set()
        self._async = self.hub.loop.async_()
        self._send = self._async.send

    def __repr__(self):
        return '<%s at %#x tasks=%s size=%s maxsize=%s hub=%r>' % (
            type(self).__name__, id(self), len(self), self.size, self.maxsize, self.hub)

    def __len__(self):
        self._check_fork()
        return self._unfinished

    # -- sizes -------------------------------------------------------------

    def _get_maxsize(self):
        return self._maxsize

    def _set_maxsize(self, maxsize):
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError('maxsize must be integer: %r' % (maxsize,))
        if maxsize < 0:
            raise ValueError('maxsize must not be negative: %r' % (maxsize,))
        difference = maxsize - self._maxsize
        self._maxsize = maxsize
        self._semaphore.counter += difference
        self.adjust()
        if difference > 0:
            self._semaphore._check_and_notify()

    maxsize = property(_get_maxsize, _set_maxsize, doc="""\
    The most worker threads the pool may run, and the most unfinished tasks
    before ``spawn`` blocks. Settable; lowering it retires threads as they
    become idle.""")

    def _get_size(self):
        self._check_fork()
        return len(self._workers)

    def _set_size(self, size):
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError('size must be integer: %r' % (size,))
        if size < 0:
            raise ValueError('Size of the pool cannot be negative: %r' % (size,))
        if size > self._maxsize:
            raise ValueError('Size of the pool cannot be bigger than maxsize: %r > %r'
                             % (size, self._maxsize))
        self._check_fork()
        with self._lock:
            while len(self._workers) < size:
                self._add_thread()
            excess = len(self._workers) - self._stopping - size
            for _ in range(excess):
                self._stopping += 1
                self._tasks.put(_STOP)
        if getcurrent() is self.hub:
            return
        delay = 0.0005
        while len(self._workers) > size:
            sleep(delay)
            delay = min(delay * 2, 0.05)

    size = property(_get_size, _set_size, doc="""\
    The number of running worker threads. Setting it starts or stops threads
    (stopping waits, cooperatively, for the busy ones to finish their task
    unless called from the hub).""")

    def adjust(self):
        """Start threads for waiting tasks; retire threads above maxsize."""
        with self._lock:
            self._adjust_locked()

    def _adjust_locked(self):
        workers = self._workers
        needed = min(self._maxsize, self._unfinished)
        while len(workers) - self._stopping < needed:
            self._add_thread()
        excess = len(workers) - self._stopping - self._maxsize
        for _ in range(excess):
            self._stopping += 1
            self._tasks.put(_STOP)

    def _add_thread(self):
        worker = _Worker()
        self._workers.add(worker)
        try:
            _start_new_thread(self._work, (worker, self._tasks, self._finished, self._send))
        except BaseException:
            self._workers.discard(worker)
            raise

    # -- the worker thread -------------------------------------------------

    def _work(self, worker, tasks, finished, send):
        """Body of a worker thread: run tasks until told to stop."""
        worker.ident = _get_ident()
        timeout = self._idle_task_timeout
        get = tasks.get
        try:
            while True:
                try:
                    task = get(timeout=timeout) if timeout > 0 else get()
                except _Empty:
                    with self._lock:
                        if tasks is not self._tasks or tasks.empty():
                            self._workers.discard(worker)
                            return
                    continue
                if task is _STOP:
                    with self._lock:
                        if tasks is self._tasks:
                            self._stopping -= 1
                            self._workers.discard(worker)
                    return
                func, args, kwargs, result = task
                task = None
                # threading.settrace/setprofile hooks apply to each task (as in gevent).
                trace = getattr(_threading, '_trace_hook', None)
                profile = getattr(_threading, '_profile_hook', None)
                hooked = trace is not None or profile is not None
                try:
                    if hooked:  # may fail (an audit hook): the caller gets the error
                        sys.settrace(trace)
                        sys.setprofile(profile)
                    value = func(*args, **kwargs)
                except BaseException:  # noqa: B036 -- every failure goes back to the caller
                    finished.append((result, False, sys.exc_info()))
                else:
                    finished.append((result, True, value))
                    value = None
                finally:
                    if hooked:
                        try:
                            sys.settrace(None)
                            sys.setprofile(None)
                        except Exception:  # noqa: BLE001 -- refused too: the worker lives on
                            pass
                func = args = kwargs = result = None
                self._expect_blocking()
                try:
                    send()
                except Exception:  # noqa: BLE001 -- the hub's loop was destroyed
                    return
        finally:
            hub = get_hub_if_exists()
            if hub is not None and hub is not self.hub:
                # A task created a hub in this thread; it dies with the thread.
                try:
                    hub.destroy(True)
                except Exception:  # noqa: BLE001 -- best effort at thread exit
                    pass
            with self._lock:
                self._workers.discard(worker)

    @staticmethod
    def _expect_blocking():
        """A task made a hub here whose monitoring thread runs: blocking in
        this thread's main greenlet (tasks, the wait for the next one) is
        what a worker does, not a blocked loop."""
        hub = get_hub_if_exists()
        monitor = getattr(hub, 'periodic_monitoring_thread', None)
        if monitor is not None:
            monitor.ignore_current_greenlet_blocking()

    # -- the hub side --------------------------------------------------------

    def _on_async(self):
        """In the hub: deliver every finished result."""
        finished = self._finished
        popleft = finished.popleft
        release = self._semaphore.release
        handle_error = self.hub.handle_error
        while finished:
            result, ok, payload = popleft()
            self._unfinished -= 1
            if result._holds_slot:
                release()
            if ok:
                result.set(payload)
            else:
                try:
                    handle_error(result.context, *payload)
                finally:
                    result.set_exception(payload[1], payload)
            result = payload = None
        if self._unfinished <= 0:
            self._unfinished = 0
            self._async.stop()
            self._all_done.set()

    def _check_fork(self):
        if os.getpid() != self.pid:
            self._on_fork()

    def _on_fork(self):
        """In a forked child: the threads are gone; start over empty.

        Results of tasks that were running in the parent never arrive.
        """
        if os.getpid() == self.pid:
            return
        old = self._async
        self._setup()
        try:
            old.stop()
            old.close()
        except Exception:  # noqa: BLE001 -- a watcher of the parent's loop state
            pass
        self._semaphore.counter = self._maxsize

    def spawn(self, func, *args, **kwargs):
        """Run ``func(*args, **kwargs)`` in a worker thread; return a ThreadResult.

        Blocks the calling greenlet while *maxsize* tasks are unfinished.
        """
        return self._submit(func, args, kwargs, True)

    def _submit(self, func, args, kwargs, take_slot):
        if not callable(func):
            raise TypeError('func must be callable: %r' % (func,))
        hub = self.hub
        if get_hub_if_exists() is not hub:
            raise InvalidThreadUseError('ThreadPool of %r used from another thread' % (hub,))
        self._check_fork()
        if take_slot:
            self._semaphore.acquire()
        result = ThreadResult(hub)
        result.context = func
        result._holds_slot = take_slot
        try:
            if self._unfinished == 0:
                self._all_done.clear()
                self._async.start(self._on_async)
            self._unfinished += 1
            self._tasks.put((func, args, kwargs, result))
            self.adjust()
        except BaseException:
            if take_slot:
                self._semaphore.release()
            raise
        return result

    def map(self, func, iterable):
        """``[func(x) for x in iterable]`` computed in the threads, in order.

        Every item is queued at once (the caller waits for all of them
        anyway); at most *maxsize* run at a time.
        """
        if not callable(func):
            raise TypeError('func must be callable: %r' % (func,))
        submit = self._submit
        results = [submit(func, (item,), {}, False) for item in iterable]
        return [result.get() for result in results]

    def join(self):
        """Block until every submitted task has finished and been delivered.

        In a forked child, tasks that were running in the parent do not count.
        """
        self._check_fork()
        self._all_done.wait()

    def kill(self):
        """Stop every worker thread (each after its current task)."""
        self.size = 0

    def _apply_unreported(self, func, args):
        """``apply(func, args)`` whose exception is raised in the caller only.

        For library calls whose errors are the caller's business (bad fds,
        lookup failures): they do not go through ``hub.handle_error``.
        """
        ok, value = self.apply(_capture, (func, args))
        if ok:
            return value
        try:
            raise value
        finally:
            value = None

    def _apply_immediately(self):
        # From a worker thread (a task calling apply) waiting on our hub
        # is impossible: run inline.
        return get_hub_if_exists() is not self.hub

    def _apply_async_use_greenlet(self):
        # spawn() blocks the caller while the pool is full; apply_async never does.
        return True

    def _apply_async_cb_spawn(self, callback, result):
        callback(result)


try:
    import concurrent.futures as _cf
except ImportError:  # pragma: no cover
    _cf = None
    __all__.remove('ThreadPoolExecutor')
else:
    class _Future(_cf.Future):
        """A concurrent.futures.Future a greenlet of the pool's hub can wait on.

        It is completed in the worker thread (so ``concurrent.futures.wait``
        and ``as_completed`` work from other threads); ``result()`` and
        ``exception()`` called in the hub's thread wait cooperatively.
        ``rawlink`` lets ``gevent_c.wait`` wait for it.
        """

        def __init__(self, hub):
            _cf.Future.__init__(self)
            self._hub = hub
            self._async_result = None
            self._links = {}

        def _cooperative_timeout(self, timeout):
            """Wait in this greenlet if we are in the hub's thread; the timeout left."""
            if self.done() or get_hub_if_exists() is not self._hub:
                return timeout
            result = self._async_result
            if not result.ready() and not result._wait_core(timeout):
                raise _cf.TimeoutError()
            return 0  # the worker completed the future before reporting back

        def result(self, timeout=None):
            return _cf.Future.result(self, self._cooperative_timeout(timeout))

        def exception(self, timeout=None):
            return _cf.Future.exception(self, self._cooperative_timeout(timeout))

        def rawlink(self, callback):
            """Call ``callback(self)`` from the hub once done (gevent_c.wait support)."""
            def link(_result, _callback=callback, _future=self):
                _callback(_future)
            self._links[callback] = link
            self._async_result.rawlink(link)

        def unlink(self, callback):
            link = self._links.pop(callback, None)
            if link is not None:
                self._async_result.unlink(link)

        def ready(self):
            return self.done()

    def _run_future(future, fn, args, kwargs):
        if not future.set_running_or_notify_cancel():
            return None
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: B036 -- stored in the future
            future.set_exception(exc)
        else:
            future.set_result(value)
        return None

    class ThreadPoolExecutor(_cf.ThreadPoolExecutor):
        """concurrent.futures.ThreadPoolExecutor on a gevent_c ThreadPool.

        Always native threads. ``submit`` returns a real
        ``concurrent.futures.Future`` whose ``result()``/``exception()``
        block only the calling greenlet when called in the executor's hub
        thread, and which ``gevent_c.wait`` accepts.
        """

        def __init__(self, *args, **kwargs):
            _cf.ThreadPoolExecutor.__init__(self, *args, **kwargs)
            self._threadpool = ThreadPool(self._max_workers)
            self._pending = set()

        def submit(self, fn, /, *args, **kwargs):
            with self._shutdown_lock:
                if self._broken:
                    raise _cf.thread.BrokenThreadPool(self._broken)
                if self._shutdown:
                    raise RuntimeError('cannot schedule new futures after shutdown')
                pool = self._threadpool
                future = _Future(pool.hub)
                self._pending.add(future)
                future.add_done_callback(self._pending.discard)
                # Unlike ThreadPool.spawn, submit never blocks: tasks queue up.
                future._async_result = pool._submit(_run_future, (future, fn, args, kwargs), {}, False)
                return future

        def shutdown(self, wait=True, *, cancel_futures=False):
            with self._shutdown_lock:
                self._shutdown = True
            pool = self._threadpool
            if pool is None:
                return
            if cancel_futures:
                # Futures not yet running are cancelled; their tasks then skip them.
                for future in list(self._pending):
                    future.cancel()
            if wait and get_hub_if_exists() is pool.hub:
                pool.join()
            if get_hub_if_exists() is pool.hub:
                pool.kill()
            self._threadpool = None

        kill = shutdown

        def _adjust_thread_count(self):
            pass  # the ThreadPool starts its own threads
