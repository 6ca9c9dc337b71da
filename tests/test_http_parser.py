"""gevent_c._http: the request-head parser in C (ext/http), a pure function
over bytes with a named refusal per rule. It must accept exactly what the
Python parser of gevent_c.pywsgi accepts (a differential fuzz test checks
that, in a subprocess since it drives C code with arbitrary bytes)."""
import pytest

from _isolated import run_isolated

_http = pytest.importorskip('gevent_c._http')

LIMITS = (8192, 8192, 65536, 100)


def parse(data, *limits):
    return _http.parse_request(data, *(limits or LIMITS))


def test_a_request_head_is_split_into_its_parts():
    data = b'GET /a?b=c HTTP/1.1\r\nHost: example \r\nX-Y:\t1 2\t\r\nEmpty:\r\n\r\nbody'
    assert parse(data) == (len(data) - 4, 'GET', '/a?b=c', 1, 1,
                           [('Host', 'example'), ('X-Y', '1 2'), ('Empty', '')])


def test_bytes_above_127_come_back_as_latin1():
    size, method, target, major, minor, pairs = parse(b'GET /\xd0\xbf HTTP/1.0\r\nX: \xff\r\n\r\n')
    assert target == '/\xd0\xbf' and pairs == [('X', '\xff')] and (major, minor) == (1, 0)


def test_up_to_four_empty_lines_before_the_request_are_skipped():
    assert parse(b'\r\n' * 4 + b'GET / HTTP/1.1\r\n\r\n')[0] == 8 + 16 + 2
    code = parse(b'\r\n' * 5 + b'GET / HTTP/1.1\r\n\r\n')
    assert _http.result_name(code) == 'empty_lines'


@pytest.mark.parametrize('data', [
    b'', b'G', b'GET / HTTP/1.1', b'GET / HTTP/1.1\r', b'GET / HTTP/1.1\r\n',
    b'GET / HTTP/1.1\r\nHost: x', b'GET / HTTP/1.1\r\nHost: x\r\n', b'GET / HTTP/1.1\r\n\r',
    b'\r\n', b'\r',
])
def test_an_unfinished_head_is_incomplete(data):
    assert parse(data) == 0 and _http.result_name(0) == 'incomplete'


@pytest.mark.parametrize('data, name, status', [
    (b'GET / HTTP/1.1\n\r\n', 'bare_lf', 400),
    (b'GET / HTTP/1.1\r\nHost: x\n\r\n', 'bare_lf', 400),
    (b'GET / HTTP/1.1\r\nHost: x\r\n\n', 'bare_lf', 400),
    (b'\n', 'bare_lf', 400),
    (b'GET / HTTP/1.1\rX\r\n\r\n', 'bare_cr', 400),
    (b'GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n', 'bare_cr', 400),
    (b'GET / HTTP/1.1\r\n\rX', 'bare_cr', 400),
    (b'GET  / HTTP/1.1\r\n\r\n', 'request_line', 400),
    (b'GET / HTTP/1.1 \r\n\r\n', 'request_line', 400),
    (b'GET /\x00 HTTP/1.1\r\n\r\n', 'request_line', 400),
    (b'G@T / HTTP/1.1\r\n\r\n', 'request_line', 400),
    (b'GET / HTTP/1.10\r\n\r\n', 'request_line', 400),
    (b'GET / HTTPS/1.1\r\n\r\n', 'request_line', 400),
    (b'GET / HTTP/a.1\r\n\r\n', 'request_line', 400),
    (b' / HTTP/1.1\r\n\r\n', 'request_line', 400),
    (b'GET /\r\n\r\n', 'http09', 400),
    (b'GET / HTTP/1.1\r\n X: y\r\n\r\n', 'obs_fold', 400),
    (b'GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n', 'obs_fold', 400),
    (b'GET / HTTP/1.1\r\nX : y\r\n\r\n', 'field_name', 400),
    (b'GET / HTTP/1.1\r\n: y\r\n\r\n', 'field_name', 400),
    (b'GET / HTTP/1.1\r\nNo colon\r\n\r\n', 'field_name', 400),
    (b'GET / HTTP/1.1\r\nX(y): z\r\n\r\n', 'field_name', 400),
    (b'GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n', 'field_value', 400),
    (b'GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n', 'field_value', 400),
    (b'GET / HTTP/1.1\r\nX: a\x1bb\r\n\r\n', 'field_value', 400),
])
def test_each_refusal_has_its_name_and_status(data, name, status):
    code = parse(data)
    assert code < 0
    assert (_http.result_name(code), _http.result_status(code)) == (name, status)


def test_limits_give_414_and_431():
    long_line = b'GET /' + b'a' * 8200 + b' HTTP/1.1\r\n\r\n'
    code = parse(long_line)
    assert (_http.result_name(code), _http.result_status(code)) == ('request_line_too_long', 414)
    # Known too long before its end arrives.
    assert _http.result_status(parse(b'GET /' + b'a' * 9000)) == 414
    code = parse(b'GET / HTTP/1.1\r\nX: ' + b'v' * 9000 + b'\r\n\r\n')
    assert (_http.result_name(code), _http.result_status(code)) == ('field_line_too_long', 431)
    many = b''.join(b'X%d: 1\r\n' % i for i in range(5))
    code = parse(b'GET / HTTP/1.1\r\n' + many + b'\r\n', 8192, 8192, 65536, 4)
    assert _http.result_name(code) == 'too_many_fields'
    assert parse(b'GET / HTTP/1.1\r\n' + many + b'\r\n', 8192, 8192, 65536, 5)[0] > 0
    code = parse(b'GET / HTTP/1.1\r\n' + many + b'\r\n', 8192, 8192, 20, 100)
    assert (_http.result_name(code), _http.result_status(code)) == ('head_too_large', 431)


def test_a_request_line_just_under_the_limit_passes():
    line = b'GET /' + b'a' * (100 - len(b'GET / HTTP/1.1\r\n') - 1) + b' HTTP/1.1\r\n'
    assert len(line) == 99
    assert parse(line + b'\r\n', 100, 8192, 65536, 100)[0] == 101
    assert _http.result_status(parse(b'GET /a' + line[5:] + b'\r\n', 100, 8192, 65536, 100)) == 414


def test_any_bytes_like_object_is_accepted():
    data = b'GET / HTTP/1.1\r\n\r\n'
    for obj in (bytearray(data), memoryview(data)):
        assert parse(obj)[1] == 'GET'


@pytest.mark.parametrize('args, error', [
    ((b'x',), TypeError), (('text', 10, 10, 10, 1), TypeError), ((b'x', 0, 1, 1, 1), ValueError),
    ((b'x', 1, 1, 1, 1), ValueError), ((b'x', 10, -1, 1, 1), ValueError),
    ((b'x', 10, 10, 10, 2 ** 70), OverflowError), ((b'x', 10, 10, 10, 'a'), TypeError),
])
def test_bad_arguments_raise(args, error):
    with pytest.raises(error):
        _http.parse_request(*args)


def test_many_headers_beyond_the_stack_array():
    many = b''.join(b'X%d: %d\r\n' % (i, i) for i in range(1000))
    parsed = parse(b'GET / HTTP/1.1\r\n' + many + b'\r\n', 8192, 8192, 1 << 20, 1000)
    assert len(parsed[5]) == 1000 and parsed[5][-1] == ('X999', '999')


DIFFERENTIAL = r'''
from hypothesis import given, settings, HealthCheck, strategies as st
from gevent_c import _http
from gevent_c.pywsgi import _REQUEST_LINE, _HEADER_BLOCK, _HEADER_FIELD

def reference(data):
    """What pywsgi's Python parser makes of a complete head: None if the
    head is not complete, False if refused, else the parse."""
    text = data.decode('latin-1')
    start = 0
    for _ in range(4):
        if text.startswith('\r\n', start):
            start += 2
    if text.startswith('\r\n', start):
        return None if text.find('\r\n\r\n', start) < 0 else False
    rl_end = text.find('\r\n', start)
    if rl_end < 0:
        return None
    end = text.find('\r\n\r\n', rl_end)
    if end < 0:
        return None
    requestline = text[start:rl_end + 2]
    match = _REQUEST_LINE.match(requestline)
    if match is None or len(requestline) >= 8192:
        return False
    block = text[rl_end + 2:end + 4]
    if block != '\r\n':
        if _HEADER_BLOCK.fullmatch(block) is None:
            return False
        lines = block.split('\r\n')[:-2]
        if any(len(line) + 2 > 8192 for line in lines) or sum(len(l) + 2 for l in lines) > 65536:
            return False
    pairs = _HEADER_FIELD.findall(block)
    if len(pairs) > 100:
        return False
    method, target, major, minor = match.groups()
    return (end + 4, method, target, int(major), int(minor), pairs)

pieces = st.sampled_from([b'GET', b'POST', b' ', b'/', b'/a?b', b'HTTP/1.1', b'HTTP/1.0',
                          b'\r\n', b'\r', b'\n', b':', b': ', b'Host', b'X-Y', b'\t', b'\x00',
                          b'\x7f', b'\xff', b'a', b'1', b'HTTP/', b'.', b'\r\n\r\n', b'(', b'"'])

@st.composite
def heads(draw):
    if draw(st.booleans()):
        return draw(st.binary(max_size=120))
    return b''.join(draw(st.lists(pieces, max_size=40)))

@st.composite
def plausible(draw):
    line = draw(st.sampled_from([b'GET / HTTP/1.1', b'POST /x?y HTTP/1.0', b'GET /', b'G T / HTTP/1.1']))
    fields = draw(st.lists(st.tuples(st.sampled_from([b'Host', b'X-A', b'Bad Name', b'', b' X']),
                                     st.sampled_from([b':', b': ', b' :']),
                                     st.binary(max_size=6),
                                     st.sampled_from([b'\r\n', b'\r\n', b'\n', b'\r'])), max_size=6))
    return b'\r\n' * draw(st.integers(0, 5)) + line + b'\r\n' + b''.join(
        n + c + v + e for n, c, v, e in fields) + b'\r\n' + draw(st.binary(max_size=5))

checked = [0]

@settings(max_examples=2000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.one_of(heads(), plausible()))
def differential(data):
    got = _http.parse_request(data, 8192, 8192, 65536, 100)
    want = reference(data)
    if want is None:
        assert type(got) is int, (data, got)
        return
    checked[0] += 1
    if want is False:
        assert type(got) is int and got < 0, (data, got)
    else:
        assert got == want, (data, got, want)

differential()
# Every prefix of a valid head is incomplete, never refused.
head = b'\r\nPOST /p?q=1 HTTP/1.1\r\nHost: x\r\nX-A:  a b \r\nEmpty:\r\n\r\n'
for n in range(len(head)):
    assert _http.parse_request(head[:n], 8192, 8192, 65536, 100) == 0, head[:n]
print('compared', checked[0] > 500)
'''


def test_c_and_python_parsers_accept_the_same_heads():
    pytest.importorskip('hypothesis')
    assert run_isolated(DIFFERENTIAL, timeout=300).strip() == 'compared True'
