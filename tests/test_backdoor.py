"""gevent_c.backdoor: an interactive console per connection."""
import sys

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c
from gevent_c import backdoor, socket


def read_until(conn, suffix):
    data = b''
    while not data.endswith(suffix):
        chunk = conn.recv(1)
        assert chunk, 'closed after %r' % (data,)
        data += chunk
    return data.decode()


def session(server):
    conn = socket.create_connection(('127.0.0.1', server.server_port), timeout=5)
    banner = read_until(conn, b'>>> ')
    return conn, banner


def run(conn, line):
    conn.sendall(line.encode() + b'\r\n')
    return read_until(conn, b'>>> ')[:-4]


def closed(conn):
    return conn.recv(100) == b''


@pytest.fixture
def server():
    srv = backdoor.BackdoorServer(('127.0.0.1', 0), banner='welcome', locals={'given': 42})
    srv.start()
    yield srv
    srv.stop()


def test_banner_locals_and_expressions(server):
    conn, banner = session(server)
    assert banner.startswith('welcome')
    assert run(conn, 'given + 1') == '43\n'
    assert run(conn, 'print("out")') == 'out\n'
    assert 'ZeroDivisionError' in run(conn, '1/0')
    assert len(run(conn, 'locals()["__builtins__"]')) < 300
    conn.close()


@pytest.mark.parametrize('command', ['quit()', 'exit()', 'import sys; sys.exit(0)'])
def test_leaving_the_console_closes_the_connection(server, command):
    conn, _ = session(server)
    conn.sendall(command.encode() + b'\r\n')
    assert closed(conn)
    conn.close()


def test_sessions_have_their_own_namespace_and_output(server):
    first, _ = session(server)
    second, _ = session(server)
    assert run(first, 'x = "first"') == ''
    assert 'NameError' in run(second, 'x')
    # Output made while the other session runs lands on the right socket.
    first.sendall(b'import gevent_c; gevent_c.sleep(0.1); print(x)\r\n')
    assert run(second, 'print("second")') == 'second\n'
    assert read_until(first, b'>>> ') == 'first\n>>> '
    first.close()
    second.close()


def test_other_greenlets_keep_the_real_streams(server, capsys):
    conn, _ = session(server)
    assert isinstance(sys.stdout, backdoor._Switchboard)
    gevent_c.spawn(print, 'to the real stdout').join()
    assert run(conn, '1') == '1\n'
    assert 'to the real stdout' in capsys.readouterr().out
    conn.sendall(b'quit()\r\n')
    assert closed(conn)
    conn.close()
    gevent_c.sleep(0.01)
    assert not isinstance(sys.stdout, backdoor._Switchboard)   # restored


def test_stop_kills_the_sessions(server):
    conn, _ = session(server)
    server.stop(timeout=0.1)
    assert closed(conn)
    conn.close()
    assert not isinstance(sys.stdin, backdoor._Switchboard)


@pytest.mark.parametrize('address, local', [
    (('127.0.0.1', 1), True), (('::1', 1, 0, 0), True), ('/tmp/sock', True),
    (('0.0.0.0', 1), False), (('', 1), False), (('10.1.2.3', 1), False), (('::', 1, 0, 0), False),
])
def test_only_loopback_addresses_count_as_local(address, local):
    assert backdoor._is_local(address) is local


def test_a_unix_socket_listener_works(tmp_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / 'bd.sock'))
    listener.listen(5)
    srv = backdoor.BackdoorServer(listener)
    srv.start()
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(5)
        conn.connect(str(tmp_path / 'bd.sock'))
        read_until(conn, b'>>> ')
        assert run(conn, '6 * 7') == '42\n'
        conn.close()
    finally:
        srv.stop()
