"""The machinery every gevent_c server shares: a listening socket watched by
the hub, and each connection (or datagram) handed to a handler greenlet.

:class:`BaseServer` is gevent's ``gevent.baseserver.BaseServer``, name for
name. Subclasses (:class:`gevent_c.server.StreamServer`,
:class:`gevent_c.server.DatagramServer`, :class:`gevent_c.pywsgi.WSGIServer`)
say how to read (``do_read``) and how to clean up (``do_close``).

Accepting never stops for good on a transient error: when ``accept()`` fails
(EMFILE, ENFILE, ENOBUFS...) the server stops watching the listener for
``delay`` seconds, doubling from :attr:`~BaseServer.min_delay` up to
:attr:`~BaseServer.max_delay`, and resumes; the first success resets the
delay. Only the errors in :attr:`~BaseServer.fatal_errors` (the listener
itself is gone) close the server.

Differences from gevent: :meth:`BaseServer.stop` applies its *timeout* to
every kind of *spawn*, not only to pools: the greenlets running handlers are
tracked, allowed to finish for *timeout* seconds, then killed. Servers that
keep idle connections (pywsgi's keep-alive) close those at once.
"""
import errno
import sys
import time
import _socket

from gevent_c._greenlet import getcurrent
from gevent_c._hub_local import get_hub
from gevent_c.event import Event
from gevent_c.greenlet import Greenlet
from gevent_c.hub import kill as _kill_raw

__all__ = ['BaseServer']

# accept() failures that name one connection the peer gave up on: take the
# next connection at once, no back-off, nothing to report.
_PEER_GONE_ERRORS = frozenset((errno.ECONNABORTED, errno.EPROTO))

# accept() failures that mean the process or the system is short of a
# resource; reported in one line (a traceback per retry helps nobody).
_EXHAUSTED_ERRORS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


class BaseServer:
    """Accept connections on *listener* and run *handle* for each one.

    *listener* is an address to bind (``('127.0.0.1', 8000)``,
    ``'127.0.0.1:8000'``, ``':8000'``, ``8000``) or a socket already bound
    and listening. *handle* is called with what ``do_read`` returns (for a
    stream server: the client socket and its address); subclasses usually
    define a ``handle`` method instead. When it returns, ``do_close`` closes
    the connection, so a handler must not return while the socket is in use.

    *spawn* says where handlers run:

    - ``'default'``: a new :class:`gevent_c.Greenlet` per connection;
    - a :class:`gevent_c.pool.Pool` (or an int, the size of a new Pool):
      while the pool is full, no connection is accepted;
    - any callable ``spawn(function, *args)`` such as
      :func:`gevent_c.spawn_raw`;
    - None: run the handler in the hub itself (it must never block).

    A server is a context manager: ``with server:`` calls :meth:`stop`
    on exit.
    """

    #: Seconds to pause accepting after the first failed accept(); doubles
    #: with each consecutive failure, up to max_delay.
    min_delay = 0.01

    #: The longest pause after failed accept() calls, in seconds.
    max_delay = 1

    #: How many connections to accept per wake-up of the listener. Lower it
    #: when several processes share one listening socket.
    max_accept = 100

    #: Default seconds stop() lets handlers finish before killing them.
    stop_timeout = 1

    #: errno values of accept() that close the server (the listener is gone).
    fatal_errors = (errno.EBADF, errno.EINVAL, errno.ENOTSOCK)

    _spawn = Greenlet.spawn

    def __init__(self, listener, handle=None, spawn='default'):
        self._stop_event = Event()
        self._stop_event.set()
        self._watcher = None
        self._timer = None
        self._handle = None
        self._active = set()        # greenlets running a handler right now
        self._drained = None        # (Event, {stopper}) while stop() waits for handlers
        self.pool = None
        try:
            self.set_listener(listener)
            self.set_spawn(spawn)
            self.set_handle(handle)
            self.delay = self.min_delay
            self.loop = get_hub().loop
            if self.max_accept < 1:
                raise ValueError('max_accept must be positive int: %r' % (self.max_accept,))
        except:  # noqa: E722 -- whatever failed, the listener must not leak
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.stop()

    # -- configuration -------------------------------------------------------

    def set_listener(self, listener):
        """Use *listener*: a bound socket, or an address to bind at start()."""
        if hasattr(listener, 'accept'):
            if hasattr(listener, 'do_handshake'):
                raise TypeError('Expected a regular socket, not SSLSocket: %r' % (listener,))
            self.family = listener.family
            self.address = listener.getsockname()
            self.socket = listener
        else:
            self.family, self.address = parse_address(listener)

    def set_spawn(self, spawn):
        """Choose how handlers are started (see the class docstring)."""
        if spawn == 'default':
            self.pool = None
            self._spawn = type(self)._spawn
        elif hasattr(spawn, 'spawn'):
            self.pool = spawn
            self._spawn = spawn.spawn
        elif isinstance(spawn, int) and not isinstance(spawn, bool):
            from gevent_c.pool import Pool
            self.pool = Pool(spawn)
            self._spawn = self.pool.spawn
        elif spawn is None or callable(spawn):
            self.pool = None
            self._spawn = spawn
        else:
            raise TypeError('spawn must be "default", a Pool, an int, a callable or None: %r'
                            % (spawn,))
        if hasattr(self.pool, 'full'):
            self.full = self.pool.full

    def set_handle(self, handle):
        """Use *handle* (or the class's ``handle`` method) for connections."""
        if handle is not None:
            self.handle = handle
        if hasattr(self, 'handle'):
            self._handle = self.handle
        else:
            raise TypeError("'handle' must be provided")

    # -- accepting -----------------------------------------------------------

    def _start_accepting_if_started(self, _event=None):
        if self.started:
            self.start_accepting()

    def start_accepting(self):
        """Watch the listener (again) and accept connections from the hub."""
        if self._watcher is None:
            self._watcher = self.loop.io(self.socket.fileno(), 1)
            self._watcher.start(self._do_read)

    def stop_accepting(self):
        """Stop watching the listener; it stays open (connections queue)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
            watcher.close()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.stop()
            timer.close()

    def do_read(self):
        """Take one connection (or datagram); return handler args, or None if none."""
        raise NotImplementedError()

    def do_close(self, *args):
        """Release what do_read returned once its handler is done."""

    def _serve(self, handle, close, args):
        # Body of every handler greenlet: tracked so stop() can wait for it.
        active = self._active
        glet = getcurrent()
        active.add(glet)
        try:
            return handle(*args)
        finally:
            active.discard(glet)
            try:
                close(*args)
            finally:
                drained = self._drained
                if drained is not None and not (active - drained[1]):
                    drained[0].set()

    def do_handle(self, *args):
        """Run the handler for *args* through the server's spawn."""
        spawn = self._spawn
        handle = self._handle
        close = self.do_close
        try:
            if spawn is None:
                try:
                    handle(*args)
                finally:
                    close(*args)
            else:
                spawn(self._serve, handle, close, args)
        except:  # noqa: E722 -- spawn failed: the connection is ours to close
            close(*args)
            raise

    def _pause_accepting(self):
        # Back off after an error: stop watching, resume after self.delay.
        self.stop_accepting()
        self._timer = self.loop.timer(self.delay)
        self._timer.start(self._start_accepting_if_started)
        self.delay = min(self.max_delay, self.delay * 2)

    def _do_read(self):
        for _ in range(self.max_accept):
            if self.full():
                self.stop_accepting()
                if self.pool is not None:
                    self.pool._semaphore.rawlink(self._start_accepting_if_started)
                return
            try:
                args = self.do_read()
                self.delay = self.min_delay
                if not args:
                    return
            except OSError as ex:
                if ex.errno in _PEER_GONE_ERRORS:
                    continue
                if self.is_fatal_error(ex):
                    self.loop.handle_error(self, *sys.exc_info())
                    self.close()
                    sys.stderr.write('ERROR: %s failed with %s\n' % (self, str(ex) or repr(ex)))
                    return
                if ex.errno in _EXHAUSTED_ERRORS:
                    sys.stderr.write('ERROR: %s: accept() failed (%s); retrying in %ss\n'
                                     % (self, ex, self.delay))
                else:
                    self.loop.handle_error(self, *sys.exc_info())
                if self.delay >= 0:
                    self._pause_accepting()
                break
            except:  # noqa: E722 -- reported, then back off as for OSError
                self.loop.handle_error(self, *sys.exc_info())
                if self.delay >= 0:
                    self._pause_accepting()
                break
            try:
                self.do_handle(*args)
            except:  # noqa: E722 -- a failed spawn is reported and backs off
                self.loop.handle_error((args[1:], self), *sys.exc_info())
                if self.delay >= 0:
                    self._pause_accepting()
                break

    def full(self):  # replaced by the pool's full() when spawn is a Pool
        """True while no new handler can be started."""
        return False

    # -- representation ------------------------------------------------------

    def __repr__(self):
        return '<%s at %s %s>' % (type(self).__name__, hex(id(self)), self._formatinfo())

    def __str__(self):
        return '<%s %s>' % (type(self).__name__, self._formatinfo())

    def _formatinfo(self):
        parts = []
        if hasattr(self, 'socket'):
            try:
                fileno = self.socket.fileno()
            except Exception as ex:  # noqa: BLE001 -- a repr must not raise
                fileno = str(ex)
            parts.append('fileno=%s' % (fileno,))
        address = getattr(self, 'address', None)
        if isinstance(address, tuple) and len(address) == 2:
            parts.append('address=%s:%s' % address)
        else:
            parts.append('address=%s' % (address,))
        handle = self.__dict__.get('handle')
        if handle is not None:
            if getattr(handle, '__self__', None) is self:
                # A bound method of this server: its repr would recurse.
                text = '<bound method %s.%s of self>' % (type(self).__name__,
                                                        getattr(handle, '__name__', '?'))
            else:
                try:
                    text = repr(handle)
                except Exception as ex:  # noqa: BLE001
                    text = str(ex) or '<error>'
            parts.append('handle=' + text)
        return ' '.join(parts)

    @property
    def server_host(self):
        """The IP address the server is bound to (a string), or None."""
        if isinstance(self.address, tuple):
            return self.address[0]
        return None

    @property
    def server_port(self):
        """The port the server is bound to (an int), or None."""
        if isinstance(self.address, tuple):
            return self.address[1]
        return None

    # -- life cycle ----------------------------------------------------------

    def init_socket(self):
        """Create, bind and listen on the socket if only an address was given.

        Called by start(); not meant to be called directly.
        """

    @property
    def started(self):
        """True between start() and stop()/close()."""
        return not self._stop_event.is_set()

    def start(self):
        """Start accepting connections (binding the address first if needed)."""
        self.init_socket()
        self._stop_event.clear()
        try:
            self.start_accepting()
        except:  # noqa: E722
            self.close()
            raise

    def close(self):
        """Stop accepting and close the listening socket.

        Handlers already running go on; see :meth:`stop`.
        """
        self._stop_event.set()
        try:
            self.stop_accepting()
        finally:
            try:
                sock = self.__dict__.get('socket')
                if sock is not None:
                    sock.close()
            except Exception:  # noqa: BLE001 -- closing is best effort
                pass
            finally:
                for name in ('socket', 'handle', '_handle', '_spawn', 'full'):
                    self.__dict__.pop(name, None)
                if self.pool is not None:
                    self.pool._semaphore.unlink(self._start_accepting_if_started)

    @property
    def closed(self):
        """True once the listening socket is closed (or before it exists)."""
        return not hasattr(self, 'socket')

    def _close_idle_connections(self):
        """Close connections that wait for a next request (hook for keep-alive servers)."""

    def stop(self, timeout=None):
        """Stop accepting, let handlers finish for *timeout* seconds, kill the rest.

        *timeout* defaults to :attr:`stop_timeout`. Connections waiting idle
        between requests are closed at once. Handlers still running when the
        time is up get GreenletExit (each is given up to a second more to
        unwind). Called from a handler, it neither waits for nor kills that
        handler.
        """
        self.close()
        if timeout is None:
            timeout = self.stop_timeout
        self._close_idle_connections()
        deadline = time.monotonic() + timeout
        me = getcurrent()
        self._wait_handlers(me, timeout)
        if self.pool is not None and me not in self.pool:
            self.pool.join(timeout=max(0.0, deadline - time.monotonic()))
        self._kill_handlers(me)
        if self.pool is not None and me not in self.pool:
            self.pool.kill(block=True, timeout=1)

    def _wait_handlers(self, me, timeout):
        if not (self._active - {me}):
            return
        event = Event()
        self._drained = (event, {me})
        try:
            event.wait(timeout)
        finally:
            self._drained = None

    def _kill_handlers(self, me):
        others = [g for g in self._active if g is not me]
        if not others:
            return
        for glet in others:
            kill = getattr(glet, 'kill', None)
            if kill is not None:
                kill(block=False)
            else:
                _kill_raw(glet)
        self._wait_handlers(me, 1)

    def serve_forever(self, stop_timeout=None):
        """Start if needed and block until the server is stopped."""
        if not self.started:
            self.start()
        try:
            self._stop_event.wait()
        finally:
            Greenlet.spawn(self.stop, timeout=stop_timeout).join()

    def is_fatal_error(self, ex):
        """True if *ex*, raised by accept(), means the listener is unusable."""
        return isinstance(ex, OSError) and ex.args[0] in self.fatal_errors


def _split_host(host):
    if host.startswith('[') and host.endswith(']'):
        return _socket.AF_INET6, host[1:-1]
    return _socket.AF_INET, host


def _parse_address(address):
    if isinstance(address, tuple):
        if not address[0] or ':' in address[0]:
            return _socket.AF_INET6, address
        return _socket.AF_INET, address
    if isinstance(address, int) and not isinstance(address, bool):
        return _socket.AF_INET6, ('', address)
    if not isinstance(address, str):
        raise TypeError('Expected tuple or string, got %s' % type(address))
    if ':' not in address:
        return _socket.AF_INET6, ('', int(address))
    host, port = address.rsplit(':', 1)
    family, host = _split_host(host)
    if host == '*':
        host = ''
    return family, (host, int(port))


def parse_address(address):
    """``(family, address)`` for a listener address in any accepted form."""
    try:
        return _parse_address(address)
    except ValueError as ex:
        raise ValueError('Failed to parse address %r: %s' % (address, ex)) from None
