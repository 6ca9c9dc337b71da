"""A resolver that calls libc directly: the whole thread waits for each lookup.

For programs (or tests) that want libc's behaviour with no threads or
sockets of the resolver's own; select it with ``GEVENT_C_RESOLVER=block``.
"""
import _socket
from _socket import AF_INET

from gevent_c.resolver import AbstractResolver

__all__ = ['Resolver']


class Resolver(AbstractResolver):
    """libc's functions, called in the calling thread. *hub* is ignored."""

    def __init__(self, hub=None):
        self.hub = hub

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        return _socket.getaddrinfo(host, port, family, type, proto, flags)

    def gethostbyname(self, hostname, family=AF_INET):
        return _socket.gethostbyname(hostname)

    def gethostbyname_ex(self, hostname, family=AF_INET):
        return _socket.gethostbyname_ex(hostname)

    def gethostbyaddr(self, ip_address):
        return _socket.gethostbyaddr(ip_address)

    def getnameinfo(self, sockaddr, flags):
        return _socket.getnameinfo(sockaddr, flags)

    def close(self):
        """Nothing to release."""
