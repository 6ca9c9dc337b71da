"""The default resolver: libc's lookup functions run in the hub's threadpool.

Answers are exactly libc's (``socket.getaddrinfo`` and friends), errors
included; only the calling greenlet waits. Literal addresses (and a None
host) are answered in the calling thread, since libc does no lookup for
them. As in gevent, ``socket.gaierror`` and ``socket.herror`` are added to
the hub's ``NOT_ERROR`` (on the hub instance). Unlike gevent, an error
raised by libc never reaches ``hub.handle_error``: it is carried back as a
value and raised, with its traceback, in the caller only.

    from gevent_c.resolver.thread import Resolver
    Resolver().getaddrinfo('localhost', 'http')
"""
import _socket
from _socket import AF_INET

from gevent_c._hub_local import get_hub
from gevent_c.resolver import AbstractResolver
from gevent_c.resolver._addresses import is_numeric_host

__all__ = ['Resolver']

_getaddrinfo = _socket.getaddrinfo
_gethostbyname = _socket.gethostbyname
_gethostbyname_ex = _socket.gethostbyname_ex
_gethostbyaddr = _socket.gethostbyaddr
_getnameinfo = _socket.getnameinfo


class Resolver(AbstractResolver):
    """Resolve with libc in ``hub.threadpool`` (see the module docstring)."""

    def __init__(self, hub=None):
        if hub is None:
            hub = get_hub()
        self.hub = hub
        quiet = (_socket.gaierror, _socket.herror)
        not_error = hub.NOT_ERROR
        missing = tuple(exc for exc in quiet if exc not in not_error)
        if missing:
            hub.NOT_ERROR = tuple(not_error) + missing

    @property
    def pool(self):
        return self.hub.threadpool

    def __repr__(self):
        return '<%s.%s at %#x pool=%r>' % (type(self).__module__, type(self).__name__,
                                          id(self), self.hub._threadpool)

    def _call(self, func, *args):
        return self.hub.threadpool._apply_unreported(func, args)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if is_numeric_host(host):
            return _getaddrinfo(host, port, family, type, proto, flags)
        return self._call(_getaddrinfo, host, port, family, type, proto, flags)

    def gethostbyname(self, hostname, family=AF_INET):
        if isinstance(hostname, str) and is_numeric_host(hostname):
            return _gethostbyname(hostname)
        return self._call(_gethostbyname, hostname)

    def gethostbyname_ex(self, hostname, family=AF_INET):
        return self._call(_gethostbyname_ex, hostname)

    def gethostbyaddr(self, ip_address):
        return self._call(_gethostbyaddr, ip_address)

    def getnameinfo(self, sockaddr, flags):
        return self._call(_getnameinfo, sockaddr, flags)

    def close(self):
        """Nothing to release: the threadpool belongs to the hub."""
