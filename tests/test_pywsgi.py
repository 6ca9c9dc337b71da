"""gevent_c.pywsgi: WSGI and HTTP/1.x behaviour (the refusals of bad input
are in test_pywsgi_security.py)."""
import io
import logging
import pickle
import socket as stdsocket
from wsgiref.validate import validator

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _httptest import (connect, echo_app, exchange, hello_app, one_response,
                       parse_responses, quiet_hub, read_until_closed, serve)

import gevent_c
from gevent_c import pywsgi
from gevent_c.event import Event


def test_get_answers_with_content_length_and_date():
    with serve(hello_app) as server:
        resp = one_response(exchange(server, b'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
    assert (resp.code, resp.reason, resp.body) == (200, 'OK', b'hello')
    assert resp.header('content-length') == '5'
    assert resp.header('date').endswith(' GMT')
    assert resp.header('connection') == 'close'


def test_keep_alive_serves_several_requests_on_one_connection():
    with serve(echo_app) as server:
        with connect(server) as conn:
            f = conn.makefile('rb')
            for i in range(3):
                conn.sendall(b'GET /%d HTTP/1.1\r\nHost: x\r\n\r\n' % i)
                status = f.readline()
                assert status == b'HTTP/1.1 200 OK\r\n'
                length = None
                while True:
                    line = f.readline()
                    if line == b'\r\n':
                        break
                    if line.lower().startswith(b'content-length:'):
                        length = int(line.split(b':')[1])
                assert f.read(length) == b'GET /%d ' % i
            f.close()


def test_pipelined_requests_are_answered_in_order():
    requests = b''.join(b'POST /%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab%d' % (i, i)
                        for i in range(5))
    requests += b'GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
    with serve(echo_app) as server:
        responses = parse_responses(exchange(server, requests))
    assert [r.body for r in responses] == [b'POST /%d ab%d' % (i, i) for i in range(5)] + [
        b'GET /last ']


def test_http10_closes_unless_keep_alive_is_asked():
    with serve(hello_app) as server:
        resp = one_response(exchange(server, b'GET / HTTP/1.0\r\n\r\n'))
        assert resp.header('connection') == 'close'
        with connect(server) as conn:
            conn.sendall(b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' * 2)
            conn.settimeout(0.5)
            data = b''
            while data.count(b'hello') < 2:
                data += conn.recv(4096)
            assert [r.header('connection') for r in parse_responses(data)] == ['keep-alive'] * 2


def generator_app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'one'
    yield b''
    yield b'two'


def test_a_generator_is_sent_chunked_in_http11():
    with serve(generator_app) as server:
        resp = one_response(exchange(server, b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'))
    assert resp.chunked and resp.body == b'onetwo'
    assert resp.header('content-length') is None


def test_a_generator_in_http10_keep_alive_ends_with_the_connection():
    # Without a length or chunking, the body can only end with the connection.
    with serve(generator_app) as server:
        data = exchange(server, b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
    resp = one_response(data)
    assert resp.header('connection') == 'close' and resp.body == b'onetwo'


def input_app(mode):
    def app(environ, start_response):
        inp = environ['wsgi.input']
        if mode == 'read':
            parts = [inp.read()]
        elif mode == 'sized':
            parts = list(iter(lambda: inp.read(3), b''))
        elif mode == 'lines':
            parts = list(iter(inp.readline, b''))
        elif mode == 'iter':
            parts = list(inp)
        elif mode == 'readlines':
            parts = inp.readlines()
        start_response('200 OK', [])
        return [b'|'.join(parts)]
    return app


BODY = b'line one\nline two\nlast'


@pytest.mark.parametrize('mode, expected', [
    ('read', BODY), ('sized', b'lin|e o|ne\n|lin|e t|wo\n|las|t'),
    ('lines', b'line one\n|line two\n|last'), ('iter', b'line one\n|line two\n|last'),
    ('readlines', b'line one\n|line two\n|last'),
])
@pytest.mark.parametrize('framing', ['length', 'chunked'])
def test_wsgi_input_reads_by_size_line_and_iteration(mode, expected, framing):
    if framing == 'length':
        body = b'Content-Length: %d\r\n\r\n%s' % (len(BODY), BODY)
    else:
        body = (b'Transfer-Encoding: chunked\r\n\r\n5\r\nline \r\n'
                b'e;name=value;q="a \\"b\\""\r\none\nline two\nl\r\n3\r\nast\r\n0\r\n\r\n')
    with serve(input_app(mode)) as server:
        resp = one_response(exchange(server, b'POST / HTTP/1.1\r\nConnection: close\r\n' + body))
    assert resp.body == expected


def test_expect_100_continue_is_sent_once_at_the_first_read():
    reads = []

    def app(environ, start_response):
        inp = environ['wsgi.input']
        reads.append(inp.read(2))
        reads.append(inp.read())
        start_response('200 OK', [])
        return [b'got']

    with serve(app) as server:
        with connect(server) as conn:
            conn.sendall(b'PUT / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n')
            conn.settimeout(5)
            interim = conn.recv(100)
            assert interim == b'HTTP/1.1 100 Continue\r\n\r\n'
            conn.sendall(b'hello')
            conn.sendall(b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
            responses = parse_responses(read_until_closed(conn))
    assert [r.code for r in responses] == [200, 200]
    assert reads == [b'he', b'llo', b'', b'']


def test_head_gets_the_headers_of_get_without_a_body():
    with serve(hello_app) as server, serve(generator_app) as gen_server:
        data = exchange(server, b'HEAD / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\nConnection: close\r\n\r\n')
        gen = exchange(gen_server, b'HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n')
    responses = parse_responses(data, head_request=True)
    assert [(r.code, r.header('content-length'), r.body) for r in responses] == [
        (200, '5', b''), (200, '5', b'')]
    resp = one_response(gen, head_request=True)
    assert resp.header('transfer-encoding') is None and gen.endswith(b'\r\n\r\n')


@pytest.mark.parametrize('status', ['204 No Content', '304 Not Modified'])
def test_204_and_304_have_no_body_and_no_framing(status):
    def app(environ, start_response):
        start_response(status, [])
        return [b'']

    with serve(app) as server:
        data = exchange(server, b'GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n')
    responses = parse_responses(data)
    assert [r.code for r in responses] == [int(status[:3])] * 2
    for r in responses:
        assert r.header('content-length') is None and r.header('transfer-encoding') is None


def test_a_body_on_a_304_is_an_application_error():
    def app(environ, start_response):
        start_response('304 Not Modified', [])
        return [b'oops']

    hub_errors = quiet_hub()
    with serve(app) as server:
        resp = one_response(exchange(server, b'GET / HTTP/1.1\r\n\r\n'))
    assert resp.code == 500
    assert 'The 304 response must have no body' in hub_errors.getvalue()


class SendRecorder(pywsgi.WSGIHandler):
    sends = []

    def _sendall(self, data):
        SendRecorder.sends.append(bytes(data))
        pywsgi.WSGIHandler._sendall(self, data)


@pytest.mark.parametrize('app', [hello_app, generator_app, echo_app])
def test_headers_and_first_body_chunk_go_out_in_one_send(app):
    SendRecorder.sends = []
    with serve(app, handler_class=SendRecorder) as server:
        exchange(server, b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
    first = SendRecorder.sends[0]
    head, _, body = first.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200 OK') and body


def test_a_list_result_goes_out_in_one_send():
    SendRecorder.sends = []
    with serve(echo_app, handler_class=SendRecorder) as server:
        exchange(server, b'GET /x HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert len(SendRecorder.sends) == 1 and SendRecorder.sends[0].endswith(b'GET /x ')


def test_accepted_sockets_have_tcp_nodelay():
    seen = []

    def app(environ, start_response):
        seen.append(handler_socket[0].getsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY))
        start_response('200 OK', [])
        return []

    handler_socket = []

    class Handler(pywsgi.WSGIHandler):
        def __init__(self, sock, *args):
            handler_socket.append(sock)
            pywsgi.WSGIHandler.__init__(self, sock, *args)

    with serve(app, handler_class=Handler) as server:
        exchange(server, b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert seen and seen[0] != 0


def test_environ_follows_pep3333():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']

    with serve(validator(app), environ={'custom.key': 1}) as server:
        request = (b'POST /a%20b/c?x=1&y=%41 HTTP/1.1\r\nHost: example\r\n'
                   b'Content-Type: text/plain\r\nContent-Length: 2\r\nX-Thing: 1\r\n'
                   b'X-Thing: 2\r\nCookie: a=1\r\nCookie: b=2\r\nX_Hidden: no\r\n'
                   b'Connection: close\r\n\r\nhi')
        resp = one_response(exchange(server, request))
        port = server.server_port
    assert resp.code == 200
    assert seen['REQUEST_METHOD'] == 'POST' and seen['SCRIPT_NAME'] == ''
    assert seen['PATH_INFO'] == '/a b/c' and seen['QUERY_STRING'] == 'x=1&y=%41'
    assert seen['SERVER_PROTOCOL'] == 'HTTP/1.1' and seen['SERVER_PORT'] == str(port)
    assert seen['CONTENT_TYPE'] == 'text/plain' and seen['CONTENT_LENGTH'] == '2'
    assert seen['HTTP_HOST'] == 'example' and seen['HTTP_X_THING'] == '1,2'
    assert seen['HTTP_COOKIE'] == 'a=1; b=2' and 'HTTP_X_HIDDEN' not in seen
    assert 'HTTP_CONTENT_TYPE' not in seen and 'HTTP_CONTENT_LENGTH' not in seen
    assert seen['REMOTE_ADDR'] == '127.0.0.1' and int(seen['REMOTE_PORT']) > 0
    assert seen['wsgi.url_scheme'] == 'http' and seen['wsgi.version'] == (1, 0)
    assert seen['SERVER_SOFTWARE'].startswith('gevent')
    assert seen['custom.key'] == 1 and seen['wsgi.input_terminated'] is True
    assert type(seen['wsgi.input']).__name__ == 'InputWrapper'   # the validator's


def test_path_info_is_unquoted_as_latin1():
    seen = []

    def app(environ, start_response):
        seen.append(environ['PATH_INFO'])
        start_response('200 OK', [])
        return []

    with serve(app) as server:
        exchange(server, b'GET /%D0%BF/\xd0\xbf HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert seen == ['/\xd0\xbf/\xd0\xbf']


def test_an_application_error_is_reported_and_answered_500_without_traceback():
    def app(environ, start_response):
        raise ZeroDivisionError('secret detail')

    hub_errors = quiet_hub()
    with serve(app) as server:
        data = exchange(server, b'GET / HTTP/1.1\r\nCookie: token=abc\r\n\r\n')
    resp = one_response(data)
    assert resp.code == 500 and resp.body == b'Internal Server Error'
    assert b'secret' not in data and b'Traceback' not in data
    report = hub_errors.getvalue()
    assert 'ZeroDivisionError: secret detail' in report
    assert 'token=abc' not in report            # the environ is printed masked


def test_an_error_after_the_headers_closes_the_connection_mid_body():
    def app(environ, start_response):
        start_response('200 OK', [])
        yield b'partial'
        raise ZeroDivisionError('late')

    quiet_hub()
    with serve(app) as server:
        data = exchange(server, b'GET / HTTP/1.1\r\n\r\n')
    assert data.startswith(b'HTTP/1.1 200 OK') and b'partial' in data
    assert not data.endswith(b'0\r\n\r\n')       # no terminating chunk: truncated


@pytest.mark.parametrize('status, headers, message', [
    ('200 OK\r\nX: y', [], 'carriage return or newline in status'),
    ('200 OK', [('X', 'a\r\nSet-Cookie: x')], 'carriage return or newline in header value'),
    ('200 OK', [('X\n', 'a')], 'carriage return or newline in header name'),
    ('200 OK', [('X Y', 'a')], 'invalid header name'),
    ('200 OK', [('X', 'a\x00b')], 'control character in header value'),
    ('OK', [], 'status must begin with a three-digit code'),
])
def test_start_response_refuses_header_injection(status, headers, message):
    errors = []

    def app(environ, start_response):
        try:
            start_response(status, headers)
        except ValueError as ex:
            errors.append(ex.args[0])
            start_response('200 OK', [])
        return [b'safe']

    with serve(app) as server:
        resp = one_response(exchange(server, b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n'))
    assert errors == [message] and resp.body == b'safe'


@pytest.mark.parametrize('header', [b'\xe1\xbd\x8a3'.decode('utf-8'), b'x'])
def test_headers_must_be_latin1_native_strings(header):
    errors = []

    def app(environ, start_response):
        try:
            start_response('200 OK', [('X', header)])
        except UnicodeError as ex:
            errors.append(ex)
            start_response('200 OK', [])
        return []

    with serve(app) as server:
        exchange(server, b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert len(errors) == 1


def test_access_log_has_gevents_format():
    log = io.StringIO()
    with serve(hello_app, log=log) as server:
        exchange(server, b'GET /path?q HTTP/1.1\r\nConnection: close\r\n\r\n')
    line = log.getvalue()
    assert line.startswith('127.0.0.1 - - [') and line.endswith('\n')
    assert '] "GET /path?q HTTP/1.1" 200 ' in line
    assert float(line.split()[-1]) >= 0


def test_a_logger_is_wrapped_and_unknown_attributes_go_to_it():
    class Logger:
        thing = None

        def __init__(self):
            self.records = []

        def log(self, level, msg):
            self.records.append((level, msg))

        def access(self, msg):
            self.records.append(('access', msg))

    logger = Logger()
    server = pywsgi.WSGIServer(('127.0.0.1', 0), hello_app, log=logger, error_log=logger)
    assert isinstance(server.log, pywsgi.LoggingLogAdapter)
    server.log.write('line\n')
    server.error_log.write('bad\n')
    server.log.access('direct')
    server.log.thing = 42
    assert logger.thing == 42
    del server.log.thing
    assert logger.records == [(20, 'line'), (40, 'bad'), ('access', 'direct')]
    adapter = pywsgi.LoggingLogAdapter(logging.getLogger('gevent_c.test'), logging.WARNING)
    assert adapter.name == 'gevent_c.test'
    server.close()


def test_none_logs_are_silent():
    server = pywsgi.WSGIServer(('127.0.0.1', 0), hello_app, log=None, error_log=None)
    server.log.write('x')
    server.error_log.write('x')
    server.close()


def test_environ_classes_mask_copy_and_pickle_as_dicts():
    env = pywsgi.SecureEnviron(key='value')
    assert repr(env).startswith('<pywsgi.SecureEnviron dict (keys: 1) at')
    env.whitelist_keys = ('other',)
    assert repr(env) == "{'key': '<MASKED>'}"
    env.secure_repr = False
    assert repr(env) == "{'key': 'value'}"
    wenv = pywsgi.WSGISecureEnviron(REMOTE_ADDR='::1', HTTP_AUTHORIZATION='secret')
    assert repr(wenv) == "{'REMOTE_ADDR': '::1', (hidden keys: 1)}"
    for cls in (pywsgi.Environ, pywsgi.SecureEnviron):
        copy = cls(a=1).copy()
        assert type(copy) is cls
        assert type(pickle.loads(pickle.dumps(cls(a=1)))) is dict


def test_server_environ_has_url_scheme_and_multiprocess_sets_max_accept():
    server = pywsgi.WSGIServer(('127.0.0.1', 0), hello_app,
                               environ={'wsgi.multiprocess': True})
    assert server.environ['wsgi.url_scheme'] == 'http'
    assert server.max_accept == 1
    assert server.environ['wsgi.errors'] is server.error_log
    server.close()


def test_an_unread_body_is_discarded_and_the_connection_kept():
    with serve(hello_app) as server:
        data = exchange(server, b'POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789'
                                b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
                                b'3\r\nabc\r\n0\r\n\r\n'
                                b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert [r.code for r in parse_responses(data)] == [200, 200, 200]


def test_idle_keep_alive_connection_is_closed_after_idle_timeout():
    class Quick(pywsgi.WSGIHandler):
        idle_timeout = 0.05

    with serve(hello_app, handler_class=Quick) as server:
        with connect(server) as conn:
            conn.sendall(b'GET / HTTP/1.1\r\n\r\n')
            data = read_until_closed(conn)
    assert one_response(data).code == 200


def test_stop_closes_idle_connections_and_lets_requests_finish():
    started = Event()
    release = Event()

    def app(environ, start_response):
        if environ['PATH_INFO'] == '/slow':
            started.set()
            release.wait()
        start_response('200 OK', [])
        return [b'done']

    with serve(app) as server:
        idle = connect(server)
        idle.sendall(b'GET / HTTP/1.1\r\n\r\n')
        idle.settimeout(5)
        assert idle.recv(4096).startswith(b'HTTP/1.1 200 OK')   # now idle, kept alive
        busy = connect(server)
        busy.sendall(b'GET /slow HTTP/1.1\r\n\r\n')
        started.wait(5)
        gevent_c.spawn_later(0.1, release.set)
        server.stop(timeout=5)
        assert read_until_closed(idle) == b''
        resp = one_response(read_until_closed(busy))
        assert resp.body == b'done' and resp.header('connection') == 'close'
        idle.close()
        busy.close()


def test_tls_sets_https_scheme(tmp_path):
    import shutil
    import subprocess
    if shutil.which('openssl') is None:
        pytest.skip('needs the openssl command')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out',
                    'c.pem', '-days', '2', '-subj', '/CN=localhost'],
                   cwd=tmp_path, check=True, capture_output=True)
    from gevent_c import ssl

    def app(environ, start_response):
        start_response('200 OK', [])
        return [environ['wsgi.url_scheme'].encode()]

    with serve(app, certfile=str(tmp_path / 'c.pem'), keyfile=str(tmp_path / 'k.pem')) as server:
        ctx = ssl.create_default_context(cafile=str(tmp_path / 'c.pem'))
        ctx.check_hostname = False
        with ctx.wrap_socket(connect(server)) as tls:
            tls.sendall(b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
            data = b''
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
    assert one_response(data).body == b'https'


def test_input_reads_a_plain_file_like_gevent():
    inp = pywsgi.Input(io.BytesIO(b'12345'), content_length=3)
    assert inp.read() == b'123' and inp.read() == b''
    short = pywsgi.Input(io.BytesIO(b'1'), content_length=2)
    with pytest.raises(IOError):
        short.read()
    chunked = pywsgi.Input(io.BytesIO(b'1\r\na\r\n1\r\nb\r\n0\r\n\r\n'), None, chunked_input=True)
    assert chunked.read(10) == b'ab'
    truncated = pywsgi.Input(io.BytesIO(b'2\r\n1'), None, chunked_input=True)
    with pytest.raises(IOError):
        truncated.read()
    huge = pywsgi.Input(io.BytesIO(b'ab\ncd\n'), content_length=25 * 10 ** 9)
    assert huge.readline(25 * 10 ** 9) == b'ab\n'


def test_an_application_that_never_calls_start_response_ends_the_connection():
    def app(environ, start_response):
        return []

    with serve(app) as server:
        data = exchange(server, b'GET / HTTP/1.1\r\n\r\n')
        errors = server.errors.getvalue()
    assert data == b''                     # closed, not left waiting
    assert 'did not call start_response' in errors


def test_max_accept_can_be_given_to_the_constructor():
    server = pywsgi.WSGIServer(('127.0.0.1', 0), hello_app, max_accept=7)
    assert server.max_accept == 7 and not server.ssl_enabled
    server.close()
    with pytest.raises(ValueError):
        pywsgi.WSGIServer(('127.0.0.1', 0), hello_app, max_accept=0)
