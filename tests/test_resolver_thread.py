"""gevent_c.resolver.thread and .blocking answer exactly like the socket module."""
import _thread
import io
import socket

import pytest

import gevent_c
from gevent_c.resolver import AbstractResolver
from gevent_c.resolver import _addresses
from gevent_c.resolver import blocking
from gevent_c.resolver import thread as thread_resolver

from _hubtest import clean_hub  # noqa: F401 -- autouse fixture

pytestmark = pytest.mark.timeout(60)

# (method, args): compared with the socket function of the same name.
# Only names and addresses libc answers from the hosts file or numerically.
CASES = [
    ('getaddrinfo', ('localhost', 80)),
    ('getaddrinfo', ('localhost', 'http')),
    ('getaddrinfo', ('localhost', None, socket.AF_INET, socket.SOCK_STREAM)),
    ('getaddrinfo', ('localhost', 'domain', 0, socket.SOCK_DGRAM)),
    ('getaddrinfo', ('127.0.0.1', 8080)),
    ('getaddrinfo', (b'127.0.0.1', b'8080')),
    ('getaddrinfo', ('::1', 443, socket.AF_INET6)),
    ('getaddrinfo', ('fe80::1%lo', 22, socket.AF_INET6)),
    ('getaddrinfo', (None, 53, 0, 0, 0, socket.AI_PASSIVE)),
    ('getaddrinfo', (None, 'ssh')),
    ('getaddrinfo', ('localhost', 80, 0, 0, 0, socket.AI_CANONNAME)),
    ('getaddrinfo', ('127.0.0.1', 80, 0, 0, 0, socket.AI_NUMERICHOST)),
    # errors
    ('getaddrinfo', ('localhost', 'no-such-service-xyz')),
    ('getaddrinfo', ('some.name.test', 80, 0, 0, 0, socket.AI_NUMERICHOST)),
    ('getaddrinfo', ('localhost', 80, 12345)),
    ('getaddrinfo', ('localhost', 80, 0, 12345)),
    ('getaddrinfo', (None, None)),
    ('getaddrinfo', ('localhost', 70000)),
    ('getaddrinfo', ('localhost', 80.5)),
    ('getaddrinfo', (42, 80)),
    ('getaddrinfo', ('localhost', [])),
    ('getaddrinfo', ('a' * 300, 80, 0, 0, 0, socket.AI_NUMERICHOST)),
    ('getaddrinfo', ('bad\x00host', 80)),
    ('gethostbyname', ('localhost',)),
    ('gethostbyname', ('127.0.0.1',)),
    ('gethostbyname', (42,)),
    ('gethostbyname', ('',)),
    ('gethostbyname_ex', ('localhost',)),
    ('gethostbyname_ex', ('127.0.0.1',)),
    ('gethostbyname_ex', (None,)),
    ('gethostbyaddr', ('127.0.0.1',)),
    ('gethostbyaddr', ('::1',)),
    ('gethostbyaddr', (42,)),
    ('getnameinfo', (('127.0.0.1', 80), 0)),
    ('getnameinfo', (('127.0.0.1', 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)),
    ('getnameinfo', (('::1', 22, 0, 0), socket.NI_NUMERICHOST)),
    ('getnameinfo', (('127.0.0.1', 70000), 0)),
    ('getnameinfo', (('127.0.0.1',), 0)),
    ('getnameinfo', ('127.0.0.1', 0)),
    ('getnameinfo', (('127.0.0.1', 80), 'x')),
]


def outcome(func, args):
    try:
        return ('ok', func(*args))
    except Exception as exc:  # noqa: BLE001 -- compared below
        return ('error', type(exc), getattr(exc, 'errno', None), str(exc))


@pytest.fixture(params=['thread', 'blocking'])
def resolver(request):
    module = thread_resolver if request.param == 'thread' else blocking
    r = module.Resolver(hub=gevent_c.get_hub())
    yield r
    r.close()


@pytest.mark.parametrize('method,args', CASES, ids=['%s%r' % c for c in CASES])
def test_same_answers_and_errors_as_the_socket_module(resolver, method, args):
    expected = outcome(getattr(socket, method), args)
    assert outcome(getattr(resolver, method), args) == expected


def test_resolvers_implement_the_abstract_interface():
    for module in (thread_resolver, blocking):
        assert issubclass(module.Resolver, AbstractResolver)
        assert module.__all__ == ['Resolver']


def test_thread_resolver_is_the_hub_default():
    hub = gevent_c.get_hub()
    assert isinstance(hub.resolver, thread_resolver.Resolver)
    assert hub.resolver.hub is hub


def test_lookup_errors_are_not_reported_by_the_hub():
    hub = gevent_c.get_hub()
    r = thread_resolver.Resolver(hub=hub)
    assert issubclass(socket.gaierror, hub.NOT_ERROR)
    assert issubclass(socket.herror, hub.NOT_ERROR)
    assert 'NOT_ERROR' in vars(hub)  # on the instance, as gevent does
    hub.exception_stream = io.StringIO()
    try:
        with pytest.raises(socket.gaierror):
            r.getaddrinfo('localhost', 'no-such-service-xyz')
        with pytest.raises(TypeError):
            r.gethostbyaddr(42)
        assert hub.exception_stream.getvalue() == ''
    finally:
        del hub.exception_stream


def test_lookups_run_in_a_worker_while_the_hub_serves_others(monkeypatch):
    lock = _thread.allocate_lock()
    lock.acquire()
    threads = []

    def slow_gethostbyname_ex(name):
        threads.append(_thread.get_ident())
        lock.acquire()  # released by a greenlet: a blocked hub would deadlock
        return (name, [], ['192.0.2.1'])

    monkeypatch.setattr(thread_resolver, '_gethostbyname_ex', slow_gethostbyname_ex)
    r = thread_resolver.Resolver()
    gevent_c.spawn(lock.release)
    assert r.gethostbyname_ex('example.test') == ('example.test', [], ['192.0.2.1'])
    assert threads and threads[0] != _thread.get_ident()


def test_concurrent_lookups_from_many_greenlets():
    r = thread_resolver.Resolver()
    expected = socket.getaddrinfo('localhost', 'http')
    workers = [gevent_c.spawn(r.getaddrinfo, 'localhost', 'http') for _ in range(50)]
    gevent_c.joinall(workers, raise_error=True)
    assert all(w.value == expected for w in workers)


def test_address_helpers():
    assert _addresses.is_ipv4_addr('10.0.0.1') and not _addresses.is_ipv4_addr('10.0.0')
    assert _addresses.is_ipv6_addr('fe80::1%lo') and _addresses.is_ipv6_addr(b'::1')
    assert not _addresses.is_ipv6_addr('localhost') and not _addresses.is_ipv6_addr(5)
    assert _addresses.is_numeric_host(None) and not _addresses.is_numeric_host('localhost')


def test_parse_hosts(tmp_path):
    path = tmp_path / 'hosts'
    path.write_text('# comment\n127.0.0.1 Local.Test alias1  # tail\n'
                    '::1 local.test\nnot-an-address name\n10.0.0.2 local.test\n')
    v4, v6, aliases = _addresses.parse_hosts(str(path))
    assert v4 == {'local.test': ['127.0.0.1', '10.0.0.2'], 'alias1': ['127.0.0.1']}
    assert v6 == {'local.test': ['::1']}
    assert aliases == {'alias1': 'local.test'}
    assert _addresses.parse_hosts(str(tmp_path / 'missing')) == ({}, {}, {})
