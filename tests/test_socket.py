"""gevent_c.socket: cooperative I/O, stdlib-identical timeouts and errors (loopback only)."""
import errno
import os
import resource
import socket as stdsocket
import sys
import tempfile
import time

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c
from gevent_c import socket
from gevent_c.exceptions import ConcurrentObjectUseError

LOCAL = ('127.0.0.1', 0)


def listener(backlog=128):
    sock = socket.socket()
    sock.bind(LOCAL)
    sock.listen(backlog)
    return sock


def connected_pair():
    """A connected TCP pair (client, server side) over loopback."""
    srv = listener()
    cli = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    srv.close()
    return cli, conn


def exc_signature(func, *args):
    try:
        func(*args)
    except BaseException as exc:  # noqa: B036 -- comparing whatever is raised
        return type(exc), getattr(exc, 'errno', None), str(exc)
    return None


# -- basics -------------------------------------------------------------------

def test_socket_is_a_stdlib_socket_with_the_same_attributes():
    with socket.socket() as sock:
        assert isinstance(sock, stdsocket.socket)
        assert socket.SocketType is socket.socket
        assert sock.family == stdsocket.AF_INET and sock.type == stdsocket.SOCK_STREAM
        assert isinstance(sock.family, stdsocket.AddressFamily)
        assert sock.proto == 0
        assert sock.gettimeout() is None and sock.getblocking()
        assert repr(sock).startswith('<gevent_c.socket.socket fd=%d, family=' % sock.fileno())
    assert sock.fileno() == -1
    assert '[closed]' in repr(sock)


def test_fd_is_non_blocking_in_the_kernel_whatever_the_timeout():
    with socket.socket() as sock:
        assert os.get_blocking(sock.fileno()) is False
        sock.settimeout(None)
        assert os.get_blocking(sock.fileno()) is False


def test_module_exports_the_stdlib_names_and_gevents_extensions():
    for name in ('AF_INET', 'SOCK_STREAM', 'timeout', 'error', 'gaierror', 'htons',
                 'inet_aton', 'getdefaulttimeout', 'has_dualstack_ipv6', 'send_fds'):
        assert getattr(socket, name) is getattr(stdsocket, name), name
    for name in ('wait_read', 'wait_write', 'wait_readwrite', 'cancel_wait', 'wait',
                 'create_connection', 'create_server', 'socketpair', 'fromfd'):
        assert callable(getattr(socket, name))
    assert set(socket.__implements__) <= set(socket.__all__)
    assert 'wait_read' in socket.__extensions__


def test_settimeout_parses_values_like_the_stdlib():
    with socket.socket() as ours, stdsocket.socket() as ref:
        for value in (None, 0, 0.0, 5, 2.5, True, 10 ** 6):
            ours.settimeout(value)
            ref.settimeout(value)
            assert ours.gettimeout() == ref.gettimeout()
            assert ours.getblocking() == ref.getblocking()
        for value in ("x", -1, -0.5, float("nan"), 1e300, 2 ** 70, 10 ** 10, b"1", 1j):
            assert exc_signature(ours.settimeout, value) == exc_signature(ref.settimeout, value)
        ours.setblocking(False)
        assert ours.gettimeout() == 0.0 and not ours.getblocking()
        ours.setblocking(True)
        assert ours.gettimeout() is None


def test_default_timeout_applies_to_new_and_accepted_sockets():
    old = stdsocket.getdefaulttimeout()
    stdsocket.setdefaulttimeout(3.0)
    try:
        srv = listener()
        cli = socket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
        a, b = socket.socketpair()
        assert [s.gettimeout() for s in (srv, cli, conn, a, b)] == [3.0] * 5
        for s in (srv, cli, conn, a, b):
            s.close()
    finally:
        stdsocket.setdefaulttimeout(old)


def test_sock_nonblock_type_means_timeout_zero_like_the_stdlib():
    with socket.socket(type=stdsocket.SOCK_STREAM | stdsocket.SOCK_NONBLOCK) as sock:
        assert sock.gettimeout() == 0.0
        assert sock.type == stdsocket.SOCK_STREAM


# -- echo, bulk ---------------------------------------------------------------

@pytest.mark.timeout(60)
def test_echo_server_with_1000_concurrent_connections():
    clients = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * clients + 100
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= need
    srv = listener(clients)
    handlers = []

    def echo(conn):
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                conn.sendall(data)

    def serve():
        for _ in range(clients):
            conn, _ = srv.accept()
            handlers.append(gevent_c.spawn(echo, conn))

    def client(i):
        with socket.create_connection(srv.getsockname()) as sock:
            for j in range(3):
                msg = ('%d-%d;' % (i, j)).encode() * 10
                sock.sendall(msg)
                got = b''
                while len(got) < len(msg):
                    got += sock.recv(len(msg) - len(got))
                assert got == msg
        return i

    server = gevent_c.spawn(serve)
    done = gevent_c.joinall([gevent_c.spawn(client, i) for i in range(clients)], raise_error=True)
    server.join()
    gevent_c.joinall(handlers, raise_error=True)
    srv.close()
    assert sorted(g.value for g in done) == list(range(clients))


@pytest.mark.timeout(30)
def test_large_sendall_and_recv_into_across_partial_writes():
    a, b = socket.socketpair()
    a.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, 4096)
    b.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, 4096)
    payload = os.urandom(1 << 16) * 64  # 4 MiB
    sender = gevent_c.spawn(a.sendall, payload)
    buf = bytearray(len(payload))
    view = memoryview(buf)
    got = 0
    while got < len(payload):
        n = b.recv_into(view[got:], min(100_000, len(payload) - got))
        assert n > 0
        got += n
    sender.get()
    assert buf == payload
    a.close()
    b.close()


def test_sendall_accepts_any_buffer():
    a, b = socket.socketpair()
    import array
    data = array.array('i', range(50_000))
    gevent_c.spawn(a.sendall, data)
    gevent_c.spawn(a.sendall, memoryview(b'xyz'))
    want = data.tobytes() + b'xyz'
    got = b''
    while len(got) < len(want):
        got += b.recv(65536)
    assert got == want
    a.close()
    b.close()


def test_other_greenlets_run_while_one_waits_in_recv():
    a, b = socket.socketpair()
    ticks = []

    def ticker():
        for i in range(3):
            ticks.append(i)
            gevent_c.sleep(0.001)
        a.sendall(b'go')

    gevent_c.spawn(ticker)
    assert b.recv(10) == b'go'
    assert ticks == [0, 1, 2]
    a.close()
    b.close()


# -- timeouts -----------------------------------------------------------------

def fill_send_buffer(sock):
    sock.setblocking(False)
    chunk = b'x' * 65536
    try:
        while True:
            sock.send(chunk)
    except BlockingIOError:
        pass


@pytest.mark.parametrize('call', ['recv', 'recv_into', 'recvfrom', 'recvfrom_into',
                                  'recvmsg', 'recvmsg_into'])
def test_receive_calls_time_out_with_the_stdlib_exception(call):
    a, b = socket.socketpair()
    ref_a, ref_b = stdsocket.socketpair()
    args = {'recv': (10,), 'recv_into': (bytearray(10),), 'recvfrom': (10,),
            'recvfrom_into': (bytearray(10),), 'recvmsg': (10,),
            'recvmsg_into': ([bytearray(10)],)}[call]
    b.settimeout(0.01)
    ref_b.settimeout(0.01)
    ours = exc_signature(getattr(b, call), *args)
    assert ours == exc_signature(getattr(ref_b, call), *args)
    assert ours[0] is TimeoutError and ours[2] == 'timed out'
    for s in (a, b, ref_a, ref_b):
        s.close()


@pytest.mark.parametrize('call', ['send', 'sendall', 'sendmsg'])
def test_send_calls_time_out_with_the_stdlib_exception(call):
    a, b = socket.socketpair()
    ref_a, ref_b = stdsocket.socketpair()
    data = b'y' * 100_000
    args = ([data],) if call == 'sendmsg' else (data,)
    fill_send_buffer(a)
    fill_send_buffer(ref_a)
    a.settimeout(0.01)
    ref_a.settimeout(0.01)
    ours = exc_signature(getattr(a, call), *args)
    assert ours == exc_signature(getattr(ref_a, call), *args)
    assert ours[0] is TimeoutError
    for s in (a, b, ref_a, ref_b):
        s.close()


def test_accept_times_out_with_the_stdlib_exception():
    srv = listener()
    srv.settimeout(0.01)
    with stdsocket.socket() as ref:
        ref.bind(LOCAL)
        ref.listen()
        ref.settimeout(0.01)
        assert exc_signature(srv.accept) == exc_signature(ref.accept)
    srv.close()


@pytest.mark.timeout(20)
def test_connect_times_out_against_a_full_backlog_like_the_stdlib():
    srv = stdsocket.socket()
    srv.bind(LOCAL)
    srv.listen(0)
    addr = srv.getsockname()
    fillers = []
    results = []
    try:
        for _ in range(20):  # fill the accept queue until SYNs are dropped
            for mod in (stdsocket, socket):
                sock = mod.socket()
                sock.settimeout(0.05)
                fillers.append(sock)
                results.append((mod, exc_signature(sock.connect, addr)))
            if all(sig is not None for _, sig in results[-2:]):
                break
        assert results[-1][1] == results[-2][1] == (TimeoutError, None, 'timed out')
        sock = socket.socket()
        sock.settimeout(0.05)
        fillers.append(sock)
        assert sock.connect_ex(addr) == errno.EAGAIN
    finally:
        for sock in fillers:
            sock.close()
        srv.close()


def test_sendall_timeout_bounds_the_whole_call():
    a, b = socket.socketpair()
    a.settimeout(0.05)

    def trickle():  # keeps the sender making progress, never enough
        for _ in range(20):
            gevent_c.sleep(0.01)
            b.recv(1000)

    g = gevent_c.spawn(trickle)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        a.sendall(b'z' * 10_000_000)
    assert time.monotonic() - start < 5
    g.kill()
    a.close()
    b.close()


def test_timeout_zero_raises_blocking_io_error_like_the_stdlib():
    a, b = socket.socketpair()
    a.setblocking(False)
    ref_a, ref_b = stdsocket.socketpair()
    ref_a.setblocking(False)
    assert exc_signature(a.recv, 1) == exc_signature(ref_a.recv, 1)
    assert exc_signature(a.recv, 1)[0] is BlockingIOError
    srv = listener()
    srv.setblocking(False)
    assert exc_signature(srv.accept)[0] is BlockingIOError
    with stdsocket.socket() as other:
        other.bind(LOCAL)
        other.listen()
        cli = socket.socket()
        cli.setblocking(False)
        sig = exc_signature(cli.connect, other.getsockname())
        assert sig is None or sig[:2] == (BlockingIOError, errno.EINPROGRESS)
        cli.close()
    for s in (a, b, ref_a, ref_b, srv):
        s.close()


# -- close while waiting, concurrent use -------------------------------------

@pytest.mark.parametrize('op', ['recv', 'accept', 'sendall'])
def test_close_while_another_greenlet_waits_raises_ebadf(op):
    a, b = socket.socketpair()
    srv = listener()
    target = {'recv': a, 'accept': srv, 'sendall': a}[op]
    if op == 'sendall':
        fill_send_buffer(a)
        a.setblocking(True)
    call = {'recv': lambda: a.recv(10), 'accept': srv.accept,
            'sendall': lambda: a.sendall(b'x' * 100_000)}[op]
    g = gevent_c.spawn(call)
    gevent_c.sleep(0.01)
    assert not g.dead
    target.close()
    g.join()
    assert isinstance(g.exception, OSError) and g.exception.errno == errno.EBADF
    for s in (a, b, srv):
        s.close()


def test_two_greenlets_reading_one_socket_raise_concurrent_object_use_error():
    a, b = socket.socketpair()
    first = gevent_c.spawn(b.recv, 10)
    gevent_c.sleep(0)
    with pytest.raises(ConcurrentObjectUseError):
        b.recv(10)
    a.sendall(b'ok')
    assert first.get() == b'ok'
    a.close()
    b.close()


def test_a_reader_and_a_writer_may_wait_at_once():
    a, b = socket.socketpair()
    fill_send_buffer(a)
    a.setblocking(True)
    reader = gevent_c.spawn(a.recv, 10)
    writer = gevent_c.spawn(a.sendall, b'w' * 100_000)
    gevent_c.sleep(0.01)
    b.sendall(b'hi')
    assert reader.get() == b'hi'
    got = 0
    while got < 100_000:
        got += len(b.recv(1 << 20)) if got or True else 0
        if writer.dead and got >= 100_000:
            break
    writer.get()
    a.close()
    b.close()


def test_timeout_while_waiting_leaves_the_socket_usable():
    a, b = socket.socketpair()
    b.settimeout(0.01)
    with pytest.raises(socket.timeout):
        b.recv(1)
    a.sendall(b'!')
    assert b.recv(1) == b'!'
    a.close()
    b.close()


def test_killing_a_waiting_greenlet_leaves_the_socket_usable():
    a, b = socket.socketpair()
    g = gevent_c.spawn(b.recv, 1)
    gevent_c.sleep(0)
    g.kill()
    a.sendall(b'?')
    assert b.recv(1) == b'?'
    a.close()
    b.close()


# -- connect errors ------------------------------------------------------------

def test_connect_refused_like_the_stdlib():
    with stdsocket.socket() as probe:
        probe.bind(LOCAL)
        addr = probe.getsockname()  # bound, not listening: refused
        ours, ref = socket.socket(), stdsocket.socket()
        sig = exc_signature(ours.connect, addr)
        assert sig == exc_signature(ref.connect, addr)
        assert sig[0] is ConnectionRefusedError
        ours.close()
        ref.close()
        ours, ref = socket.socket(), stdsocket.socket()
        assert ours.connect_ex(addr) == ref.connect_ex(addr) == errno.ECONNREFUSED
        ours.close()
        ref.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(addr)


def test_create_connection_all_errors_raises_an_exception_group():
    with stdsocket.socket() as probe:
        probe.bind(LOCAL)
        if sys.version_info < (3, 11):
            # no ExceptionGroup: all_errors is ignored, as gevent does
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(probe.getsockname(), all_errors=True)
            return
        with pytest.raises(ExceptionGroup) as info:  # noqa: F821
            socket.create_connection(probe.getsockname(), all_errors=True)
        assert isinstance(info.value.exceptions[0], ConnectionRefusedError)


def test_create_connection_passes_timeout_and_source_address():
    srv = listener()
    sock = socket.create_connection(srv.getsockname(), timeout=2.5,
                                    source_address=('127.0.0.1', 0))
    assert sock.gettimeout() == 2.5
    assert sock.getsockname()[0] == '127.0.0.1'
    sock.close()
    srv.close()


def test_create_server_listens_and_accepts():
    srv = socket.create_server(LOCAL, backlog=5)
    assert isinstance(srv, socket.socket)
    assert srv.getsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR)
    cli = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    assert isinstance(conn, socket.socket)
    for s in (cli, conn, srv):
        s.close()
    with pytest.raises(ValueError):
        socket.create_server(LOCAL, dualstack_ipv6=True)


def test_create_server_bind_error_matches_the_stdlib():
    with stdsocket.socket() as taken:
        taken.bind(LOCAL)
        taken.listen()
        addr = taken.getsockname()
        assert exc_signature(socket.create_server, addr) == \
            exc_signature(stdsocket.create_server, addr)


# -- UDP, AF_UNIX ----------------------------------------------------------------

def test_udp_sendto_recvfrom_and_recvfrom_into():
    a = socket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    b = socket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    a.bind(LOCAL)
    b.bind(LOCAL)
    reader = gevent_c.spawn(b.recvfrom, 100)
    gevent_c.sleep(0)
    a.sendto(b'dgram', b.getsockname())
    assert reader.get() == (b'dgram', a.getsockname())
    buf = bytearray(10)
    a.sendto(b'two', 0, b.getsockname())
    assert b.recvfrom_into(buf) == (3, a.getsockname())
    assert buf[:3] == b'two'
    a.close()
    b.close()


def test_af_unix_stream_and_datagram():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 's')
        srv = socket.socket(stdsocket.AF_UNIX)
        srv.bind(path)
        srv.listen()
        g = gevent_c.spawn(srv.accept)
        cli = socket.socket(stdsocket.AF_UNIX)
        cli.connect(path)
        conn, _ = g.get()
        cli.sendall(b'unix')
        assert conn.recv(10) == b'unix'
        for s in (cli, conn, srv):
            s.close()
        a, b = socket.socketpair(stdsocket.AF_UNIX, stdsocket.SOCK_DGRAM)
        reader = gevent_c.spawn(b.recv, 10)
        gevent_c.sleep(0)
        a.send(b'dg')
        assert reader.get() == b'dg'
        a.close()
        b.close()


def test_af_unix_connect_to_a_full_backlog_waits_for_the_accept():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 's')
        srv = socket.socket(stdsocket.AF_UNIX)
        srv.bind(path)
        srv.listen(0)
        clients = []
        accepted = []

        def acceptor():
            gevent_c.sleep(0.02)
            for _ in range(4):
                accepted.append(srv.accept()[0])

        g = gevent_c.spawn(acceptor)
        for _ in range(4):
            sock = socket.socket(stdsocket.AF_UNIX)
            sock.settimeout(5)
            sock.connect(path)
            clients.append(sock)
        g.join()
        assert len(accepted) == 4
        for s in clients + accepted + [srv]:
            s.close()


def test_send_and_receive_file_descriptors():
    a, b = socket.socketpair()
    r, w = os.pipe()
    gevent_c.spawn(socket.send_fds, a, [b'fds'], [r, w])
    data, fds, _, _ = socket.recv_fds(b, 10, 2)
    assert data == b'fds' and len(fds) == 2
    for fd in fds + [r, w]:
        os.close(fd)
    a.close()
    b.close()


# -- makefile, sendfile, dup, detach ------------------------------------------------

def test_makefile_read_readline_write():
    a, b = socket.socketpair()
    wf = a.makefile('wb')
    rf = b.makefile('rb')

    def writer():
        wf.write(b'line one\nline two\n')
        wf.flush()
        wf.write(b'tail')
        wf.close()
        a.close()

    gevent_c.spawn(writer)
    assert rf.readline() == b'line one\n'
    assert rf.readline() == b'line two\n'
    assert rf.read() == b'tail'
    rf.close()
    b.close()
    c, d = socket.socketpair()
    text = d.makefile('r', encoding='utf-8', newline='')
    gevent_c.spawn(lambda: (c.sendall('h\u00e9\r\nx'.encode()), c.close()))
    assert text.readline() == 'h\u00e9\r\n'
    assert text.read() == 'x'
    text.close()
    d.close()


def test_makefile_timeout_is_reported_like_the_stdlib():
    a, b = socket.socketpair()
    b.settimeout(0.01)
    rf = b.makefile('rb')
    with pytest.raises(TimeoutError):
        rf.read(1)
    rf.close()
    a.close()
    b.close()


def test_sendfile_sends_a_file_and_advances_its_offset():
    a, b = socket.socketpair()
    a.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, 4096)
    payload = os.urandom(300_000)
    with tempfile.TemporaryFile() as f:
        f.write(payload)
        f.seek(0)
        got = []

        def reader():
            total = 0
            while total < len(payload) - 1000:
                chunk = b.recv(65536)
                total += len(chunk)
                got.append(chunk)

        g = gevent_c.spawn(reader)
        assert a.sendfile(f, 1000) == len(payload) - 1000
        assert f.tell() == len(payload)
        g.join()
    assert b''.join(got) == payload[1000:]
    a.close()
    b.close()


def test_dup_shares_the_connection_and_timeout():
    a, b = socket.socketpair()
    a.settimeout(1.5)
    c = a.dup()
    assert isinstance(c, socket.socket) and c.gettimeout() == 1.5
    assert c.fileno() != a.fileno()
    a.close()
    c.sendall(b'dup')
    assert b.recv(3) == b'dup'
    c.close()
    b.close()


def test_detach_returns_the_descriptor_and_closes_the_object():
    a, b = socket.socketpair()
    fd = a.detach()
    assert a.fileno() == -1 and fd >= 0
    assert os.get_blocking(fd)          # blocking socket (timeout None): as the stdlib
    other = socket.socket(fileno=fd)
    other.sendall(b'again')
    assert b.recv(5) == b'again'
    other.close()
    b.close()


def test_detach_leaves_a_socket_with_a_timeout_non_blocking():
    a, b = socket.socketpair()
    a.settimeout(5)
    fd = a.detach()
    assert not os.get_blocking(fd)
    os.close(fd)
    b.close()


def test_fromfd_duplicates_the_descriptor():
    ref = stdsocket.socket()
    sock = socket.fromfd(ref.fileno(), stdsocket.AF_INET, stdsocket.SOCK_STREAM)
    assert isinstance(sock, socket.socket) and sock.fileno() != ref.fileno()
    sock.close()
    ref.close()


# -- errors identical to the stdlib -------------------------------------------------

CLOSED_CALLS = [
    ('recv', (1,)), ('recv_into', (bytearray(1),)), ('recvfrom', (1,)), ('send', (b'x',)),
    ('sendall', (b'x',)), ('sendto', (b'x', ('127.0.0.1', 9))), ('accept', ()),
    ('connect', (('127.0.0.1', 9),)), ('connect_ex', (('127.0.0.1', 9),)), ('listen', ()),
    ('getsockname', ()), ('shutdown', (stdsocket.SHUT_RDWR,)), ('bind', (LOCAL,)),
    ('dup', ()), ('detach', ()), ('fileno', ()), ('close', ()),
]


@pytest.mark.parametrize('name,args', CLOSED_CALLS, ids=[c[0] for c in CLOSED_CALLS])
@pytest.mark.parametrize('timeout', [None, 1.0, 0.0])
def test_calls_on_a_closed_socket_fail_like_the_stdlib(name, args, timeout):
    ours, ref = socket.socket(), stdsocket.socket()
    for sock in (ours, ref):
        sock.settimeout(timeout)
        sock.close()
    assert exc_signature(getattr(ours, name), *args) == exc_signature(getattr(ref, name), *args)


@pytest.mark.parametrize('call', [
    lambda mod: mod.socket(fileno=2 ** 20),
    lambda mod: mod.socket('x'),
    lambda mod: mod.socket(stdsocket.AF_INET, 12345),
    lambda mod: mod.socket().recv('x'),
    lambda mod: mod.socket().recv(-1),
    lambda mod: mod.socket().sendall(12),
    lambda mod: mod.socket().send('text'),
    lambda mod: mod.socket().connect('nope'),
    lambda mod: mod.socket().connect(('127.0.0.1', 'port')),
    lambda mod: mod.socket().connect(('127.0.0.1', 70000)),
    lambda mod: mod.socket().recv_into(b'immutable'),
    lambda mod: mod.socket().makefile('z'),
], ids=['bad-fd', 'bad-family', 'bad-type', 'recv-str', 'recv-negative', 'sendall-int',
        'send-str', 'connect-str', 'connect-bad-port', 'connect-port-range',
        'recv-into-bytes', 'makefile-mode'])
def test_bad_input_fails_like_the_stdlib(call):
    assert exc_signature(call, socket) == exc_signature(call, stdsocket)


def test_unconnected_stream_recv_and_send_fail_like_the_stdlib():
    for name, args in (('recv', (1,)), ('send', (b'x',)), ('sendall', (b'x',))):
        with socket.socket() as ours, stdsocket.socket() as ref:
            assert exc_signature(getattr(ours, name), *args) == \
                exc_signature(getattr(ref, name), *args)


def test_socket_cannot_be_pickled():
    import pickle
    with socket.socket() as sock:
        with pytest.raises(TypeError):
            pickle.dumps(sock)


# -- DNS through the hub's resolver ----------------------------------------------------

class RecordingResolver:
    """A blocking resolver that records the calls it gets."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append((name,) + args)
            if name == 'getaddrinfo':
                return stdsocket.getaddrinfo('127.0.0.1', args[1], *args[2:])
            if name == 'gethostbyname':
                return '127.0.0.1'
            if name == 'gethostbyname_ex':
                return (args[0], [], ['127.0.0.1'])
            if name == 'gethostbyaddr':
                return ('short', ['host.example.test'], ['127.0.0.1'])
            if name == 'getnameinfo':
                return ('localhost', 'http')
            raise AttributeError(name)
        return call

    def close(self):
        pass


@pytest.fixture
def resolver():
    res = RecordingResolver()
    gevent_c.get_hub().resolver = res
    return res


def test_dns_functions_delegate_to_the_hub_resolver(resolver):
    infos = socket.getaddrinfo('service.example.test', 80, stdsocket.AF_INET, stdsocket.SOCK_STREAM)
    assert infos == stdsocket.getaddrinfo('127.0.0.1', 80, stdsocket.AF_INET, stdsocket.SOCK_STREAM)
    assert isinstance(infos[0][0], stdsocket.AddressFamily)
    assert isinstance(infos[0][1], stdsocket.SocketKind)
    assert socket.gethostbyname('service.example.test') == '127.0.0.1'
    assert socket.gethostbyname_ex('x.test') == ('x.test', [], ['127.0.0.1'])
    assert socket.gethostbyaddr('127.0.0.1')[0] == 'short'
    assert socket.getnameinfo(('127.0.0.1', 80), 0) == ('localhost', 'http')
    assert socket.getfqdn('127.0.0.1') == 'host.example.test'
    assert [c[0] for c in resolver.calls] == ['getaddrinfo', 'gethostbyname', 'gethostbyname_ex',
                                              'gethostbyaddr', 'getnameinfo', 'gethostbyaddr']


def test_numeric_hosts_skip_the_resolver(resolver):
    for host in ('127.0.0.1', '::1', None):
        assert socket.getaddrinfo(host, 80, 0, stdsocket.SOCK_STREAM) == \
            stdsocket.getaddrinfo(host, 80, 0, stdsocket.SOCK_STREAM)
    assert socket.gethostbyname('10.1.2.3') == '10.1.2.3'
    assert exc_signature(socket.getaddrinfo, '127.0.0.1', 80, stdsocket.AF_INET6) == \
        exc_signature(stdsocket.getaddrinfo, '127.0.0.1', 80, stdsocket.AF_INET6)
    assert resolver.calls == []


def test_connect_and_create_connection_resolve_names_through_the_resolver(resolver):
    srv = listener()
    port = srv.getsockname()[1]
    sock = socket.create_connection(('service.example.test', port))
    conn, _ = srv.accept()
    other = socket.socket()
    other.connect(('service.example.test', port))
    conn2, _ = srv.accept()
    assert [c[0] for c in resolver.calls] == ['getaddrinfo', 'getaddrinfo']
    for s in (sock, conn, other, conn2, srv):
        s.close()


# -- wait_read / wait_write / cancel_wait -----------------------------------------------

def test_wait_read_and_wait_write_on_raw_descriptors():
    a, b = socket.socketpair()
    socket.wait_write(a.fileno(), timeout=1)
    g = gevent_c.spawn(socket.wait_read, b.fileno())
    gevent_c.sleep(0)
    assert not g.dead
    a.send(b'1')
    g.get()
    socket.wait_readwrite(b.fileno())
    with pytest.raises(socket.timeout):
        socket.wait_read(a.fileno(), timeout=0.01)
    with pytest.raises(ValueError):
        socket.wait_read(a.fileno(), timeout=0.01, timeout_exc=ValueError('late'))
    a.close()
    b.close()


def test_cancel_wait_raises_in_the_waiting_greenlet():
    a, b = socket.socketpair()
    io = gevent_c.get_hub().loop.io(b.fileno(), 1)
    g = gevent_c.spawn(socket.wait, io)
    gevent_c.sleep(0)
    socket.cancel_wait(io, ValueError('cancelled'))
    g.join()
    assert isinstance(g.exception, ValueError)
    io.close()
    a.close()
    b.close()


def test_blocking_call_from_inside_the_hub_is_refused():
    from gevent_c.exceptions import BlockingSwitchOutError
    a, b = socket.socketpair()
    hub = gevent_c.get_hub()
    seen = []

    def callback():
        try:
            b.recv(1)
        except BlockingSwitchOutError as exc:
            seen.append(exc)

    hub.loop.run_callback(callback)
    gevent_c.sleep(0.001)
    assert len(seen) == 1
    a.close()
    b.close()


def test_named_address_with_a_bad_port_fails_like_the_stdlib(resolver):
    for port in ('x', 70000, -1):
        with socket.socket() as ours, stdsocket.socket() as ref:
            assert exc_signature(ours.connect, ('localhost', port)) == \
                exc_signature(ref.connect, ('localhost', port))


@pytest.mark.skipif(not stdsocket.has_ipv6, reason='no IPv6 in this kernel')
def test_ipv6_loopback_connect_and_echo():
    try:
        srv = socket.socket(stdsocket.AF_INET6)
        srv.bind(('::1', 0))
    except OSError:
        pytest.skip('::1 is not configured')
    srv.listen()
    cli = socket.socket(stdsocket.AF_INET6)
    g = gevent_c.spawn(srv.accept)
    cli.connect(srv.getsockname()[:2])
    conn, _ = g.get()
    cli.sendall(b'v6')
    assert conn.recv(2) == b'v6'
    for s in (cli, conn, srv):
        s.close()


def test_short_reads_then_more_data_are_all_received():
    # After a short read recv waits for readability first; data that is
    # already there must still come back at once, in order.
    a, b = socket.socketpair()
    a.sendall(b'abc')
    assert b.recv(10) == b'abc'
    a.sendall(b'def')
    a.sendall(b'ghi')
    assert b.recv(3) == b'def'
    assert b.recv(10) == b'ghi'
    b.settimeout(0.01)
    with pytest.raises(TimeoutError):
        b.recv(10)
    a.close()
    assert b.recv(10) == b''
    assert b.recv(10) == b''
    b.close()


def test_closed_attribute_follows_close():
    from gevent_c import socket as gsocket
    s = gsocket.socket()
    assert s.closed is False
    s.close()
    assert s.closed is True


def test_ref_false_lets_the_hub_exit_while_a_recv_waits():
    import gevent_c
    from gevent_c import socket as gsocket
    from gevent_c.exceptions import LoopExit
    a, b = gsocket.socketpair()
    try:
        assert a.ref is True
        a.ref = False
        assert a.ref is False
        assert not a._read_event.ref and not a._write_event.ref
        g = gevent_c.spawn(a.recv, 10)
        with pytest.raises(LoopExit):
            g.join()
        a.ref = True
        b.sendall(b'x')
        assert g.get() == b'x'
    finally:
        a.close()
        b.close()
