"""The c-ares resolver, the thread resolver and libc (the socket module) give
identical results and errors, order included, for the same inputs.

Table 1 uses inputs libc answers without DNS (hosts-file names, numeric
addresses, services, flags, families, bad input); the c-ares resolver is
pointed at the test DNS server so nothing leaves the machine.  Table 2 covers
DNS answers: libc can only be pointed at a server through /etc/resolv.conf
and port 53, so it runs in a subprocess inside private mount and network
namespaces (unshare) where a test server listens on 127.0.0.1:53.

The thread resolver (gevent_c.resolver.thread) is compared when it exists;
otherwise the c-ares resolver is compared with the socket module alone.
"""
import os
import shutil
import socket
import subprocess
import sys
import textwrap

import pytest

from gevent_c.hub import get_hub
from gevent_c.resolver.ares import Resolver as AresResolver

from _hubtest import clean_hub  # noqa: F401 -- autouse: a fresh hub per test
from dnsserver import DNSServer

try:
    from gevent_c.resolver.thread import Resolver as ThreadResolver
except ImportError:
    ThreadResolver = None

HERE = os.path.dirname(os.path.abspath(__file__))
S = socket
GAI = 'getaddrinfo'

CASES = [
    # hosts-file names
    (GAI, ('localhost', 80)),
    (GAI, ('localhost', 'http')),
    (GAI, ('localhost', 'domain')),
    (GAI, ('localhost', None)),
    (GAI, ('localhost', 0)),
    (GAI, (b'localhost', b'80')),
    (GAI, ('LOCALHOST', 80, 0, 0, 0, S.AI_CANONNAME)),
    (GAI, ('localhost', 80, S.AF_INET, S.SOCK_STREAM)),
    (GAI, ('localhost', 80, 0, S.SOCK_DGRAM)),
    (GAI, ('localhost', 80, 0, 0, S.IPPROTO_TCP)),
    (GAI, ('localhost', 'http', 0, S.SOCK_DGRAM)),
    (GAI, ('localhost', 80, 0, 0, 0, S.AI_NUMERICHOST)),
    # numeric addresses
    (GAI, ('127.0.0.1', 80)),
    (GAI, ('127.1', 'http')),
    (GAI, ('::1', 80)),
    (GAI, ('::1', 80, S.AF_INET6, S.SOCK_STREAM)),
    (GAI, ('fe80::1%lo', 80)),
    (GAI, ('fe80::1%1', 80, 0, S.SOCK_STREAM)),
    (GAI, ('127.0.0.1', 80, S.AF_INET6)),
    (GAI, ('::1', 80, S.AF_INET)),
    (GAI, ('127.0.0.1', 'http', S.AF_INET, S.SOCK_STREAM, 0, S.AI_NUMERICHOST)),
    (GAI, (None, 80)),
    (GAI, (None, 80, 0, S.SOCK_STREAM, 0, S.AI_PASSIVE)),
    (GAI, (None, 'http', S.AF_INET6, 0, 0, S.AI_PASSIVE)),
    # bad input
    (GAI, ('', 80)),
    (GAI, ('', None)),
    (GAI, (None, None)),
    (GAI, ('localhost', 70000)),
    (GAI, ('localhost', -1)),
    (GAI, ('localhost', 'no-such-service')),
    (GAI, ('localhost', 80, 12345)),
    (GAI, ('localhost', 80, 0, 12345)),
    (GAI, ('localhost', 80, 0, S.SOCK_STREAM, S.IPPROTO_UDP)),
    (GAI, ('localhost', 80, 0, 0, 0, 0x7fff)),
    (GAI, (123, 80)),
    (GAI, ('localhost', 1.5)),
    (GAI, ('localhost', [80])),
    (GAI, ('a' * 300, 80)),
    (GAI, ('localhost',)),
    ('gethostbyname', ('localhost',)),
    ('gethostbyname', ('127.0.0.1',)),
    ('gethostbyname', ('',)),
    ('gethostbyname', ('<broadcast>',)),
    ('gethostbyname', ('::1',)),
    ('gethostbyname', (None,)),
    ('gethostbyname_ex', ('localhost',)),
    ('gethostbyname_ex', ('127.0.0.1',)),
    ('gethostbyname_ex', (42,)),
    ('gethostbyaddr', ('127.0.0.1',)),
    ('gethostbyaddr', ('localhost',)),
    ('gethostbyaddr', ('',)),
    ('gethostbyaddr', (None,)),
    ('getnameinfo', (('127.0.0.1', 80), 0)),
    ('getnameinfo', (('127.0.0.1', 80), S.NI_NAMEREQD)),
    ('getnameinfo', (('127.0.0.1', 53), S.NI_NUMERICHOST | S.NI_NUMERICSERV | S.NI_DGRAM)),
    ('getnameinfo', (('::1', 80, 0, 0), S.NI_NUMERICHOST)),
    ('getnameinfo', (('fe80::1%lo', 80, 0, 0), S.NI_NUMERICHOST)),
    ('getnameinfo', (('fe80::1', 80, 0, 1), S.NI_NUMERICHOST)),
    ('getnameinfo', (('localhost', 80), 0)),
    ('getnameinfo', (('127.0.0.1',), 0)),
    ('getnameinfo', (('127.0.0.1', 80, 1), 0)),
    ('getnameinfo', (('127.0.0.1', 70000), 0)),
    ('getnameinfo', ('127.0.0.1', 0)),
    ('getnameinfo', (('127.0.0.1', 80), 'x')),
]


def outcome(fn, args):
    try:
        return ('ok', fn(*args))
    except TypeError as exc:
        # messages name the function ("Resolver.getaddrinfo() missing ...")
        return ('error', TypeError)
    except Exception as exc:  # noqa: BLE001 -- the error is the result
        return ('error', type(exc), exc.args)


def case_id(case):
    return '%s%r' % case


@pytest.fixture(scope='module')
def server():
    with DNSServer({}) as srv:
        yield srv


def resolvers(server):
    made = [('ares', AresResolver(servers=[server.address], use_environ=False))]
    if ThreadResolver is not None:
        made.append(('thread', ThreadResolver(hub=get_hub())))
    return made


@pytest.mark.parametrize('case', CASES, ids=case_id)
def test_resolvers_match_libc(case, server):
    method, args = case
    expected = outcome(getattr(socket, method), args)
    for name, resolver in resolvers(server):
        try:
            assert outcome(getattr(resolver, method), args) == expected, name
        finally:
            resolver.close()


# ---- DNS answers, against libc inside private namespaces -----------------------

DNS_SCRIPT = r'''
import fcntl, json, socket, struct, sys
sys.path.insert(0, %(here)r)
# a fresh network namespace has its loopback down
with socket.socket() as s:
    ifreq = struct.pack('16sH14s', b'lo', 0, b'')
    flags = struct.unpack('16sH14s', fcntl.ioctl(s, 0x8913, ifreq))[1]
    fcntl.ioctl(s, 0x8914, struct.pack('16sH14s', b'lo', flags | 1, b''))
from dnsserver import DNSServer
import os
S = socket
records = {
    'a.test': [('A', '10.0.0.1'), ('AAAA', '2001:db8::1')],
    'b.test': [('A', '10.0.0.2'), ('A', '10.0.0.3'), ('AAAA', '2001:db8::2'),
               ('AAAA', '::ffff:1.2.3.4')],
    'alias.test': [('CNAME', 'a.test')],
    'alias2.test': [('CNAME', 'alias.test')],
    'v6only.test': [('AAAA', '2001:db8::5')],
    'ptronly.test': [('PTR', 'x.test')],
    'v4only.test': [('A', '10.0.0.4')],
    'xn--bcher-kva.test': [('A', '10.0.0.5')],
    'single': [('A', '10.0.0.6')],
    '1.0.0.10.in-addr.arpa': [('PTR', 'a.test')],
    '2.0.0.10.in-addr.arpa': [('PTR', 'b.test'), ('PTR', 'b2.test')],
    '3.0.0.10.in-addr.arpa': [('A', '10.9.9.9')],
    '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa':
        [('PTR', 'v6only.test')],
}
behaviours = {'nx.test': 'NXDOMAIN', 'fail.test': 'SERVFAIL', 'refused.test': 'REFUSED',
              'slow.test': 'TIMEOUT', '8.0.0.10.in-addr.arpa': 'SERVFAIL'}
cases = [
    ('getaddrinfo', ('a.test', 80)),
    ('getaddrinfo', ('b.test', 'http')),
    ('getaddrinfo', ('b.test', 80, S.AF_INET6)),
    ('getaddrinfo', ('alias2.test', 80, 0, 0, 0, S.AI_CANONNAME)),
    ('getaddrinfo', ('A.TEST', 80, S.AF_INET, S.SOCK_STREAM)),
    ('getaddrinfo', ('v6only.test', 80, S.AF_INET)),
    ('getaddrinfo', ('ptronly.test', 80)),
    ('getaddrinfo', ('nx.test', 80)),
    ('getaddrinfo', ('fail.test', 80)),
    ('getaddrinfo', ('refused.test', 80)),
    ('getaddrinfo', ('slow.test', 80)),
    ('getaddrinfo', ('a.test', 'no-such-service')),
    ('getaddrinfo', ('a.test.', 80, 0, S.SOCK_STREAM)),
    ('getaddrinfo', ('bücher.test', 80, S.AF_INET, S.SOCK_STREAM)),
    ('getaddrinfo', ('single', 80, S.AF_INET, S.SOCK_STREAM)),
    ('getaddrinfo', ('v4only.test', 80, S.AF_INET6, S.SOCK_STREAM, 0, S.AI_V4MAPPED)),
    ('getaddrinfo', ('a.test', 80, S.AF_INET6, S.SOCK_STREAM, 0, S.AI_V4MAPPED | S.AI_ALL)),
    ('getaddrinfo', ('a.test', 80, 0, S.SOCK_STREAM, 0, S.AI_ADDRCONFIG)),
    ('getaddrinfo', ('a.test', 80, S.AF_INET6, S.SOCK_STREAM, 0, S.AI_V4MAPPED)),
    ('getaddrinfo', ('b.test', 80, S.AF_INET6, S.SOCK_DGRAM, 0, S.AI_V4MAPPED | S.AI_ALL)),
    ('getaddrinfo', ('nx.test', 80, S.AF_INET6, S.SOCK_STREAM, 0, S.AI_V4MAPPED)),
    ('getaddrinfo', ('localhost', 80, S.AF_INET6, S.SOCK_STREAM, 0, S.AI_V4MAPPED)),
    ('getaddrinfo', ('a.test', 'http', 0, S.SOCK_STREAM, 0, S.AI_NUMERICSERV)),
    ('getaddrinfo', ('a.test', 80, 0, 0, S.IPPROTO_UDP, S.AI_CANONNAME | S.AI_PASSIVE)),
    ('gethostbyname', ('alias.test',)),
    ('gethostbyname', ('nx.test',)),
    ('gethostbyname_ex', ('alias2.test',)),
    ('gethostbyname_ex', ('nx.test',)),
    ('gethostbyaddr', ('10.0.0.1',)),
    ('gethostbyaddr', ('10.0.0.7',)),
    ('gethostbyaddr', ('alias.test',)),
    ('getnameinfo', (('10.0.0.1', 80), 0)),
    ('getnameinfo', (('10.0.0.7', 80), 0)),
    ('getnameinfo', (('10.0.0.7', 80), S.NI_NAMEREQD)),
    ('getnameinfo', (('10.0.0.8', 80), S.NI_NAMEREQD)),
    ('getnameinfo', (('10.0.0.8', 80), 0)),
    ('getnameinfo', (('10.0.0.1', 80), S.NI_NOFQDN | S.NI_DGRAM)),
    ('getnameinfo', (('2001:db8::5', 443, 0, 0), 0)),
    ('getnameinfo', (('a.test', 80), 0)),
    ('gethostbyname', ('v6only.test',)),
    ('gethostbyname', ('fail.test',)),
    ('gethostbyname_ex', ('b.test',)),
    ('gethostbyname_ex', ('fail.test',)),
    ('gethostbyaddr', ('10.0.0.2',)),
    ('gethostbyaddr', ('10.0.0.8',)),
    ('gethostbyaddr', ('10.0.0.3',)),
    ('getnameinfo', (('10.0.0.3', 80), 0)),
    ('getnameinfo', (('10.0.0.3', 80), S.NI_NAMEREQD)),
    ('gethostbyaddr', ('2001:db8::5',)),
    ('gethostbyaddr', ('v6only.test',)),
]
def plain(value):
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return int(value) if isinstance(value, int) else value
def outcome(fn, args):
    try:
        return ['ok', plain(fn(*args))]
    except Exception as exc:
        return ['error', type(exc).__name__, repr(exc.args)]
# The server answers from another process: 3.10's socket.getnameinfo keeps
# the GIL while libc waits for the answer, so a server thread here would
# never get to answer it.  The child stops when our end of `alive` closes.
ready_r, ready_w = os.pipe()
alive_r, alive_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(ready_r)
    os.close(alive_w)
    with DNSServer(records, behaviours, port=53):
        os.write(ready_w, b'x')
        os.read(alive_r, 1)
    os._exit(0)
os.close(ready_w)
os.close(alive_r)
assert os.read(ready_r, 1) == b'x'
from gevent_c.hub import get_hub
from gevent_c.resolver.ares import Resolver
resolvers = [('ares', Resolver(servers=['127.0.0.1'], timeout=1, tries=1))]
try:
    from gevent_c.resolver.thread import Resolver as ThreadResolver
    resolvers.append(('thread', ThreadResolver(hub=get_hub())))
except ImportError:
    pass
diffs = []
try:
    for method, args in cases:
        expected = outcome(getattr(socket, method), args)
        for name, r in resolvers:
            got = outcome(getattr(r, method), args)
            if got != expected:
                diffs.append([name, method, repr(args), expected, got])
    for name, r in resolvers:
        r.close()
finally:
    os.close(alive_w)
    os.waitpid(pid, 0)
print(json.dumps({'diffs': diffs, 'compared': [n for n, _ in resolvers],
                  'cases': len(cases)}))
'''


def _namespaces_usable():
    if os.geteuid() != 0 or shutil.which('unshare') is None:
        return False
    try:
        return subprocess.run(['unshare', '-mn', 'true'], timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.timeout(60)
def test_dns_answers_match_libc_in_private_namespaces(tmp_path):
    if not _namespaces_usable():
        pytest.skip('needs root and unshare -mn to point libc at the test server')
    import json
    resolv = tmp_path / 'resolv.conf'
    resolv.write_text('nameserver 127.0.0.1\noptions timeout:1 attempts:1\n')
    script = tmp_path / 'compare.py'
    script.write_text(textwrap.dedent(DNS_SCRIPT % {'here': HERE}))
    cmd = 'mount --bind %s /etc/resolv.conf && exec %s %s' % (resolv, sys.executable, script)
    out = subprocess.run(['unshare', '-mn', 'sh', '-c', cmd], capture_output=True, text=True,
                         timeout=50)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report['compared'][0] == 'ares'
    assert report['diffs'] == [], json.dumps(report['diffs'], indent=1)


SOCKET_CASES = [
    (GAI, ('localhost', 'http')),
    (GAI, ('127.0.0.1', 80, 0, S.SOCK_STREAM)),
    (GAI, ('localhost', 80, 0, 0, 0, S.AI_CANONNAME)),
    (GAI, ('', 80)),
    ('gethostbyname', ('localhost',)),
    ('gethostbyname_ex', ('localhost',)),
    ('gethostbyaddr', ('127.0.0.1',)),
    ('getnameinfo', (('127.0.0.1', 80), 0)),
]


@pytest.mark.parametrize('case', SOCKET_CASES, ids=case_id)
def test_gevent_c_socket_functions_through_the_ares_resolver_match_libc(case, server):
    import gevent_c.socket as gsocket
    hub = get_hub()
    hub.resolver = AresResolver(servers=[server.address], use_environ=False)
    method, args = case
    assert outcome(getattr(gsocket, method), args) == outcome(getattr(socket, method), args)
