"""Libraries written for gevent.pywsgi, from PyPI, over gevent_c.pywsgi:
gevent-websocket's WebSocketHandler (a WSGIHandler subclass reaching into
its attributes) and simple-websocket (which takes the socket out of
``environ['wsgi.input'].rfile.raw._sock``)."""
import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _isolated import run_isolated

# A minimal websocket client on gevent_c sockets, shared by both tests.
WS_CLIENT = r'''
import base64, hashlib, os, struct
from gevent_c import socket

def ws_connect(port, path='/'):
    key = base64.b64encode(os.urandom(16)).decode()
    conn = socket.create_connection(('127.0.0.1', port), timeout=5)
    conn.sendall(('GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n'
                  'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
                  'Sec-WebSocket-Version: 13\r\n\r\n' % (path, key)).encode())
    head = b''
    while b'\r\n\r\n' not in head:
        data = conn.recv(1)
        assert data, head
        head += data
    lines = head.decode('latin-1').split('\r\n')
    assert lines[0].startswith('HTTP/1.1 101'), head
    accept = base64.b64encode(hashlib.sha1(
        (key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
    assert 'sec-websocket-accept: ' + accept.lower() in head.decode('latin-1').lower(), head
    return conn

def ws_send(conn, payload, opcode=1):
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    conn.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

def recv_exact(conn, n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        assert chunk, data
        data += chunk
    return data

def ws_recv(conn):
    b0, b1 = recv_exact(conn, 2)
    length = b1 & 0x7f
    if length == 126:
        length = struct.unpack('!H', recv_exact(conn, 2))[0]
    assert not b1 & 0x80
    return b0 & 0x0f, recv_exact(conn, length)
'''


GEVENT_WEBSOCKET = WS_CLIENT + r'''
import sys
import gevent_c, gevent_c.pywsgi
# The compat runner's approach: the library imports gevent, gets gevent_c.
sys.modules['gevent'] = gevent_c
sys.modules['gevent.pywsgi'] = gevent_c.pywsgi
from geventwebsocket.handler import WebSocketHandler
from gevent_c.pywsgi import WSGIServer, WSGIHandler
assert issubclass(WebSocketHandler, WSGIHandler)

def app(environ, start_response):
    ws = environ.get('wsgi.websocket')
    if ws is None:
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'plain http']
    while True:
        message = ws.receive()
        if message is None:
            break
        ws.send(message[::-1])
    return []

server = WSGIServer(('127.0.0.1', 0), app, handler_class=WebSocketHandler, log=None)
server.start()
conn = ws_connect(server.server_port)
for word in (b'hello', b'websocket'):
    ws_send(conn, word)
    opcode, data = ws_recv(conn)
    assert (opcode, data) == (1, word[::-1]), (opcode, data)
ws_send(conn, struct.pack('!H', 1000), opcode=8)
opcode, data = ws_recv(conn)
assert opcode == 8, opcode
conn.close()

plain = socket.create_connection(('127.0.0.1', server.server_port), timeout=5)
plain.sendall(b'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
reply = b''
while True:
    data = plain.recv(4096)
    if not data:
        break
    reply += data
assert reply.startswith(b'HTTP/1.1 200 OK') and reply.endswith(b'plain http'), reply
server.stop()
print('ok')
'''


def test_gevent_websocket_handler_runs_over_gevent_c_pywsgi():
    pytest.importorskip('geventwebsocket')
    assert run_isolated(GEVENT_WEBSOCKET).strip() == 'ok'


def test_simple_websocket_takes_the_socket_from_wsgi_input():
    simple_websocket = pytest.importorskip('simple_websocket')
    namespace = {}
    exec(WS_CLIENT, namespace)
    import gevent_c
    from gevent_c.event import Event
    from gevent_c.selectors import DefaultSelector
    from _httptest import serve

    class GreenThread:
        # simple-websocket's thread_class: run its reader in a greenlet.
        def __init__(self, target):
            self.name = 'GreenThread (_thread)'
            self._target = target

        def start(self):
            gevent_c.spawn(self._target)

    def app(environ, start_response):
        ws = simple_websocket.Server.accept(environ, thread_class=GreenThread,
                                            event_class=Event, selector_class=DefaultSelector)
        try:
            while True:
                ws.send(ws.receive(timeout=5).upper())
        except simple_websocket.ConnectionClosed:
            pass
        start_response('200 OK', [])
        return []

    with serve(app) as server:
        conn = namespace['ws_connect'](server.server_port)
        for word in (b'one', b'two'):
            namespace['ws_send'](conn, word)
            assert namespace['ws_recv'](conn) == (1, word.upper())
        namespace['ws_send'](conn, b'\x03\xe8', opcode=8)
        assert namespace['ws_recv'](conn)[0] == 8
        conn.close()
