"""Helpers for the pywsgi tests: a server on loopback, raw exchanges, and a
small strict parser of what the server sent back."""
import contextlib
import io

import gevent_c
from gevent_c import socket
from gevent_c.pywsgi import WSGIServer


@contextlib.contextmanager
def serve(app, handler_class=None, log=None, **kwargs):
    """A started WSGIServer on 127.0.0.1 (stopped on exit); yields it."""
    errors = io.StringIO()
    server = WSGIServer(('127.0.0.1', 0), app, log=log, error_log=errors,
                        handler_class=handler_class, **kwargs)
    server.errors = errors
    server.start()
    try:
        yield server
    finally:
        server.stop(timeout=1)


def connect(server, timeout=5):
    return socket.create_connection(('127.0.0.1', server.server_port), timeout=timeout)


def read_until_closed(conn, timeout=5):
    """Everything the server sends until it closes; AssertionError if it never does."""
    conn.settimeout(timeout)
    chunks = []
    while True:
        try:
            data = conn.recv(65536)
        except socket.timeout:
            raise AssertionError('the server did not close the connection; got %r'
                                 % (b''.join(chunks),)) from None
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b''.join(chunks)


def exchange(server, data, timeout=5):
    """Send *data* on a new connection; return all bytes until the server closes."""
    with connect(server, timeout) as conn:
        conn.sendall(data)
        return read_until_closed(conn, timeout)


class Response:
    def __init__(self, version, code, reason, headers, body, chunked):
        self.version = version
        self.code = code
        self.reason = reason
        self.headers = headers      # [(lower name, value)]
        self.body = body
        self.chunked = chunked

    def header(self, name, default=None):
        values = [v for k, v in self.headers if k == name.lower()]
        assert len(values) <= 1, 'header %s sent %d times' % (name, len(values))
        return values[0] if values else default

    def __repr__(self):
        return '<Response %s %r %r>' % (self.code, self.headers, self.body[:60])


def parse_responses(data, head_request=False):
    """Split *data* into responses, checking the framing strictly.

    Raises AssertionError on anything malformed (so a desync shows).
    """
    responses = []
    stream = io.BytesIO(data)
    while True:
        line = stream.readline()
        if not line:
            return responses
        assert line.endswith(b'\r\n'), line
        version, code, reason = line[:-2].decode('latin-1').split(' ', 2)
        assert version == 'HTTP/1.1', line
        headers = []
        while True:
            hline = stream.readline()
            assert hline.endswith(b'\r\n'), hline
            if hline == b'\r\n':
                break
            name, value = hline[:-2].decode('latin-1').split(': ', 1)
            headers.append((name.lower(), value))
        resp = Response(version, int(code), reason, headers, b'', False)
        length = resp.header('content-length')
        te = resp.header('transfer-encoding')
        no_body = head_request or resp.code in (204, 304) or 100 <= resp.code < 200
        if resp.code == 100:
            responses.append(resp)
            continue
        if no_body:
            pass
        elif te is not None:
            assert te == 'chunked' and length is None
            resp.chunked = True
            body = []
            while True:
                size_line = stream.readline()
                assert size_line.endswith(b'\r\n'), size_line
                size = int(size_line[:-2], 16)
                if size == 0:
                    assert stream.read(2) == b'\r\n'
                    break
                body.append(stream.read(size))
                assert stream.read(2) == b'\r\n'
            resp.body = b''.join(body)
        elif length is not None:
            resp.body = stream.read(int(length))
            assert len(resp.body) == int(length)
        else:
            resp.body = stream.read()
        responses.append(resp)


def one_response(data, **kwargs):
    responses = parse_responses(data, **kwargs)
    assert len(responses) == 1, responses
    return responses[0]


def hello_app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello']


def echo_app(environ, start_response):
    """Answers with the method, path and the whole body it read."""
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [environ['REQUEST_METHOD'].encode(), b' ', environ['PATH_INFO'].encode('latin-1'),
            b' ', body]


def quiet_hub():
    """Send the hub's error reports to a StringIO (returned)."""
    stream = io.StringIO()
    gevent_c.get_hub().exception_stream = stream
    return stream
