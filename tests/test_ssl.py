"""gevent_c.ssl: cooperative TLS with certificates made by `openssl` at test time."""
import errno
import os
import shutil
import socket as stdsocket
import ssl as stdssl
import subprocess
import warnings

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c
from gevent_c import socket, ssl

pytestmark = pytest.mark.skipif(shutil.which('openssl') is None,
                                reason='the openssl command is needed to make certificates')


def run_openssl(*args, cwd):
    subprocess.run(['openssl'] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_leaf(tmp, name, cn, san):
    run_openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                '-keyout', name + '.key', '-out', name + '.csr', '-subj', '/CN=' + cn, cwd=tmp)
    with open(os.path.join(tmp, name + '.ext'), 'w') as f:
        f.write('subjectAltName=%s\nbasicConstraints=CA:FALSE\n'
                'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n'
                'authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n' % san)
    run_openssl('x509', '-req', '-in', name + '.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
                '-CAcreateserial', '-days', '2', '-out', name + '.pem', '-extfile', name + '.ext',
                cwd=tmp)
    return os.path.join(tmp, name + '.pem'), os.path.join(tmp, name + '.key')


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp('certs'))
    run_openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
                '-subj', '/CN=gevent_c test CA',
                '-addext', 'basicConstraints=critical,CA:TRUE',
                '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
                '-addext', 'subjectKeyIdentifier=hash', cwd=tmp)
    server = make_leaf(tmp, 'server', 'localhost', 'DNS:localhost,IP:127.0.0.1')
    other = make_leaf(tmp, 'other', 'other.test', 'DNS:other.test')
    return {'ca': os.path.join(tmp, 'ca.pem'), 'server': server, 'other': other}


def server_context(certs, which='server'):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs[which])
    return ctx


def client_context(certs):
    return ssl.create_default_context(cafile=certs['ca'])


class TLSServer:
    """Accepts TLS connections in greenlets, runs handler(conn) for each."""

    def __init__(self, context, handler):
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(64)
        self.address = self.listener.getsockname()
        self.context = context
        self.handler = handler
        self.errors = []
        self.handlers = []
        self.acceptor = gevent_c.spawn(self._accept)

    def _accept(self):
        while True:
            raw, _ = self.listener.accept()
            self.handlers.append(gevent_c.spawn(self._handle, raw))

    def _handle(self, raw):
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ValueError) as exc:
            self.errors.append(exc)
            raw.close()
            return
        with conn:
            self.handler(conn)

    def stop(self):
        self.acceptor.kill()
        self.listener.close()
        gevent_c.joinall(self.handlers)


@pytest.fixture
def serve():
    servers = []

    def start(context, handler):
        server = TLSServer(context, handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def connect(certs, server, **kwargs):
    raw = socket.create_connection(server.address)
    return client_context(certs).wrap_socket(raw, server_hostname='localhost', **kwargs)


def test_wrap_socket_returns_our_ssl_socket_and_handshakes(certs, serve):
    server = serve(server_context(certs), echo)
    with connect(certs, server) as tls:
        assert isinstance(tls, ssl.SSLSocket) and isinstance(tls, stdssl.SSLSocket)
        assert isinstance(tls, socket.socket)
        assert tls.version().startswith('TLS')
        assert dict(x[0] for x in tls.getpeercert()['subject'])['commonName'] == 'localhost'
        tls.sendall(b'hello tls')
        assert tls.recv(100) == b'hello tls'


def test_contexts_made_by_the_helpers_are_ours(certs):
    assert isinstance(ssl.create_default_context(), ssl.SSLContext)
    assert isinstance(ssl._create_unverified_context(), ssl.SSLContext)
    assert ssl.SSLContext.sslsocket_class is ssl.SSLSocket
    assert ssl.SSLError is stdssl.SSLError and ssl.CERT_REQUIRED is stdssl.CERT_REQUIRED
    assert hasattr(ssl, 'wrap_socket') == hasattr(stdssl, 'wrap_socket')


@pytest.mark.timeout(60)
def test_large_transfers_both_ways_with_many_connections(certs, serve):
    server = serve(server_context(certs), echo)
    payload = os.urandom(1 << 20)

    def client():
        with connect(certs, server) as tls:
            sender = gevent_c.spawn(tls.sendall, payload)
            buf = bytearray(len(payload))
            view = memoryview(buf)
            got = 0
            while got < len(payload):
                n = tls.recv_into(view[got:])
                assert n > 0
                got += n
            sender.get()
            return bytes(buf) == payload

    results = gevent_c.joinall([gevent_c.spawn(client) for _ in range(8)], raise_error=True)
    assert all(g.value for g in results)


def test_unwrap_returns_to_plain_text_on_both_sides(certs, serve):
    plain = []

    def handler(conn):
        assert conn.recv(5) == b'start'
        raw = conn.unwrap()
        plain.append(raw.recv(5))
        raw.sendall(b'plain')
        raw.close()

    server = serve(server_context(certs), handler)
    tls = connect(certs, server)
    tls.sendall(b'start')
    raw = tls.unwrap()
    assert not isinstance(raw, ssl.SSLSocket) or raw._sslobj is None
    raw.sendall(b'clear')
    assert raw.recv(5) == b'plain'
    raw.close()
    assert plain == [b'clear']


def test_unknown_ca_fails_with_the_stdlib_verification_error(certs, serve):
    server = serve(server_context(certs), echo)
    raw = socket.create_connection(server.address)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        ssl.create_default_context().wrap_socket(raw, server_hostname='localhost')
    assert 'certificate verify failed' in str(info.value)
    raw.close()
    gevent_c.sleep(0.01)
    assert server.errors and isinstance(server.errors[0], ssl.SSLError)


def test_hostname_mismatch_fails_verification(certs, serve):
    server = serve(server_context(certs), echo)
    raw = socket.create_connection(server.address)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        client_context(certs).wrap_socket(raw, server_hostname='wrong.test')
    assert info.value.verify_code == 62  # X509_V_ERR_HOSTNAME_MISMATCH
    raw.close()


def test_sni_callback_picks_the_certificate(certs, serve):
    seen = []
    other = server_context(certs, 'other')
    ctx = server_context(certs)

    def pick(sslsock, name, context):
        seen.append(name)
        if name == 'other.test':
            sslsock.context = other

    ctx.sni_callback = pick
    server = serve(ctx, echo)
    raw = socket.create_connection(server.address)
    with client_context(certs).wrap_socket(raw, server_hostname='other.test') as tls:
        subject = dict(x[0] for x in tls.getpeercert()['subject'])
        assert subject['commonName'] == 'other.test'
    assert seen == ['other.test']


def test_alpn_negotiates_the_protocol(certs, serve):
    chosen = []
    ctx = server_context(certs)
    ctx.set_alpn_protocols(['h2', 'http/1.1'])

    def handler(conn):
        chosen.append(conn.selected_alpn_protocol())
        echo(conn)

    server = serve(ctx, handler)
    cctx = client_context(certs)
    cctx.set_alpn_protocols(['spdy/3', 'http/1.1'])
    raw = socket.create_connection(server.address)
    with cctx.wrap_socket(raw, server_hostname='localhost') as tls:
        assert tls.selected_alpn_protocol() == 'http/1.1'
        tls.sendall(b'x')
        assert tls.recv(1) == b'x'
    assert chosen == ['http/1.1']


def silent_server():
    """A TCP listener that accepts and never speaks (handshakes stall)."""
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen()
    return srv


def test_handshake_timeout_raises_the_stdlib_timeout(certs):
    srv = silent_server()
    ctx = client_context(certs)
    raw = socket.create_connection(srv.getsockname())
    raw.settimeout(0.02)
    with pytest.raises(TimeoutError) as info:
        ctx.wrap_socket(raw, server_hostname='localhost')
    assert str(info.value).endswith('The handshake operation timed out')
    raw.close()
    srv.close()


def test_read_timeout_and_non_blocking_read(certs, serve):
    server = serve(server_context(certs), echo)
    tls = connect(certs, server)
    tls.settimeout(0.02)
    with pytest.raises(TimeoutError) as info:
        tls.recv(10)
    assert str(info.value) == 'The read operation timed out'
    tls.setblocking(False)
    with pytest.raises(ssl.SSLWantReadError):
        tls.recv(10)
    tls.setblocking(True)
    tls.sendall(b'still ok')
    assert tls.recv(100) == b'still ok'
    tls.close()


def test_close_while_another_greenlet_reads_raises_ebadf(certs, serve):
    server = serve(server_context(certs), echo)
    tls = connect(certs, server)
    reader = gevent_c.spawn(tls.recv, 10)
    gevent_c.sleep(0.01)
    tls.close()
    reader.join()
    assert isinstance(reader.exception, OSError)
    assert reader.exception.errno == errno.EBADF


def test_makefile_over_tls(certs, serve):
    server = serve(server_context(certs), echo)
    with connect(certs, server) as tls:
        f = tls.makefile('rwb')
        f.write(b'line 1\nline 2\n')
        f.flush()
        assert f.readline() == b'line 1\n'
        assert f.readline() == b'line 2\n'
        f.close()


def test_get_server_certificate_returns_the_pem(certs, serve):
    server = serve(server_context(certs), echo)
    pem = ssl.get_server_certificate(server.address, ca_certs=certs['ca'])
    with open(certs['server'][0]) as f:
        assert stdssl.PEM_cert_to_DER_cert(pem) == stdssl.PEM_cert_to_DER_cert(f.read())


def test_other_greenlets_run_during_the_handshake(certs, serve):
    server = serve(server_context(certs), echo)
    ticks = []

    def ticker():
        for i in range(5):
            ticks.append(i)
            gevent_c.sleep(0)

    g = gevent_c.spawn(ticker)
    with connect(certs, server) as tls:
        tls.sendall(b'.')
        assert tls.recv(1) == b'.'
    g.join()
    assert ticks == list(range(5))


@pytest.mark.skipif(not hasattr(stdssl, 'wrap_socket'), reason='ssl.wrap_socket exists only before 3.12')
def test_deprecated_wrap_socket_on_this_python(certs, serve):
    server = serve(server_context(certs), echo)
    raw = socket.create_connection(server.address)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        tls = ssl.wrap_socket(raw, ca_certs=certs['ca'], cert_reqs=ssl.CERT_REQUIRED)
    assert isinstance(tls, ssl.SSLSocket)
    tls.sendall(b'old api')
    assert tls.recv(100) == b'old api'
    tls.close()
    with pytest.raises(ValueError):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            ssl.wrap_socket(socket.socket(), server_side=True)


def test_ssl_socket_refuses_datagram_sockets_like_the_stdlib(certs):
    udp = socket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    with pytest.raises(NotImplementedError):
        client_context(certs).wrap_socket(udp, server_hostname='localhost')
    udp.close()


def test_write_timeout_when_the_peer_does_not_read(certs, serve):
    release = []

    def handler(conn):  # reads nothing until told to
        while not release:
            gevent_c.sleep(0.005)

    server = serve(server_context(certs), handler)
    tls = connect(certs, server)
    tls.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, 4096)
    tls.settimeout(0.05)
    with pytest.raises(TimeoutError) as info:
        tls.sendall(b'w' * (8 << 20))
    assert str(info.value) == 'The write operation timed out'
    release.append(True)
    tls.close()


def test_unwrap_times_out_when_the_peer_never_answers(certs, serve):
    release = []

    def handler(conn):
        while not release:
            gevent_c.sleep(0.005)

    server = serve(server_context(certs), handler)
    tls = connect(certs, server)
    tls.settimeout(0.05)
    with pytest.raises(TimeoutError):
        tls.unwrap()
    release.append(True)
    tls.close()


def test_ssl_create_connection_is_the_cooperative_one(certs, serve):
    assert ssl.create_connection is socket.create_connection
    assert 'create_connection' in ssl.__all__
    server = serve(server_context(certs), echo)
    raw = ssl.create_connection(server.address, timeout=10)
    assert isinstance(raw, socket.socket)
    with client_context(certs).wrap_socket(raw, server_hostname='localhost') as tls:
        tls.sendall(b'ping')
        assert tls.recv(10) == b'ping'


def test_names_ssl_took_from_socket_are_here_too():
    assert ssl.socket is socket.socket
    for name in ('SOCK_STREAM', 'SOL_SOCKET', 'SO_TYPE'):
        assert getattr(ssl, name) == getattr(stdssl, name)
