"""Cooperative TLS: the stdlib's :mod:`ssl` API over gevent_c sockets.

:class:`SSLSocket` is the stdlib's ``ssl.SSLSocket`` placed over a
:class:`gevent_c.socket.socket`: the descriptor stays non-blocking, OpenSSL
answers SSLWantReadError/SSLWantWriteError where the kernel would block, and
the greenlet then waits on the socket's io watcher. Handshake, read, write,
unwrap, SNI and ALPN work as in the stdlib; timeouts raise the stdlib's
TimeoutError with the stdlib's message ("The read operation timed out").

    from gevent_c import socket, ssl
    ctx = ssl.create_default_context()
    with socket.create_connection(('127.0.0.1', 8443)) as raw:
        with ctx.wrap_socket(raw, server_hostname='localhost') as tls:
            tls.sendall(b'hello')

:class:`SSLContext` (and the contexts made by ``create_default_context`` and
friends) wrap sockets into this class. Every other name is the stdlib's.
"""
import functools
import ssl as _ssl
import warnings as _warnings

from gevent_c._stdlib import copy_names
from gevent_c import socket as _gsocket
from gevent_c.socket import socket as _gsocket_class

__implements__ = [
    'SSLContext', 'SSLSocket', 'get_server_certificate', 'create_default_context',
    '_create_unverified_context', '_create_default_https_context', '_create_stdlib_context',
    'create_connection',
]
# ssl has socket's create_connection (gevent's ssl re-exports the stdlib one,
# which blocks unless socket is patched): here it is the cooperative one.
create_connection = _gsocket.create_connection
# other names ssl took from socket: the socket class is the cooperative one
socket = _gsocket_class
SOCK_STREAM, SOL_SOCKET, SO_TYPE = _ssl.SOCK_STREAM, _ssl.SOL_SOCKET, _ssl.SO_TYPE
if hasattr(_ssl, 'wrap_socket'):
    __implements__.append('wrap_socket')
__extensions__ = []
import socket as _stdsocket
# ssl's own names only: not the socket-module names it imported, not modules.
__imports__ = copy_names(
    _ssl, globals(),
    [name for name in dir(_ssl)
     if not name.startswith('__') and not isinstance(getattr(_ssl, name), type(_ssl))
     and getattr(_stdsocket, name, None) is not getattr(_ssl, name)],
    exclude=__implements__)
__all__ = __implements__ + __extensions__ + [n for n in __imports__ if not n.startswith('_')]

_SSLWantReadError = _ssl.SSLWantReadError
_SSLWantWriteError = _ssl.SSLWantWriteError
_SSLError = _ssl.SSLError
_SSL_ERROR_EOF = _ssl.SSL_ERROR_EOF
from time import monotonic as _monotonic
_timeout_error = _gsocket.timeout


class SSLSocket(_ssl.SSLSocket, _gsocket_class):
    """A stdlib ``ssl.SSLSocket`` whose blocking operations wait on the hub.

    Made by :meth:`SSLContext.wrap_socket`. A timeout of 0 gives the
    stdlib's non-blocking behaviour (SSLWantReadError/SSLWantWriteError).

    As in gevent (and unlike the stdlib, whose class has no public
    constructor), ``SSLSocket(sock, ..., server_hostname=None, _session=None,
    _context=None)`` wraps the connected socket *sock* too: with *_context*
    it is ``_context.wrap_socket(sock, ...)`` made into this class; without,
    a context is made from the old ``ssl.wrap_socket`` arguments (keyfile,
    certfile, cert_reqs, ca_certs, ciphers; *ssl_version* None means TLS
    as a client or a server, by *server_side*), hostname checking off.
    """

    def __new__(cls, sock=None, keyfile=None, certfile=None, server_side=False,
                cert_reqs=_ssl.CERT_NONE, ssl_version=None, ca_certs=None,
                do_handshake_on_connect=True, family=_stdsocket.AF_INET, type=SOCK_STREAM,
                proto=0, fileno=None, suppress_ragged_eofs=True, npn_protocols=None,
                ciphers=None, server_hostname=None, _session=None, _context=None):
        if sock is None:
            if fileno is None:
                raise TypeError('SSLSocket() needs a connected socket: SSLSocket(sock, ...) '
                                'or SSLContext.wrap_socket(sock, ...)')
            # the stdlib's _create (wrap_socket) allocates the object here,
            # passing only family, type, proto and fileno
            return super().__new__(cls)
        if _context is None:
            _context = _legacy_context(server_side, keyfile, certfile, cert_reqs,
                                       ssl_version, ca_certs, ciphers, npn_protocols)
        return cls._create(sock, server_side=server_side,
                           do_handshake_on_connect=do_handshake_on_connect,
                           suppress_ragged_eofs=suppress_ragged_eofs,
                           server_hostname=server_hostname, context=_context,
                           session=_session)

    def __init__(self, sock=None, *args, **kwargs):
        # SSLSocket(sock, ...): __new__ made the whole object already.
        if sock is None:
            raise TypeError('SSLSocket() needs a connected socket: SSLSocket(sock, ...) '
                            'or SSLContext.wrap_socket(sock, ...)')

    def _ssl_call(self, func, args, message):
        """Run an SSL object call, waiting cooperatively on WANT_READ/WRITE.

        The timeout bounds the whole call, as in the stdlib's _ssl module.
        """
        timeout = self.timeout
        deadline = None
        while True:
            try:
                return func(*args)
            except _SSLWantReadError:
                if timeout == 0.0:
                    raise
                wait = self._wait_read
            except _SSLWantWriteError:
                if timeout == 0.0:
                    raise
                wait = self._wait_write
            if timeout is None:
                wait()
                continue
            if deadline is None:
                deadline = _monotonic() + timeout
            left = deadline - _monotonic()
            if left <= 0:
                raise _timeout_error(message)
            wait(left, message)

    def read(self, len=1024, buffer=None):  # noqa: A002 -- the stdlib's name
        """Read up to *len* bytes (into *buffer* if given), waiting as needed."""
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError('Read on closed or unwrapped SSL socket.')
        args = (len,) if buffer is None else (len, buffer)
        try:
            return self._ssl_call(sslobj.read, args, 'The read operation timed out')
        except _SSLError as exc:
            if exc.args[0] == _SSL_ERROR_EOF and self.suppress_ragged_eofs:
                return b'' if buffer is None else 0
            raise

    def write(self, data):
        """Write all of *data* to the TLS channel; return its length."""
        self._checkClosed()
        sslobj = self._sslobj
        if sslobj is None:
            raise ValueError('Write on closed or unwrapped SSL socket.')
        return self._ssl_call(sslobj.write, (data,), 'The write operation timed out')

    def send(self, data, flags=0):
        """send() through TLS (flags must be 0); the plain socket's when unwrapped."""
        self._checkClosed()
        if self._sslobj is None:
            return _gsocket_class.send(self, data, flags)
        if flags != 0:
            raise ValueError('non-zero flags not allowed in calls to send() on %s'
                             % self.__class__)
        return self.write(data)

    def do_handshake(self, block=False):
        """Run the TLS handshake, waiting cooperatively."""
        self._check_connected()
        sslobj = self._sslobj
        if self.timeout == 0.0 and not block:
            sslobj.do_handshake()
            return
        saved = self.timeout
        if saved == 0.0:
            self.timeout = None
        try:
            self._ssl_call(sslobj.do_handshake, (), 'The handshake operation timed out')
        finally:
            self.timeout = saved

    def unwrap(self):
        """Shut TLS down (close_notify both ways); return the plain socket."""
        sslobj = self._sslobj
        if not sslobj:
            raise ValueError('No SSL wrapper around ' + str(self))
        sock = self._ssl_call(sslobj.shutdown, (), 'The read operation timed out')
        self._sslobj = None
        return sock


def _legacy_context(server_side, keyfile, certfile, cert_reqs, ssl_version, ca_certs,
                    ciphers, npn_protocols):
    """The context ``SSLSocket(sock, keyfile=..., ...)`` uses when given none."""
    if server_side and not certfile:
        raise ValueError('certfile must be specified for server-side operations')
    if keyfile and not certfile:
        raise ValueError('certfile must be specified')
    if ssl_version is None:
        ssl_version = _ssl.PROTOCOL_TLS_SERVER if server_side else _ssl.PROTOCOL_TLS_CLIENT
    context = SSLContext(ssl_version)
    context.check_hostname = False
    context.verify_mode = cert_reqs
    if ca_certs:
        context.load_verify_locations(ca_certs)
    if certfile:
        context.load_cert_chain(certfile, keyfile or certfile)
    if ciphers:
        context.set_ciphers(ciphers)
    if npn_protocols and hasattr(context, 'set_npn_protocols'):
        with _warnings.catch_warnings():
            _warnings.simplefilter('ignore', DeprecationWarning)
            context.set_npn_protocols(npn_protocols)
    return context


class SSLContext(_ssl.SSLContext):
    """The stdlib's SSLContext; ``wrap_socket`` returns a cooperative :class:`SSLSocket`."""

    sslsocket_class = SSLSocket


# Some stdlib methods name their class through the ssl module's globals
# (``super(SSLContext, SSLContext).options.__set__``, ``super(SSLSocket,
# self).__init__``). Once ``ssl.SSLContext``/``ssl.SSLSocket`` are these
# subclasses, that lookup would find them and recurse (gevent's RecursionError
# when ssl was imported before patching), so the classes carry copies of
# those functions that see the stdlib classes under those names.
_StdSSLContext = _ssl.SSLContext
_StdSSLSocket = _ssl.SSLSocket


def _with_stdlib_classes(func):
    import types
    names = dict(func.__globals__, SSLContext=_StdSSLContext, SSLSocket=_StdSSLSocket)
    copy = types.FunctionType(func.__code__, names, func.__name__, func.__defaults__,
                              func.__closure__)
    copy.__kwdefaults__ = func.__kwdefaults__
    copy.__doc__ = func.__doc__
    return copy


def _names_a_class(func):
    return func is not None and {'SSLContext', 'SSLSocket'} & set(func.__code__.co_names)


def _adopt_stdlib_functions(ours, stdlib):
    for name, value in list(vars(stdlib).items()):
        if isinstance(value, property) and (_names_a_class(value.fget)
                                            or _names_a_class(value.fset)):
            setattr(ours, name, property(
                _with_stdlib_classes(value.fget) if value.fget else None,
                _with_stdlib_classes(value.fset) if value.fset else None,
                value.fdel, value.__doc__))
        elif isinstance(value, classmethod) and _names_a_class(value.__func__):
            setattr(ours, name, classmethod(_with_stdlib_classes(value.__func__)))


_adopt_stdlib_functions(SSLContext, _StdSSLContext)
_adopt_stdlib_functions(SSLSocket, _StdSSLSocket)


def _create_over(create):
    # The stdlib's _create opens the SSLSocket on sock's descriptor, then
    # detaches sock: the descriptor must stay non-blocking through that.
    def _create(cls, sock, *args, **kwargs):
        fd = sock.fileno()
        _gsocket._fds_taken_over.add(fd)
        try:
            return create(cls, sock, *args, **kwargs)
        finally:
            _gsocket._fds_taken_over.discard(fd)
    return classmethod(_create)


SSLSocket._create = _create_over(vars(SSLSocket)['_create'].__func__)

# Subclasses and objects of the stdlib SSLContext made before patching still
# wrap into cooperative sockets (see _gevent_did_monkey_patch).
__early_safe__ = ['SSLContext']


def _gevent_did_monkey_patch(target, items, warn):
    """Every SSLContext, also one made (or one of a class defined) before
    patching, wraps sockets into the cooperative SSLSocket, and the stdlib
    classes' own functions still find themselves under their names."""
    _adopt_stdlib_functions(_StdSSLContext, _StdSSLContext)
    _adopt_stdlib_functions(_StdSSLSocket, _StdSSLSocket)
    _StdSSLContext.sslsocket_class = SSLSocket


def _returning_our_context(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        context = func(*args, **kwargs)
        if type(context) is _ssl.SSLContext:
            context.__class__ = SSLContext
        return context
    return wrapper


create_default_context = _returning_our_context(_ssl.create_default_context)
_create_unverified_context = _returning_our_context(_ssl._create_unverified_context)
_create_stdlib_context = _returning_our_context(_ssl._create_stdlib_context)
_create_default_https_context = create_default_context


def get_server_certificate(addr, ssl_version=_ssl.PROTOCOL_TLS_CLIENT, ca_certs=None,
                           timeout=_gsocket._GLOBAL_DEFAULT_TIMEOUT):
    """The PEM certificate of the TLS server at *addr* = (host, port), cooperatively."""
    host, _ = addr
    cert_reqs = _ssl.CERT_NONE if ca_certs is None else _ssl.CERT_REQUIRED
    context = _create_stdlib_context(ssl_version, cert_reqs=cert_reqs, cafile=ca_certs)
    with _gsocket.create_connection(addr, timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(True)
    return _ssl.DER_cert_to_PEM_cert(der)


if hasattr(_ssl, 'wrap_socket'):
    def wrap_socket(sock, keyfile=None, certfile=None, server_side=False,
                    cert_reqs=_ssl.CERT_NONE, ssl_version=_ssl.PROTOCOL_TLS, ca_certs=None,
                    do_handshake_on_connect=True, suppress_ragged_eofs=True, ciphers=None):
        """Deprecated stdlib helper (Python < 3.12): wrap *sock* in a new context."""
        _warnings.warn('ssl.wrap_socket() is deprecated, use SSLContext.wrap_socket()',
                       DeprecationWarning, stacklevel=2)
        if server_side and not certfile:
            raise ValueError('certfile must be specified for server-side operations')
        if keyfile and not certfile:
            raise ValueError('certfile must be specified')
        context = SSLContext(ssl_version)
        context.verify_mode = cert_reqs
        if ca_certs:
            context.load_verify_locations(ca_certs)
        if certfile:
            context.load_cert_chain(certfile, keyfile)
        if ciphers:
            context.set_ciphers(ciphers)
        return context.wrap_socket(sock=sock, server_side=server_side,
                                   do_handshake_on_connect=do_handshake_on_connect,
                                   suppress_ragged_eofs=suppress_ragged_eofs)

