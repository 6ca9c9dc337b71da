"""gevent_c._ares and gevent_c.resolver.ares against the test DNS server."""
import gc
import os
import socket
import subprocess
import sys
import textwrap

import pytest

import gevent_c
from gevent_c import _ares
from gevent_c.hub import get_hub
from gevent_c.resolver.ares import Resolver

from _hubtest import clean_hub  # noqa: F401 -- autouse: a fresh hub per test
from dnsserver import DNSServer, bench_generate

RECORDS = {
    'a.test': [('A', '10.0.0.1'), ('AAAA', '2001:db8::1')],
    'multi.test': [('A', '10.0.0.2'), ('A', '10.0.0.3')],
    'alias.test': [('CNAME', 'a.test')],
    'alias2.test': [('CNAME', 'alias.test')],
    'v6only.test': [('AAAA', '2001:db8::5')],
    '1.0.0.10.in-addr.arpa': [('PTR', 'a.test')],
    '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa':
        [('PTR', 'v6only.test')],
}
BEHAVIOURS = {'nx.test': 'NXDOMAIN', 'fail.test': 'SERVFAIL', 'slow.test': 'TIMEOUT'}


def generate(name):
    return bench_generate(name)


@pytest.fixture(scope='module')
def server():
    with DNSServer(RECORDS, BEHAVIOURS, generate=generate) as srv:
        yield srv


@pytest.fixture
def resolver(server):
    r = Resolver(servers=[server.address], timeout=0.3, tries=2, use_environ=False)
    yield r
    r.close()


# ---- answers ----------------------------------------------------------------

def test_getaddrinfo_returns_a_and_aaaa_for_unspec(resolver):
    result = resolver.getaddrinfo('a.test', 80, 0, socket.SOCK_STREAM)
    assert sorted(result) == sorted([
        (socket.AF_INET, socket.SOCK_STREAM, 6, '', ('10.0.0.1', 80)),
        (socket.AF_INET6, socket.SOCK_STREAM, 6, '', ('2001:db8::1', 80, 0, 0)),
    ])


def test_getaddrinfo_expands_socket_types_like_libc(resolver):
    result = resolver.getaddrinfo('multi.test', 'http', socket.AF_INET)
    assert result == [(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('10.0.0.2', 80)),
                      (socket.AF_INET, socket.SOCK_STREAM, 6, '', ('10.0.0.3', 80))]
    result = resolver.getaddrinfo('multi.test', 53, socket.AF_INET)
    assert [r[1:3] for r in result[:3]] == [(socket.SOCK_STREAM, 6), (socket.SOCK_DGRAM, 17),
                                            (socket.SOCK_RAW, 0)]
    assert len(result) == 6


def test_getaddrinfo_follows_cname_chain_and_reports_canonical_name(resolver):
    result = resolver.getaddrinfo('alias2.test', 80, socket.AF_INET, socket.SOCK_STREAM, 0,
                                  socket.AI_CANONNAME)
    assert result == [(socket.AF_INET, socket.SOCK_STREAM, 6, 'a.test', ('10.0.0.1', 80))]


def test_gethostbyname_and_ex_follow_cname(resolver):
    assert resolver.gethostbyname('alias.test') == '10.0.0.1'
    assert resolver.gethostbyname_ex('alias.test') == ('a.test', ['alias.test'], ['10.0.0.1'])


def test_gethostbyaddr_and_getnameinfo_use_ptr_records(resolver):
    assert resolver.gethostbyaddr('10.0.0.1') == ('a.test', [], ['10.0.0.1'])
    assert resolver.gethostbyaddr('2001:db8::5') == ('v6only.test', [], ['2001:db8::5'])
    assert resolver.getnameinfo(('10.0.0.1', 80), 0) == ('a.test', 'http')
    assert resolver.getnameinfo(('10.0.0.9', 80), 0) == ('10.0.0.9', 'http')


# ---- failures map to libc's errno --------------------------------------------

def test_nxdomain_raises_eai_noname(resolver):
    with pytest.raises(socket.gaierror) as info:
        resolver.getaddrinfo('nx.test', 80)
    assert info.value.args == (socket.EAI_NONAME, 'Name or service not known')


def test_unknown_name_raises_eai_noname(resolver):
    with pytest.raises(socket.gaierror) as info:
        resolver.gethostbyname('no-such-name.test')
    assert info.value.errno == socket.EAI_NONAME


def test_servfail_raises_eai_again(resolver):
    with pytest.raises(socket.gaierror) as info:
        resolver.getaddrinfo('fail.test', 80)
    assert info.value.args == (socket.EAI_AGAIN, 'Temporary failure in name resolution')


def test_name_without_addresses_of_the_family_raises_eai_nodata(resolver):
    with pytest.raises(socket.gaierror) as info:
        resolver.getaddrinfo('v6only.test', 80, socket.AF_INET)
    assert info.value.errno == socket.EAI_NODATA


@pytest.mark.timeout(20)
def test_unanswered_query_times_out_with_eai_again(server):
    r = Resolver(servers=[server.address], timeout=0.1, tries=1, use_environ=False)
    try:
        with pytest.raises(socket.gaierror) as info:
            r.getaddrinfo('slow.test', 80)
        assert info.value.errno == socket.EAI_AGAIN
        assert r.cares.pending == 0
        assert r.cares._timer is None
    finally:
        r.close()


def test_unknown_address_raises_herror_unknown_host(resolver):
    with pytest.raises(socket.herror) as info:
        resolver.gethostbyaddr('10.0.0.99')
    assert info.value.args == (1, 'Unknown host')
    with pytest.raises(socket.gaierror) as info:
        resolver.getnameinfo(('10.0.0.99', 80), socket.NI_NAMEREQD)
    assert info.value.errno == socket.EAI_NONAME


# ---- concurrency ---------------------------------------------------------------

@pytest.mark.timeout(30)
def test_many_greenlets_resolve_at_once(resolver, server):
    names = ['h%d.bench.test' % i for i in range(500)]
    jobs = [gevent_c.spawn(resolver.gethostbyname, n) for n in names]
    gevent_c.joinall(jobs, raise_error=True)
    assert [j.value for j in jobs] == ['10.0.%d.%d' % (i >> 8, i & 255) for i in range(500)]


@pytest.mark.timeout(30)
def test_hub_serves_other_greenlets_while_a_lookup_waits(server):
    r = Resolver(servers=[server.address], timeout=0.5, tries=1, use_environ=False)
    ticks = []

    def ticker():
        while True:
            ticks.append(1)
            gevent_c.sleep(0.01)

    try:
        t = gevent_c.spawn(ticker)
        slow = gevent_c.spawn(r.getaddrinfo, 'slow.test', 80)
        gevent_c.sleep(0.05)
        # a fast lookup completes while the slow one is still pending
        assert r.gethostbyname('a.test') == '10.0.0.1'
        assert not slow.ready()
        slow.join()
        assert isinstance(slow.exception, socket.gaierror)
        assert len(ticks) > 3
        t.kill()
    finally:
        r.close()


@pytest.mark.timeout(20)
def test_close_with_pending_queries_fails_them_with_eai_again(server):
    r = Resolver(servers=[server.address], timeout=5, tries=1, use_environ=False)
    ch = r.cares
    jobs = [gevent_c.spawn(r.getaddrinfo, 'slow.test', 80) for _ in range(10)]
    gevent_c.sleep(0.05)
    assert ch.pending == 10
    r.close()
    gevent_c.joinall(jobs)
    for job in jobs:
        assert isinstance(job.exception, socket.gaierror)
        assert job.exception.errno == socket.EAI_AGAIN
    assert ch.closed and ch.pending == 0 and ch._watchers == {} and ch._timer is None
    with pytest.raises(ValueError):
        r.getaddrinfo('a.test', 80)


@pytest.mark.timeout(20)
def test_tcp_queries_with_usevc_flag(server):
    r = Resolver(servers=[server.address], flags=_ares.ARES_FLAG_USEVC, use_environ=False)
    try:
        jobs = [gevent_c.spawn(r.gethostbyname, 'h%d.bench.test' % i) for i in range(20)]
        gevent_c.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == ['10.0.0.%d' % i for i in range(20)]
    finally:
        r.close()


# ---- the channel itself ----------------------------------------------------------

def test_channel_delivers_results_from_the_loop(server):
    hub = get_hub()
    ch = _ares.channel(hub.loop, servers=server.address)
    got = []
    ch.gethostbyname(got.append, 'a.test', socket.AF_INET)
    ch.gethostbyaddr(got.append, '10.0.0.1')
    ch.getnameinfo(got.append, ('10.0.0.1', 80), 0)
    assert got == [] and ch.pending == 3
    hub.join()
    assert sorted(map(repr, got)) == sorted(map(repr, [
        ('a.test', [], ['10.0.0.1']), ('a.test', [], ['10.0.0.1']), ('a.test', 'http')]))
    ch.destroy()
    ch.destroy()


def test_channel_callback_errors_go_to_the_hub(server):
    hub = get_hub()
    errors = []
    hub.handle_error = lambda *args: errors.append(args)
    ch = _ares.channel(hub.loop, servers=server.address)

    def bad(value):
        raise RuntimeError('boom')

    ch.gethostbyname(bad, 'a.test')
    hub.join()
    ch.destroy()
    assert len(errors) == 1 and errors[0][0] is ch and errors[0][1] is RuntimeError


def test_set_servers_while_pending_is_refused(server):
    hub = get_hub()
    ch = _ares.channel(hub.loop, servers=[server.address], timeout=5)
    ch.getaddrinfo(lambda v: None, 'slow.test', 80)
    with pytest.raises(RuntimeError):
        ch.set_servers(['127.0.0.1'])
    ch.destroy()
    hub.join()


@pytest.mark.parametrize('kwargs, exc', [
    ({'timeout': -1}, ValueError),
    ({'timeout': 'x'}, TypeError),
    ({'tries': 0}, ValueError),
    ({'tries': 1.5}, TypeError),
    ({'ndots': -1}, ValueError),
    ({'udp_port': 70000}, ValueError),
    ({'tcp_port': -2}, ValueError),
    ({'flags': 'x'}, TypeError),
    ({'servers': 5}, TypeError),
    ({'servers': [5]}, TypeError),
    ({'servers': []}, ValueError),
    ({'servers': ['not an address']}, ValueError),
    ({'servers': ['1.2.3.4,5.6.7.8']}, ValueError),
    ({'bogus': 1}, TypeError),
])
def test_channel_rejects_bad_options(kwargs, exc):
    with pytest.raises(exc):
        _ares.channel(get_hub().loop, **kwargs)


def test_channel_rejects_bad_query_arguments(server):
    ch = _ares.channel(get_hub().loop, servers=server.address)
    cb = lambda v: None  # noqa: E731
    with pytest.raises(TypeError):
        _ares.channel(object())
    with pytest.raises(TypeError):
        ch.gethostbyname(None, 'a.test')
    with pytest.raises(TypeError):
        ch.gethostbyname(cb, 5)
    with pytest.raises(ValueError):
        ch.gethostbyname(cb, 'a\x00b')
    with pytest.raises(ValueError):
        ch.gethostbyname(cb, 'a.test', 12345)
    with pytest.raises(ValueError):
        ch.gethostbyaddr(cb, 'not-an-ip')
    with pytest.raises(TypeError):
        ch.getaddrinfo(cb, 'a.test', 1.5)
    with pytest.raises(OverflowError):
        ch.getaddrinfo(cb, 'a.test', 70000)
    with pytest.raises(ValueError):
        ch.getaddrinfo(cb, None, None)
    with pytest.raises(TypeError):
        ch.getnameinfo(cb, '10.0.0.1', 0)
    with pytest.raises(ValueError):
        ch.getnameinfo(cb, ('name.test', 80), 0)
    with pytest.raises(TypeError):
        ch.getaddrinfo(cb, 'a.test', 80, bogus=1)
    assert ch.pending == 0
    ch.destroy()
    with pytest.raises(ValueError):
        ch.gethostbyname(cb, 'a.test')
    with pytest.raises(ValueError):
        ch.set_servers(['127.0.0.1'])


def test_channel_dropped_without_destroy_does_not_crash():
    code = textwrap.dedent('''
        import gc, sys
        sys.path.insert(0, %r)
        from dnsserver import DNSServer
        from gevent_c import _ares
        from gevent_c.hub import get_hub
        with DNSServer({'a.test': [('A', '10.0.0.1')]}) as srv:
            hub = get_hub()
            for i in range(50):
                ch = _ares.channel(hub.loop, servers=srv.address)
                ch.gethostbyname(lambda v: None, 'a.test')
                hub.join()
                del ch
                gc.collect()
            ch = _ares.channel(hub.loop, servers=srv.address)
            ch.gethostbyname(lambda v: None, 'a.test')
            del ch   # pending query: kept alive until it completes
            hub.join()
            # left for interpreter shutdown, its UDP socket still open
            keep = _ares.channel(hub.loop, servers=srv.address)
            keep.gethostbyname(lambda v: None, 'a.test')
            hub.join()
        print('ok')
    ''') % (os.path.dirname(os.path.abspath(__file__)),)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'ok'


# ---- configuration ---------------------------------------------------------------

def test_options_come_from_the_environment(server, monkeypatch):
    monkeypatch.setenv('GEVENT_C_ARES_SERVERS', server.address)
    monkeypatch.setenv('GEVENT_C_ARES_TIMEOUT', '0.1')
    monkeypatch.setenv('GEVENT_C_ARES_TRIES', '1')
    r = Resolver()
    try:
        assert r.params == {'servers': server.address, 'timeout': 0.1, 'tries': 1,
                            'lookups': 'b'}
        assert r.gethostbyname('a.test') == '10.0.0.1'
    finally:
        r.close()
    r = Resolver(use_environ=False, servers=['127.0.0.1:%d' % server.port])
    try:
        assert r.params == {'servers': ['127.0.0.1:%d' % server.port], 'lookups': 'b'}
    finally:
        r.close()
    monkeypatch.setenv('GEVENT_C_ARES_TRIES', 'many')
    with pytest.raises(ValueError):
        Resolver()


def test_udp_port_option_applies_to_servers_without_port(server):
    r = Resolver(servers=['127.0.0.1'], udp_port=server.port, use_environ=False)
    try:
        assert r.gethostbyname('a.test') == '10.0.0.1'
    finally:
        r.close()


def test_hub_uses_ares_resolver_when_configured(server, monkeypatch):
    from gevent_c._config import config
    monkeypatch.setenv('GEVENT_C_ARES_SERVERS', server.address)
    monkeypatch.setattr(config, 'resolver', ['ares'])
    hub = get_hub()
    assert isinstance(hub.resolver, Resolver)
    assert hub.resolver.gethostbyname('alias.test') == '10.0.0.1'
    mine = Resolver(servers=server.address, use_environ=False)
    hub.resolver = mine
    assert hub.resolver is mine


def test_resolver_environment_variable_selects_ares(server):
    code = ('import gevent_c.hub as h, sys; r = h.get_hub().resolver; '
            'print(type(r).__module__, r.gethostbyname("a.test")); r.close()')
    env = dict(os.environ, GEVENT_C_RESOLVER='ares',
               GEVENT_C_ARES_SERVERS=server.address)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['gevent_c.resolver.ares', '10.0.0.1']


# ---- leaks ------------------------------------------------------------------------

def _rss_kib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024


@pytest.mark.no_sanitizer('RSS growth: the sanitizer keeps freed memory in quarantine')
@pytest.mark.timeout(60)
def test_lookups_errors_and_channels_leave_nothing_behind(server):
    hub = get_hub()
    callback = [].append
    callback_refs = None

    def quiet(fn, *args):
        try:
            fn(*args)
        except OSError:
            pass

    def work(n):
        r = Resolver(servers=[server.address], timeout=0.05, tries=1, use_environ=False)
        jobs = []
        for i in range(n):
            name = ('h%d.bench.test' % i) if i % 3 else ('nx.test' if i % 2 else 'fail.test')
            jobs.append(gevent_c.spawn(quiet, r.getaddrinfo, name, 80))
        jobs.append(gevent_c.spawn(quiet, r.gethostbyaddr, '10.0.0.1'))
        jobs.append(gevent_c.spawn(quiet, r.gethostbyname_ex, 'alias.test'))
        jobs.append(gevent_c.spawn(quiet, r.getnameinfo, ('10.0.0.99', 80), 0))
        gevent_c.joinall(jobs, raise_error=True)
        r.close()
        ch = _ares.channel(hub.loop, servers=server.address, timeout=5)
        for _ in range(20):
            ch.gethostbyname(callback, 'slow.test')
        ch.destroy()
        hub.join()
        callback.__self__.clear()
        del server.queries[:]   # the in-process server's own log

    work(600)
    work(600)   # allocator arenas settle after a few rounds
    gc.collect()
    blocks, rss = sys.getallocatedblocks(), _rss_kib()
    callback_refs = sys.getrefcount(callback.__self__)
    for _ in range(5):
        work(600)
    gc.collect()
    refs_now = sys.getrefcount(callback.__self__)
    assert refs_now == callback_refs
    assert sys.getallocatedblocks() - blocks < 2000
    assert _rss_kib() - rss < 16 * 1024   # loose: catches gross C-side leaks only


@pytest.mark.timeout(60)
def test_forked_child_gets_a_fresh_channel(server):
    code = textwrap.dedent('''
        import os, sys
        import gevent_c
        from gevent_c.hub import get_hub, reinit
        from gevent_c.resolver.ares import Resolver
        hub = get_hub()
        r = hub.resolver = Resolver(servers=%r, use_environ=False)
        assert r.gethostbyname('a.test') == '10.0.0.1'
        parent_channel = r.cares
        pid = os.fork()
        if pid == 0:
            reinit()
            ok = r.cares is not parent_channel and r.gethostbyname('alias.test') == '10.0.0.1'
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert r.cares is parent_channel and r.gethostbyname('alias.test') == '10.0.0.1'
        r.close()
        print(os.waitstatus_to_exitcode(status))
    ''') % (server.address,)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=50)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '0'


# ---- address order ------------------------------------------------------------------

def test_resolver_sorts_answers_like_c_ares_rfc6724_sort():
    """The resolver asks c-ares not to sort (AI_NOSORT: c-ares would open a
    socket per address even for one answer) and sorts several answers
    itself; the order must be c-ares' own, which the libc comparison checks."""
    import random
    from gevent_c.resolver.ares import _rfc6724_sort
    v4 = ['10.0.0.1', '127.0.0.2', '169.254.1.1', '192.168.1.1', '8.8.8.8', '172.16.0.1']
    v6 = ['::1', 'fe80::1', '2001:db8::1', '2002::1', 'fc00::1', 'fec0::1', '::ffff:1.2.3.4',
          '2a00::1', '64:ff9b::1', 'ff02::1', '3ffe::1', '::2']
    rnd = random.Random(6724)
    records = {}
    for i in range(40):
        addrs = rnd.sample(v4, rnd.randint(0, 4)) + rnd.sample(v6, rnd.randint(1, 5))
        records['m%d.test' % i] = ([('A', a) for a in addrs if ':' not in a] +
                                   [('AAAA', a) for a in addrs if ':' in a])
    hub = get_hub()
    got = {}
    with DNSServer(records) as srv:
        ch = _ares.channel(hub.loop, servers=srv.address, lookups='b')
        for name in records:
            for flags in (0, _ares.AI_NOSORT):
                ch.getaddrinfo(lambda v, key=(name, flags): got.__setitem__(key, v),
                               name, None, 0, socket.SOCK_STREAM, 0, flags)
        hub.join()
        ch.destroy()
    for name in records:
        assert not isinstance(got[(name, 0)], Exception), got[(name, 0)]
        assert _rfc6724_sort(got[(name, _ares.AI_NOSORT)]) == got[(name, 0)], name


@pytest.mark.timeout(20)
def test_timeout_or_kill_while_waiting_leaves_the_resolver_usable(resolver):
    r = Resolver(servers=resolver.params['servers'], timeout=0.3, tries=1, use_environ=False)
    try:
        with pytest.raises(gevent_c.Timeout):
            with gevent_c.Timeout(0.05):
                r.getaddrinfo('slow.test', 80)
        job = gevent_c.spawn(r.gethostbyname, 'slow.test')
        gevent_c.sleep(0.02)
        job.kill()
        assert job.dead and job.exception is None   # GreenletExit counts as a result
        assert r.gethostbyname('a.test') == '10.0.0.1'
        gevent_c.sleep(0.5)       # the abandoned queries time out unseen
        assert r.cares.pending == 0
        assert r.gethostbyname('alias.test') == '10.0.0.1'
    finally:
        r.close()


def test_config_ares_settings_reach_the_resolver(server):
    from gevent_c._config import config
    setting = config.settings['ares_tries']
    saved = (setting._value, setting._is_set)
    config.ares_tries = 3
    try:
        r = Resolver(servers=server.address)
        try:
            assert r.params['tries'] == 3
        finally:
            r.close()
    finally:
        setting._value, setting._is_set = saved
