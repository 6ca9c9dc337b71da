"""gevent_c.pywsgi on the open Internet: one test per request-smuggling or
abuse vector. Each must be answered with its status and the connection
closed: never a traceback, never a request that reaches the application
from bytes that were not a request."""
import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _httptest import connect, exchange, one_response, parse_responses, read_until_closed, serve

from gevent_c import pywsgi, socket


class Recorder:
    """An echo application remembering each request it saw."""

    def __init__(self):
        self.seen = []

    def __call__(self, environ, start_response):
        body = environ['wsgi.input'].read()
        self.seen.append((environ['REQUEST_METHOD'], environ['PATH_INFO'], body))
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [body]


def assert_refused(request, code, handler_class=None, app_calls=0):
    """Send *request*; the answer must be *code*, then the connection closes."""
    app = Recorder()
    with serve(app, handler_class=handler_class) as server:
        data = exchange(server, request)
        errors = server.errors.getvalue()
    responses = parse_responses(data)
    assert responses, 'no response'
    last = responses[-1]
    assert last.code == code, (last, responses)
    assert last.header('connection') == 'close'
    assert b'Traceback' not in data and 'Traceback' not in errors
    assert len(app.seen) == app_calls, app.seen
    return app, responses


# -- request line ---------------------------------------------------------------

@pytest.mark.parametrize('line', [
    b'GET / HTTP/1.1\n',                      # bare LF
    b'GET / HTTP/1.1\r',                      # bare CR (then the headers)
    b'GET /\r HTTP/1.1\r\n',                  # bare CR inside
    b'GET  / HTTP/1.1\r\n',                   # two spaces
    b'GET / HTTP/1.1 \r\n',                   # trailing space
    b'GET /a\x00b HTTP/1.1\r\n',              # NUL in the target
    b'GET /a\x7fb HTTP/1.1\r\n',              # DEL in the target
    b'G\x01T / HTTP/1.1\r\n',                 # control byte in the method
    b'GET / http/1.1\r\n',                    # lower-case version
    b'GET / HTTP/1\r\n',                      # no minor version
    b'GET / HTTP/11.1\r\n',
    b'GET /\r\n',                             # HTTP/0.9
    b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n',   # TLS sent to plain HTTP
])
def test_malformed_request_lines_are_refused_with_400(line):
    assert_refused(line + b'Host: x\r\n\r\n', 400)


@pytest.mark.parametrize('target', [
    b'http://example.com/', b'https://example.com/admin', b'HTTP://x/',
    b'example.com:443', b'*', b'../etc/passwd', b'?q=1',
])
def test_targets_other_than_origin_form_are_refused(target):
    method = b'CONNECT' if target == b'example.com:443' else b'GET'
    assert_refused(method + b' ' + target + b' HTTP/1.1\r\nHost: x\r\n\r\n', 400)


def test_options_asterisk_is_accepted():
    app = Recorder()
    with serve(app) as server:
        resp = one_response(exchange(server, b'OPTIONS * HTTP/1.1\r\nConnection: close\r\n\r\n'))
    assert resp.code == 200 and app.seen == [('OPTIONS', '*', b'')]


@pytest.mark.parametrize('version', [b'HTTP/2.0', b'HTTP/0.9', b'HTTP/1.2', b'HTTP/3.0'])
def test_other_http_versions_get_505(version):
    assert_refused(b'GET / ' + version + b'\r\nHost: x\r\n\r\n', 505)


def test_an_overlong_request_line_gets_414():
    assert_refused(b'GET /' + b'a' * pywsgi.MAX_REQUEST_LINE + b' HTTP/1.1\r\n\r\n', 414)


def test_a_line_of_garbage_without_newline_gets_414():
    assert_refused(b'x' * (pywsgi.MAX_REQUEST_LINE + 100), 414)


# -- header lines ---------------------------------------------------------------

@pytest.mark.parametrize('header', [
    b'Host: x\n',                             # bare LF
    b'Host: x\ry: z\r\n',                     # bare CR
    b'Host : x\r\n',                          # space before the colon
    b'Host\t: x\r\n',
    b' Host: x\r\n',                          # leading whitespace
    b'X-A: 1\r\n continued\r\n',              # obs-fold
    b'X-A: 1\r\n\tcontinued\r\n',             # obs-fold with a tab
    b'X-A: a\x00b\r\n',                       # NUL in a value
    b'X-A: a\x01b\r\n',                       # control byte in a value
    b'X-A: a\x7fb\r\n',                       # DEL in a value
    b'X\x00A: 1\r\n',                         # NUL in a name
    b'X(A): 1\r\n',                           # not a token
    b': empty name\r\n',
    b'no colon at all\r\n',
    b'Host: a\r\nHost: b\r\n',                # several Host headers
])
def test_malformed_header_lines_are_refused_with_400(header):
    assert_refused(b'GET / HTTP/1.1\r\n' + header + b'\r\n', 400)


def test_an_overlong_header_line_gets_431():
    assert_refused(b'GET / HTTP/1.1\r\nX-Big: ' + b'a' * 9000 + b'\r\n\r\n', 431)


def test_too_many_headers_get_431():
    headers = b''.join(b'X-%d: 1\r\n' % i for i in range(101))
    assert_refused(b'GET / HTTP/1.1\r\n' + headers + b'\r\n', 431)


def test_a_request_head_too_large_in_total_gets_431():
    headers = b''.join(b'X-%d: %s\r\n' % (i, b'v' * 8000) for i in range(9))
    assert_refused(b'GET / HTTP/1.1\r\n' + headers + b'\r\n', 431)


def test_the_limits_can_be_lowered_on_a_handler_subclass():
    class Strict(pywsgi.WSGIHandler):
        max_header_count = 2

    assert_refused(b'GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', 431, handler_class=Strict)


# -- body framing (request smuggling) ---------------------------------------------

def test_content_length_with_transfer_encoding_is_refused():
    # CL.TE / TE.CL desync: a front end and this server could disagree.
    assert_refused(b'POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n'
                   b'\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n', 400)


@pytest.mark.parametrize('lengths', [
    b'Content-Length: 5\r\nContent-Length: 5\r\n',
    b'Content-Length: 5\r\nContent-Length: 50\r\n',
    b'Content-Length: 5, 5\r\n',
])
def test_several_content_lengths_are_refused(lengths):
    assert_refused(b'POST / HTTP/1.1\r\n' + lengths + b'\r\nhello', 400)


@pytest.mark.parametrize('value', [b'abc', b'-1', b'+5', b'0x5', b'5 5', b'1_0', b'5.0',
                                   b'\xb2', b'', b'1' * 19])
def test_invalid_content_lengths_are_refused(value):
    assert_refused(b'POST / HTTP/1.1\r\nContent-Length: ' + value + b'\r\n\r\nhello', 400)


@pytest.mark.parametrize('te', [
    b'Transfer-Encoding: gzip, chunked\r\n', b'Transfer-Encoding: chunked, chunked\r\n',
    b'Transfer-Encoding: identity\r\n', b'Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n',
    b'Transfer-Encoding: xchunked\r\n', b'Transfer-Encoding: \x0bchunked\r\n',
])
def test_transfer_encodings_other_than_chunked_are_refused(te):
    assert_refused(b'POST / HTTP/1.1\r\n' + te + b'\r\n0\r\n\r\n', 400)


def test_transfer_encoding_in_http10_is_refused():
    assert_refused(b'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400)


@pytest.mark.parametrize('chunks', [
    b'-1\r\nx\r\n0\r\n\r\n',                   # negative
    b'10000000000000000\r\n',                  # 17 hex digits
    b'0x5\r\nhello\r\n0\r\n\r\n',              # a prefix int() would take
    b'g\r\nx\r\n0\r\n\r\n',                    # not hex
    b' 5\r\nhello\r\n0\r\n\r\n',               # leading space
    b'5 \r\nhello\r\n0\r\n\r\n',               # trailing space
    b'1_0\r\n0123456789012345\r\n0\r\n\r\n',   # underscore
    b'5\nhello\r\n0\r\n\r\n',                  # bare LF after the size
    b'5\r\nhelloXX0\r\n\r\n',                  # data not followed by CRLF
    b'5\r\nhello\n0\r\n\r\n',
    b'5;\r\nhello\r\n0\r\n\r\n',               # empty extension
    b'5;a b\r\nhello\r\n0\r\n\r\n',            # malformed extension
    b'5;a\x00\r\nhello\r\n0\r\n\r\n',          # NUL in an extension
    b'5;a="x\r\nhello\r\n0\r\n\r\n',           # unterminated quoted string
])
def test_bad_chunked_framing_is_answered_400_and_closed(chunks):
    # The application reads the body first, so the error comes before any
    # response: 400 (Recorder never gets to record).
    assert_refused(b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' + chunks
                   + b'GET /smuggled HTTP/1.1\r\n\r\n', 400)


def test_chunked_trailer_smuggling_is_refused_cve_2023_41419():
    # A request line hidden as a trailer must never be run as a request.
    request = (b'POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
               b'2\r\noh\r\n0\r\n'
               b'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n')
    assert_refused(request, 400)


def test_an_overlong_trailer_is_refused():
    assert_refused(b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n'
                   b'X-T: ' + b't' * 9000 + b'\r\n\r\n', 400)


def test_valid_trailers_are_read_and_dropped():
    app = Recorder()
    with serve(app) as server:
        data = exchange(server, b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
                                b'2\r\nok\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n'
                                b'GET /next HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert [r.code for r in parse_responses(data)] == [200, 200]
    assert app.seen == [('POST', '/', b'ok'), ('GET', '/next', b'')]


def test_a_bad_body_after_the_response_closes_without_a_second_response():
    # The application answered before reading; the body is discarded and
    # found broken: nothing more is sent, and what follows is not parsed.
    def app(environ, start_response):
        start_response('200 OK', [])
        return [b'early']

    with serve(app) as server:
        data = exchange(server, b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
                                b'2\r\nok\r\n0GET /smuggled HTTP/1.1\r\n\r\n')
    responses = parse_responses(data)
    assert [r.code for r in responses] == [200]


def test_expect_continue_with_the_body_already_sent_never_desyncs_gevent_2075():
    # The application answers without reading the body: the server cannot
    # know whether the client will send the body, so it closes the
    # connection; the body (a request in disguise) is never run.
    calls = []

    def app(environ, start_response):
        calls.append(environ['PATH_INFO'])
        start_response('417 Expectation Failed', [('Content-Length', '0')])
        return []

    inner = b'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'
    request = (b'PUT /upload HTTP/1.1\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n'
               % len(inner)) + inner
    with serve(app) as server:
        data = exchange(server, request)
    resp = one_response(data)
    assert resp.code == 417 and resp.header('connection') == 'close'
    assert b'100 Continue' not in data
    assert calls == ['/upload']


def test_expect_continue_is_not_sent_after_the_final_response():
    def app(environ, start_response):
        write = start_response('200 OK', [])
        write(b'first')
        return [environ['wsgi.input'].read()]

    with serve(app) as server:
        with connect(server) as conn:
            conn.sendall(b'PUT / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi')
            data = read_until_closed(conn)
    assert b'100 Continue' not in data
    assert one_response(data).body == b'firsthi'


# -- sizes and time ---------------------------------------------------------------

def test_a_body_over_max_body_size_gets_413_before_the_application():
    class Small(pywsgi.WSGIHandler):
        max_body_size = 10

    assert_refused(b'POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n' + b'x' * 11, 413,
                   handler_class=Small)


def test_a_chunked_body_over_max_body_size_gets_413():
    class Small(pywsgi.WSGIHandler):
        max_body_size = 10

    assert_refused(b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'
                   b'8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n', 413, handler_class=Small)


def test_a_large_unread_body_is_not_read_and_the_connection_closes():
    class Small(pywsgi.WSGIHandler):
        max_discard = 100

    def app(environ, start_response):
        start_response('200 OK', [])
        return [b'ignored the body']

    body = b'GET /smuggled HTTP/1.1\r\n\r\n' * 20
    with serve(app, handler_class=Small) as server:
        data = exchange(server, b'POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n' % len(body)
                        + body)
    assert [r.code for r in parse_responses(data)] == [200]


def test_slowloris_head_gets_408_after_header_timeout():
    class Quick(pywsgi.WSGIHandler):
        header_timeout = 0.1

    app = Recorder()
    with serve(app, handler_class=Quick) as server:
        with connect(server) as conn:
            conn.sendall(b'GET / HTTP/1.1\r\nX-Slow: ')
            data = read_until_closed(conn)
    resp = one_response(data)
    assert resp.code == 408 and resp.header('connection') == 'close' and not app.seen


def test_a_slow_body_times_out_per_read():
    class Quick(pywsgi.WSGIHandler):
        socket_timeout = 0.1

    app = Recorder()
    with serve(app, handler_class=Quick) as server:
        with connect(server) as conn:
            conn.sendall(b'POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a part')
            data = read_until_closed(conn)
    assert not app.seen
    assert b'Traceback' not in data


def test_a_connection_that_never_sends_is_closed_after_idle_timeout():
    class Quick(pywsgi.WSGIHandler):
        idle_timeout = 0.05

    with serve(Recorder(), handler_class=Quick) as server:
        with connect(server) as conn:
            assert read_until_closed(conn) == b''


def test_empty_lines_before_a_request_are_skipped_but_not_forever():
    app = Recorder()
    with serve(app) as server:
        for empty in (b'\r\n', b'\r\n\r\n'):
            ok = exchange(server, empty + b'GET / HTTP/1.1\r\nConnection: close\r\n\r\n')
            assert one_response(ok).code == 200
    assert_refused(b'\r\n' * 10 + b'GET / HTTP/1.1\r\n\r\n', 400)


def test_refusals_are_logged_with_escaped_bytes():
    import io
    log = io.StringIO()
    with serve(Recorder(), log=log) as server:
        exchange(server, b'GET /\x00\x1b[31m HTTP/1.1\r\n\r\n')
    line = log.getvalue()
    assert '\x00' not in line and '\x1b' not in line and ' 400 ' in line


@pytest.mark.parametrize('body', [
    b'Content-Length: 10\r\n\r\nshort',
    b'Transfer-Encoding: chunked\r\n\r\n5\r\nhel',
    b'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n',
])
def test_a_body_cut_short_by_the_client_is_a_400_not_a_500(body):
    # The client half-closes inside the body: a client error, logged in one
    # line, never an application traceback an attacker could repeat at will.
    import io
    import gevent_c
    hub_errors = io.StringIO()
    gevent_c.get_hub().exception_stream = hub_errors
    app = Recorder()
    with serve(app) as server:
        with connect(server) as conn:
            conn.sendall(b'POST / HTTP/1.1\r\n' + body)
            conn.shutdown(socket.SHUT_WR)
            data = read_until_closed(conn)
        errors = server.errors.getvalue()
    resp = one_response(data)
    assert resp.code == 400 and resp.header('connection') == 'close'
    assert hub_errors.getvalue() == '' and 'unexpected end of file' in errors
    assert not app.seen


def test_a_tls_client_that_never_finishes_the_handshake_is_dropped(tmp_path):
    import io
    import shutil
    import subprocess
    import gevent_c
    if shutil.which('openssl') is None:
        pytest.skip('needs the openssl command')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out',
                    'c.pem', '-days', '2', '-subj', '/CN=localhost'],
                   cwd=tmp_path, check=True, capture_output=True)

    class Quick(pywsgi.WSGIHandler):
        header_timeout = 0.1

    hub_errors = io.StringIO()
    gevent_c.get_hub().exception_stream = hub_errors
    with serve(Recorder(), handler_class=Quick, certfile=str(tmp_path / 'c.pem'),
               keyfile=str(tmp_path / 'k.pem')) as server:
        with connect(server) as silent:
            assert read_until_closed(silent) == b''          # never said hello
        with connect(server) as garbage:
            garbage.sendall(b'GET / HTTP/1.1\r\n\r\n')      # plain HTTP to a TLS port
            read_until_closed(garbage)
        errors = server.errors.getvalue()
    assert errors.count('TLS handshake') == 2 and hub_errors.getvalue() == ''


def test_expect_continue_is_ignored_in_http10():
    with serve(Recorder()) as server:
        with connect(server) as conn:
            conn.sendall(b'PUT / HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi')
            data = read_until_closed(conn)
    assert b'100 Continue' not in data and one_response(data).body == b'hi'
