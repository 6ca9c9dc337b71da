"""gevent_c.baseserver and gevent_c.server: StreamServer, DatagramServer.

Scenarios shared with gevent run against both (the ``lib`` fixture); the
behaviour gevent lacks (stop() with a deadline for every spawn kind, accept
surviving EMFILE, stdlib TLS contexts) runs on gevent_c alone.
"""
import errno
import importlib
import os
import shutil
import socket as stdsocket
import ssl as stdssl
import subprocess
import sys

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _isolated import run_isolated


@pytest.fixture(params=['gevent', 'gevent_c'])
def lib(request):
    name = request.param
    top = importlib.import_module(name)
    mods = {sub: importlib.import_module('%s.%s' % (name, sub))
            for sub in ('server', 'baseserver', 'socket', 'pool', 'event')}
    return type('Lib', (), dict(mods, top=top, name=name))


@pytest.fixture
def gc():
    import gevent_c
    import gevent_c.baseserver
    import gevent_c.event
    import gevent_c.pool
    import gevent_c.server
    import gevent_c.socket
    mods = {'top': gevent_c, 'server': gevent_c.server, 'baseserver': gevent_c.baseserver,
            'socket': gevent_c.socket, 'pool': gevent_c.pool, 'event': gevent_c.event}
    return type('Lib', (), mods)


def echo(sock, address):
    while True:
        data = sock.recv(1024)
        if not data:
            break
        sock.sendall(data)


def roundtrip(lib, server, payload=b'ping'):
    conn = lib.socket.create_connection(('127.0.0.1', server.server_port), timeout=5)
    with conn:
        conn.sendall(payload)
        conn.shutdown(stdsocket.SHUT_WR)
        got = b''
        while True:
            try:
                data = conn.recv(1024)
            except ConnectionResetError:   # closed with our bytes unread
                return got
            if not data:
                return got
            got += data


def spawn_kinds(lib):
    return {'default': 'default', 'int': 3, 'pool': lib.pool.Pool(3),
            'raw': lib.top.spawn_raw}


@pytest.mark.parametrize('kind', ['default', 'int', 'pool', 'raw'])
def test_stream_server_serves_each_connection_with_each_spawn_kind(lib, kind):
    server = lib.server.StreamServer(('127.0.0.1', 0), echo, spawn=spawn_kinds(lib)[kind])
    server.start()
    try:
        results = [lib.top.spawn(roundtrip, lib, server, b'n%d' % i) for i in range(5)]
        lib.top.joinall(results, raise_error=True)
        assert [g.value for g in results] == [b'n%d' % i for i in range(5)]
    finally:
        server.stop()


def test_spawn_none_runs_the_handler_in_the_hub(lib):
    seen = []

    def handle(sock, address):
        seen.append(lib.top.getcurrent() is lib.top.get_hub())
        sock.sendall(b'hi')

    server = lib.server.StreamServer(('127.0.0.1', 0), handle, spawn=None)
    server.start()
    try:
        assert roundtrip(lib, server, b'') == b'hi'
        assert seen == [True]
    finally:
        server.stop()


@pytest.mark.parametrize('address, expected', [
    (('127.0.0.1', 80), (stdsocket.AF_INET, ('127.0.0.1', 80))),
    (('', 80), (stdsocket.AF_INET6, ('', 80))),
    (('::1', 80), (stdsocket.AF_INET6, ('::1', 80))),
    ('127.0.0.1:8080', (stdsocket.AF_INET, ('127.0.0.1', 8080))),
    ('[::1]:8080', (stdsocket.AF_INET6, ('::1', 8080))),
    ('*:8080', (stdsocket.AF_INET, ('', 8080))),
    (':8080', (stdsocket.AF_INET, ('', 8080))),
    ('8080', (stdsocket.AF_INET6, ('', 8080))),
    (8080, (stdsocket.AF_INET6, ('', 8080))),
])
def test_listener_addresses_parse_as_in_gevent(lib, address, expected):
    assert lib.baseserver.parse_address(address) == expected


@pytest.mark.parametrize('bad, error', [('host:port', ValueError), (1.5, TypeError)])
def test_bad_listener_address_raises(lib, bad, error):
    with pytest.raises(error):
        lib.baseserver.parse_address(bad)


def test_server_host_and_port_come_from_the_bound_socket(lib):
    server = lib.server.StreamServer(('127.0.0.1', 0), echo)
    server.start()
    try:
        assert server.server_host == '127.0.0.1'
        assert server.server_port == server.socket.getsockname()[1] > 0
        assert server.address == server.socket.getsockname()
    finally:
        server.stop()


def make_listener(lib):
    listener = lib.socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(5)
    return listener


def test_a_listening_socket_is_used_as_given_and_backlog_is_refused(lib):
    refused = make_listener(lib)
    with pytest.raises(TypeError):
        lib.server.StreamServer(refused, echo, backlog=10)
    assert refused.fileno() == -1         # a failed constructor closes the listener
    listener = make_listener(lib)
    server = lib.server.StreamServer(listener, echo)
    server.start()
    try:
        assert server.server_port == listener.getsockname()[1]
        assert roundtrip(lib, server) == b'ping'
    finally:
        server.stop()


def test_a_stdlib_listener_never_blocks_the_hub(gc):
    listener = stdsocket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(5)
    server = gc.server.StreamServer(listener, echo)
    server.start()
    try:
        assert server.do_read() is None      # nothing queued: no blocking accept()
        assert roundtrip(gc, server) == b'ping'
    finally:
        server.stop()


def test_an_ssl_socket_is_refused_as_listener(gc):
    class FakeSSL:
        family = stdsocket.AF_INET

        def accept(self):
            pass

        def do_handshake(self):
            pass

    with pytest.raises(TypeError):
        gc.server.StreamServer(FakeSSL(), echo)


def test_no_handle_is_a_type_error(lib):
    with pytest.raises(TypeError):
        lib.server.StreamServer(('127.0.0.1', 0))


def test_the_client_socket_is_closed_when_handle_returns(lib):
    sockets = []

    def handle(sock, address):
        sockets.append(sock)
        sock.sendall(b'bye')

    server = lib.server.StreamServer(('127.0.0.1', 0), handle)
    server.start()
    try:
        assert roundtrip(lib, server, b'') == b'bye'
        lib.top.sleep(0.01)
        assert sockets[0].fileno() == -1
    finally:
        server.stop()


def test_start_accepting_and_stop_accepting_pause_and_resume(lib):
    server = lib.server.StreamServer(('127.0.0.1', 0), echo)
    server.start()
    try:
        server.stop_accepting()
        conn = lib.socket.create_connection(('127.0.0.1', server.server_port))
        conn.settimeout(0.2)
        conn.sendall(b'wait')
        with pytest.raises(stdsocket.timeout):
            conn.recv(10)              # queued in the backlog, not served
        server.start_accepting()
        conn.settimeout(5)
        assert conn.recv(10) == b'wait'
        conn.close()
    finally:
        server.stop()


def test_serve_forever_returns_once_stopped_and_is_a_context_manager(lib):
    server = lib.server.StreamServer(('127.0.0.1', 0), echo)
    runner = lib.top.spawn(server.serve_forever)
    lib.top.sleep(0.01)
    assert server.started
    assert roundtrip(lib, server) == b'ping'
    with server:
        pass
    runner.join(5)
    assert runner.dead and not server.started and server.closed


def test_repr_names_a_bound_handle_without_recursing(lib):
    class Echo(lib.server.StreamServer):
        def handle(self, sock, address):
            pass

    server = Echo(('127.0.0.1', 0))
    server.set_handle(server.handle)
    assert 'handle=<bound method Echo.handle of self>' in repr(server)
    server.close()


def test_an_error_in_a_handler_ends_only_that_connection(gc):
    calls = []

    def handle(sock, address):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError('first connection fails')
        echo(sock, address)

    hub = gc.top.get_hub()
    import io
    hub.exception_stream = io.StringIO()
    server = gc.server.StreamServer(('127.0.0.1', 0), handle)
    server.start()
    try:
        assert roundtrip(gc, server) == b''
        assert roundtrip(gc, server) == b'ping'
        assert 'first connection fails' in hub.exception_stream.getvalue()
    finally:
        server.stop()


def test_a_failing_spawn_is_reported_backs_off_and_recovers(gc):
    import io
    hub = gc.top.get_hub()
    hub.exception_stream = io.StringIO()
    server = gc.server.StreamServer(('127.0.0.1', 0), echo)
    server.min_delay = 0.001
    server.start()
    real_spawn = server._spawn
    failures = []

    def flaky_spawn(*args):
        if not failures:
            failures.append(1)
            raise RuntimeError('no greenlet for you')
        return real_spawn(*args)

    server._spawn = flaky_spawn
    try:
        assert roundtrip(gc, server) == b''           # closed by do_handle
        assert roundtrip(gc, server) == b'ping'
        assert 'no greenlet for you' in hub.exception_stream.getvalue()
        assert server.delay == server.min_delay         # reset by the next accept
    finally:
        server.stop()


def test_a_fatal_accept_error_closes_the_server(gc, capsys):
    import io
    gc.top.get_hub().exception_stream = io.StringIO()

    class Broken(gc.server.StreamServer):
        def do_read(self):
            raise OSError(errno.EBADF, 'listener gone')

    server = Broken(('127.0.0.1', 0), echo)
    server.start()
    conn = gc.socket.create_connection(('127.0.0.1', server.server_port))
    gc.top.sleep(0.05)
    assert server.closed and not server.started
    assert 'failed with' in capsys.readouterr().err
    conn.close()


# -- stop(timeout): finish, then kill -----------------------------------------

@pytest.mark.parametrize('kind', ['default', 'int', 'raw'])
def test_stop_lets_handlers_in_flight_finish(gc, kind):
    started = gc.event.Event()
    finished = []

    def handle(sock, address):
        started.set()
        gc.top.sleep(0.1)
        sock.sendall(b'done')
        finished.append(True)

    server = gc.server.StreamServer(('127.0.0.1', 0), handle, spawn=spawn_kinds(gc)[kind])
    server.start()
    client = gc.top.spawn(roundtrip, gc, server, b'')
    started.wait(5)
    server.stop(timeout=10)
    assert finished == [True]          # stop() returned only after the handler did
    assert client.get(timeout=5) == b'done'


@pytest.mark.parametrize('kind', ['default', 'int', 'raw'])
def test_stop_kills_handlers_still_running_after_the_timeout(gc, kind):
    started = gc.event.Event()
    outcome = []

    def handle(sock, address):
        started.set()
        try:
            gc.top.sleep(60)
        except gc.top.GreenletExit:
            outcome.append('killed')
            raise

    server = gc.server.StreamServer(('127.0.0.1', 0), handle, spawn=spawn_kinds(gc)[kind])
    server.start()
    client = gc.top.spawn(roundtrip, gc, server, b'')
    started.wait(5)
    server.stop(timeout=0.05)
    assert outcome == ['killed']
    assert client.get(timeout=5) == b''     # its connection was closed
    assert not server._active


def test_stop_called_by_a_handler_neither_waits_for_nor_kills_it(gc):
    outcome = []

    def handle(sock, address):
        server.stop(timeout=5)
        outcome.append('still running')
        sock.sendall(b'after stop')

    server = gc.server.StreamServer(('127.0.0.1', 0), handle)
    server.start()
    assert roundtrip(gc, server, b'') == b'after stop'
    assert outcome == ['still running'] and server.closed


def test_a_full_pool_pauses_accepting_until_a_slot_frees(gc):
    release = gc.event.Event()
    running = []

    def handle(sock, address):
        running.append(1)
        release.wait()
        sock.sendall(b'ok')

    server = gc.server.StreamServer(('127.0.0.1', 0), handle, spawn=1)
    server.start()
    try:
        first = gc.top.spawn(roundtrip, gc, server, b'')
        second = gc.top.spawn(roundtrip, gc, server, b'')
        gc.top.sleep(0.1)
        assert len(running) == 1 and server.pool.free_count() == 0
        assert server._watcher is None          # not watching the listener
        release.set()
        assert first.get(timeout=5) == b'ok' and second.get(timeout=5) == b'ok'
        assert len(running) == 2
    finally:
        server.stop()


EMFILE_SCRIPT = r'''
import resource, socket as stdsocket, sys, io
import gevent_c
from gevent_c.server import StreamServer
from gevent_c import socket

gevent_c.get_hub().exception_stream = io.StringIO()
served = []
def handle(sock, address):
    served.append(sock.recv(10))
    sock.sendall(b'ok')

server = StreamServer(('127.0.0.1', 0), handle)
server.min_delay = 0.01
server.max_delay = 0.05
server.start()
port = server.server_port

# Take every descriptor the soft limit leaves, so accept() fails with EMFILE.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
hog = []
while True:
    try:
        hog.append(open('/dev/null'))
    except OSError:
        break
# The client end must exist: free exactly one descriptor for it.
hog.pop().close()
client = socket.socket()
client.setblocking(False)
try:
    client.connect(('127.0.0.1', port))
except BlockingIOError:
    pass
gevent_c.sleep(0.2)          # the server tried, failed, and backs off
assert not served
assert server.delay > server.min_delay, server.delay
for f in hog:
    f.close()
client.settimeout(5)
client.sendall(b'hello')
assert client.recv(10) == b'ok'
assert served == [b'hello']
assert server.delay == server.min_delay
server.stop()
print('recovered')
'''


def test_accept_survives_emfile_backs_off_and_recovers():
    out = run_isolated(EMFILE_SCRIPT)
    assert out.strip() == 'recovered'


# -- TLS ----------------------------------------------------------------------

@pytest.fixture(scope='module')
def cert(tmp_path_factory):
    if shutil.which('openssl') is None:
        pytest.skip('the openssl command is needed to make a certificate')
    tmp = str(tmp_path_factory.mktemp('cert'))
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem',
                    '-out', 'cert.pem', '-days', '2', '-subj', '/CN=localhost',
                    '-addext', 'subjectAltName=IP:127.0.0.1'],
                   cwd=tmp, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem')


def tls_roundtrip(gc, server, certfile, payload=b'secret'):
    from gevent_c import ssl
    ctx = ssl.create_default_context(cafile=certfile)
    raw = gc.socket.create_connection(('127.0.0.1', server.server_port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
        tls.sendall(payload)
        return tls.recv(100)


def tls_echo(sock, address):
    sock.sendall(sock.recv(100).upper())


def test_tls_from_certfile_and_keyfile(gc, cert):
    server = gc.server.StreamServer(('127.0.0.1', 0), tls_echo,
                                    certfile=cert[0], keyfile=cert[1])
    assert server.ssl_enabled
    server.start()
    try:
        # Two clients at once: handshakes must not block each other.
        jobs = [gc.top.spawn(tls_roundtrip, gc, server, cert[0]) for _ in range(2)]
        gc.top.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == [b'SECRET', b'SECRET']
    finally:
        server.stop()


def test_tls_with_a_stdlib_context_is_cooperative(gc, cert):
    ctx = stdssl.SSLContext(stdssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    seen = []

    def handle(sock, address):
        seen.append(type(sock).__module__)
        tls_echo(sock, address)

    server = gc.server.StreamServer(('127.0.0.1', 0), handle, ssl_context=ctx)
    server.start()
    try:
        jobs = [gc.top.spawn(tls_roundtrip, gc, server, cert[0]) for _ in range(2)]
        gc.top.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == [b'SECRET', b'SECRET']
        assert seen == ['gevent_c.ssl', 'gevent_c.ssl']
    finally:
        server.stop()


def test_tls_argument_errors_are_raised_by_the_constructor(gc, cert):
    with pytest.raises(TypeError):
        gc.server.StreamServer(('127.0.0.1', 0), echo, certfile=cert[0], keyfile=cert[1],
                               no_such_option=True)
    with pytest.raises(ValueError):
        gc.server.StreamServer(('127.0.0.1', 0), echo, keyfile=cert[1])
    with pytest.raises(OSError):
        gc.server.StreamServer(('127.0.0.1', 0), echo, certfile='/nonexistent.pem')


# -- UDP ----------------------------------------------------------------------

def test_datagram_server_answers_with_sendto(lib):
    def handle(data, address):
        server.sendto(data.upper(), address)

    server = lib.server.DatagramServer(('127.0.0.1', 0), handle)
    server.start()
    try:
        client = lib.socket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
        client.settimeout(5)
        for word in (b'one', b'two'):
            client.sendto(word, ('127.0.0.1', server.server_port))
            assert client.recvfrom(100)[0] == word.upper()
        client.close()
    finally:
        server.stop()


def test_server_module_names(gc):
    assert gc.server.__all__ == ['StreamServer', 'DatagramServer']
    assert gc.baseserver.__all__ == ['BaseServer']
    assert sys.modules['gevent_c.server'].StreamServer.backlog == 128
