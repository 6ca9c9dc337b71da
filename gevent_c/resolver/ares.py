"""A DNS resolver built on c-ares (gevent_c._ares), driven by the hub's loop.

``Resolver`` answers like libc's resolver, but only the calling greenlet
waits for a DNS answer; the hub keeps serving others.  To answer exactly
like libc, only real DNS lookups go to c-ares:

- numeric hosts, ``None`` hosts and ``AI_NUMERICHOST`` (and every argument
  check: types, ports, service names, flags, families) are handed to libc
  with ``AI_NUMERICHOST``, which never touches the network;
- names in the hosts file are answered by libc itself when nsswitch.conf
  consults ``files`` first (libc then stops at the file);
- for DNS answers, socket types, protocols and ports come from libc's own
  expansion of the same arguments; c-ares supplies the addresses, which are
  put in RFC 6724 order here (the order libc and c-ares use) when there are
  several; AI_V4MAPPED/AI_ALL, which c-ares 1.18 ignores, are done here;
- reverse lookups are plain PTR queries, so SERVFAIL and missing records
  keep libc's h_errno.

tests/test_resolver_compare.py checks all of this against libc, for DNS
answers too (inside private namespaces where libc reaches a test server).

Options come from keyword arguments and, unless ``use_environ=False``, the
environment: ``GEVENT_C_ARES_SERVERS`` ('ip', 'ip:port' or '[ipv6]:port',
separated by commas or spaces), ``GEVENT_C_ARES_TIMEOUT`` (seconds),
``GEVENT_C_ARES_TRIES``, ``GEVENT_C_ARES_NDOTS``, ``GEVENT_C_ARES_UDP_PORT``,
``GEVENT_C_ARES_TCP_PORT``, ``GEVENT_C_ARES_FLAGS``; keyword arguments win.

    from gevent_c.resolver.ares import Resolver
    r = Resolver(servers=['127.0.0.1:5353'], timeout=1.0, tries=2)
    r.getaddrinfo('example.test', 80)   # blocks only this greenlet
    r.close()

Select it for the hub with ``GEVENT_C_RESOLVER=ares`` or
``gevent_c.config.resolver = 'ares'``, or set ``hub.resolver = Resolver()``.
"""
import functools
import operator
import os
import time
import weakref

import _socket
from _socket import AF_INET
from _socket import AF_INET6
from _socket import AF_UNSPEC
from _socket import AI_ALL
from _socket import AI_CANONNAME
from _socket import AI_NUMERICHOST
from _socket import AI_NUMERICSERV
from _socket import AI_V4MAPPED
from _socket import EAI_AGAIN
from _socket import EAI_NONAME
from _socket import NI_NAMEREQD
from _socket import NI_NUMERICHOST
from _socket import SOCK_DGRAM
from _socket import SOCK_STREAM
from _socket import gaierror
from _socket import herror

from gevent_c._ares import AI_NOSORT
from gevent_c._ares import channel
from gevent_c.hub import Waiter
from gevent_c.hub import get_hub

from gevent_c.resolver import AbstractResolver

__all__ = ['Resolver']

_TRY_AGAIN = 2   # h_errno

_ENV_OPTIONS = (
    ('servers', 'SERVERS', str),
    ('timeout', 'TIMEOUT', float),
    ('tries', 'TRIES', int),
    ('ndots', 'NDOTS', int),
    ('udp_port', 'UDP_PORT', int),
    ('tcp_port', 'TCP_PORT', int),
    ('flags', 'FLAGS', int),
)


def _environ_options():
    """Options from the environment (GEVENT_C_ARES_X, or gevent's GEVENTARES_X),
    then from ``config.ares_x`` / ``config.resolver_*`` where those are set."""
    from gevent_c._config import config
    opts = {}
    for kwarg, suffix, conv in _ENV_OPTIONS:
        for name in ('GEVENT_C_ARES_' + suffix, 'GEVENTARES_' + suffix):
            value = os.environ.get(name, '').strip()
            if value:
                break
        if value:
            try:
                opts[kwarg] = conv(value)
            except ValueError:
                raise ValueError('%s=%r is not a valid %s' % (name, value, conv.__name__)) from None
            continue
        setting = config.settings['ares_' + kwarg]
        if setting.is_assigned and setting.get() is not None:
            value = setting.get()
            opts[kwarg] = conv(value) if isinstance(value, str) and conv is not str else value
    servers = config.resolver_nameservers
    if servers and 'servers' not in opts:
        opts['servers'] = servers
    timeout = config.resolver_timeout
    if timeout and 'timeout' not in opts:
        opts['timeout'] = timeout
    return opts


class _HostsFile:
    """Which names and addresses the hosts file has (re-read when it changes).

    Only used to decide who answers: libc answers hosts-file entries itself,
    from the file, when nsswitch.conf says ``hosts: files ...``."""

    def __init__(self, path='/etc/hosts', nsswitch='/etc/nsswitch.conf'):
        self.path = path
        self.names = {}        # lowercased name -> set of families
        self.addresses = set()  # packed addresses
        self._mtime = None
        self._checked = 0.0
        self.libc_reads_first = self._files_first(nsswitch)

    @staticmethod
    def _files_first(path):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.split('#', 1)[0].split()
                    if parts and parts[0] == 'hosts:':
                        return len(parts) > 1 and parts[1] == 'files'
        except OSError:
            return True   # glibc's default order is files first
        return True

    def _refresh(self):
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            mtime = None
        if mtime == self._mtime:
            return
        self._mtime = mtime
        names, addresses = {}, set()
        try:
            with open(self.path, 'rb') as f:
                data = f.read().decode('utf-8', 'replace')
        except OSError:
            data = ''
        for line in data.splitlines():
            parts = line.split('#', 1)[0].split()
            if len(parts) < 2:
                continue
            packed = _pack(parts[0].split('%', 1)[0])
            if packed is None:
                continue
            family = AF_INET if len(packed) == 4 else AF_INET6
            addresses.add(packed)
            for name in parts[1:]:
                names.setdefault(name.lower(), set()).add(family)
        self.names, self.addresses = names, addresses

    def has_name(self, name, family, v4mapped=False):
        """True if libc would answer *name* from the file alone."""
        if not self.libc_reads_first:
            return False
        self._refresh()
        families = self.names.get(name.lower())
        if not families:
            return False
        return (family == AF_UNSPEC or family in families or
                (v4mapped and family == AF_INET6 and AF_INET in families))

    def has_address(self, address):
        if not self.libc_reads_first:
            return False
        self._refresh()
        packed = _pack(address)
        return packed is not None and packed in self.addresses


# ---- RFC 6724 destination address ordering ---------------------------------
#
# libc sorts getaddrinfo answers this way; c-ares can too, but it opens a
# connected UDP socket per address even for a single answer, so it is asked
# not to (AI_NOSORT) and answers with several addresses are sorted here.

# (prefix, length, precedence, label): RFC 6724's default policy table
_POLICY = sorted([
    (int.from_bytes(_socket.inet_pton(AF_INET6, prefix), 'big'), length, prec, label)
    for prefix, length, prec, label in (
        ('::1', 128, 50, 0), ('::', 0, 40, 1), ('::ffff:0:0', 96, 35, 4),
        ('2002::', 16, 30, 2), ('2001::', 32, 5, 5), ('fc00::', 7, 3, 13),
        ('::', 96, 1, 3), ('fec0::', 10, 1, 11), ('3ffe::', 16, 1, 12))
], key=lambda row: -row[1])

_SCOPE_NODELOCAL, _SCOPE_LINKLOCAL, _SCOPE_SITELOCAL, _SCOPE_GLOBAL = 1, 2, 5, 14
_MAPPED = 0xffff << 32


def _as_int(family, address):
    """The address as a 128-bit int (IPv4 as ::ffff:a.b.c.d)."""
    if family == AF_INET:
        return _MAPPED | int.from_bytes(_socket.inet_pton(AF_INET, address), 'big')
    return int.from_bytes(_socket.inet_pton(AF_INET6, address.split('%', 1)[0]), 'big')


def _policy(value):
    for prefix, length, prec, label in _POLICY:
        if (value ^ prefix) >> (128 - length) == 0:
            return prec, label
    return 40, 1


def _scope(family, value):
    if family == AF_INET:
        v4 = value & 0xffffffff
        if v4 >> 24 == 127 or v4 >> 16 == 0xa9fe:
            return _SCOPE_LINKLOCAL
        return _SCOPE_GLOBAL
    if value >> 120 == 0xff:                  # multicast: its own scope field
        return (value >> 112) & 0xf
    if value == 1 or value >> 118 == 0x3fa:   # ::1, fe80::/10
        return _SCOPE_LINKLOCAL
    if value >> 118 == 0x3fb:                 # fec0::/10
        return _SCOPE_SITELOCAL
    return _SCOPE_GLOBAL


def _source(family, sockaddr):
    """The source address the kernel would use for sockaddr, or None."""
    try:
        s = _socket.socket(family, SOCK_DGRAM)
    except OSError:
        return None
    try:
        s.connect(sockaddr[:1] + (9,) + tuple(sockaddr[2:]))
        return s.getsockname()
    except OSError:
        return None
    finally:
        s.close()


def _sort_key_info(answer):
    family, sockaddr = answer[0], answer[4]
    dest = _as_int(family, sockaddr[0])
    src = _source(family, sockaddr)
    prec, label = _policy(dest)
    info = {'family': family, 'dest': dest, 'prec': prec, 'label': label,
            'scope': _scope(family, dest), 'src': None,
            'src_scope': _SCOPE_NODELOCAL, 'src_label': -1}
    if src is not None:
        src_int = _as_int(family, src[0])
        info['src'] = src_int
        info['src_scope'] = _scope(family, src_int)
        info['src_label'] = _policy(src_int)[1]
    return info


def _common_prefix(a, b):
    return 128 - (a ^ b).bit_length()


def _compare(a, b):
    """<0 when a goes first (RFC 6724 section 6 rules 1, 2, 5, 6, 8, 9)."""
    if (a['src'] is None) != (b['src'] is None):          # 1: usable first
        return 1 if a['src'] is None else -1
    a_match = a['scope'] == a['src_scope']                  # 2: matching scope
    if a_match != (b['scope'] == b['src_scope']):
        return -1 if a_match else 1
    a_match = a['label'] == a['src_label']                  # 5: matching label
    if a_match != (b['label'] == b['src_label']):
        return -1 if a_match else 1
    if a['prec'] != b['prec']:                              # 6: precedence
        return b['prec'] - a['prec']
    if a['scope'] != b['scope']:                            # 8: smaller scope
        return a['scope'] - b['scope']
    if (a['family'] == b['family'] == AF_INET6 and          # 9: longest prefix
            a['src'] is not None and b['src'] is not None):
        diff = _common_prefix(b['dest'], b['src']) - _common_prefix(a['dest'], a['src'])
        if diff:
            return diff
    return 0                                                # 10: keep order


def _rfc6724_sort(answers):
    if len(answers) < 2:
        return answers
    keyed = [(_sort_key_info(a), a) for a in answers]
    keyed.sort(key=functools.cmp_to_key(lambda x, y: _compare(x[0], y[0])))
    return [a for _, a in keyed]


def _pack(address):
    for family in (AF_INET, AF_INET6):
        try:
            return _socket.inet_pton(family, address)
        except OSError:
            pass
    return None


def _encode_host(host):
    """host as the bytes the socket module hands libc (IDNA for str)."""
    if not isinstance(host, str):
        return host
    if host.isascii():
        # the idna codec's own ASCII path, minus the codec machinery; it
        # still raises its exact UnicodeError for bad labels
        raw = host.encode('ascii')
        labels = raw.split(b'.')
        if all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64:
            return raw
    return host.encode('idna')


def _host_name(host):
    """The encoded host as bytes for c-ares (non-ASCII bytes included, as
    libc gets them).  Like the socket module, which hands libc a C string,
    a NUL ends the name."""
    return bytes(host).split(b'\0', 1)[0]


def _libc_only(host):
    """True if the socket module must answer for *host* itself: not str or
    bytes, or with a NUL, which its gethostbyname* refuse with TypeError."""
    if isinstance(host, str):
        return '\0' in host
    if isinstance(host, bytes):
        return b'\0' in host
    return True


def _int_or_none(value):
    """An int flags argument, or None when the socket module must reject it."""
    if isinstance(value, int):
        return value
    try:
        return operator.index(value)
    except TypeError:
        return None


# Open resolvers, for _after_fork_in_child.
_LIVE = weakref.WeakSet()


def _after_fork_in_child():
    # any os.fork(), not only gevent_c's: a child sharing the parent's
    # c-ares socket would read (and drop) the parent's answers, and the
    # parent the child's
    for resolver in list(_LIVE):
        resolver._on_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Resolver(AbstractResolver):
    """c-ares resolver for one hub (see the module docstring).

    Every method blocks only the calling greenlet and raises what the
    socket module raises for the same input (gaierror/herror with libc's
    errno, TypeError, OverflowError, ...).  A query is bounded by c-ares'
    ``timeout`` x ``tries``; wrap calls in ``gevent_c.Timeout`` for less.
    """

    def __init__(self, hub=None, use_environ=True, **kwargs):
        if hub is None:
            hub = get_hub()
        self.hub = hub
        if use_environ:
            for key, value in _environ_options().items():
                kwargs.setdefault(key, value)
        self._hosts = _HostsFile()
        if self._hosts.libc_reads_first:
            # hosts-file names never reach c-ares: spare it reading the file
            kwargs.setdefault('lookups', 'b')
        self.params = kwargs
        self.cares = channel(hub.loop, **kwargs)
        self.pid = os.getpid()
        self._templates = {}
        _LIVE.add(self)

    def __repr__(self):
        return '<%s.%s at %#x cares=%r>' % (type(self).__module__, type(self).__name__,
                                           id(self), self.cares)

    # -- lifecycle ------------------------------------------------------------
    def close(self):
        """Destroy the channel; pending lookups fail with EAI_AGAIN."""
        ch, self.cares = self.cares, None
        _LIVE.discard(self)
        if ch is not None:
            ch.destroy()

    def _on_fork(self):
        """Called in a forked child (after any os.fork(), and by
        gevent_c.hub.reinit()): c-ares' sockets are shared with the parent,
        so the child gets a channel of its own."""
        if self.pid == os.getpid() or self.cares is None:
            return
        old, self.cares = self.cares, channel(self.hub.loop, **self.params)
        self.pid = os.getpid()
        old.destroy()

    def set_servers(self, servers):
        """Replace the name servers (list of 'ip[:port]' strings or a str)."""
        self._channel().set_servers(servers)
        self.params['servers'] = servers

    def _channel(self):
        ch = self.cares
        if ch is None:
            raise ValueError('the resolver is closed')
        return ch

    def _query(self, method, *args):
        while True:
            ch = self._channel()
            waiter = Waiter(self.hub)
            getattr(ch, method)(waiter.switch, *args)
            result = waiter.get()
            if isinstance(result, BaseException):
                if ch is not self.cares and self.cares is not None:
                    continue   # replaced after a fork: ask the new channel
                raise result
            return result

    # -- getaddrinfo ----------------------------------------------------------
    def _combos(self, port, family, type, proto, flags):
        """libc's (socktype, proto, port) expansion for these arguments."""
        # only the service flag shapes the expansion; address flags
        # (AI_ADDRCONFIG, AI_V4MAPPED) must not filter the template host
        flags = (flags & AI_NUMERICSERV) | AI_NUMERICHOST
        key = (port, family == AF_INET6, type, proto, flags)
        try:
            return self._templates[key]
        except (KeyError, TypeError):
            pass
        host = '::1' if family == AF_INET6 else '127.0.0.1'
        infos = _socket.getaddrinfo(host, port, family, type, proto, flags)
        combos = tuple((info[1], info[2], info[4][1]) for info in infos)
        try:
            if len(self._templates) > 512:
                self._templates.clear()
            self._templates[key] = combos
        except TypeError:
            pass
        return combos

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        iflags = _int_or_none(flags)
        if iflags is None or host is None or iflags & AI_NUMERICHOST:
            # flags as given: a bad type gets the socket module's own error
            return _socket.getaddrinfo(host, port, family, type, proto, flags)
        flags = iflags
        host = _encode_host(host)
        try:
            # numeric hosts, and every argument error, exactly as libc
            return _socket.getaddrinfo(host, port, family, type, proto, flags | AI_NUMERICHOST)
        except gaierror as exc:
            if exc.errno != EAI_NONAME:
                raise
        query = _host_name(host)
        if not query:
            raise gaierror(EAI_NONAME, 'Name or service not known')
        name = query.decode('ascii', 'replace')
        if self._hosts.has_name(name, family, flags & AI_V4MAPPED):
            return _socket.getaddrinfo(host, port, family, type, proto, flags)
        combos = self._combos(port, family, type, proto, flags)
        if family == AF_INET6 and flags & AI_V4MAPPED:
            answers = self._v4mapped(query, flags)
        else:
            answers = _rfc6724_sort(self._query('getaddrinfo', query, None, family, SOCK_STREAM,
                                                0, flags | AI_NOSORT))
        result = []
        # c-ares put the canonical name on its first answer, before sorting
        canon = ''.join(a[3] for a in answers) if flags & AI_CANONNAME else ''
        for afamily, _, _, _, sockaddr in answers:
            addr = sockaddr[0]
            for socktype, protocol, aport in combos:
                if afamily == AF_INET:
                    sa = (addr, aport)
                else:
                    sa = (addr, aport, sockaddr[2], sockaddr[3])
                result.append((afamily, socktype, protocol, '' if result else canon, sa))
        return result

    def _v4mapped(self, name, flags):
        """AF_INET6 with AI_V4MAPPED (c-ares 1.18 ignores the flag): IPv4
        answers as ::ffff:a.b.c.d, only when there is no IPv6 answer unless
        AI_ALL asks for both; c-ares' RFC 6724 order is kept."""
        answers = _rfc6724_sort(self._query('getaddrinfo', name, None, AF_UNSPEC, SOCK_STREAM, 0,
                                            (flags & ~(AI_V4MAPPED | AI_ALL)) | AI_NOSORT))
        v6 = [a for a in answers if a[0] == AF_INET6]
        if v6 and not flags & AI_ALL:
            return v6
        # libc sorts AAAA answers then mapped A answers as one IPv6 list, in
        # which mapped addresses rank as IPv4 does: keep c-ares' order between
        # native IPv6 and IPv4, AAAA answers first among the mapped ones
        native = [a for a in v6 if not a[4][0].startswith('::ffff:')]
        mapped = [a for a in v6 if a[4][0].startswith('::ffff:')]
        mapped += [(AF_INET6, a[1], a[2], a[3], ('::ffff:' + a[4][0], 0, 0, 0))
                   for a in answers if a[0] == AF_INET]
        if answers and answers[0] in native:
            return native + mapped
        return mapped + native

    # -- gethostbyname ----------------------------------------------------------
    def _is_numeric(self, host):
        try:
            _socket.getaddrinfo(host, None, AF_UNSPEC, SOCK_DGRAM, 0, AI_NUMERICHOST)
        except gaierror:
            return False
        return True

    def gethostbyname(self, hostname, family=AF_INET):
        if family != AF_INET:
            return self.getaddrinfo(hostname, None, family, SOCK_DGRAM)[0][4][0]
        if (_libc_only(hostname) or hostname in ('', '<broadcast>') or
                self._is_numeric(hostname)):
            return _socket.gethostbyname(hostname)
        return self.getaddrinfo(hostname, None, AF_INET, SOCK_DGRAM)[0][4][0]

    def gethostbyname_ex(self, hostname, family=AF_INET):
        if (_libc_only(hostname) or hostname in ('', '<broadcast>') or
                self._is_numeric(hostname)):
            return _socket.gethostbyname_ex(hostname)
        query = _host_name(_encode_host(hostname))
        if self._hosts.has_name(query.decode('ascii', 'replace'), AF_INET):
            return _socket.gethostbyname_ex(hostname)
        return self._query('gethostbyname', query, family)

    # -- reverse lookups ----------------------------------------------------------
    def gethostbyaddr(self, ip_address):
        if _libc_only(ip_address) or ip_address in ('', b''):
            return _socket.gethostbyaddr(ip_address)
        try:
            infos = _socket.getaddrinfo(ip_address, None, AF_UNSPEC, SOCK_DGRAM, 0,
                                        AI_NUMERICHOST)
        except gaierror:
            infos = self.getaddrinfo(ip_address, None, AF_UNSPEC, SOCK_DGRAM)
        address = infos[0][4][0]
        if self._hosts.has_address(address):
            return _socket.gethostbyaddr(address)
        name, _others, addresses = self._query('gethostbyaddr', address)
        # libc keeps the first PTR record only
        return name, [], addresses

    def getnameinfo(self, sockaddr, flags):
        iflags = _int_or_none(flags)
        if iflags is None or iflags & NI_NUMERICHOST:
            return _socket.getnameinfo(sockaddr, flags)
        flags = iflags
        # the stdlib's own argument checks, numeric host and service
        numeric, service = _socket.getnameinfo(sockaddr, (flags & ~NI_NAMEREQD) | NI_NUMERICHOST)
        address = numeric.split('%', 1)[0]
        if self._hosts.has_address(address):
            return _socket.getnameinfo(sockaddr, flags)
        try:
            name = self._query('gethostbyaddr', address)[0]
        except herror as exc:
            # libc: a failed server is an error even without NI_NAMEREQD
            if exc.args[0] == _TRY_AGAIN:
                raise gaierror(EAI_AGAIN, 'Temporary failure in name resolution') from None
            if flags & NI_NAMEREQD:
                raise gaierror(EAI_NONAME, 'Name or service not known') from None
            return numeric, service
        return name, service
