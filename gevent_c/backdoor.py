"""An interactive Python console inside a running process, over a socket.

:class:`BackdoorServer` accepts connections and gives each one a
:class:`code.InteractiveConsole` running in its own greenlet, with its own
locals; what the code typed there prints goes back to that connection::

    from gevent_c.backdoor import BackdoorServer
    BackdoorServer(('127.0.0.1', 5001), banner='hello',
                   locals={'app': app}).serve_forever()

    $ nc 127.0.0.1 5001

.. warning:: There is no authentication: whoever can connect can run any
   code as this process. Bind it to a loopback address (127.0.0.1, ::1) or
   a Unix socket only; starting it on another address warns
   (:class:`RuntimeWarning`). It binds exactly where it is told.

While sessions run, ``sys.stdin``, ``sys.stdout`` and ``sys.stderr`` are
stand-ins that send each session greenlet to its connection and every
other greenlet to the original streams (gevent swaps the streams on each
switch instead; the effect is the same).
"""
import builtins
import socket as _stdsocket
import sys
import warnings
import weakref
from code import InteractiveConsole

from gevent_c._greenlet import getcurrent
from gevent_c.pool import Pool
from gevent_c.server import StreamServer

__all__ = ['BackdoorServer']

if not hasattr(sys, 'ps1'):
    sys.ps1 = '>>> '
if not hasattr(sys, 'ps2'):
    sys.ps2 = '... '

# greenlet -> _Session, for the greenlets running a console.
_sessions = weakref.WeakKeyDictionary()


class _Switchboard:
    """Stands in for sys.stdin/stdout/stderr while sessions run."""

    def __init__(self, name, original):
        self._name = name
        self._original = original

    def _target(self):
        session = _sessions.get(getcurrent())
        if session is None:
            return self._original
        return session.stdin if self._name == 'stdin' else session.stdout

    def __getattr__(self, attr):
        return getattr(self._target(), attr)

    def write(self, data):
        return self._target().write(data)

    def flush(self):
        return self._target().flush()

    def readline(self, *args):
        return self._target().readline(*args)


def _install_switchboards():
    for name in ('stdin', 'stdout', 'stderr'):
        current = getattr(sys, name)
        if not isinstance(current, _Switchboard):
            setattr(sys, name, _Switchboard(name, current))


def _remove_switchboards():
    for name in ('stdin', 'stdout', 'stderr'):
        current = getattr(sys, name)
        if isinstance(current, _Switchboard):
            setattr(sys, name, current._original)


class _SocketOutput:
    """sys.stdout/stderr of a session: text written straight to the socket."""

    encoding = 'utf-8'
    errors = 'replace'
    softspace = None

    def __init__(self, sock):
        self.sock = sock
        self.fileno = sock.fileno

    def write(self, data):
        if not isinstance(data, bytes):
            data = data.encode(self.encoding, self.errors)
        self.sock.sendall(data)
        return len(data)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def isatty(self):
        return False

    def close(self):
        pass


class _SocketInput(_SocketOutput):
    """sys.stdin of a session: lines read from the socket."""

    def __init__(self, sock):
        _SocketOutput.__init__(self, sock)
        self.file = sock.makefile('r', encoding='utf-8', newline='')

    def readline(self, *args):
        try:
            return self.file.readline(*args).replace('\r\n', '\n')
        except (UnicodeError, OSError):
            return ''           # ^C from a terminal, or the connection broke

    def read(self, *args):
        return self.file.read(*args)

    def close(self):
        pass                    # quit() closes stdin; the session ends anyway


class _Session:
    __slots__ = ('stdin', 'stdout', '__weakref__')

    def __init__(self, sock):
        self.stdin = _SocketInput(sock)
        self.stdout = _SocketOutput(sock)


def _is_local(address):
    """True for a loopback (host, port, ...) address or a non-IP address (Unix socket)."""
    if not isinstance(address, tuple):
        return True
    host = address[0]
    return host.startswith('127.') or host in ('::1', 'localhost') or host.startswith('::ffff:127.')


class BackdoorServer(StreamServer):
    """Serves an interactive console per connection.

    ``BackdoorServer(listener, locals=None, banner=None, **server_args)``:
    *locals* are copied into each session's namespace; *banner* is printed
    to each connecting user. Sessions are killed when the server stops.
    """

    def __init__(self, listener, locals=None, banner=None, **server_args):
        StreamServer.__init__(self, listener, spawn=Pool(), **server_args)
        namespace = {'__doc__': None, '__name__': '__console__'}
        if locals:
            namespace.update(locals)
        self.locals = namespace
        self.banner = banner
        self.stderr = sys.stderr

    def start(self):
        StreamServer.start(self)
        if not _is_local(self.address):
            warnings.warn('BackdoorServer listens on %s: anyone who can connect can run '
                          'code in this process' % (self.address[0] or 'every interface',),
                          RuntimeWarning, stacklevel=2)

    def _create_interactive_locals(self):
        namespace = self.locals.copy()
        namespace['builtins'] = builtins
        namespace['__builtins__'] = builtins
        return namespace

    def handle(self, conn, _address):
        """Run one console session on *conn* until the user quits or leaves."""
        try:
            conn.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        except OSError:
            pass
        session = _Session(conn)
        glet = getcurrent()
        _sessions[glet] = session
        _install_switchboards()
        try:
            console = InteractiveConsole(self._create_interactive_locals())
            console.interact(banner=self.banner, exitmsg='')
        except SystemExit:
            pass                # quit(), exit() or sys.exit() typed in the console
        finally:
            _sessions.pop(glet, None)
            if not _sessions:
                _remove_switchboards()
            try:
                session.stdin.file.close()
            except OSError:
                pass
            conn.close()
