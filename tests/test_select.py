"""gevent_c.select: select() and poll() wait on the hub, answer like the stdlib."""
import errno
import os
import select as stdselect

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c
from gevent_c import select, socket


def exc_signature(func, *args):
    try:
        func(*args)
    except BaseException as exc:  # noqa: B036
        return type(exc), getattr(exc, 'errno', None), str(exc)
    return None


def test_module_names():
    assert select.error is stdselect.error is OSError
    assert set(select.__implements__) == {'select', 'poll'}


def test_select_returns_ready_objects_at_once(pair):
    a, b = pair
    assert select.select([b], [a], [], None) == ([], [a], [])
    a.send(b'x')
    assert select.select([b, a], [], [], 5) == ([b], [], [])
    assert select.select([b.fileno()], [], []) == ([b.fileno()], [], [])


def test_select_waits_cooperatively_until_readable(pair):
    a, b = pair
    order = []

    def writer():
        order.append('writer')
        a.send(b'x')

    gevent_c.spawn(writer)
    assert select.select([b], [], [], 5) == ([b], [], [])
    assert order == ['writer']


def test_select_timeout_returns_empty_lists(pair):
    a, b = pair
    assert select.select([b], [], [], 0.01) == ([], [], [])
    assert select.select([b], [], [], 0) == ([], [], [])
    assert select.select([], [], [], 0.001) == ([], [], [])


def test_select_accepts_any_iterable(pair):
    a, b = pair
    assert select.select(iter([b]), (x for x in [a]), set(), 1) == ([], [a], [])


@pytest.mark.parametrize('args', [
    (5, [], []), ([], [], [], 'x'), ([], [], [], -1), ([], [], [], float('nan')),
    ([], [], [], 1e300), ([], [], [], 10 ** 10), ([], [], [], 2 ** 70), (['x'], [], [], 0),
    ([-1], [], [], 0), ([5000], [], [], 0), ([2 ** 20 - 3], [], [], 0),
], ids=['not-sequence', 'timeout-str', 'timeout-negative', 'timeout-nan', 'timeout-huge',
        'timeout-huge-int', 'timeout-huger-int', 'bad-object', 'negative-fd', 'fd-too-large',
        'closed-fd'])
def test_select_errors_match_the_stdlib(args):
    assert exc_signature(select.select, *args) == exc_signature(stdselect.select, *args)
    assert exc_signature(select.select, *args) is not None


@pytest.mark.timeout(20)
def test_closing_a_socket_wakes_select_and_poll_with_its_error():
    a, b = socket.socketpair()
    g = gevent_c.spawn(select.select, [b], [], [], 5)
    p = select.poll()
    p.register(a, select.POLLIN)
    h = gevent_c.spawn(p.poll, 5000)
    gevent_c.sleep(0.01)
    fd = a.fileno()
    b.close()
    a.close()
    gevent_c.sleep(0.01)
    g.join()
    # The stdlib's answer for a closed socket object: ValueError (fileno() is -1).
    assert isinstance(g.exception, ValueError)
    assert h.get() == [(fd, select.POLLNVAL)]
    r, w = os.pipe()
    g = gevent_c.spawn(select.select, [r], [], [], 5)
    gevent_c.sleep(0.01)
    gevent_c.get_hub().loop.closing_fd(r)
    os.close(r)
    os.close(w)
    gevent_c.sleep(0.01)
    g.join()
    assert isinstance(g.exception, OSError) and g.exception.errno == errno.EBADF


@pytest.mark.parametrize('timeout', [2 ** 31, 2 ** 40, 2 ** 63, 2 ** 70, 2.0 ** 31, 9.3e12, 1e300],
                         ids=['int-past-c-int', 'int-huge', 'int-past-clock', 'int-huger',
                              'float-past-c-int', 'float-past-clock', 'float-huge'])
def test_poll_timeout_overflow_matches_the_stdlib(timeout):
    # the messages change across versions (3.10, 3.11, 3.13); ours follow
    assert exc_signature(select.poll().poll, timeout) == \
        exc_signature(stdselect.poll().poll, timeout)
    assert exc_signature(select.poll().poll, timeout)[0] is OverflowError


def test_poll_registers_and_reports_events_like_the_stdlib(pair):
    a, b = pair
    ours, ref = select.poll(), stdselect.poll()
    for p in (ours, ref):
        p.register(b, select.POLLIN)
        p.register(a.fileno(), select.POLLOUT)
    assert sorted(ours.poll(0)) == sorted(ref.poll(0)) == [(a.fileno(), select.POLLOUT)]
    for p in (ours, ref):
        p.unregister(a)
    a.send(b'x')
    assert ours.poll(100) == ref.poll(0) == [(b.fileno(), select.POLLIN)]
    for p in (ours, ref):
        p.modify(b, select.POLLOUT)
    assert ours.poll(10) == ref.poll(0) == [(b.fileno(), select.POLLOUT)]


def test_poll_waits_cooperatively_and_times_out(pair):
    a, b = pair
    p = select.poll()
    p.register(b, select.POLLIN)
    assert p.poll(10) == []
    assert p.poll(0.5) == []
    g = gevent_c.spawn(p.poll)
    gevent_c.sleep(0.01)
    assert not g.dead
    a.send(b'x')
    assert g.get() == [(b.fileno(), select.POLLIN)]
    b.recv(1)
    g = gevent_c.spawn(p.poll, -1)
    gevent_c.sleep(0.01)
    a.send(b'y')
    assert g.get() == [(b.fileno(), select.POLLIN)]


def test_poll_reports_hangup_and_invalid_descriptors():
    a, b = socket.socketpair()
    p = select.poll()
    p.register(b, select.POLLIN)
    g = gevent_c.spawn(p.poll, 5000)
    gevent_c.sleep(0.01)
    a.close()
    events = dict(g.get())
    assert events[b.fileno()] & (select.POLLHUP | select.POLLIN)
    fd = b.fileno()
    b.close()
    assert p.poll(10) == [(fd, select.POLLNVAL)]


@pytest.mark.parametrize('call', [
    lambda p: p.register('x'), lambda p: p.register(-1), lambda p: p.register(1, 'x'),
    lambda p: p.modify(55, 1), lambda p: p.unregister(55), lambda p: p.poll('x'),
    lambda p: p.poll(float('nan')), lambda p: p.poll(2 ** 40),
], ids=['register-str', 'register-negative', 'register-mask', 'modify-unknown',
        'unregister-unknown', 'poll-str', 'poll-nan', 'poll-huge'])
def test_poll_errors_match_the_stdlib(call):
    assert exc_signature(call, select.poll()) == exc_signature(call, stdselect.poll())
    assert exc_signature(call, select.poll()) is not None


def test_many_greenlets_select_at_once():
    pairs = [socket.socketpair() for _ in range(50)]
    greenlets = [gevent_c.spawn(select.select, [b], [], [], 5) for _, b in pairs]
    gevent_c.sleep(0.01)
    for a, _ in reversed(pairs):
        a.send(b'!')
    gevent_c.joinall(greenlets, raise_error=True)
    assert [g.value[0] for g in greenlets] == [[b] for _, b in pairs]
    for a, b in pairs:
        a.close()
        b.close()
