"""Cooperative sockets: the stdlib's :mod:`socket` API on the hub.

:class:`socket` is a subclass of the stdlib's ``socket.socket`` whose file
descriptor is always in non-blocking mode. Every operation first makes the
system call; only when the kernel answers EWOULDBLOCK does the greenlet wait
on the socket's own io watcher (created on first need, then reused), so other
greenlets run meanwhile. ``settimeout``/``gettimeout``/``setblocking`` behave
as the stdlib's: a timeout raises ``socket.timeout`` (TimeoutError) with the
stdlib's message, a timeout of 0 raises BlockingIOError. The hot methods
(recv, recv_into, send, sendall and the waits under every method) are
written in C: ``gevent_c._core.SocketMethods``, a base class of
:class:`socket`.

    from gevent_c import socket
    conn = socket.create_connection(('127.0.0.1', 8000), timeout=5)
    conn.sendall(b'ping')
    reply = conn.recv(4096)     # other greenlets run while this waits

Differences from the stdlib: closing a socket that another greenlet waits on
makes that greenlet raise OSError(EBADF); two greenlets waiting to read (or to
write) the same socket at once raise ConcurrentObjectUseError; ``detach()``
leaves the descriptor non-blocking (as gevent does). DNS functions ask
``get_hub().resolver`` unless the host is a numeric address.
"""
import io as _io
import os as _os
import socket as _stdsocket
import sys as _sys
import _socket
from errno import EAGAIN, EALREADY, EINPROGRESS, EISCONN

from gevent_c._stdlib import copy_names
from gevent_c import _core
from gevent_c._greenlet import getcurrent
from gevent_c._hub_local import get_hub
from gevent_c.exceptions import ConcurrentObjectUseError, InvalidSwitchError
from gevent_c.hub import _raisable, cancel_wait_ex

__implements__ = [
    'create_connection', 'socket', 'SocketType', 'fromfd', 'socketpair',
    'getaddrinfo', 'gethostbyname', 'gethostbyname_ex', 'gethostbyaddr',
    'getnameinfo', 'getfqdn', 'create_server',
]
__extensions__ = ['cancel_wait', 'wait_read', 'wait_write', 'wait_readwrite']
# Raw _socket.socket objects (SocketType) are internals (of the C parts too),
# not application sockets: monkey does not report those made before patching.
__early_safe__ = ['SocketType']
# What monkey.patch_dns() (or patch_socket(dns=True)) patches.
__dns__ = ['getaddrinfo', 'gethostbyname', 'gethostbyname_ex', 'gethostbyaddr',
           'getnameinfo', 'getfqdn']

# Everything else the stdlib module exports is copied as is.
__imports__ = copy_names(
    _stdsocket, globals(),
    list(_stdsocket.__all__) + ['error', 'timeout', 'gaierror', 'herror', 'errorTab'],
    exclude=__implements__ + __extensions__)

__all__ = __implements__ + __extensions__ + __imports__

_Base = _stdsocket.socket
_ss = _socket.socket
_sendto = _ss.sendto
_connect = _ss.connect
_connect_ex = _ss.connect_ex
_accept = _ss._accept
_close = _ss.close
_detach = _ss.detach
_fileno = _ss.fileno
_raw_setblocking = _ss.setblocking
_family = _ss.family.__get__
_type = _ss.type.__get__
_proto = _ss.proto.__get__
_getdefaulttimeout = _socket.getdefaulttimeout
_SOCK_NONBLOCK = getattr(_socket, 'SOCK_NONBLOCK', 0)
_timeout_error = _stdsocket.timeout
_GLOBAL_DEFAULT_TIMEOUT = _stdsocket._GLOBAL_DEFAULT_TIMEOUT
_GiveupOnSendfile = _stdsocket._GiveupOnSendfile
_intenum_converter = _stdsocket._intenum_converter
_AddressFamily = _stdsocket.AddressFamily
_SocketKind = _stdsocket.SocketKind
from time import monotonic as _monotonic
_inet_pton = _socket.inet_pton
_AF_INET = _socket.AF_INET
_AF_INET6 = _socket.AF_INET6

# A socket object without a descriptor: settimeout() on it parses a value
# exactly as the stdlib does (then fails with EBADF), so odd values get the
# stdlib's own errors and rounding.
_parser = _ss.__new__(_ss)


def _parse_timeout(value):
    if value is None:
        return None
    tv = type(value)
    if (tv is float or tv is int) and 0 <= value < 1e9:
        return float(value)
    try:
        _ss.settimeout(_parser, value)
    except OSError:
        pass
    return _ss.gettimeout(_parser)


def _raise_concurrent(greenlet):
    raise ConcurrentObjectUseError(
        'This socket is already used by another greenlet: %r' % (greenlet,))


def _throw_if_waiting(sock, attr, glet, error):
    # The greenlet may have been woken another way since close() (a Timeout,
    # a kill): only throw into it while it still waits on this socket.
    if getattr(sock, attr) is glet:
        glet.throw(_raisable(error))


class socket(_core.SocketMethods, _Base):
    """A cooperative ``socket.socket``; same constructor and methods.

    ``socket(family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None)``.
    Blocking calls (accept, connect, recv*, send*, sendall, sendfile) wait
    on the hub instead of in the kernel; the timeout set with
    ``settimeout`` (or ``setdefaulttimeout``) applies as in the stdlib.
    """

    __slots__ = ('hub', 'timeout', '_read_event', '_write_event', '_reader', '_writer',
                 '_drained')

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None:
            if type == -1:
                type = _stdsocket.SOCK_STREAM
            # Created non-blocking by the kernel: no extra system call.
            _Base.__init__(self, family, type | _SOCK_NONBLOCK, proto)
            self.timeout = 0.0 if type & _SOCK_NONBLOCK else _getdefaulttimeout()
        else:
            _Base.__init__(self, family, type, proto, fileno)
            self.timeout = _getdefaulttimeout()
            _raw_setblocking(self, False)
        self.hub = get_hub()
        self._read_event = self._write_event = None
        self._reader = self._writer = None
        self._drained = False

    @classmethod
    def _from_nonblocking_fd(cls, fd, family, type, proto, timeout):
        """Wrap *fd*, already non-blocking, without any system call."""
        self = cls.__new__(cls)
        _Base.__init__(self, family, type | _SOCK_NONBLOCK, proto, fd)
        self.timeout = timeout
        self.hub = get_hub()
        self._read_event = self._write_event = None
        self._reader = self._writer = None
        self._drained = False
        return self

    # -- waiting ------------------------------------------------------------

    # _wait_read(timeout=None, message='timed out') and _wait_write(...):
    # block until readable / writable, in C (gevent_c._core.SocketMethods),
    # as are recv, recv_into, recvfrom, recvfrom_into, recvmsg, recvmsg_into,
    # send, sendall and sendmsg.

    def _drop_events(self):
        """Forget the watchers; wake any waiter with EBADF (before a close)."""
        hub = self.hub
        self._drained = False
        for attr, watcher_attr in (('_reader', '_read_event'), ('_writer', '_write_event')):
            watcher = getattr(self, watcher_attr)
            if watcher is None:
                continue
            setattr(self, watcher_attr, None)
            if hub.loop is None:
                continue
            watcher.stop()
            glet = getattr(self, attr)
            if glet is not None:
                hub.loop.run_callback(_throw_if_waiting, self, attr, glet, cancel_wait_ex)

    # -- state --------------------------------------------------------------

    @property
    def closed(self):
        """True once close() was called (gevent's attribute)."""
        return self._closed

    @property
    def ref(self):
        """Whether a greenlet waiting on this socket keeps the loop alive
        (True by default); False lets the hub exit with such waits pending."""
        watchers = [w for w in (self._read_event, self._write_event) if w is not None]
        return not watchers or any(w.ref for w in watchers)

    @ref.setter
    def ref(self, value):
        value = bool(value)
        if value and self._read_event is None and self._write_event is None:
            return  # watchers made on first need start referenced
        loop = self.hub.loop
        fd = _fileno(self)
        if self._read_event is None and fd >= 0:
            self._read_event = loop.io(fd, 1)
        if self._write_event is None and fd >= 0:
            self._write_event = loop.io(fd, 2)
        for watcher in (self._read_event, self._write_event):
            if watcher is not None:
                watcher.ref = value

    # -- timeouts -----------------------------------------------------------

    def settimeout(self, value):
        """Set the timeout in seconds (None: block forever, 0: non-blocking)."""
        self.timeout = _parse_timeout(value)

    def gettimeout(self):
        """The timeout in seconds, or None."""
        return self.timeout

    def setblocking(self, flag):
        """setblocking(True) is settimeout(None); setblocking(False) is settimeout(0)."""
        self.timeout = None if flag else 0.0

    def getblocking(self):
        """True unless the timeout is 0."""
        return self.timeout != 0.0

    # -- connections --------------------------------------------------------

    def accept(self):
        """Wait for a connection; return (new socket, address)."""
        while True:
            try:
                fd, addr = _accept(self)
                break
            except BlockingIOError:
                if self.timeout == 0.0:
                    raise
            self._wait_read()
        sock = socket._from_nonblocking_fd(fd, _family(self), _type(self), _proto(self),
                                           _getdefaulttimeout())
        try:
            _raw_setblocking(sock, False)
        except BaseException:
            sock.close()
            raise
        return sock, addr

    def _connect_wait(self, address, connect_ex):
        """Connect cooperatively; return 0 or an errno (raise if not *connect_ex*)."""
        timeout = self.timeout
        address = _resolve_addr(self, address)
        if connect_ex:
            err = _connect_ex(self, address)
        else:
            try:
                _connect(self, address)
                err = 0
            except BlockingIOError as exc:
                err = exc.errno
        if not err or err == EISCONN:
            return 0
        if err == EINPROGRESS or err == EALREADY:
            self._wait_write(timeout)
            err = self.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        elif err == EAGAIN:
            err = self._connect_retry(address, timeout)
        if err and not connect_ex:
            raise OSError(err, _os.strerror(err))
        return err

    def _connect_retry(self, address, timeout):
        # AF_UNIX with a full backlog answers EAGAIN and the socket polls
        # writable at once, so retry after short, growing sleeps.
        deadline = None if timeout is None else _monotonic() + timeout
        delay = 0.0005
        err = EAGAIN
        while err == EAGAIN:
            if deadline is not None:
                left = deadline - _monotonic()
                if left <= 0:
                    raise _timeout_error('timed out')
                delay = min(delay, left)
            self._sleep(delay)
            delay = min(delay * 2, 0.05)
            err = _connect_ex(self, address)
        return 0 if err == EISCONN else err

    def _sleep(self, seconds):
        hub = self.hub
        glet = getcurrent()
        timer = hub.loop.timer(seconds)
        timer.start(glet.switch, timer, update=True)
        try:
            result = hub.switch()
        finally:
            timer.stop()
        if result is not timer:
            raise InvalidSwitchError('Invalid switch into %s: got %r' % (glet, result))

    def connect(self, address):
        """Connect to *address*, waiting cooperatively for the handshake."""
        if self.timeout == 0.0:
            return _connect(self, _resolve_addr(self, address))
        self._connect_wait(address, False)

    def connect_ex(self, address):
        """Like connect() but return an errno instead of raising OSError."""
        if self.timeout == 0.0:
            return _connect_ex(self, _resolve_addr(self, address))
        try:
            return self._connect_wait(address, True)
        except _timeout_error:
            return EAGAIN

    # -- receiving ----------------------------------------------------------

    # -- sending ------------------------------------------------------------

    def sendto(self, *args):
        """sendto(data[, flags], address) -> number of bytes sent."""
        if args:
            args = args[:-1] + (_resolve_addr(self, args[-1]),)
        while True:
            try:
                return _sendto(self, *args)
            except BlockingIOError:
                if self.timeout == 0.0:
                    raise
            self._wait_write()

    def _sendfile_use_sendfile(self, file, offset=0, count=None):
        # The stdlib version polls in the kernel; this one waits on the hub.
        self._check_sendfile_params(file, offset, count)
        sockno = self.fileno()
        try:
            fileno = file.fileno()
        except (AttributeError, _io.UnsupportedOperation) as err:
            raise _GiveupOnSendfile(err)
        try:
            fsize = _os.fstat(fileno).st_size
        except OSError as err:
            raise _GiveupOnSendfile(err)
        if not fsize:
            return 0
        blocksize = min(count or fsize, 2 ** 30)
        timeout = self.timeout
        if timeout == 0:
            raise ValueError("non-blocking sockets are not supported")
        total_sent = 0
        try:
            while True:
                if count:
                    blocksize = count - total_sent
                    if blocksize <= 0:
                        break
                try:
                    sent = _os.sendfile(sockno, fileno, offset, blocksize)
                except BlockingIOError:
                    self._wait_write()
                    continue
                except OSError as err:
                    if total_sent == 0:
                        raise _GiveupOnSendfile(err)
                    raise err from None
                if sent == 0:
                    break
                offset += sent
                total_sent += sent
            return total_sent
        finally:
            if total_sent > 0 and hasattr(file, 'seek'):
                file.seek(offset)

    # -- lifetime -----------------------------------------------------------

    def _real_close(self, _ss=_ss):
        self._drop_events()
        fd = _fileno(self)
        loop = self.hub.loop
        if fd >= 0 and loop is not None:
            # Wake other watchers of this fd (select, wait_read) so they see EBADF.
            loop.closing_fd(fd)
        _ss.close(self)

    def detach(self):
        """Forget the descriptor and return it, in the stdlib's mode for this
        socket: blocking when the timeout is None, non-blocking otherwise.

        (gevent leaves it non-blocking, so ``multiprocessing.Pipe()`` - a
        patched socketpair whose descriptors are detached - raised
        BlockingIOError on ``recv()``.)
        """
        self._drop_events()
        blocking = self.timeout is None
        fd = _Base.detach(self)
        if blocking and fd >= 0 and fd not in _fds_taken_over:
            _os.set_blocking(fd, True)
        return fd

    def dup(self):
        """A new socket on a duplicate of the descriptor, same timeout."""
        fd = _os.dup(_fileno(self))
        return type(self)._from_nonblocking_fd(fd, _family(self), _type(self), _proto(self),
                                               self.timeout)


_core._socket_setup(socket)
SocketType = socket

# Descriptors another cooperative socket already took over before the old
# object is detached (ssl's SSLSocket._create does that): detach() leaves
# them non-blocking.
_fds_taken_over = set()


def _resolve_addr(sock, address):
    """Resolve a host name in an AF_INET/AF_INET6 address through the hub's resolver."""
    family = _family(sock)
    if (family != _AF_INET and family != _AF_INET6) or type(address) is not tuple \
            or len(address) < 2:
        return address
    host = address[0]
    if type(host) is not str or not host or host == '<broadcast>':
        return address
    try:
        _inet_pton(family, host)
        return address
    except (OSError, ValueError):
        pass
    if '%' in host and family == _AF_INET6:
        return address  # a scoped numeric address: libc parses it without DNS
    port = address[1]
    # The port stays the caller's, for the stdlib's own checks of it.
    info = getaddrinfo(host, None, family, _type(sock))
    if not info:
        raise _stdsocket.gaierror('getaddrinfo returns an empty list')
    # As the stdlib: only the host is resolved; flowinfo/scope_id stay the caller's.
    return (info[0][4][0], port) + address[2:]


def socketpair(family=None, type=_socket.SOCK_STREAM, proto=0):
    """A pair of connected cooperative sockets (AF_UNIX by default)."""
    if family is None:
        family = getattr(_socket, 'AF_UNIX', _AF_INET)
    a, b = _socket.socketpair(family, type | _SOCK_NONBLOCK, proto)
    timeout = 0.0 if type & _SOCK_NONBLOCK else _getdefaulttimeout()
    plain = type & ~(_SOCK_NONBLOCK | getattr(_socket, 'SOCK_CLOEXEC', 0))
    a = socket._from_nonblocking_fd(a.detach(), family, plain, proto, timeout)
    b = socket._from_nonblocking_fd(b.detach(), family, plain, proto, timeout)
    return a, b


def fromfd(fd, family, type, proto=0):
    """A cooperative socket on a duplicate of *fd* (made non-blocking)."""
    return socket(family, type, proto, _os.dup(fd))


def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None,
                      *, all_errors=False):
    """Connect to (host, port), trying each address getaddrinfo returns.

    Same arguments, result and errors as ``socket.create_connection``.
    Before 3.11 (no ExceptionGroup) *all_errors* is accepted and ignored,
    as gevent does.
    """
    if _sys.version_info < (3, 11):
        all_errors = False
    host, port = address
    errors = []
    for family, kind, proto, _, sockaddr in getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = None
        try:
            sock = socket(family, kind, proto)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            errors.clear()
            return sock
        except error as exc:  # noqa: F821 -- copied from the stdlib above
            if not all_errors:
                errors.clear()
            errors.append(exc)
            if sock is not None:
                sock.close()
    if not errors:
        raise error('getaddrinfo returns an empty list')  # noqa: F821
    try:
        if not all_errors:
            raise errors[0]
        raise ExceptionGroup('create_connection failed', errors)  # noqa: F821
    finally:
        errors = []


def create_server(address, *, family=_AF_INET, backlog=None, reuse_port=False,
                  dualstack_ipv6=False):
    """A cooperative listening TCP socket bound to *address*.

    Same arguments, defaults and errors as ``socket.create_server``.
    """
    if reuse_port and not hasattr(_socket, 'SO_REUSEPORT'):
        raise ValueError('SO_REUSEPORT not supported on this platform')
    if dualstack_ipv6:
        if not _stdsocket.has_dualstack_ipv6():
            raise ValueError('dualstack_ipv6 not supported on this platform')
        if family != _AF_INET6:
            raise ValueError('dualstack_ipv6 requires AF_INET6 family')
    sock = socket(family, _socket.SOCK_STREAM)
    try:
        if _os.name not in ('nt', 'cygwin') and hasattr(_socket, 'SO_REUSEADDR'):
            try:
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            except error:  # noqa: F821
                pass
        if reuse_port:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEPORT, 1)
        if family == _AF_INET6 and hasattr(_socket, 'IPPROTO_IPV6'):
            if dualstack_ipv6:
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0)
            elif hasattr(_socket, 'IPV6_V6ONLY'):
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(address)
        except error as err:  # noqa: F821
            raise error(err.errno, '%s (while attempting to bind on address %r)'  # noqa: F821
                        % (err.strerror, address)) from None
        if backlog is None:
            sock.listen()
        else:
            sock.listen(backlog)
        return sock
    except error:  # noqa: F821
        sock.close()
        raise


# -- DNS ----------------------------------------------------------------------

def _is_numeric_host(host):
    if host is None:
        return True
    if type(host) is not str:
        return False
    for family in (_AF_INET, _AF_INET6):
        try:
            _inet_pton(family, host)
            return True
        except (OSError, ValueError):
            pass
    return False


def _is_numeric_port(port):
    if port is None or type(port) is int:
        return True
    if isinstance(port, (str, bytes)):
        return port.isdigit()
    return False


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """Cooperative ``socket.getaddrinfo`` (through ``get_hub().resolver``).

    Numeric hosts and ports are answered at once by libc (no lookup can
    block); everything else goes to the hub's resolver.
    """
    if _is_numeric_host(host) and _is_numeric_port(port):
        infos = _socket.getaddrinfo(host, port, family, type, proto, flags)
    else:
        infos = get_hub().resolver.getaddrinfo(host, port, family, type, proto, flags)
    return [(_intenum_converter(af, _AddressFamily), _intenum_converter(kind, _SocketKind),
             pr, canon, sa) for af, kind, pr, canon, sa in infos]


def gethostbyname(hostname):
    """Cooperative ``socket.gethostbyname``."""
    if type(hostname) is str:
        try:
            _inet_pton(_AF_INET, hostname)
            return _socket.gethostbyname(hostname)
        except (OSError, ValueError):
            pass
    return get_hub().resolver.gethostbyname(hostname)


def gethostbyname_ex(hostname):
    """Cooperative ``socket.gethostbyname_ex``."""
    return get_hub().resolver.gethostbyname_ex(hostname)


def gethostbyaddr(ip_address):
    """Cooperative ``socket.gethostbyaddr``."""
    return get_hub().resolver.gethostbyaddr(ip_address)


def getnameinfo(sockaddr, flags):
    """Cooperative ``socket.getnameinfo``."""
    return get_hub().resolver.getnameinfo(sockaddr, flags)


def getfqdn(name=''):
    """The fully qualified name of *name* (this host by default), cooperatively."""
    name = name.strip()
    if not name or name in ('0.0.0.0', '::'):
        name = _socket.gethostname()
    try:
        hostname, aliases, _ = gethostbyaddr(name)
    except error:  # noqa: F821
        return name
    for candidate in [hostname] + list(aliases):
        if '.' in candidate:
            return candidate
    return hostname


# -- waiting on raw descriptors (gevent's extensions) -------------------------

_NONE = object()


def wait(io, timeout=None, timeout_exc=_NONE):
    """Block until the io watcher *io* fires (or raise *timeout_exc* after *timeout*)."""
    if io.callback is not None:
        _raise_concurrent(io.callback)
    from gevent_c.timeout import Timeout
    if timeout_exc is _NONE:
        timeout_exc = _timeout_error('timed out')
    tm = Timeout._start_new_or_dummy(timeout, timeout_exc)
    try:
        return get_hub().wait(io)
    finally:
        tm.close()


def _wait_fd(fileno, events, timeout, timeout_exc):
    io = get_hub().loop.io(fileno, events)
    try:
        return wait(io, timeout, timeout_exc)
    finally:
        io.close()


def wait_read(fileno, timeout=None, timeout_exc=_NONE):
    """Block the current greenlet until *fileno* is readable."""
    return _wait_fd(fileno, 1, timeout, timeout_exc)


def wait_write(fileno, timeout=None, timeout_exc=_NONE, event=_NONE):
    """Block the current greenlet until *fileno* is writable."""
    return _wait_fd(fileno, 2, timeout, timeout_exc)


def wait_readwrite(fileno, timeout=None, timeout_exc=_NONE, event=_NONE):
    """Block the current greenlet until *fileno* is readable or writable."""
    return _wait_fd(fileno, 3, timeout, timeout_exc)


def cancel_wait(watcher, error=cancel_wait_ex):
    """Make the greenlet waiting on *watcher* raise *error*."""
    get_hub().cancel_wait(watcher, error)


# gevent.socket also offers these errno values as module attributes (tests
# and servers compare socket errors against socket.EBADF and friends).
from errno import (EAGAIN, EALREADY, EBADF, ECONNREFUSED, EHOSTUNREACH,  # noqa: E402,F401
                   EINPROGRESS, EINVAL, EISCONN, EWOULDBLOCK)
