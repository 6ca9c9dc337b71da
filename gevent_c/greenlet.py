"""Greenlet: a coroutine scheduled by the hub, with a result and links.

``Greenlet.spawn(func, *args)`` (``gevent_c.spawn``) creates one and starts
it at the next loop iteration; spawned greenlets start in spawn order. Its
outcome is read with ``get``/``join``/``value``/``exception``; ``link``
callbacks run from the hub, in the order added, when it finishes::

    g = gevent_c.spawn(sum, [1, 2, 3])
    g.get()        # -> 6
"""
import sys
import weakref

from gevent_c import _core
from gevent_c._greenlet import greenlet as RawGreenlet
from gevent_c._greenlet import getcurrent
from gevent_c._greenlet import GreenletExit
from gevent_c._config import config
from gevent_c._hub_local import get_hub
from gevent_c.hub import Waiter
from gevent_c.hub import _tree_of
from gevent_c.hub import iwait
from gevent_c.hub import wait
from gevent_c.timeout import Timeout

__all__ = ['Greenlet', 'joinall', 'killall']

_raw_dead = RawGreenlet.dead.__get__


class _StartState:
    """Marker for _start_event once the start has completed or been cancelled."""

    __slots__ = ('name',)
    pending = False
    active = False

    def __init__(self, name):
        self.name = name

    def stop(self):
        pass

    close = stop

    def __repr__(self):
        return '<%s>' % (self.name,)


_start_completed_event = _StartState('start completed')
_SUCCESS = (None, None, None)  # _exc_info of every successful greenlet
_cancelled_start_event = _StartState('start cancelled')


# Read at each Greenlet creation; its value attribute follows config.set().
_track_tree = config.settings['track_greenlet_tree']
_track_tree.get()
_spawn_stack = getattr(_core, '_spawn_stack', None)


if _spawn_stack is None:
    def _spawn_stack(limit):
        """(code, lasti, code, lasti, ...) of up to *limit* frames of the
        caller's caller, newest first."""
        frames = []
        try:
            frame = sys._getframe(2)
        except ValueError:
            return ()
        while limit > 0 and frame is not None:
            frames += (frame.f_code, frame.f_lasti)
            frame = frame.f_back
            limit -= 1
        return tuple(frames)


def _line_of(code, lasti):
    """The line of *code* that the instruction at byte offset *lasti* is on."""
    for start, end, line in code.co_lines():
        if start <= lasti < end and line is not None:
            return line
    return code.co_firstlineno


class _Frame:
    """What ``spawning_stack`` links: enough of a frame for the traceback module."""

    __slots__ = ('f_code', 'f_lineno', 'f_back')
    f_globals = None

    def __init__(self, code, lineno, back):
        self.f_code = code
        self.f_lineno = lineno
        self.f_back = back


class _readproperty:
    """A non-data descriptor: computed until an instance value is assigned."""

    def __init__(self, func):
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, inst, klass):
        if inst is None:
            return self
        return self.func(inst)


class SpawnedLink:
    """Link that runs its callback in a new coroutine, so it may block."""

    __slots__ = ('callback',)

    def __init__(self, callback):
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        self.callback = callback

    def __call__(self, source):
        glet = RawGreenlet(self.callback, getcurrent())
        glet.switch(source)

    def __hash__(self):
        return hash(self.callback)

    def __eq__(self, other):
        return self.callback == getattr(other, 'callback', other)

    def __repr__(self):
        return '<%s callback=%r>' % (type(self).__name__, self.callback)


class SuccessSpawnedLink(SpawnedLink):
    """Runs its callback only if the source finished successfully."""

    __slots__ = ()

    def __call__(self, source):
        if source.successful():
            return SpawnedLink.__call__(self, source)
        return None


class FailureSpawnedLink(SpawnedLink):
    """Runs its callback only if the source raised."""

    __slots__ = ()

    def __call__(self, source):
        if not source.successful():
            return SpawnedLink.__call__(self, source)
        return None


class Greenlet(RawGreenlet):
    """A coroutine run by the hub: ``Greenlet(run=None, *args, **kwargs)``.

    ``run(*args, **kwargs)`` is called when the hub first switches to it
    (after ``start``/``start_later``). A subclass may override ``_run``
    instead. Exceptions are reported once to ``hub.handle_error`` and kept
    in ``exception``/``exc_info``; ``get`` re-raises them.
    """

    value = None
    _exc_info = None
    _notifier = None
    _ident = None
    _formatted_info = None
    spawning_greenlet = None
    spawn_tree_locals = None
    _spawning_frames = None
    #: How many frames of the spawner's stack ``spawning_stack`` keeps.
    spawning_stack_limit = 10
    _spawn_callbacks = None

    def __init__(self, run=None, *args, **kwargs):
        hub = get_hub()
        RawGreenlet.__init__(self, None, hub)
        if run is not None:
            self._run = run
        if not callable(self._run):
            raise TypeError('The run argument or self._run must be callable')
        self.args = args
        self.kwargs = kwargs
        self._start_event = None
        self._links = []
        if _track_tree._value:
            spawner = getcurrent()
            self.spawning_greenlet = weakref.ref(spawner)
            self.spawn_tree_locals = _tree_of(spawner)
            self._spawning_frames = _spawn_stack(self.spawning_stack_limit)
        if self._spawn_callbacks is not None:
            for cb in self._spawn_callbacks:
                cb(self)

    def _run(self):
        """Override in a subclass to define what the greenlet runs."""
        return None

    @property
    def spawning_stack(self):
        """The stack that created it (frame-like objects, newest first: what
        ``traceback.format_stack`` takes), or None when
        ``config.track_greenlet_tree`` was off."""
        frames = self._spawning_frames
        if frames is None:
            return None
        newest = None
        for i in range(len(frames) - 2, -1, -2):
            newest = _Frame(frames[i], _line_of(frames[i], frames[i + 1]), newest)
        return newest

    def __enter__(self):
        return self

    def __exit__(self, typ, value, tb):
        """Leaving ``with spawn(...) as g``: wait for it, or kill it with the
        error that ended the block (which it then holds as its outcome)."""
        if typ is None:
            try:
                self.join()
            finally:
                self.kill()
        else:
            self.kill((typ, value, tb))

    # -- spawn callbacks --------------------------------------------------

    @classmethod
    def add_spawn_callback(cls, callback):
        """Call ``callback(greenlet)`` for every Greenlet created from now on."""
        if Greenlet._spawn_callbacks is None:
            Greenlet._spawn_callbacks = []
        Greenlet._spawn_callbacks.append(callback)

    @classmethod
    def remove_spawn_callback(cls, callback):
        callbacks = Greenlet._spawn_callbacks
        if callbacks is not None and callback in callbacks:
            callbacks.remove(callback)
            if not callbacks:
                Greenlet._spawn_callbacks = None

    # -- identity ---------------------------------------------------------

    @property
    def loop(self):
        return self.parent.loop

    @property
    def minimal_ident(self):
        """A small non-negative integer unique among this hub's live greenlets."""
        ident = self._ident
        if ident is None:
            # AttributeError when the parent is not a hub (re-parented)
            ident = self._ident = self.parent.ident_registry.get_ident(self)
        return ident

    @_readproperty
    def name(self):
        """'Greenlet-<minimal_ident>' unless a name was assigned."""
        return 'Greenlet-%d' % (self.minimal_ident,)

    def __repr__(self):
        if 'name' not in self.__dict__ and self._ident is None:
            name = ' '
        else:
            name = ' "%s" ' % (self.name,)
        result = '<%s%sat %s' % (type(self).__name__, name, hex(id(self)))
        info = self._formatinfo()
        if info:
            result += ': ' + info
        return result + '>'

    def _formatinfo(self):
        info = self._formatted_info
        if info is not None:
            return info
        self._formatted_info = '...'  # a repr of the function may include ours
        func = self._run
        im_self = getattr(func, '__self__', None)
        if im_self is self:
            funcname = '_run'
        elif im_self is not None:
            funcname = repr(func)
        else:
            funcname = getattr(func, '__name__', '') or repr(func)
        args = [repr(x)[:50] for x in self.args]
        args.extend('%s=%s' % (k, repr(v)[:50]) for k, v in self.kwargs.items())
        if args:
            funcname += '(' + ', '.join(args) + ')'
        self._formatted_info = funcname
        return funcname

    # -- state ------------------------------------------------------------

    def __bool__(self):
        return self._start_event is not None and self._exc_info is None

    @property
    def started(self):
        return bool(self)

    @property
    def dead(self):
        """True if it finished, or was killed or its start aborted before running."""
        event = self._start_event
        if event is _cancelled_start_event:
            return True
        if (event is not None and event is not _start_completed_event
                and not (event.pending or getattr(event, 'active', False))):
            return True  # started, then the start was aborted
        return _raw_dead(self)

    def ready(self):
        """True once finished (successfully or not)."""
        return self._exc_info is not None or self.dead

    def successful(self):
        """True if finished without an exception (GreenletExit counts as success)."""
        exc_info = self._exc_info
        return exc_info is not None and exc_info[1] is None

    @property
    def exception(self):
        """The exception that ended it, or None."""
        exc_info = self._exc_info
        return exc_info[1] if exc_info is not None else None

    @property
    def exc_info(self):
        """(type, value, traceback) of the exception that ended it, or None."""
        exc_info = self._exc_info
        if exc_info is None or exc_info[1] is None:
            return None
        return exc_info

    def _raise_exception(self):
        _, value, tb = self._exc_info
        raise value.with_traceback(tb)

    # -- starting ---------------------------------------------------------

    def start(self):
        """Schedule it to run at the next loop iteration (once)."""
        if self._start_event is None:
            self._start_event = self.parent.loop.run_callback(type(self).switch, self)

    def start_later(self, seconds):
        """Schedule it to run after *seconds*."""
        if self._start_event is None:
            timer = self.parent.loop.timer(seconds)
            self._start_event = timer
            timer.start(self.switch)

    @classmethod
    def spawn(cls, *args, **kwargs):
        """Create and start a greenlet: ``spawn(func, *args, **kwargs)``."""
        glet = cls(*args, **kwargs)
        # the unbound method plus the greenlet as argument: no bound-method
        # object (one more for the garbage collector) per greenlet
        glet._start_event = glet.parent.loop.run_callback(cls.switch, glet)
        return glet

    @classmethod
    def spawn_later(cls, seconds, *args, **kwargs):
        """Create a greenlet and start it after *seconds*."""
        if cls is Greenlet and not args and 'run' not in kwargs:
            raise TypeError('spawn_later(seconds, run, *args): run is missing')
        glet = cls(*args, **kwargs)
        glet.start_later(seconds)
        return glet

    def _cancel_start(self):
        event = self._start_event
        if event is None:
            self._start_event = _cancelled_start_event
        else:
            event.stop()

    def run(self):
        try:
            self._start_event = _start_completed_event
            try:
                try:
                    result = self._run(*self.args, **self.kwargs)
                except:  # noqa: E722 -- every outcome is reported
                    self._report_error(sys.exc_info())
                    return
                self._report_result(result)
            except MemoryError as ex:
                # reporting the outcome ran out of memory: end with that
                # error rather than dead with no outcome and links never run
                self._handle_lost_end((MemoryError, ex, ex.__traceback__))
        finally:
            self.__dict__.pop('_run', None)
            self.args = ()
            self.kwargs.clear()  # no new dict (and GC-tracked object) per greenlet

    def _report_result(self, result):
        # value first: if storing it runs out of memory, nothing is reported
        # yet and run() ends it with that MemoryError (_handle_lost_end)
        self.value = result
        self._exc_info = _SUCCESS
        if self._links and self._notifier is None:
            self._notifier = self.parent.loop.run_callback(type(self)._notify_links, self)

    def _report_error(self, exc_info):
        if isinstance(exc_info[1], GreenletExit):
            self._report_result(exc_info[1])
            return
        self._exc_info = (exc_info[0], exc_info[1], exc_info[2])
        if self._links and self._notifier is None:
            self._notifier = self.parent.loop.run_callback(type(self)._notify_links, self)
        self.parent.handle_error(self, *exc_info)

    def _handle_lost_end(self, exc_info):
        """Reporting the outcome failed with *exc_info* (out of memory): end
        with it if nothing was reported, and make sure the links run."""
        if self._exc_info is None:
            self._report_error(exc_info)
        elif self._links and self._notifier is None:
            self._notifier = self.parent.loop.run_callback(type(self)._notify_links, self)

    def _handle_death_before_start(self, exception):
        if self._exc_info is not None or not self.dead:
            return
        if isinstance(exception, tuple) and len(exception) == 3:
            exc_info = exception
        elif isinstance(exception, type) and issubclass(exception, BaseException):
            exc_info = (exception, exception(), None)
        elif isinstance(exception, BaseException):
            exc_info = (type(exception), exception, None)
        else:
            exc = BaseException(exception)
            exc_info = (BaseException, exc, None)
        self._report_error(exc_info)

    # -- killing ----------------------------------------------------------

    def kill(self, exception=GreenletExit, block=True, timeout=None):
        """Raise *exception* in it; with *block*, wait (up to *timeout*) for it to die.

        If it has not started yet it never will: it dies at once and its links
        run with *exception* as its outcome.
        """
        self._cancel_start()
        if self.dead:
            self._handle_death_before_start(exception)
            return
        waiter = Waiter(self.parent) if block else None
        self.parent.loop.run_callback(_kill, self, exception, waiter)
        if block:
            waiter.get()
            self.join(timeout)

    # -- waiting ----------------------------------------------------------

    def _wait(self, timeout):
        """Block until finished (True) or *timeout* (False)."""
        hub = self.parent
        waiter = Waiter(hub)
        switch = waiter.switch
        self.rawlink(switch)
        timer = None
        try:
            if timeout is not None:
                timer = hub.loop.timer(timeout)
                timer.start(switch, None, update=True)
            result = waiter.get()
        except:  # noqa: E722 -- killed or timed out from outside
            self.unlink(switch)
            raise
        finally:
            if timer is not None:
                timer.close()
        if result is self:
            return True
        self.unlink(switch)
        return False

    def _wait_timeout_object(self, timeout):
        """_wait with a Timeout instance as the timeout: start it (as gevent
        does); it raises itself (or its exception) here when it expires."""
        if not timeout.pending:
            timeout.start()
        try:
            return self._wait(None)
        finally:
            timeout.cancel()

    def join(self, timeout=None):
        """Block until it finishes or *timeout* seconds pass; returns None.

        *timeout* may be a Timeout: it is started, and its expiry ends the
        join quietly (another exception it raises propagates)."""
        if self._exc_info is not None or self.dead:
            return
        if timeout is not None and not isinstance(timeout, (float, int)) and \
                isinstance(timeout, Timeout):
            try:
                self._wait_timeout_object(timeout)
            except Timeout as ex:
                if ex is not timeout:
                    raise
            return
        self._wait(timeout)

    def get(self, block=True, timeout=None):
        """Return its result or raise its exception, waiting if needed.

        Raises Timeout if it is not finished after *timeout* (or at once with
        ``block=False``). *timeout* may be a Timeout: it is started and
        raised (or its exception) if it expires first.
        """
        if not self.ready():
            if not block:
                raise Timeout()
            if timeout is not None and not isinstance(timeout, (float, int)) and \
                    isinstance(timeout, Timeout):
                self._wait_timeout_object(timeout)
            elif not self._wait(timeout):
                raise Timeout(timeout)
        exc_info = self._exc_info
        if exc_info is not None and exc_info[1] is not None:
            self._raise_exception()
        return self.value

    # -- links ------------------------------------------------------------

    def has_links(self):
        return bool(self._links)

    def rawlink(self, callback):
        """Call ``callback(self)`` from the hub when it finishes."""
        if not callable(callback):
            raise TypeError('Expected callable: %r' % (callback,))
        self._links.append(callback)
        if self._notifier is None and self.ready():
            self._notifier = self.parent.loop.run_callback(type(self)._notify_links, self)

    def link(self, callback, SpawnedLink=SpawnedLink):
        """Call ``callback(self)`` in a new coroutine when it finishes."""
        self.rawlink(SpawnedLink(callback))

    def link_value(self, callback, SpawnedLink=SuccessSpawnedLink):
        """Like link, but only if it finishes successfully."""
        self.link(callback, SpawnedLink=SpawnedLink)

    def link_exception(self, callback, SpawnedLink=FailureSpawnedLink):
        """Like link, but only if it raises."""
        self.link(callback, SpawnedLink=SpawnedLink)

    def unlink(self, callback):
        """Remove *callback* if it has not run yet."""
        links = self._links
        # usually it already ran (joinall/iwait unlink everything they
        # linked): a failing remove() would cost an exception each time
        if links and callback in links:
            links.remove(callback)

    def unlink_all(self):
        """Remove every link."""
        del self._links[:]

    def _notify_links(self):
        links = self._links
        handle_error = self.parent.handle_error
        try:
            while links:
                link = links.pop(0)
                try:
                    link(self)
                except:  # noqa: E722 -- one failing link must not starve the others
                    handle_error((link, self), *sys.exc_info())
        finally:
            self._notifier = None


def _kill(glet, exception, waiter):
    try:
        if isinstance(exception, tuple) and len(exception) == 3:
            glet.throw(*exception)
        else:
            glet.throw(exception)
    except:  # noqa: E722 -- the exception escaped the greenlet's own handling
        glet.parent.handle_error(glet, *sys.exc_info())
    if waiter is not None:
        waiter.switch(None)


def joinall(greenlets, timeout=None, raise_error=False, count=None):
    """Wait for *greenlets* to finish; return those that finished.

    Stops after *count* of them or *timeout* seconds. With *raise_error*,
    raise the first exception a greenlet finishes with.
    """
    if not raise_error:
        return wait(greenlets, timeout=timeout, count=count)
    done = []
    with iwait(greenlets, timeout=timeout, count=count) as it:
        for obj in it:
            if getattr(obj, 'exception', None) is not None:
                if hasattr(obj, '_raise_exception'):
                    obj._raise_exception()
                raise obj.exception
            done.append(obj)
    return done


def killall(greenlets, exception=GreenletExit, block=True, timeout=None):
    """Kill every greenlet in *greenlets*; with *block*, wait for them to die.

    Greenlets that have not started never will. Raises Timeout if some are
    still alive after *timeout* seconds.
    """
    greenlets = list(greenlets)
    if not greenlets:
        return
    for glet in greenlets:
        kill = getattr(glet, 'kill', None)
        if kill is not None:
            kill(exception, block=False)
        elif not glet.dead:
            get_hub().loop.run_callback(glet.throw, exception)
    if block:
        timer = Timeout._start_new_or_dummy(timeout)
        try:
            wait([g for g in greenlets if hasattr(g, 'rawlink')])
        finally:
            timer.cancel()
