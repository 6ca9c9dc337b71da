"""gevent_c.pywsgi's C request cycle (gevent_c._http.serve).

The default WSGIHandler serves ordinary requests in C; a subclass that
overrides one of the steps is served by the Python methods. Each scenario
here runs against both and must give the same bytes on the wire (Date
aside), the same environ and the same access log, so the C path is held to
the Python one, which the rest of the pywsgi tests pin down.
"""
import io
import re
import socket as stdsocket

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _httptest import (connect, exchange, parse_responses, quiet_hub,
                       read_until_closed, serve)

import gevent_c
import gevent_c.pool
from gevent_c import pywsgi

_http = pytest.importorskip('gevent_c._http')


class PythonPathHandler(pywsgi.WSGIHandler):
    """Overrides a step, so its requests never take the C path."""

    def handle_one_request(self):
        return super().handle_one_request()


def normalize(data):
    data = re.sub(rb'Date: [^\r]*\r\n', b'Date: X\r\n', data)
    return data


def send_and_half_close(server, request):
    # The client's end of stream after its requests makes every exchange
    # end, whatever the server waited for.
    with connect(server) as conn:
        conn.sendall(request)
        conn.shutdown(stdsocket.SHUT_WR)
        return read_until_closed(conn)


def run_both(app, request, **kwargs):
    """(C path output, Python path output, C errors, Python errors); the
    errors are the error log and the hub's reports."""
    outputs = []
    for handler in (None, PythonPathHandler):
        reports = quiet_hub()
        with serve(app, handler_class=handler, **kwargs) as server:
            outputs.append(normalize(send_and_half_close(server, request)))
            outputs.append(server.errors.getvalue() + reports.getvalue())
    return outputs[0], outputs[2], outputs[1], outputs[3]


def took_c_path(environ, start_response):
    return type(start_response).__name__ == 'StartResponse'


# -- applications ----------------------------------------------------------

def environ_app(environ, start_response):
    """Answers with the environ it got (REMOTE_PORT aside) and its body."""
    body = environ['wsgi.input'].read()
    keys = sorted(k for k in environ if k not in ('REMOTE_PORT', 'SERVER_PORT')
                  and not k.startswith('wsgi.'))
    text = ''.join('%s=%r\n' % (k, environ[k]) for k in keys)
    text += 'order=%r\n' % ([k for k in environ if k != 'REMOTE_PORT'],)
    text += 'input_terminated=%r\n' % (environ['wsgi.input_terminated'],)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [text.encode('latin-1'), b'body=', body]


def lines_app(environ, start_response):
    inp = environ['wsgi.input']
    first = inp.readline()
    rest = list(inp)
    start_response('200 OK', [])
    return [b'%r %r' % (first, rest)]


def status_app(status, headers, body=(b'x',)):
    def app(environ, start_response):
        start_response(status, headers)
        return list(body)
    return app


def generator_app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'one '
    yield b''
    yield b'two'


def write_app(environ, start_response):
    write = start_response('200 OK', [('Content-Length', '6')])
    write(b'abc')
    return [b'def']


def fail_before_app(environ, start_response):
    raise RuntimeError('before start_response')


def fail_after_app(environ, start_response):
    start_response('200 OK', [])
    raise RuntimeError('after start_response')


def fail_in_body_app(environ, start_response):
    start_response('200 OK', [])
    yield b'partial'
    raise RuntimeError('in the body')


def exc_info_app(environ, start_response):
    try:
        raise ValueError('oops')
    except ValueError:
        import sys
        start_response('500 Oops', [('Content-Type', 'text/plain')], sys.exc_info())
    return [b'sorry']


def bad_header_app(value):
    def app(environ, start_response):
        start_response('200 OK', [('X-Bad', value)])
        return [b'x']
    return app


def no_start_app(environ, start_response):
    return [b'nothing']


def tuple_app(environ, start_response):
    start_response('200 OK', (('Content-Type', 'text/plain'),))
    return (b'a', b'b', b'c')


SCENARIOS = [
    ('plain', environ_app, b'GET /p%41th%2x%/x?q=1&r=%41 HTTP/1.1\r\nHost: h\r\n\r\n'
     b'GET /close HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('headers', environ_app,
     b'GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nCookie: a=1\r\nCookie: b=2\r\n'
     b'X_Under: dropped\r\nContent-Type: text/x\r\nAccept:  spaced  \r\n'
     b'Obs: caf\xe9\r\nConnection: close\r\n\r\n'),
    ('post body', environ_app,
     b'POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello'
     b'POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    ('chunked body', lines_app,
     b'POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
     b'4\r\nab\nc\r\n3;x=y\r\nd\ne\r\n0\r\n\r\n'
     b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('unread body', status_app('200 OK', []),
     b'POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd'
     b'POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n'
     b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('bad chunked body', lines_app,
     b'POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
    ('truncated body', environ_app,
     b'POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc'),
    ('head', status_app('200 OK', [], [b'body']),
     b'HEAD / HTTP/1.1\r\nHost: h\r\n\r\nHEAD / HTTP/1.0\r\n\r\n'),
    ('http10', status_app('200 OK', []),
     b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n'),
    ('204 and 304', status_app('204 No Content', [], []),
     b'GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('304 with a body', status_app('304 Not Modified', [], [b'no']),
     b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('204 with a length', status_app('204 No Content', [('Content-Length', '3')], []),
     b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('provided headers', status_app('200 OK', [('Date', 'yesterday'), ('Content-Length', '1'),
                                               ('connection', 'close')]),
     b'GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('empty result', status_app('200 OK', [], []),
     b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('tuple result', tuple_app, b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('large result', status_app('200 OK', [], [b'x' * 700000, b'y' * 700000]),
     b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('generator', generator_app,
     b'GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.0\r\n\r\n'),
    ('write', write_app, b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('exc_info', exc_info_app, b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('no start_response', no_start_app, b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('status without reason', status_app('200', []),
     b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('bad status', status_app('2000 OK', []), b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('status with CR', status_app('200 OK\r\nX: y', []), b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('header with LF', bad_header_app('a\nb'), b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('header with control', bad_header_app('a\x01b'), b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('latin-1 header', bad_header_app('caf\xe9'),
     b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('non-latin-1 header', bad_header_app('\u20ac'), b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('bytes header', bad_header_app(b'x'), b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('bad request', status_app('200 OK', []),
     b'GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost : h\r\n\r\n'),
    ('smuggling', status_app('200 OK', []),
     b'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'),
    ('version 2', status_app('200 OK', []), b'GET / HTTP/2.0\r\nHost: h\r\n\r\n'),
    ('absolute form', status_app('200 OK', []), b'GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n'),
    ('options star', status_app('200 OK', []),
     b'OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('leading empty line', status_app('200 OK', []),
     b'\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'),
    ('expect continue', environ_app,
     b'POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n'
     b'Connection: close\r\n\r\nab'),
    ('too long header', status_app('200 OK', []),
     b'GET / HTTP/1.1\r\nHost: h\r\nX: ' + b'a' * 9000 + b'\r\n\r\n'),
    ('two hosts', status_app('200 OK', []), b'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'),
    ('bad length', status_app('200 OK', []), b'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx'),
]


@pytest.mark.parametrize('name,app,request_bytes', SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_c_path_answers_as_the_python_path(clean_hub, name, app, request_bytes):
    c_out, py_out, c_err, py_err = run_both(app, request_bytes)
    assert c_out == py_out
    # the same failures reported (tracebacks may differ in frames)
    failures = re.compile(r'(?m)^\w+(?:Error|Exception)\b.*$|Invalid.*$|\(from [^)]*\).*$')
    assert [re.sub(r"\('127.0.0.1', \d+\)", 'ADDR', line) for line in failures.findall(c_err)] == \
        [re.sub(r"\('127.0.0.1', \d+\)", 'ADDR', line) for line in failures.findall(py_err)]
    if 'Error' in py_err:
        assert failures.findall(c_err)


def test_default_handler_takes_the_c_path_and_subclasses_do_not(clean_hub):
    seen = []

    def app(environ, start_response):
        seen.append(took_c_path(environ, start_response))
        start_response('200 OK', [])
        return [b'']

    request = b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'
    for handler in (None, PythonPathHandler):
        with serve(app, handler_class=handler) as server:
            exchange(server, request)
    assert seen == [True, False]


def test_overridden_get_environ_and_log_request_are_called_on_the_c_path(clean_hub):
    calls = []

    class Hooked(pywsgi.WSGIHandler):
        def get_environ(self):
            env = super().get_environ()
            env['hooked'] = self.path
            calls.append('environ')
            return env

        def log_request(self):
            calls.append(('log', self.status, self.response_length > 0))

    def app(environ, start_response):
        calls.append((environ['hooked'], took_c_path(environ, start_response)))
        start_response('200 OK', [])
        return [b'ok']

    with serve(app, handler_class=Hooked) as server:
        exchange(server, b'GET /a HTTP/1.1\r\nHost: h\r\n\r\n'
                         b'GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    assert calls == ['environ', ('/a', True), ('log', b'200 OK', True),
                     'environ', ('/b', True), ('log', b'200 OK', True)]


def test_access_log_lines_match_the_python_path(clean_hub):
    lines = []
    request = (b'GET /x?y HTTP/1.1\r\nHost: h\r\n\r\n'
               b'HEAD /h HTTP/1.0\r\n\r\n')
    for handler in (None, PythonPathHandler):
        log = io.StringIO()
        with serve(status_app('201 Created', []), handler_class=handler, log=log) as server:
            exchange(server, request)
        lines.append(re.sub(r'\[[^]]*\]', '[T]', re.sub(r' [\d.]+\n', ' D\n', log.getvalue())))
    assert lines[0] == lines[1]
    assert '"GET /x?y HTTP/1.1" 201' in lines[0]


class Closing:
    def __init__(self, chunks, closed, fail=False):
        self.chunks = chunks
        self.closed = closed
        self.fail = fail

    def __iter__(self):
        for chunk in self.chunks:
            yield chunk
        if self.fail:
            raise RuntimeError('iteration failed')

    def close(self):
        self.closed.append(True)


@pytest.mark.parametrize('fail', [False, True])
def test_close_of_the_result_is_always_called(clean_hub, fail):
    closed = []

    def app(environ, start_response):
        start_response('200 OK', [])
        return Closing([b'a', b'b'], closed, fail)

    quiet_hub()
    with serve(app) as server:
        data = exchange(server, b'GET / HTTP/1.1\r\nHost: h\r\n\r\n'
                                b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    assert closed == ([True] if fail else [True, True])
    assert data.startswith(b'HTTP/1.1 200 OK\r\n')


def test_close_is_called_when_the_client_is_gone(clean_hub):
    closed = []
    sent = gevent_c.event.Event()

    def app(environ, start_response):
        start_response('200 OK', [])

        def body():
            try:
                while True:
                    yield b'x' * 65536
            finally:
                sent.set()
        return Closing(body(), closed)

    quiet_hub()
    with serve(app) as server:
        conn = connect(server)
        conn.sendall(b'GET / HTTP/1.1\r\nHost: h\r\n\r\n')
        conn.recv(100)
        conn.close()
        assert sent.wait(5)
        gevent_c.sleep(0.05)
    assert closed == [True]


def test_pipelined_request_split_across_reads(clean_hub):
    def app(environ, start_response):
        start_response('200 OK', [])
        return [environ['PATH_INFO'].encode()]

    with serve(app) as server:
        with connect(server) as conn:
            conn.sendall(b'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHo')
            gevent_c.sleep(0.05)
            conn.sendall(b'st: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
            responses = parse_responses(read_until_closed(conn))
    assert [r.body for r in responses] == [b'/1', b'/2', b'/3']


def test_large_request_body_read_in_pieces(clean_hub):
    body = bytes(range(256)) * 8192          # 2 MiB

    def app(environ, start_response):
        inp = environ['wsgi.input']
        pieces = []
        while True:
            data = inp.read(100000)
            if not data:
                break
            pieces.append(data)
        start_response('200 OK', [])
        return [b'%d %d' % (len(pieces), b''.join(pieces) == body)]

    with serve(app) as server:
        data = exchange(server, b'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n'
                                b'Connection: close\r\n\r\n' % len(body) + body, timeout=20)
    assert parse_responses(data)[0].body == b'21 1'


def test_many_requests_on_one_connection_keep_state_apart(clean_hub):
    def app(environ, start_response):
        if environ['PATH_INFO'] == '/fail':
            raise RuntimeError('boom')
        start_response('200 OK', [('X-Path', environ['PATH_INFO'])])
        return [environ['QUERY_STRING'].encode()]

    quiet_hub()
    requests = b''.join(b'GET /%d?q%d HTTP/1.1\r\nHost: h\r\n\r\n' % (i, i) for i in range(50))
    with serve(app) as server:
        responses = parse_responses(exchange(
            server, requests + b'GET /fail HTTP/1.1\r\nHost: h\r\n\r\n'))
    assert [r.body for r in responses[:50]] == [b'q%d' % i for i in range(50)]
    assert [r.header('x-path') for r in responses[:50]] == ['/%d' % i for i in range(50)]
    assert responses[50].code == 500


def test_start_response_refuses_bad_arguments_like_the_python_one(clean_hub):
    results = []

    def app(environ, start_response):
        for args in [('200 OK', [('A', 'b')], None, 'extra'), ('200 OK',),
                     (200, []), ('200 OK', [('A',)]), ('200 OK', None),
                     ('200 OK', [('Bad Name', 'x')]), ('200 OK', [('', 'x')])]:
            try:
                start_response(*args)
            except Exception as ex:  # noqa: BLE001
                results.append(type(ex).__name__)
            else:
                results.append('ok')
        start_response('200 OK', [])
        return [b'']

    for handler in (None, PythonPathHandler):
        with serve(app, handler_class=handler) as server:
            exchange(server, b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    assert results[:7] == results[7:]
    assert 'ok' not in results


def test_serve_and_setup_check_their_arguments():
    with pytest.raises(TypeError):
        _http.serve()
    with pytest.raises(TypeError):
        _http._setup(1, 2, 3, 4)
    with pytest.raises(AttributeError):
        _http.serve(object(), True, True, True, True, True, True)


class ShortIdle(pywsgi.WSGIHandler):
    idle_timeout = 0.1
    socket_timeout = 30


def test_idle_timeout_between_requests_on_the_c_path(clean_hub):
    paths = []

    def app(environ, start_response):
        paths.append((environ['PATH_INFO'], took_c_path(environ, start_response)))
        start_response('200 OK', [])
        return [b'ok']

    with serve(app, handler_class=ShortIdle) as server:
        with connect(server) as conn:
            conn.sendall(b'GET /1 HTTP/1.1\r\nHost: h\r\n\r\n')
            first = b''
            while not first.endswith(b'ok'):
                first += conn.recv(1000)
            # within the idle timeout: served
            gevent_c.sleep(0.02)
            conn.sendall(b'GET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n')
            data = read_until_closed(conn)      # then closed once idle
    assert [r.body for r in parse_responses(first + data)] == [b'ok', b'ok', b'ok']
    assert paths == [('/1', True), ('/2', True), ('/3', True)]


def test_a_slow_body_read_is_not_cut_by_the_idle_timeout(clean_hub):
    def app(environ, start_response):
        body = environ['wsgi.input'].read()
        start_response('200 OK', [])
        return [body]

    with serve(app, handler_class=ShortIdle) as server:
        with connect(server) as conn:
            conn.sendall(b'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab')
            gevent_c.sleep(0.3)          # longer than idle_timeout
            conn.sendall(b'cd')
            conn.settimeout(5)
            data = conn.recv(1000)
    assert data.startswith(b'HTTP/1.1 200 OK\r\n') and data.endswith(b'abcd')


def test_gunicorn_handler_takes_the_c_path_with_its_environ_keys(clean_hub):
    from gevent_c import gunicorn as gworker

    seen = []

    def app(environ, start_response):
        seen.append((environ['RAW_URI'], environ['gunicorn.sock'] is not None,
                     took_c_path(environ, start_response)))
        start_response('200 OK', [])
        return [b'ok']

    no_keepalive = type('NoKeepAlive', (gworker.PyWSGIHandler,), {'keepalive': False})
    for handler in (gworker.PyWSGIHandler, no_keepalive):
        with serve(app, handler_class=handler) as server:
            with connect(server) as conn:
                conn.sendall(b'GET /a?b HTTP/1.1\r\nHost: h\r\n\r\n')
                conn.shutdown(stdsocket.SHUT_WR)
                resp = parse_responses(read_until_closed(conn))[0]
        assert resp.header('connection') == (None if handler is gworker.PyWSGIHandler else 'close')
    assert seen == [('/a?b', True, True)] * 2


def test_the_c_path_leaks_no_reference_or_object(clean_hub):
    import gc
    import sys

    marker = object()

    def app(environ, start_response):
        path = environ['PATH_INFO']
        if path == '/fail':
            raise RuntimeError(marker)
        if path == '/bad':
            start_response('200 OK', [('X', 'a\nb')])
        if path == '/gen':
            start_response('200 OK', [('X-Marker', 'y')])
            return iter([b'a', b'b'])
        environ['wsgi.input'].read()
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']

    batch = (b'GET /a?b HTTP/1.1\r\nHost: h\r\nCookie: a\r\nCookie: b\r\n\r\n'
             b'GET /gen HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
             b'POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc'
             b'POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n'
             b'HEAD / HTTP/1.1\r\nHost: h\r\n\r\n')
    errors_batch = b'GET /fail HTTP/1.1\r\nHost: h\r\n\r\n'

    def work(server, n):
        for _ in range(n):
            with connect(server) as conn:
                conn.sendall(batch * 10 + errors_batch)
                read_until_closed(conn)

    quiet_hub()
    pool = gevent_c.pool.Pool(10)
    with serve(app, spawn=pool) as server:
        work(server, 20)
        pool.join()
        gc.collect()
        refs = [sys.getrefcount(o) for o in (app, marker, server)]
        objects = len(gc.get_objects())
        work(server, 200)
        pool.join()
        gc.collect()
        assert [sys.getrefcount(o) for o in (app, marker, server)] == refs
        assert len(gc.get_objects()) - objects < 200


def test_fuzzed_streams_get_the_same_answers_on_both_paths(clean_hub):
    hypothesis = pytest.importorskip('hypothesis')
    from test_pywsgi_fuzz import streams

    class Quick(pywsgi.WSGIHandler):
        header_timeout = 2
        socket_timeout = 2
        linger_timeout = 0.5

    class QuickPython(Quick):
        def handle_one_request(self):
            return super().handle_one_request()

    def app(environ, start_response):
        body = environ['wsgi.input'].read()
        start_response('200 OK', [('X-Read', str(len(body))),
                                  ('X-Env', '%s %s %s' % (environ['PATH_INFO'],
                                                          environ['QUERY_STRING'],
                                                          environ.get('HTTP_X_A')))])
        return []

    quiet_hub()
    with serve(app, handler_class=Quick) as c_server, \
            serve(app, handler_class=QuickPython) as py_server:
        @hypothesis.settings(max_examples=150, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(streams())
        def check(data):
            assert normalize(send_and_half_close(c_server, data)) == \
                normalize(send_and_half_close(py_server, data))

        check()


def test_tls_bytes_held_by_openssl_are_served_without_the_idle_wait(clean_hub, tmp_path):
    # OpenSSL may hold the second record's bytes while the descriptor is
    # not readable: the idle wait must not wait on the descriptor then.
    import shutil
    import subprocess
    if shutil.which('openssl') is None:
        pytest.skip('needs the openssl command')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out',
                    'c.pem', '-days', '2', '-subj', '/CN=localhost'],
                   cwd=tmp_path, check=True, capture_output=True)
    from gevent_c import ssl

    class SlowIdle(pywsgi.WSGIHandler):
        idle_timeout = 2
        socket_timeout = 30

    def app(environ, start_response):
        start_response('200 OK', [])
        return [environ['PATH_INFO'].encode()]

    with serve(app, handler_class=SlowIdle, certfile=str(tmp_path / 'c.pem'),
               keyfile=str(tmp_path / 'k.pem')) as server:
        ctx = ssl.create_default_context(cafile=str(tmp_path / 'c.pem'))
        ctx.check_hostname = False
        with ctx.wrap_socket(connect(server)) as tls:
            # 32-byte requests in one record larger than rfile's 8192-byte
            # buffer: a read fills the buffer with whole requests exactly,
            # the rest stays decrypted in OpenSSL's buffer
            one = b'GET /%08d HTTP/1.1\r\nH: h\r\n\r\n'
            assert len(one % 0) == 32
            tls.sendall(b''.join(one % i for i in range(300)) +
                        b'GET /end HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
            tls.settimeout(1.5)              # under idle_timeout: a stall fails
            data = b''
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
    assert [r.body for r in parse_responses(data)] == [b'/%08d' % i for i in range(300)] + [b'/end']


def test_a_step_patched_on_wsgihandler_sends_requests_down_the_python_path(clean_hub):
    calls = []
    original = pywsgi.WSGIHandler.run_application

    def instrumented(self):
        calls.append(self.path)
        return original(self)

    class Fresh(pywsgi.WSGIHandler):
        pass

    seen = []

    def app(environ, start_response):
        seen.append(took_c_path(environ, start_response))
        start_response('200 OK', [])
        return [b'']

    pywsgi.WSGIHandler.run_application = instrumented
    try:
        with serve(app, handler_class=Fresh) as server:
            exchange(server, b'GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    finally:
        pywsgi.WSGIHandler.run_application = original
    assert calls == ['/x'] and seen == [False]


@pytest.mark.parametrize('enabled', [True, False])
def test_gunicorn_handler_builds_access_lines_only_when_gunicorn_logs_them(clean_hub, enabled):
    from gevent_c import gunicorn as gworker

    class GunicornLikeLogger:
        # what pywsgi wraps in a LoggingLogAdapter: log() but no write()
        access_log_enabled = enabled

        def __init__(self):
            self.lines = []

        def log(self, level, msg, *args):
            pass

        def access(self, resp, req_headers, environ, response_time):
            self.lines.append((resp.status, environ['RAW_URI']))

    logger = GunicornLikeLogger()
    with serve(status_app('200 OK', []), handler_class=gworker.PyWSGIHandler,
               log=logger) as server:
        assert type(server.log) is pywsgi.LoggingLogAdapter
        exchange(server, b'GET /q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    assert logger.lines == ([('200 OK', '/q')] if enabled else [])


def test_start_response_objects_come_only_from_serve():
    with pytest.raises(TypeError):
        _http.StartResponse()
    with pytest.raises(TypeError):
        _http.StartResponse.__new__(_http.StartResponse)


# For the scenarios run in a child: send one request, read to the close.
CHILD_EXCHANGE = '''
        def exchange(port, request):
            from gevent_c import socket
            sock = socket.create_connection(('127.0.0.1', port), timeout=10)
            sock.sendall(request)
            data = b''
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            sock.close()
            return data
'''


def test_a_result_changed_by_python_code_mid_response_is_an_error_not_a_crash():
    # found by review: a handler property ran while the C path was sizing
    # the response and grew the result it was about to copy
    from tests._isolated import run_isolated
    out = run_isolated(CHILD_EXCHANGE + '''
        from gevent_c import pywsgi, socket
        class Handler(pywsgi.WSGIHandler):
            @property
            def close_connection(self):
                result = self.__dict__.get('result')
                if type(result) is list and result and result[0] == b'a':
                    result[0] = b'A' * 2000000
                return self.__dict__.get('_test_close', False)
            @close_connection.setter
            def close_connection(self, value):
                self.__dict__['_test_close'] = value
        def app(environ, start_response):
            start_response('200 OK', [])
            return [b'a']
        server = pywsgi.WSGIServer(('127.0.0.1', 0), app, log=None, handler_class=Handler)
        gevent_c_hub = __import__('gevent_c').get_hub()
        gevent_c_hub.print_exception = lambda *a: None
        server.start()
        data = exchange(server.server_port, b'GET / HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n')
        server.stop()
        print(data.split(b'\\r\\n')[0].decode())
    ''')
    assert out.strip().splitlines()[-1] == 'HTTP/1.1 500 Internal Server Error'



def test_handler_code_that_changes_the_header_lists_mid_request_is_safe():
    # Python code the C path calls (a handler property's setter, a server's
    # environ mapping) may empty the very lists the C path is reading. The
    # environ gets the request headers still in the list when they are read
    # (none here, as Python's get_environ would); the response, the headers
    # start_response was given. In a child with freed memory poisoned.
    from tests._isolated import run_isolated
    out = run_isolated(CHILD_EXCHANGE + '''
        import io
        from gevent_c import pywsgi, socket
        captured = {}

        class Watching(pywsgi.WSGIHandler):
            # properties: the C path sets these with setattr, running this code
            @property
            def _header_pairs(self):
                return captured.get('pairs', ())

            @_header_pairs.setter
            def _header_pairs(self, pairs):
                captured['pairs'] = pairs

            @property
            def status(self):
                return self.__dict__.get('status')

            @status.setter
            def status(self, value):
                self.__dict__['status'] = value
                headers = captured.get('response')
                if headers:
                    del headers[:]

        class Meddling(dict):
            def __setitem__(self, key, value):
                if key == 'REQUEST_METHOD' and captured.get('pairs'):
                    del captured['pairs'][:]
                super().__setitem__(key, value)

        class Server(pywsgi.WSGIServer):
            def get_environ(self):
                return Meddling(super().get_environ())

        seen = []

        def app(environ, start_response):
            seen.append((type(start_response).__name__, environ.get('HTTP_X_ONE'),
                         environ.get('HTTP_X_TWO')))
            # made at run time, so the list holds the only references
            headers = [(''.join(['Conn', 'ection']), ''.join(['clo', 'se'])),
                       ('X-Made', ''.join(['v', '1']))]
            captured['response'] = headers
            start_response('200 OK', headers)
            return [b'body']

        errors = io.StringIO()
        server = Server(('127.0.0.1', 0), app, log=None, error_log=errors,
                        handler_class=Watching)
        server.start()
        data = exchange(server.server_port, b'GET / HTTP/1.1\\r\\nHost: h\\r\\nX-One: '
                        + b'a' * 20 + b'\\r\\nX-Two: b\\r\\n\\r\\n')
        server.stop(timeout=1)
        assert seen == [('StartResponse', None, None)], seen
        assert data.startswith(b'HTTP/1.1 200 OK\\r\\n'), data
        assert b'Connection: close\\r\\n' in data and b'X-Made: v1\\r\\n' in data, data
        assert data.endswith(b'\\r\\n\\r\\nbody'), data
        assert errors.getvalue() == '', errors.getvalue()
        print('ok')
    ''', dev=True)
    assert out.strip() == 'ok'
