"""Address helpers shared by the resolvers: numeric-host tests and the hosts file.

- :func:`is_ipv4_addr`, :func:`is_ipv6_addr` and :func:`is_numeric_host`
  say whether a host string (or bytes) is a literal address, which libc
  resolves without any lookup. IPv6 literals may carry a ``%scope`` that
  libc accepts (an interface name or number).
- :func:`parse_hosts` reads a hosts file into name -> addresses maps, in
  file order, names lower-cased, the first line naming a host first.
"""
import _socket
from _socket import AF_INET
from _socket import AF_INET6
from _socket import AI_NUMERICHOST

__all__ = ['is_ipv4_addr', 'is_ipv6_addr', 'is_numeric_host', 'parse_hosts']


def _text(host):
    if isinstance(host, (bytes, bytearray)):
        try:
            return bytes(host).decode('ascii')
        except UnicodeDecodeError:
            return None
    return host if isinstance(host, str) else None


def is_ipv4_addr(host):
    """True if *host* is a dotted-quad IPv4 address (as inet_pton accepts)."""
    text = _text(host)
    if not text:
        return False
    try:
        _socket.inet_pton(AF_INET, text)
    except (OSError, ValueError):
        return False
    return True


def is_ipv6_addr(host):
    """True if *host* is an IPv6 address, optionally followed by a ``%scope``
    naming an interface (by name or number), as libc takes it."""
    text = _text(host)
    if not text:
        return False
    address, percent, _scope = text.partition('%')
    try:
        _socket.inet_pton(AF_INET6, address)
    except (OSError, ValueError):
        return False
    if not percent:
        return True
    # libc takes a scope naming no interface as a host name to look up in
    # DNS: ask libc, which never touches the network with AI_NUMERICHOST
    try:
        _socket.getaddrinfo(text, None, AF_INET6, 0, 0, AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return False
    return True


def is_numeric_host(host):
    """True if *host* is None or a literal IPv4/IPv6 address."""
    return host is None or is_ipv4_addr(host) or is_ipv6_addr(host)


def parse_hosts(path='/etc/hosts'):
    """``(v4, v6, aliases)`` from the hosts file at *path*.

    ``v4``/``v6`` map each lower-cased name to its addresses in file order;
    ``aliases`` maps each alias to the canonical (first) name of its line.
    A missing or unreadable file gives empty maps.
    """
    v4, v6, aliases = {}, {}, {}
    try:
        with open(path, 'rb') as stream:
            lines = stream.read().decode('utf-8', 'replace').splitlines()
    except OSError:
        return v4, v6, aliases
    for line in lines:
        fields = line.split('#', 1)[0].split()
        if len(fields) < 2:
            continue
        address, names = fields[0], [name.lower() for name in fields[1:]]
        if is_ipv4_addr(address):
            table = v4
        elif is_ipv6_addr(address):
            table = v6
        else:
            continue
        for name in names:
            table.setdefault(name, []).append(address)
        for alias in names[1:]:
            aliases.setdefault(alias, names[0])
    return v4, v6, aliases
