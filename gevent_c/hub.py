"""The hub: the greenlet that runs the event loop, and the basic waiting API.

Every thread that blocks cooperatively has one :class:`Hub`, created lazily by
:func:`get_hub`. Blocking means switching to the hub after arranging for a
loop watcher or callback to switch back (:meth:`Hub.wait`, :class:`Waiter`).
When the loop runs out of work while the hub's parent is still blocked,
:class:`LoopExit` is raised in it; unlike gevent the message says which
greenlet was blocked and on what.
"""
import functools
import os
import sys
import time
import traceback
import weakref
from heapq import heappush, heappop
from errno import EBADF

from gevent_c import _core
from gevent_c._greenlet import greenlet as RawGreenlet
from gevent_c._greenlet import getcurrent
from gevent_c._greenlet import GreenletExit
from gevent_c._greenlet import error as GreenletError
from gevent_c._config import config

import _thread
import threading as _threading
# Native thread idents, captured before monkey-patching can make them greenlet ones.
_get_thread_ident = _thread.get_ident
MAIN_THREAD_IDENT = _threading.main_thread().ident
del _thread, _threading
from gevent_c.exceptions import LoopExit
from gevent_c.exceptions import HubDestroyed
from gevent_c.exceptions import BlockingSwitchOutError
from gevent_c.exceptions import InvalidSwitchError
from gevent_c.exceptions import ConcurrentObjectUseError
from gevent_c._hub_local import get_hub
from gevent_c._hub_local import get_hub_if_exists
from gevent_c._hub_local import set_hub
from gevent_c._hub_local import get_loop
from gevent_c._hub_local import set_loop
from gevent_c._hub_local import set_default_hub_class

__all__ = [
    'getcurrent', 'GreenletExit', 'spawn_raw', 'sleep', 'kill', 'signal',
    'reinit', 'get_hub', 'Hub', 'Waiter',
]

_get_hub = get_hub_if_exists  # gevent's private spelling, used by some callers
#: The native thread's ident (``_thread.get_ident`` as it was at import),
#: a name gevent.hub has that older callers import.
get_thread_ident = _get_thread_ident


def reraise(t, value, tb=None):
    """Raise *value* with traceback *tb* (gevent's Python 2 era helper)."""
    if value.__traceback__ is not tb:
        raise value.with_traceback(tb)
    raise value
_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class _NoValue:
    __slots__ = ()

    def __repr__(self):
        return '<no value>'


_NONE = _NoValue()

cancel_wait_ex = IOError(EBADF, 'File descriptor was closed in another greenlet')


def _raisable(error):
    """*error*, or a new copy when it is the shared ``cancel_wait_ex``.

    A raised instance keeps the traceback of every raise: the one shared
    instance would gain a frame with each cancelled wait, for ever.
    """
    if error is cancel_wait_ex:
        return OSError(*cancel_wait_ex.args)
    return error


class Waiter:
    """A one-shot hand-off between the hub and one blocked greenlet.

    ``get()`` blocks the calling greenlet until ``switch(value)`` or
    ``throw(*exc)`` is called from the hub (a loop callback); if that already
    happened, ``get()`` returns or raises at once. ``switch``/``throw`` on a
    waiter that a greenlet is blocked on may only be called from the hub
    (AssertionError otherwise).

        waiter = Waiter()
        hub.loop.timer(0.1).start(waiter.switch, 'done')
        waiter.get()   # -> 'done', after 0.1 s
    """

    __slots__ = ('hub', 'greenlet', 'value', '_exception')

    def __init__(self, hub=None):
        self.hub = get_hub() if hub is None else hub
        self.greenlet = None
        self.value = None
        self._exception = _NONE

    def clear(self):
        self.greenlet = None
        self.value = None
        self._exception = _NONE

    def __repr__(self):
        if self._exception is _NONE:
            state = ''
        elif self._exception is None:
            state = ' value=%r' % (self.value,)
        else:
            state = ' exc_info=%r' % (self._exception,)
        return '<%s at %#x greenlet=%r%s>' % (type(self).__name__, id(self), self.greenlet, state)

    def ready(self):
        """True once a value or an exception was delivered."""
        return self._exception is not _NONE

    def successful(self):
        """True if a value (not an exception) was delivered."""
        return self._exception is None

    @property
    def exc_info(self):
        """The delivered exception as passed to ``throw``, or None."""
        exc = self._exception
        return None if exc is _NONE else exc

    def switch(self, value):
        """Deliver *value*: wake the blocked greenlet, or store it for ``get``."""
        glet = self.greenlet
        if glet is None:
            self.value = value
            self._exception = None
            return
        if getcurrent() is not self.hub:
            raise AssertionError('Can only use Waiter.switch method from the Hub greenlet')
        switch = glet.switch
        try:
            switch(value)
        except:  # noqa: E722 -- anything the woken greenlet raised into the hub
            self.hub.handle_error(switch, *sys.exc_info())

    def switch_args(self, *args):
        return self.switch(args)

    def throw(self, *throw_args):
        """Deliver an exception: raise it in the blocked greenlet, or store it."""
        glet = self.greenlet
        if glet is None:
            self._exception = throw_args
            return
        if getcurrent() is not self.hub:
            raise AssertionError('Can only use Waiter.throw method from the Hub greenlet')
        throw = glet.throw
        try:
            throw(*throw_args)
        except:  # noqa: E722
            self.hub.handle_error(throw, *sys.exc_info())

    def get(self):
        """Block until a value or exception is delivered; return or raise it."""
        exc = self._exception
        if exc is not _NONE:
            if exc is None:
                return self.value
            getcurrent().throw(*exc)
            return None  # unreachable unless the current greenlet swallowed it
        if self.greenlet is not None:
            raise ConcurrentObjectUseError('This Waiter is already used by %r' % (self.greenlet,))
        self.greenlet = getcurrent()
        try:
            return self.hub.switch()
        finally:
            self.greenlet = None

    def __call__(self, source):
        """Link target: deliver *source*'s value or exception."""
        if source.exception is None:
            self.switch(source.value)
        else:
            self.throw(source.exception)


# ext/core may provide the same class in C (same slots, methods and rules);
# it then replaces this one everywhere, since other modules import it from here.
Waiter = getattr(_core, 'Waiter', Waiter)


class MultipleWaiter(Waiter):
    """A Waiter that queues every value switched to it, for ``iwait``."""

    __slots__ = ('_values',)

    def __init__(self, hub=None):
        Waiter.__init__(self, hub)
        self._values = []

    def switch(self, value):
        self._values.append(value)
        Waiter.switch(self, True)

    def get(self):
        if not self._values:
            Waiter.get(self)
            Waiter.clear(self)
        return self._values.pop(0)


MultipleWaiter = getattr(_core, 'MultipleWaiter', MultipleWaiter)


def _short_repr(obj, limit=80):
    try:
        text = repr(obj)
    except Exception:  # a broken __repr__ must not hide the LoopExit
        text = '<%s object at %#x>' % (type(obj).__name__, id(obj))
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _greenlet_name(glet):
    if getattr(glet, 'parent', glet) is None:
        return '<main greenlet>'
    return _short_repr(glet, 120)


_blocked_on = getattr(_core, '_blocked_on', None)


def _qualname(code, owner=None):
    """Qualified name of the function running *code* (a method of *owner*)."""
    name = getattr(code, 'co_qualname', None)   # 3.11+
    if name is not None:
        return name
    if owner is not None:
        for cls in type(owner).__mro__:
            for attr in vars(cls).values():
                if getattr(attr, '__code__', None) is code:
                    return '%s.%s' % (cls.__qualname__, code.co_name)
    return code.co_name


def _describe_block(glet):
    """'<glet> is waiting on <what>' from the frames of suspended *glet*."""
    blocked = _blocked_on(glet) if _blocked_on is not None else None
    if blocked is not None:
        # blocked in a C primitive (Event.wait, ...), which has no frame
        target, method = blocked
        return '%s is waiting on %s in %s.%s()' % (
            _greenlet_name(glet), _short_repr(target), type(target).__name__, method)
    frame = getattr(glet, 'gr_frame', None)
    call = None
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_PKG_DIR):
            break
        call = frame
        frame = frame.f_back
    who = _greenlet_name(glet)
    if call is None:
        return '%s is blocked' % (who,)
    code = call.f_code
    local = call.f_locals
    target = local.get('self')
    name = _qualname(code, target)
    if target is not None:
        return '%s is waiting on %s in %s()' % (who, _short_repr(target), name)
    args = ', '.join('%s=%s' % (arg, _short_repr(local[arg], 40))
                     for arg in code.co_varnames[:code.co_argcount] if arg in local)
    return '%s is waiting in %s(%s)' % (who, name, args)


class _IdentRegistry:
    """Small integer ids, reused once their greenlet is collected."""

    __slots__ = ('_refs', '_free', '_next')

    def __init__(self):
        self._refs = {}
        self._free = []
        self._next = 0

    def get_ident(self, obj):
        if self._free:
            ident = heappop(self._free)
        else:
            ident = self._next
            self._next += 1
        self._refs[ident] = weakref.ref(obj, lambda _, ident=ident: self._release(ident))
        return ident

    def _release(self, ident):
        if self._refs.pop(ident, None) is not None:
            heappush(self._free, ident)


def _failed_start(context):
    """The Greenlet whose start callback *context* is, or None."""
    from gevent_c.greenlet import Greenlet   # the error path only; no import cycle
    args = getattr(context, 'args', None) if isinstance(context, _core.callback) else None
    if type(args) is tuple and len(args) == 1:
        glet = args[0]
        if isinstance(glet, Greenlet) and glet._start_event is context:
            return glet
    return None


class Hub(RawGreenlet):
    """The greenlet that runs this thread's event loop.

    Created by :func:`get_hub`; its parent is the greenlet that created it
    (normally the main greenlet). Greenlets started with ``spawn`` are its
    children. Errors in them are reported by :meth:`handle_error`.
    """

    #: Errors that are raised in the main greenlet when they reach the hub.
    SYSTEM_ERROR = (KeyboardInterrupt, SystemExit, SystemError)
    #: Errors that are not printed when they reach the hub.
    NOT_ERROR = (GreenletExit, SystemExit)
    threadpool_size = 10
    periodic_monitoring_thread = None
    name = ''
    _resolver = None
    _threadpool = None
    _exception_stream = _NONE
    _destroyed = False

    def __init__(self, loop=None, default=None):
        RawGreenlet.__init__(self)
        if loop is None:
            loop = get_loop()
            if loop is not None:
                set_loop(None)
        if loop is None:
            if default is None:
                default = _get_thread_ident() == MAIN_THREAD_IDENT
            loop = self.loop_class(flags=self.backend, default=default)
        self.loop = loop
        self.thread_ident = _get_thread_ident()
        self.format_context = config.format_context
        self.threadpool_size = config.threadpool_size
        if type(self).run is Hub.run:
            # the greenlet starts in C, which runs the loop (_run_loop) and
            # survives a MemoryError raised before the loop's own handling
            # begins (on 3.10, allocating its first frame)
            self.run = functools.partial(_core._hub_run, self)

    @property
    def ident_registry(self):
        """Gives the greenlets of this hub their ``minimal_ident``."""
        registry = self.__dict__.get('ident_registry')
        if registry is None:
            registry = self.__dict__['ident_registry'] = _IdentRegistry()
        return registry

    @property
    def minimal_ident(self):
        """A small non-negative integer naming this hub among its greenlets."""
        ident = self.__dict__.get('_minimal_ident')
        if ident is None:
            ident = self.__dict__['_minimal_ident'] = self.ident_registry.get_ident(self)
        return ident

    @property
    def loop_class(self):
        """The class of new loops: ``config.loop``."""
        return config.loop

    @property
    def backend(self):
        """The libev backend asked of new loops: ``config.libev_backend``."""
        return config.libev_backend

    def __repr__(self):
        loop = self.loop
        info = 'destroyed' if loop is None else 'thread_ident=%#x' % (self.thread_ident,)
        return '<%s %r at %#x %s>' % (type(self).__name__, self.name, id(self), info)

    @property
    def main_hub(self):
        return self.thread_ident == MAIN_THREAD_IDENT

    # -- errors ---------------------------------------------------------

    @property
    def exception_stream(self):
        """Where error reports go: sys.stderr (looked up at report time)
        unless assigned; assigning None (or any false value) silences them."""
        stream = self._exception_stream
        return sys.stderr if stream is _NONE else stream

    @exception_stream.setter
    def exception_stream(self, stream):
        self._exception_stream = stream

    @exception_stream.deleter
    def exception_stream(self):
        self._exception_stream = _NONE

    def _normalize_exception(self, t, v, tb):
        if t is None and v is None and tb is None:
            t, v, tb = sys.exc_info()
        if isinstance(v, str):
            v = t(v)
        return t, v, tb

    def handle_error(self, context, type, value, tb):
        """Report an error that reached the hub from *context*.

        Prints it unless it is a ``NOT_ERROR``; raises it in the main greenlet
        if it is a ``SYSTEM_ERROR`` or *context* is None.
        """
        type, value, tb = self._normalize_exception(type, value, tb)
        start_of = _failed_start(context)
        if start_of is not None:
            # its start callback failed before run() began (MemoryError):
            # the greenlet ends with that error, or its joiners would wait
            # for good
            start_of._handle_death_before_start((type, value, tb))
            return
        if type is HubDestroyed:
            # Unwinding a hub being destroyed: stop the loop so run() returns.
            loop = self.loop
            if loop is not None:
                loop.break_()
            return
        if not issubclass(type, self.NOT_ERROR):
            self.print_exception(context, type, value, tb)
        if context is None or issubclass(type, self.SYSTEM_ERROR):
            self.handle_system_error(type, value, tb)

    def handle_system_error(self, type, value, tb=None):
        """Raise the error in the hub's parent (the main greenlet)."""
        if value is None:
            value = type()
        current = getcurrent()
        if current is self or current is self.parent or self.loop is None:
            try:
                self.parent.throw(value)
            except HubDestroyed:
                # Destroyed while suspended here: unwind like any other callback.
                if self.loop is not None:
                    self.loop.break_()
            return
        # Raised from another greenlet: make sure it is resumed if the main
        # greenlet survives the error.
        cb = None
        try:
            cb = self.loop.run_callback(current.switch)
        except:  # noqa: E722
            if self.exception_stream:
                traceback.print_exc(file=self.exception_stream)
        try:
            self.parent.throw(value)
        finally:
            if cb is not None:
                cb.stop()

    def print_exception(self, context, t, v, tb):
        """Write the traceback, a timestamp and '<context> failed with <T>'."""
        errstream = self.exception_stream
        if not errstream:
            return
        t, v, tb = self._normalize_exception(t, v, tb)
        if v is None:
            errstream.write('%s\n' % (t.__name__,))
        else:
            traceback.print_exception(t, v, tb, file=errstream)
        del tb
        errstream.write(time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()) + (' ' if context is not None else '\n'))
        if context is not None:
            if not isinstance(context, str):
                try:
                    context = self.format_context(context)
                except Exception:  # a failing repr must not hide the report
                    context = '<%s object at %#x>' % (type(context).__name__, id(context))
            errstream.write('%s failed with %s\n\n' % (context, getattr(t, '__name__', 'exception')))

    # -- running --------------------------------------------------------

    def switch(self):
        """Switch to the hub; refused from inside the hub itself."""
        current = getcurrent()
        if current is self:
            raise BlockingSwitchOutError('Impossible to call blocking function in the event loop callback')
        switch_out = getattr(current, 'switch_out', None)
        if switch_out is not None:
            switch_out()
        return RawGreenlet.switch(self)

    if hasattr(_core, 'hub_switch'):
        def switch(self, _hub_switch=_core.hub_switch):  # noqa: F811
            """Switch to the hub; refused from inside the hub itself."""
            return _hub_switch(self)

    def switch_out(self):
        raise BlockingSwitchOutError('Impossible to call blocking function in the event loop callback')

    #: The PeriodicMonitoringThread watching this hub, if config.monitor_thread.
    periodic_monitoring_thread = None

    def start_periodic_monitoring_thread(self):
        """Start the monitoring thread (see gevent_c._monitor) if
        ``config.monitor_thread`` is set and it is not running; call it from
        the hub's thread (``run`` does). Returns it, or None."""
        if self.periodic_monitoring_thread is None and config.monitor_thread:
            from gevent_c._monitor import PeriodicMonitoringThread
            from gevent_c._monitor import _notify
            monitor = self.periodic_monitoring_thread = PeriodicMonitoringThread(self)
            if self.main_hub:
                monitor.install_monitor_memory_usage()
            _notify('PeriodicMonitorThreadStartedEvent', monitor)
        return self.periodic_monitoring_thread

    def run(self):
        """Run the loop forever; throw LoopExit into the parent when it empties.

        (The hub greenlet starts through ``_core._hub_run``, which calls
        :meth:`_run_loop`, this method's body.)
        """
        return self._run_loop()

    def _run_loop(self):
        """Run the loop forever; throw LoopExit into the parent when it empties.

        An exception while starting the monitor thread or running the loop
        (MemoryError) is thrown into the parent the same way and the loop goes
        on: the hub survives it (were it to die, every later wait would
        return at once).
        """
        assert self is getcurrent(), 'Do not call Hub.run() directly'
        monitor_started = False
        while 1:
            exc = None
            try:
                if not monitor_started:
                    self.start_periodic_monitoring_thread()
                    if config.blocking_threshold:
                        from gevent_c import blocking
                        blocking.watch(self)
                    monitor_started = True
                loop = self.loop
                loop.error_handler = self
                try:
                    loop.run()
                finally:
                    loop.error_handler = None
            except Exception as ex:  # noqa: BLE001 -- delivered to the parent
                exc = ex
            if self._destroyed:
                return None
            loop = None
            try:
                if exc is None:
                    exc = LoopExit('This operation would block forever: ' +
                                   _describe_block(self.parent), self, [])
                self.parent.throw(exc)
            except HubDestroyed:
                return None
            except MemoryError:
                pass    # the parent was not resumed: run the loop again
            finally:
                exc = None

    def wait(self, watcher):
        """Start *watcher* and block until it fires once; always stops it."""
        waiter = Waiter(self)
        watcher.start(waiter.switch, waiter)
        try:
            result = waiter.get()
            if result is not waiter:
                raise InvalidSwitchError(
                    'Invalid switch into %s: got %r (expected %r; waiting on %r with %r)'
                    % (getcurrent(), result, waiter, self, watcher))
        finally:
            watcher.stop()

    if hasattr(_core, 'hub_wait'):
        def wait(self, watcher, _hub_wait=_core.hub_wait):  # noqa: F811
            """Start *watcher* and block until it fires once; always stops it."""
            _hub_wait(self, watcher)

    def cancel_wait(self, watcher, error=cancel_wait_ex, close_watcher=False):
        """Make the greenlet waiting on *watcher* (if any) raise *error*."""
        if watcher.callback is not None:
            self.loop.run_callback(self._cancel_wait, watcher, error, close_watcher)
        elif close_watcher:
            watcher.close()

    def _cancel_wait(self, watcher, error, close_watcher):
        active = watcher.active
        cb = watcher.callback
        if close_watcher:
            watcher.close()
        if active:
            waiter = getattr(cb, '__self__', None)
            if waiter is not None:
                waiter.throw(_raisable(error))

    def join(self, timeout=None):
        """From the parent: run the loop until it has nothing left to do.

        Returns True if the loop finished, False if *timeout* expired first.
        """
        assert getcurrent() is self.parent, 'only possible from the MAIN greenlet'
        if self.dead:
            return True
        waiter = Waiter(self)
        timer = None
        if timeout is not None:
            timer = self.loop.timer(timeout, ref=False)
            timer.start(waiter.switch, None)
        try:
            try:
                waiter.get()
            except LoopExit:
                return True
        finally:
            if timer is not None:
                timer.stop()
                timer.close()
        return False

    def destroy(self, destroy_loop=None):
        """Stop this hub for good; destroy its loop unless it is the default one.

        *destroy_loop* True destroys the loop even if it is the default loop;
        False keeps it for the next hub created in this thread.
        """
        loop = self.loop
        if loop is None:
            return
        if destroy_loop is None:
            destroy_loop = not loop.default
        if self._resolver is not None:
            self._resolver.close()
            self._resolver = None
        if self._threadpool is not None:
            self._threadpool.kill()
            self._threadpool = None
        if self.periodic_monitoring_thread is not None:
            self.periodic_monitoring_thread.kill()
            self.periodic_monitoring_thread = None
        self._destroyed = True
        if self and getcurrent() is not self:
            # Unwind the hub's frames now, before the loop disappears under them.
            try:
                self.throw(HubDestroyed(destroy_loop))
            except (LoopExit, HubDestroyed, GreenletError):
                pass
        if destroy_loop:
            if get_loop() is loop:
                set_loop(None)
            loop.destroy()
        else:
            set_loop(loop)
        self.loop = None
        if get_hub_if_exists() is self:
            set_hub(None)

    # -- lazy services --------------------------------------------------

    @property
    def threadpool_class(self):
        """The class of this hub's threadpool: ``config.threadpool``."""
        return config.threadpool

    @property
    def threadpool(self):
        """This hub's threadpool (``threadpool_class``), created on first use."""
        pool = self._threadpool
        if pool is None:
            pool = self._threadpool = self.threadpool_class(self.threadpool_size, hub=self)
        return pool

    @threadpool.setter
    def threadpool(self, value):
        self._threadpool = value

    @threadpool.deleter
    def threadpool(self):
        self._threadpool = None

    @property
    def resolver_class(self):
        """The class of this hub's resolver: ``config.resolver``."""
        return config.resolver

    @property
    def resolver(self):
        """This hub's DNS resolver (``resolver_class``), created on first use."""
        resolver = self._resolver
        if resolver is None:
            resolver = self._resolver = self.resolver_class(hub=self)
        return resolver

    @resolver.setter
    def resolver(self, value):
        self._resolver = value

    @resolver.deleter
    def resolver(self):
        self._resolver = None


set_default_hub_class(Hub)


# -- module-level blocking API -------------------------------------------

_sleep0 = getattr(_core, 'sleep0', None)


def sleep(seconds=0, ref=True):
    """Block the current greenlet for *seconds* (0: yield once to the others).

    ``sleep(0)`` lets every other ready greenlet run before returning and
    uses no timer. A negative value counts as 0. With ``ref=False`` the sleep
    does not keep the loop alive (it may end with LoopExit).
    """
    if seconds <= 0 and _sleep0 is not None:
        return _sleep0()
    hub = get_hub()
    loop = hub.loop
    if seconds <= 0:
        waiter = Waiter(hub)
        loop.run_callback(waiter.switch, None)
        waiter.get()
    else:
        with loop.timer(seconds, ref=ref) as timer:
            loop.update_now()
            hub.wait(timer)


if hasattr(_core, '_set_sleep_fallback'):
    # sleep(0) entirely in C; timed sleeps come back to the function above
    _core._set_sleep_fallback(sleep)
    sleep = _core.sleep  # noqa: F811


def idle(priority=0):
    """Block until the loop has nothing else to do (an idle watcher fires)."""
    hub = get_hub()
    watcher = hub.loop.idle()
    if priority:
        watcher.priority = priority
    hub.wait(watcher)


# kill(greenlet, exception=GreenletExit): raise it in *greenlet* at the next
# loop iteration without waiting (Greenlet.kill(block=False) for a Greenlet).
kill = _core.kill


def _tree_of(spawner):
    """The spawn_tree_locals dict shared by what *spawner* spawns (and by
    *spawner* itself, unless it is a main greenlet: its children do not share)."""
    tree_locals = getattr(spawner, 'spawn_tree_locals', None)
    if tree_locals is None:
        tree_locals = {}
        if spawner.parent is not None:
            spawner.spawn_tree_locals = tree_locals
    return tree_locals


def spawn_raw(function, *args, **kwargs):
    """Run *function* in a new plain coroutine (no Greenlet API) from the loop.

    With ``config.track_greenlet_tree`` it gets ``spawning_greenlet`` and
    ``spawn_tree_locals`` as a Greenlet does.
    """
    if not callable(function):
        raise TypeError('function must be callable')
    hub = get_hub()
    if kwargs:
        glet = RawGreenlet(functools.partial(function, *args, **kwargs), hub)
        hub.loop.run_callback(glet.switch)
    else:
        glet = RawGreenlet(function, hub)
        hub.loop.run_callback(glet.switch, *args)
    if config.track_greenlet_tree:
        spawner = getcurrent()
        glet.spawning_greenlet = weakref.ref(spawner)
        glet.spawn_tree_locals = _tree_of(spawner)
    return glet


def reinit():
    """After fork: make this process's loop usable again (re-arm its fds)."""
    hub = get_hub_if_exists()
    if hub is None:
        return
    hub.loop.reinit()
    for service in (hub._threadpool, hub._resolver):
        on_fork = getattr(service, '_on_fork', None)
        if on_fork is not None:
            on_fork()


class signal:
    """Call ``handler(*args, **kwargs)`` in a new greenlet on each *signalnum*.

    Returned by ``gevent_c.signal_handler``; ``cancel()`` stops it. By default
    it does not keep the loop alive (``ref`` is False).
    """

    greenlet_class = None

    def __init__(self, signalnum, handler, *args, **kwargs):
        if not callable(handler):
            raise TypeError('signal handler must be callable')
        self.hub = get_hub()
        self.watcher = self.hub.loop.signal(signalnum, ref=False)
        self.watcher.start(self._start)
        self.handler = handler
        self.args = args
        self.kwargs = kwargs
        if self.greenlet_class is None:
            from gevent_c.greenlet import Greenlet
            type(self).greenlet_class = Greenlet

    @property
    def ref(self):
        return self.watcher.ref

    @ref.setter
    def ref(self, value):
        self.watcher.ref = value

    def cancel(self):
        self.watcher.stop()

    def _start(self):
        try:
            self.greenlet_class(self.handle).start()
        except:  # noqa: E722
            self.hub.handle_error(None, *sys.exc_info())

    def handle(self):
        try:
            self.handler(*self.args, **self.kwargs)
        except:  # noqa: E722
            self.hub.handle_error(None, *sys.exc_info())


# iwait(objects, timeout=None, count=None): yield *objects* (anything with
# rawlink/unlink) as they become ready, at most *count*, until *timeout*;
# a context manager that unlinks what is left.  objects=None waits for the
# loop (see wait).  The iterator type is _WaitIterator.
iwait = _core.iwait
_WaitIterator = _core._WaitIterator


def wait(objects=None, timeout=None, count=None):
    """Wait for *objects* to become ready; return the list of ready ones.

    With no objects, run the loop until nothing is left to do (True) or
    *timeout* expires (False).
    """
    if objects is None:
        return get_hub().join(timeout=timeout)
    return _core.wait_all(objects, timeout, False, count)
