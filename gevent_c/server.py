"""TCP (optionally TLS) and UDP servers on the hub.

:class:`StreamServer` accepts TCP connections and calls
``handle(socket, address)`` in a new greenlet for each;
:class:`DatagramServer` calls ``handle(data, address)`` for each datagram
and answers with :meth:`DatagramServer.sendto`. Both are gevent's
``gevent.server`` classes, name for name::

    from gevent_c.server import StreamServer

    def echo(sock, address):
        with sock:
            while data := sock.recv(4096):
                sock.sendall(data)

    StreamServer(('127.0.0.1', 6000), echo).serve_forever()

TLS: pass ``ssl_context=`` (any :class:`ssl.SSLContext`) or the arguments
of the old ``ssl.wrap_socket`` (``keyfile``, ``certfile``, ``ca_certs``,
``cert_reqs``, ``ssl_version``, ``ciphers``); the client socket is wrapped
before ``handle`` sees it. Difference from gevent: a context from the
stdlib's :mod:`ssl` works too (sockets are wrapped in gevent_c's cooperative
SSLSocket either way), and bad key/certificate files fail in the
constructor rather than at the first connection.
"""
import sys
import _socket
from _socket import AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR

from gevent_c.baseserver import BaseServer
from gevent_c.socket import socket as _GSocket

__all__ = ['StreamServer', 'DatagramServer']

DEFAULT_REUSE_ADDR = None if sys.platform == 'win32' else 1

_accept = _socket.socket._accept
_recvfrom = _socket.socket.recvfrom
_raw_setblocking = _socket.socket.setblocking
_getdefaulttimeout = _socket.getdefaulttimeout

# Arguments of the old ssl.wrap_socket() that build the context; the others
# (server_side, do_handshake_on_connect, suppress_ragged_eofs) go to
# SSLContext.wrap_socket for each connection.
_WRAP_ARGS = frozenset(('server_side', 'do_handshake_on_connect', 'suppress_ragged_eofs',
                        'server_hostname', 'session'))


def _context_from_args(ssl_args):
    from gevent_c import ssl as gssl
    keyfile = ssl_args.pop('keyfile', None)
    certfile = ssl_args.pop('certfile', None)
    cert_reqs = ssl_args.pop('cert_reqs', gssl.CERT_NONE)
    ssl_version = ssl_args.pop('ssl_version', gssl.PROTOCOL_TLS_SERVER)
    ca_certs = ssl_args.pop('ca_certs', None)
    ciphers = ssl_args.pop('ciphers', None)
    if keyfile and not certfile:
        raise ValueError('certfile must be specified')
    if not certfile:
        raise ValueError('certfile must be specified for server-side operations')
    if ssl_version == gssl.PROTOCOL_TLS:
        ssl_version = gssl.PROTOCOL_TLS_SERVER
    context = gssl.SSLContext(ssl_version)
    context.verify_mode = cert_reqs
    if ca_certs:
        context.load_verify_locations(ca_certs)
    context.load_cert_chain(certfile, keyfile)
    if ciphers:
        context.set_ciphers(ciphers)
    return context


def _wrapper_for(context):
    """A ``wrap(sock, **kwargs)`` giving gevent_c SSLSockets for *context*."""
    from gevent_c import ssl as gssl
    if issubclass(getattr(context, 'sslsocket_class', object), gssl.SSLSocket):
        return context.wrap_socket

    def wrap_socket(sock, server_side=True, do_handshake_on_connect=True,
                    suppress_ragged_eofs=True, server_hostname=None, session=None):
        # A stdlib context would make a blocking stdlib SSLSocket.
        return gssl.SSLSocket._create(
            sock=sock, server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
            context=context, session=session)
    return wrap_socket


class StreamServer(BaseServer):
    """A TCP server: ``handle(client_socket, address)`` per connection.

    ``StreamServer(listener, handle=None, backlog=None, spawn='default',
    **ssl_args)``. *backlog* (default :attr:`backlog`) only applies when
    the server binds *listener* itself. Errors from accept() or spawn
    pause accepting for a growing delay (see :class:`BaseServer`); errors
    inside a handler only end that connection.
    """

    #: listen() backlog when the server creates the listening socket.
    backlog = 128

    #: SO_REUSEADDR value for listeners the server creates (None: leave as is).
    reuse_addr = DEFAULT_REUSE_ADDR

    def __init__(self, listener, handle=None, backlog=None, spawn='default', **ssl_args):
        BaseServer.__init__(self, listener, handle=handle, spawn=spawn)
        try:
            if ssl_args:
                ssl_args.setdefault('server_side', True)
                if 'ssl_context' in ssl_args:
                    context = ssl_args.pop('ssl_context')
                else:
                    context = _context_from_args(ssl_args)
                unknown = set(ssl_args) - _WRAP_ARGS
                if unknown:
                    raise TypeError('unexpected TLS arguments: %s' % ', '.join(sorted(unknown)))
                self.ssl_context = context
                self.wrap_socket = _wrapper_for(context)
                self.ssl_args = ssl_args
            else:
                self.ssl_args = None
            if backlog is not None:
                if hasattr(self, 'socket'):
                    raise TypeError('backlog must be None when a socket instance is passed')
                self.backlog = backlog
        except:  # noqa: E722
            self.close()
            raise

    @property
    def ssl_enabled(self):
        """True if client sockets are wrapped in TLS."""
        return self.ssl_args is not None

    def init_socket(self):
        if not hasattr(self, 'socket'):
            self.socket = self.get_listener(self.address, self.backlog, self.family)
            self.address = self.socket.getsockname()
        elif not isinstance(self.socket, _GSocket):
            # A stdlib listener: accept() must never block the hub (another
            # process sharing the listener may take the connection first).
            _raw_setblocking(self.socket, False)
        if self.ssl_args:
            self._handle = self.wrap_socket_and_handle
        else:
            self._handle = self.handle

    @classmethod
    def get_listener(cls, address, backlog=None, family=None):
        """A new cooperative socket bound to *address* and listening."""
        if backlog is None:
            backlog = cls.backlog
        return _tcp_listener(address, backlog=backlog, reuse_addr=cls.reuse_addr, family=family)

    def do_read(self):
        listener = self.socket
        try:
            fd, address = _accept(listener)
        except BlockingIOError:
            return None
        sock = _GSocket._from_nonblocking_fd(fd, listener.family, listener.type,
                                             listener.proto, _getdefaulttimeout())
        try:
            _raw_setblocking(sock, False)
        except BaseException:
            sock.close()
            raise
        return sock, address

    def do_close(self, sock, *args):
        sock.close()

    def wrap_socket_and_handle(self, client_socket, address):
        """Wrap *client_socket* in TLS, then run handle() (TLS servers' handler)."""
        with self.wrap_socket(client_socket, **self.ssl_args) as ssl_socket:
            return self.handle(ssl_socket, address)


class DatagramServer(BaseServer):
    """A UDP server: ``handle(data, address)`` per datagram (up to 8192 bytes).

    Answer with :meth:`sendto`.
    """

    #: SO_REUSEADDR value for sockets the server creates (None: leave as is).
    reuse_addr = DEFAULT_REUSE_ADDR

    def __init__(self, *args, **kwargs):
        self._socket = None
        BaseServer.__init__(self, *args, **kwargs)
        from gevent_c.lock import Semaphore
        self._writelock = Semaphore()

    def init_socket(self):
        if not hasattr(self, 'socket'):
            self.socket = self.get_listener(self.address, self.family)
            self.address = self.socket.getsockname()
        elif not isinstance(self.socket, _GSocket):
            _raw_setblocking(self.socket, False)
        self._socket = self.socket

    @classmethod
    def get_listener(cls, address, family=None):
        """A new cooperative UDP socket bound to *address*."""
        return _udp_socket(address, reuse_addr=cls.reuse_addr, family=family)

    def do_read(self):
        try:
            data, address = _recvfrom(self._socket, 8192)
        except BlockingIOError:
            return None
        return data, address

    def sendto(self, *args):
        """``sendto(data[, flags], address)`` on the server's socket, one at a time."""
        with self._writelock:
            return self.socket.sendto(*args)


def _bound(sock, address):
    try:
        sock.bind(address)
    except OSError as ex:
        if getattr(ex, 'strerror', None) is not None:
            ex.strerror = ex.strerror + ': ' + repr(address)
        sock.close()
        raise
    except BaseException:
        sock.close()
        raise
    return sock


def _tcp_listener(address, backlog=50, reuse_addr=None, family=AF_INET):
    """A cooperative TCP socket bound to *address* and listening."""
    sock = _GSocket(family=family)
    if reuse_addr is not None:
        sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, reuse_addr)
    _bound(sock, address)
    try:
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _udp_socket(address, backlog=50, reuse_addr=None, family=AF_INET):
    """A cooperative UDP socket bound to *address* (*backlog* is ignored)."""
    sock = _GSocket(family=family, type=SOCK_DGRAM)
    if reuse_addr is not None:
        sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, reuse_addr)
    return _bound(sock, address)
