"""Greenlet: a coroutine scheduled by the hub, with a result and links.

``Greenlet.spawn(func, *args)`` (``gevent_c.spawn``) creates one and starts
it at the next loop iteration; spawned greenlets start in spawn order. Its
outcome is read with ``get``/``join``/``value``/``exception``; ``link``
callbacks run from the hub, in the order added, when it finishes::

    g = gevent_c.spawn(sum, [1, 2, 3])
    g.get()        # -> 6
"""
import sys
import types
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


_core._greenlet_setup(_track_tree, _start_completed_event, _cancelled_start_event)


class Greenlet(_core.GreenletBase):
    """A coroutine run by the hub: ``Greenlet(run=None, *args, **kwargs)``.

    ``run(*args, **kwargs)`` is called when the hub first switches to it
    (after ``start``/``start_later``). A subclass may override ``_run``
    instead. Exceptions are reported once to ``hub.handle_error`` and kept
    in ``exception``/``exc_info``; ``get`` re-raises them.

    Creation, ``spawn``/``start``, the run and its report, links, ``join``
    and ``get`` without a timeout, ``kill``, and the state attributes are
    the C base type's (``_core.GreenletBase``); timed waits and repr are here.
    """

    # Greenlet[int] in annotations and base classes (typed code; see greenlet.pyi)
    __class_getitem__ = classmethod(types.GenericAlias)

    #: How many frames of the spawner's stack ``spawning_stack`` keeps.
    spawning_stack_limit = 10
    _spawn_callbacks = None

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

    # -- starting ---------------------------------------------------------

    def start_later(self, seconds):
        """Schedule it to run after *seconds*."""
        if self._start_event is None:
            timer = self.parent.loop.timer(seconds)
            self._start_event = timer
            timer.start(self.switch)

    @classmethod
    def spawn_later(cls, seconds, *args, **kwargs):
        """Create a greenlet and start it after *seconds*."""
        if cls is Greenlet and not args and 'run' not in kwargs:
            raise TypeError('spawn_later(seconds, run, *args): run is missing')
        glet = cls(*args, **kwargs)
        glet.start_later(seconds)
        return glet

    # -- waiting with a timeout (the C base handles the rest) --------------

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

    def _join_slow(self, timeout=None):
        """join() with a timeout (the C join handles the others)."""
        if self.ready():
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

    def _get_slow(self, block=True, timeout=None):
        """get() that may time out (the C get handles the others)."""
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

    def link(self, callback, SpawnedLink=SpawnedLink):
        """Call ``callback(self)`` in a new coroutine when it finishes."""
        self.rawlink(SpawnedLink(callback))

    def link_value(self, callback, SpawnedLink=SuccessSpawnedLink):
        """Like link, but only if it finishes successfully."""
        self.link(callback, SpawnedLink=SpawnedLink)

    def link_exception(self, callback, SpawnedLink=FailureSpawnedLink):
        """Like link, but only if it raises."""
        self.link(callback, SpawnedLink=SpawnedLink)


def joinall(greenlets, timeout=None, raise_error=False, count=None):
    """Wait for *greenlets* to finish; return those that finished.

    Stops after *count* of them or *timeout* seconds. With *raise_error*,
    raise the first exception a greenlet finishes with. The list is in the
    order they finished.
    """
    return _core.wait_all(greenlets, timeout, raise_error, count)


# killall(greenlets, exception=GreenletExit, block=True, timeout=None): the
# Greenlets not started yet never start; one loop callback throws the
# exception into the others; with block, wait for them (Timeout after timeout).
killall = _core.killall
