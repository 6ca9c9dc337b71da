"""DNS resolvers for the hub, and the interface they share.

A resolver answers the socket module's name functions for one hub:
``gevent_c.socket.getaddrinfo`` and friends call
``get_hub().resolver.<method>``. Three implementations exist:

- :mod:`gevent_c.resolver.thread` -- libc's functions run in the hub's
  threadpool (the default);
- :mod:`gevent_c.resolver.ares` -- c-ares driven by the hub's loop;
- :mod:`gevent_c.resolver.blocking` -- libc's functions called directly.

Select one with ``GEVENT_C_RESOLVER=thread|ares|block``,
``gevent_c.config.resolver``, or ``hub.resolver = Resolver(hub=hub)``.

The interface (:class:`AbstractResolver`) is stable; every method must
return what the ``socket`` function of the same name returns and raise what
it raises for the same input (``gaierror``/``herror`` with libc's errno,
``TypeError``, ``OverflowError``, ...), blocking only the calling greenlet.
"""
from _socket import AF_INET

__all__ = ()

# Host names are encoded with IDNA inside getaddrinfo; importing the codec
# here keeps that import out of worker threads and hub callbacks.
'gevent_c'.encode('idna')


class AbstractResolver:
    """The methods every resolver provides (signatures of the socket module).

    Subclasses implement the five lookup methods; ``close`` and ``_on_fork``
    default to doing nothing. The constructor is the subclass's own, but
    every resolver accepts ``hub=None`` (the current thread's hub) as its
    first argument, which ``Hub.resolver`` passes.

    - ``getaddrinfo(host, port, family=0, type=0, proto=0, flags=0)``
      -> list of ``(family, type, proto, canonname, sockaddr)``
    - ``gethostbyname(hostname, family=AF_INET)`` -> address string
    - ``gethostbyname_ex(hostname, family=AF_INET)`` -> ``(name, aliases, addresses)``
    - ``gethostbyaddr(ip_address)`` -> ``(name, aliases, addresses)``
    - ``getnameinfo(sockaddr, flags)`` -> ``(host, port)``
    - ``close()`` releases what the resolver holds; ``_on_fork()`` is called
      by ``gevent_c.hub.reinit()`` in a forked child.
    """

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        raise NotImplementedError()

    def gethostbyname(self, hostname, family=AF_INET):
        """The first address of ``gethostbyname_ex`` (subclasses may do better)."""
        return self.gethostbyname_ex(hostname, family)[2][0]

    def gethostbyname_ex(self, hostname, family=AF_INET):
        raise NotImplementedError()

    def gethostbyaddr(self, ip_address):
        raise NotImplementedError()

    def getnameinfo(self, sockaddr, flags):
        raise NotImplementedError()

    def close(self):
        """Release the resolver's resources; the default holds none."""

    def _on_fork(self):
        """Called in a forked child by gevent_c.hub.reinit(); nothing by default."""
