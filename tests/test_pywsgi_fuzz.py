"""Fuzzing the request parser (hypothesis, bounded): whatever the bytes, the
handler ends, never raises, never answers 500 or with a traceback, and what
it sends is a well-formed sequence of responses."""
import io

import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from _hubtest import clean_hub  # noqa: F401,E402 -- fixture
from _httptest import parse_responses  # noqa: E402

import gevent_c  # noqa: E402
from gevent_c import pywsgi, socket  # noqa: E402
from gevent_c.timeout import Timeout  # noqa: E402

FUZZ = settings(max_examples=250, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

ALLOWED = {100, 200, 400, 408, 413, 414, 431, 505}

methods = st.sampled_from([b'GET', b'POST', b'HEAD', b'PUT', b'OPTIONS', b'G ET', b'', b'GET\x00'])
targets = st.sampled_from([b'/', b'/a?b=c', b'*', b'http://x/', b'/%00', b'/\x00', b'/a b',
                           b'/' + b'x' * 9000])
versions = st.sampled_from([b'HTTP/1.1', b'HTTP/1.0', b'HTTP/2.0', b'HTTP/1.1 ', b'', b'http/1.1'])
eols = st.sampled_from([b'\r\n', b'\r\n', b'\r\n', b'\n', b'\r', b'\r\r\n'])
names = st.sampled_from([b'Host', b'Content-Length', b'Transfer-Encoding', b'Connection',
                         b'Expect', b'X-A', b'Bad Name', b'', b' Host', b'X_U', b'Cookie'])
values = st.sampled_from([b'chunked', b'5', b'0', b'-1', b'close', b'keep-alive',
                          b'100-continue', b'x\x00y', b' 5', b'5, 5', b'gzip, chunked',
                          b'Chunked', b'99999999999999999999', b'x' * 9000, b''])
separators = st.sampled_from([b': ', b':', b' : ', b':\t'])
chunk_bodies = st.lists(
    st.tuples(st.sampled_from([b'5', b'0', b'ff', b'-1', b'5;a=b', b'5;a="q"', b'g', b'0x5']),
              st.binary(max_size=8), eols),
    max_size=4).map(lambda parts: b''.join(size + eol + data + eol for size, data, eol in parts))
bodies = st.one_of(st.binary(max_size=20), chunk_bodies)


@st.composite
def odd_requests(draw):
    line = draw(methods) + b' ' + draw(targets) + b' ' + draw(versions) + draw(eols)
    headers = b''.join(draw(names) + draw(separators) + draw(values) + draw(eols)
                       for _ in range(draw(st.integers(0, 5))))
    return line + headers + draw(eols) + draw(bodies)


@st.composite
def valid_requests(draw):
    method = draw(st.sampled_from([b'GET', b'POST', b'PUT', b'HEAD']))
    version = draw(st.sampled_from([b'HTTP/1.1', b'HTTP/1.1', b'HTTP/1.0']))
    head = [method + b' /p?q=' + draw(st.binary(max_size=3)).hex().encode() + b' ' + version]
    body = draw(st.binary(max_size=30))
    framing = draw(st.sampled_from(['length', 'chunked', 'none']))
    if framing == 'chunked' and version == b'HTTP/1.1':
        head.append(b'Transfer-Encoding: chunked')
        cut = draw(st.integers(0, len(body)))
        pieces = [p for p in (body[:cut], body[cut:]) if p]
        body = b''.join(b'%x\r\n%s\r\n' % (len(p), p) for p in pieces) + b'0\r\n'
        if draw(st.booleans()):
            body += b'X-Trailer: 1\r\n'
        body += b'\r\n'
    elif framing == 'length':
        head.append(b'Content-Length: %d' % len(body))
    else:
        body = b''
    for header in draw(st.lists(st.sampled_from([
            b'Host: x', b'Connection: close', b'Connection: keep-alive',
            b'Expect: 100-continue', b'Cookie: a=b', b'X-A: 1']), max_size=3)):
        head.append(header)
    return b'\r\n'.join(head) + b'\r\n\r\n' + body


@st.composite
def streams(draw):
    requests = st.one_of(valid_requests(), valid_requests(), odd_requests())
    data = b''.join(draw(st.lists(requests, min_size=1, max_size=3)))
    for _ in range(draw(st.integers(0, 2))):
        if not data:
            break
        where = draw(st.integers(0, len(data) - 1))
        data = data[:where] + draw(st.binary(max_size=3)) + data[where + 1:]
    return data


def app(environ, start_response):
    # No body in the answer, so HEAD and GET responses frame alike in a
    # pipeline whatever the fuzzer made of the methods.
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('X-Read', str(len(body)))])
    return []


class _Probe:
    server = None


@pytest.fixture
def server():
    errors = io.StringIO()
    hub_errors = io.StringIO()
    gevent_c.get_hub().exception_stream = hub_errors

    class Quick(pywsgi.WSGIHandler):
        header_timeout = 2
        socket_timeout = 2
        linger_timeout = 0.5

    srv = pywsgi.WSGIServer(('127.0.0.1', 0), app, log=None, error_log=errors,
                            handler_class=Quick)
    srv.start()
    srv.hub_errors = hub_errors
    yield srv
    srv.stop()


def run_connection(server, data):
    """Feed *data* to a handler over a socket pair; return what it sent."""
    mine, theirs = socket.socketpair()
    try:
        glet = gevent_c.spawn(server.handle, theirs, ('127.0.0.1', 1))
        with Timeout(10, AssertionError('the handler hung')):
            mine.sendall(data)
            mine.shutdown(socket.SHUT_WR)
            out = []
            while True:
                chunk = mine.recv(65536)
                if not chunk:
                    break
                out.append(chunk)
            glet.join()
        assert glet.dead and glet.successful(), glet.exception
        return b''.join(out)
    finally:
        mine.close()
        theirs.close()


def check(server, data):
    out = run_connection(server, data)
    assert b'Traceback' not in out
    responses = parse_responses(out)
    for resp in responses:
        assert resp.code in ALLOWED, (resp, data)
    assert server.hub_errors.getvalue() == ''


@FUZZ
@given(data=streams())
def test_structured_requests_never_break_the_handler(server, data):
    check(server, data)


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_never_break_the_handler(server, data):
    check(server, data)


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(data=st.one_of(chunk_bodies.map(lambda b: b + b'0\r\n\r\n'), st.binary(max_size=200)),
       size=st.one_of(st.none(), st.integers(1, 10)))
def test_chunked_input_only_returns_data_or_raises_ioerror(data, size):
    inp = pywsgi.Input(io.BytesIO(data), None, chunked_input=True)
    try:
        for _ in range(300):
            if not inp.read(size):
                break
        else:
            pytest.fail('reads never ended')
    except IOError:
        pass
