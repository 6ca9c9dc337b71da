"""gevent_c._ares: crashes and misbehaviour found in review, as regression tests.

Scenarios that used to crash the interpreter run in a subprocess, so a
segfault fails the test instead of killing the run.
"""
import socket
import sys

import pytest

from gevent_c import _ares
from gevent_c.hub import get_hub

from _hubtest import clean_hub  # noqa: F401 -- autouse: a fresh hub per test
from _isolated import run_isolated
from dnsserver import DNSServer

RECORDS = {'a.test': [('A', '10.0.0.1')], 'b.test': [('A', '10.0.0.2')]}
BEHAVIOURS = {'slow.test': 'TIMEOUT'}


@pytest.fixture(scope='module')
def server():
    with DNSServer(RECORDS, BEHAVIOURS) as srv:
        yield srv


class ProxyLoop:
    """The hub's loop, with methods a test overrides."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)


# ---- a host is required -------------------------------------------------------------

def test_getaddrinfo_with_a_port_and_no_host_raises_value_error():
    out = run_isolated(dev=True, code='''
        from gevent_c import _ares
        from gevent_c.hub import get_hub
        ch = _ares.channel(get_hub().loop, servers='127.0.0.1:9')
        try:
            ch.getaddrinfo(print, None, 80)
        except ValueError as exc:
            print('ValueError', ch.pending)
        ch.destroy()
    ''')
    assert out.strip() == 'ValueError 0'


# ---- destroy() while c-ares is running -------------------------------------------

def test_destroy_from_the_socket_callback_is_deferred_until_c_ares_returns(server):
    out = run_isolated(dev=True, code='''
        import socket
        from gevent_c import _ares
        from gevent_c.hub import get_hub

        class DestroyingLoop:
            chan = None
            def __init__(self, real):
                self.real = real
            def __getattr__(self, name):
                return getattr(self.real, name)
            def io(self, fd, events, ref=True):
                # c-ares' socket-state callback runs this inside ares_send
                chan, self.chan = self.chan, None
                if chan is not None:
                    chan.destroy()
                    print('closed inside c-ares:', chan.closed)
                return self.real.io(fd, events, ref=ref)

        hub = get_hub()
        loop = DestroyingLoop(hub.loop)
        ch = _ares.channel(loop, servers=%r, timeout=0.2, tries=1)
        loop.chan = ch
        got = []
        ch.getaddrinfo(got.append, 'a.test', 80)
        print('closed after the call:', ch.closed)
        hub.join()
        print(type(got[0]).__name__, got[0].errno == socket.EAI_AGAIN)
    ''' % (server.address,))
    assert out.splitlines() == ['closed inside c-ares: True', 'closed after the call: True',
                                'gaierror True']


def test_destroy_from_a_finalizer_run_by_gc_inside_c_ares(server):
    out = run_isolated(dev=True, code='''
        import gc
        from gevent_c import _ares
        from gevent_c.hub import get_hub
        hub = get_hub()
        ch = _ares.channel(hub.loop, servers=%r, timeout=0.2, tries=1)

        class Owner:
            def __init__(self, ch):
                self.ch = ch
                self.me = self
            def __del__(self):
                try:
                    self.ch.gethostbyname(lambda v: None, 'b.test')
                except RuntimeError:
                    print('inside c-ares')
                self.ch.destroy()

        got = []
        cb = got.append
        gc.collect(); gc.disable(); Owner(ch); gc.enable()
        # no GC-tracked allocation before c-ares' socket callback: the
        # collection, and so the finalizer, runs inside it
        gc.set_threshold(1)
        ch.getaddrinfo(cb, 'a.test', 80)
        gc.set_threshold(700)
        hub.join()
        print(ch.closed, len(got))
    ''' % (server.address,))
    # 3.12+ collects at the next eval-breaker check instead, after c-ares returned
    expected = ['inside c-ares'] if sys.version_info < (3, 12) else []
    assert out.splitlines() == expected + ['True 1']


def test_channel_refuses_use_from_inside_its_own_c_ares_call(server):
    hub = get_hub()
    seen = []

    class ReenteringLoop(ProxyLoop):
        def io(self, fd, events, ref=True):
            for call in (lambda: ch.getaddrinfo(seen.append, 'b.test', 80),
                         lambda: ch.set_servers(['127.0.0.1'])):
                try:
                    call()
                except RuntimeError as exc:
                    seen.append(type(exc))
            return self.real.io(fd, events, ref=ref)

    ch = _ares.channel(ReenteringLoop(hub.loop), servers=server.address, timeout=1)
    got = []
    ch.getaddrinfo(got.append, 'a.test', 80, socket.AF_INET, socket.SOCK_STREAM)
    hub.join()
    ch.destroy()
    assert seen == [RuntimeError, RuntimeError]
    assert got == [[(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('10.0.0.1', 80))]]


# ---- loop failures ------------------------------------------------------------------

def test_a_failing_timer_setup_is_reported_and_the_channel_keeps_working(server):
    hub = get_hub()
    errors, got = [], []

    class FailingLoop(ProxyLoop):
        fail = False

        def now(self):
            if self.fail:
                self.fail = False
                raise RuntimeError('now() failed')
            return self.real.now()

        def handle_error(self, context, type, value, tb):
            errors.append((context, value))

    def cb(value):
        assert sys.exc_info() == (None, None, None)
        got.append(value)

    loop = FailingLoop(hub.loop)
    ch = _ares.channel(loop, servers=server.address, timeout=0.2, tries=1)
    ch.gethostbyname(cb, 'slow.test')
    ch.gethostbyname(cb, 'a.test')
    loop.fail = True   # arming the timer fails once a.test's answer arrives
    hub.join()
    assert [str(v) for _, v in errors] == ['now() failed'] and errors[0][0] is ch
    assert got[0] == ('a.test', [], ['10.0.0.1'])
    assert isinstance(got[1], socket.gaierror)   # slow.test still times out
    assert all(w.active for w in ch._watchers.values())
    ch.gethostbyname(cb, 'b.test')
    hub.join()
    assert got[2] == ('b.test', [], ['10.0.0.2'])
    ch.destroy()


# ---- fork ---------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_plain_os_fork_gives_the_child_a_channel_of_its_own(server):
    out = run_isolated('''
        import os
        from gevent_c.hub import get_hub
        from gevent_c.resolver.ares import Resolver
        hub = get_hub()
        r = hub.resolver = Resolver(servers=%r, timeout=0.5, use_environ=False)
        assert r.gethostbyname('a.test') == '10.0.0.1'
        parent_channel = r.cares
        pid = os.fork()
        if pid == 0:
            ok = (r.cares is not parent_channel and parent_channel.closed
                  and all(r.gethostbyname('b.test') == '10.0.0.2' for _ in range(20)))
            os._exit(0 if ok else 3)
        ok = all(r.gethostbyname('a.test') == '10.0.0.1' for _ in range(20))
        _, status = os.waitpid(pid, 0)
        assert r.cares is parent_channel and ok
        r.close()
        print(os.waitstatus_to_exitcode(status))
    ''' % (server.address,))
    assert out.strip() == '0'


# ---- subclassing --------------------------------------------------------------------

def test_channel_can_be_subclassed(server):
    class Sub(_ares.channel):
        pass

    hub = get_hub()
    ch = Sub(hub.loop, servers=server.address)
    got = []
    ch.gethostbyname(got.append, 'a.test')
    hub.join()
    ch.destroy()
    assert type(ch) is Sub and got == [('a.test', [], ['10.0.0.1'])]


# ---- servers ------------------------------------------------------------------------

@pytest.mark.parametrize('servers', [
    '1' * 100, 'a' * 100000, '1.2.3.4:99999', '1.2.3.4:0', '1.2.3.4:', '1.2.3.4:5x',
    '1.2.3.4:53:53', '[::1', '::1]:53', '[::1]:', '[::1]x', '[1.2.3.4]:53',
    '0::00:00:00/2', ':53', '::1%lo', ['1.2.3.4 5.6.7.8'], ['1.2.3.4\0'],
])
def test_bad_servers_raise_value_error(servers):
    with pytest.raises(ValueError):
        _ares.channel(get_hub().loop, servers=servers)
    ch = _ares.channel(get_hub().loop)
    with pytest.raises(ValueError):
        ch.set_servers(servers)
    ch.destroy()


@pytest.mark.parametrize('servers', [
    '127.0.0.1', '127.0.0.1:53', '::1', '[::1]', '[::1]:5353', 'fe80::1',
    '10.0.0.1 10.0.0.2,[2001:db8::1]:53', ['127.0.0.1', '::1'],
])
def test_good_servers_are_accepted(servers):
    _ares.channel(get_hub().loop, servers=servers).destroy()


def test_server_with_a_port_is_used(server):
    hub = get_hub()
    ch = _ares.channel(hub.loop, servers=['192.0.2.1:9'], timeout=5)
    ch.set_servers(server.address)
    got = []
    ch.gethostbyname(got.append, 'a.test')
    hub.join()
    ch.destroy()
    assert got == [('a.test', [], ['10.0.0.1'])]


# ---- lifetime -----------------------------------------------------------------------

def test_dropped_channel_is_freed_at_once_with_its_socket(server):
    import gc
    import weakref
    hub = get_hub()
    ch = _ares.channel(hub.loop, servers=server.address)
    got = []
    ch.gethostbyname(got.append, 'a.test')
    hub.join()
    watchers = list(ch._watchers.values())
    assert got and watchers   # STAYOPEN keeps the UDP socket
    ref = weakref.ref(ch)
    gc.disable()
    try:
        del ch
        assert ref() is None
    finally:
        gc.enable()
    assert not any(w.active for w in watchers)


def test_destroyed_channel_dropped_at_once_still_delivers(server):
    hub = get_hub()
    ch = _ares.channel(hub.loop, servers=server.address, timeout=5)
    got = []
    ch.gethostbyname(got.append, 'slow.test')
    ch.destroy()
    del ch
    hub.join()
    assert len(got) == 1 and got[0].errno == socket.EAI_AGAIN


# ---- Resolver inputs ----------------------------------------------------------------

@pytest.mark.parametrize('method', ['gethostbyname', 'gethostbyname_ex', 'gethostbyaddr'])
@pytest.mark.parametrize('host', ['a.test\0evil', b'a.test\0evil'])
def test_names_with_a_nul_raise_type_error_like_the_socket_module(server, method, host):
    from gevent_c.resolver.ares import Resolver
    r = Resolver(servers=[server.address], use_environ=False)
    try:
        with pytest.raises(TypeError) as info:
            getattr(r, method)(host)
    finally:
        r.close()
    with pytest.raises(TypeError) as expected:
        getattr(socket, method)(host)
    assert str(info.value) == str(expected.value)


@pytest.mark.parametrize('host, numeric', [
    ('::1', True), ('::1%1', True), ('fe80::1%lo', True),
    ('::1%nosuchif', False), ('::1%', False), ('fe80::1%nosuchif', False),
])
def test_ipv6_scope_counts_as_numeric_only_when_libc_takes_it(host, numeric):
    from gevent_c.resolver._addresses import is_ipv6_addr, is_numeric_host
    assert is_ipv6_addr(host) is numeric and is_numeric_host(host) is numeric


def test_destroy_stops_everything_and_delivers_even_when_a_stop_fails(server):
    hub = get_hub()

    class FailingStop:
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def stop(self):
            self.real.stop()
            raise RuntimeError('stop failed')

    class Loop(ProxyLoop):
        watchers = []

        def io(self, fd, events, ref=True):
            w = FailingStop(self.real.io(fd, events, ref=ref))
            self.watchers.append(w)
            return w

        def timer(self, delay):
            return FailingStop(self.real.timer(delay))

    loop = Loop(hub.loop)
    ch = _ares.channel(loop, servers=server.address, timeout=5)
    got = []
    ch.gethostbyname(got.append, 'slow.test')   # opens the socket: an io watcher
    unraisable = []
    old_hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        with pytest.raises(RuntimeError, match='stop failed'):
            ch.destroy()
    finally:
        sys.unraisablehook = old_hook
    assert unraisable   # the watcher's failure after the timer's
    assert loop.watchers and not any(w.active for w in loop.watchers)
    hub.join()
    assert len(got) == 1 and got[0].errno == socket.EAI_AGAIN


class ChainServer(DNSServer):
    """Answers chain.test with 20 CNAMEs in one answer (DNSServer follows 8)."""
    CHAIN = ['chain.test'] + ['c%d.test' % i for i in range(20)]

    def _resolve(self, name, qtype):
        if name != 'chain.test':
            return super()._resolve(name, qtype)
        answers = [self._rr(a, 'CNAME', b) for a, b in zip(self.CHAIN, self.CHAIN[1:])]
        if qtype == 1:   # A
            answers.append(self._rr(self.CHAIN[-1], 'A', '10.0.0.40'))
        return 0, answers


def test_a_long_cname_chain_reports_its_last_name():
    hub = get_hub()
    got = []
    with ChainServer() as srv:
        ch = _ares.channel(hub.loop, servers=srv.address)
        ch.gethostbyname(got.append, 'chain.test')
        hub.join()
        ch.destroy()
    name, aliases, addresses = got[0]
    assert name == 'c19.test' and addresses == ['10.0.0.40']
    assert sorted(aliases) == sorted(ChainServer.CHAIN[:-1])


def test_getnameinfo_refuses_a_flowinfo_out_of_range_like_the_socket_module():
    ch = _ares.channel(get_hub().loop, servers='127.0.0.1:9')
    for flowinfo in (-1, 0x100000):
        with pytest.raises(OverflowError, match='flowinfo must be 0-1048575'):
            ch.getnameinfo(print, ('::1', 80, flowinfo, 0), 0)
        with pytest.raises(OverflowError, match='flowinfo must be 0-1048575'):
            socket.getnameinfo(('::1', 80, flowinfo, 0), 0)
    assert ch.pending == 0
    ch.destroy()


# ---- loops and threads --------------------------------------------------------------

def test_a_query_on_a_destroyed_loop_raises_before_it_is_registered():
    from gevent_c import _core
    loop = _core.loop(default=False)
    ch = _ares.channel(loop, servers='127.0.0.1:9', timeout=5, tries=1)
    got = []
    ch.getaddrinfo(got.append, 'x.test', 80)
    loop.destroy()
    # the destroyed loop stopped the timer that would have timed x.test
    # out: the channel fails it at once instead of keeping it forever
    assert ch.pending == 0 and len(got) == 1
    assert isinstance(got[0], socket.gaierror) and got[0].errno == socket.EAI_AGAIN
    with pytest.raises(ValueError):
        ch.getaddrinfo(got.append, 'y.test', 80)
    ch.destroy()
    assert len(got) == 1 and ch.pending == 0


def test_a_failure_after_the_query_is_registered_goes_to_the_loop(server):
    hub = get_hub()
    errors, got = [], []

    class Loop(ProxyLoop):
        fail = True

        def timer(self, delay):
            if self.fail:
                self.fail = False
                raise MemoryError
            return self.real.timer(delay)

        def handle_error(self, context, type, value, tb):
            errors.append(type)

    ch = _ares.channel(Loop(hub.loop), servers=server.address, timeout=0.2, tries=1)
    assert ch.gethostbyname(got.append, 'slow.test') is None
    assert errors == [MemoryError]
    hub.join()   # the timer, armed by a drain, times slow.test out
    ch.destroy()
    assert len(got) == 1 and got[0].errno == socket.EAI_AGAIN


def test_a_channel_refuses_queries_from_another_thread(server):
    import threading
    ch = _ares.channel(get_hub().loop, servers=server.address)
    raised = []

    def other():
        for call in (lambda: ch.gethostbyname(print, 'a.test'),
                     lambda: ch.set_servers(server.address)):
            try:
                call()
            except RuntimeError as exc:
                raised.append(str(exc))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert ch.pending == 0
    ch.destroy()
    assert raised == ["c-ares channel used from a thread other than its loop's"] * 2


def test_a_non_ascii_bytes_host_fails_with_gaierror_like_libc(server):
    from gevent_c.resolver.ares import Resolver
    r = Resolver(servers=[server.address], timeout=0.5, use_environ=False)
    try:
        for call in (lambda: r.getaddrinfo(b'\xff.test', 80),
                     lambda: r.gethostbyname_ex(b'\xff.test')):
            with pytest.raises(socket.gaierror):
                call()
    finally:
        r.close()


@pytest.mark.parametrize('flags', [1.5, '1'])
def test_bad_flags_get_the_socket_modules_error(server, flags):
    from gevent_c.resolver.ares import Resolver
    r = Resolver(servers=[server.address], use_environ=False)
    try:
        for method, args in (('getaddrinfo', ('a.test', 80, 0, 0, 0, flags)),
                             ('getnameinfo', (('10.0.0.1', 80), flags))):
            with pytest.raises(TypeError) as got:
                getattr(r, method)(*args)
            with pytest.raises(TypeError) as expected:
                getattr(socket, method)(*args)
            assert str(got.value) == str(expected.value)
    finally:
        r.close()


def test_lookups_with_a_nul_is_refused():
    with pytest.raises(ValueError):
        _ares.channel(get_hub().loop, lookups='b\0x')
