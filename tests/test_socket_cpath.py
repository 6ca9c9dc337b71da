"""The socket methods written in C (gevent_c._core.SocketMethods).

recv, recv_into, send, sendall, _wait_read and _wait_write of
gevent_c.socket.socket run in C and reach the socket's __slots__ directly.
These tests cover what only that path has: its argument shapes, the sizes
where it switches buffers or releases the GIL, hand-over to stdlib methods
for unusual arguments, watchers and loops that are not gevent_c's own, and
its refusal of objects that are not gevent_c sockets.
"""
import socket as stdsocket
import sys
import threading

import pytest

from _hubtest import clean_hub  # noqa: F401 -- fixture
from _isolated import run_isolated

import gevent_c
from gevent_c import _core, socket
from gevent_c._hub_local import set_hub
from gevent_c.hub import Hub


def outcome(func, *args, **kwargs):
    try:
        return 'returned', func(*args, **kwargs)
    except BaseException as exc:  # noqa: B036 -- comparing whatever is raised
        return type(exc), getattr(exc, 'errno', None), str(exc)


def pair(mod):
    a, b = mod.socketpair()
    return a, b


# -- arguments: the same results and errors as the stdlib ----------------------

CALLS = [
    ('recv', (4,), {}), ('recv', (4, 0), {}), ('recv', (0,), {}),
    ('recv', (4.0,), {}), ('recv', (4,), {'flags': 0}), ('recv', (4, 2 ** 40), {}),
    ('recv', (-1,), {}), ('recv', (2 ** 70,), {}), ('recv', (4, 'x'), {}),
    ('recv', (), {}), ('recv', (1, 2, 3), {}),
    ('recv_into', (bytearray(8),), {}), ('recv_into', (bytearray(8), 2), {}),
    ('recv_into', (bytearray(8), 0, 0), {}), ('recv_into', (bytearray(8), -1), {}),
    ('recv_into', (bytearray(8), 9), {}), ('recv_into', (bytearray(8), 'x'), {}),
    ('recv_into', (b'ro',), {}), ('recv_into', (), {'buffer': bytearray(8)}),
    ('recv_into', (bytearray(8),), {'nbytes': 3}), ('recv_into', (memoryview(bytearray(8))[::2],), {}),
    ('send', (b'abc',), {}), ('send', (bytearray(b'abc'), 0), {}), ('send', ('text',), {}),
    ('send', (b'abc', 'x'), {}), ('send', (b'abc',), {'flags': 0}), ('send', (), {}),
    ('send', (memoryview(b'abcdef')[::2],), {}),
    ('sendall', (b'abc',), {}), ('sendall', (memoryview(b'abc'),), {}), ('sendall', ('text',), {}),
    ('sendall', (b'abc', 'x'), {}), ('sendall', (b'abc', 2 ** 40), {}), ('sendall', (), {}),
    ('sendall', (memoryview(b'abcdef')[::2],), {}),
    ('recvfrom', (4,), {}), ('recvfrom', ('x',), {}), ('recvfrom', (4,), {'flags': 0}),
    ('recvfrom_into', (bytearray(8),), {}), ('recvfrom_into', (bytearray(8), 9), {}),
    ('recvfrom_into', (), {'buffer': bytearray(8), 'nbytes': 2}),
    ('recvmsg', (4,), {}), ('recvmsg', (4, 0, 0), {}), ('recvmsg', (-1,), {}),
    ('recvmsg_into', ([bytearray(3), bytearray(3)],), {}), ('recvmsg_into', ([b'ro'],), {}),
    ('sendmsg', ([b'ab', b'cd'],), {}), ('sendmsg', ('text',), {}), ('sendmsg', ([b'x'], [], 0), {}),
]


@pytest.mark.parametrize('name,args,kwargs', CALLS,
                         ids=['%s-%d' % (c[0], i) for i, c in enumerate(CALLS)])
def test_every_argument_shape_behaves_like_the_stdlib(name, args, kwargs):
    results = []
    for mod in (socket, stdsocket):
        a, b = pair(mod)
        b.sendall(b'0123456789')
        a.settimeout(1)
        with a, b:
            results.append(outcome(getattr(a, name), *args, **kwargs))
    assert results[0] == results[1]


def test_recv_returns_what_the_stdlib_returns_for_each_size():
    for size in (0, 1, 64, 8191, 8192, 8193, 65535, 65536, 200_000):
        got = []
        for mod in (socket, stdsocket):
            a, b = pair(mod)
            with a, b:
                b.sendall(b'x' * 100_000)
                got.append(a.recv(size))
        assert got[0] == got[1], size


@pytest.mark.parametrize('name,args', [
    ('recvfrom', (5,)), ('recvfrom_into', (bytearray(5),)), ('recvmsg', (5,)),
    ('recvmsg_into', ([bytearray(5)],)),
])
def test_receive_calls_wait_while_other_greenlets_run(name, args):
    a, b = socket.socketpair()
    with a, b:
        reader = gevent_c.spawn(getattr(a, name), *args)
        gevent_c.sleep(0)
        assert not reader.ready()          # waiting on the hub, not in the kernel
        b.sendall(b'hello')
        result = reader.get(timeout=2)
    first = result[0]
    assert first == b'hello' or first == 5


def test_sendmsg_waits_for_room_in_the_kernel_buffer():
    a, b = socket.socketpair()
    with a, b:
        a.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, 4096)
        chunk = b'm' * 65536
        sent = []

        def writer():
            for _ in range(20):
                sent.append(a.sendmsg([chunk]))

        g = gevent_c.spawn(writer)
        received = 0
        while received < 20 * 65536 and not (g.ready() and received >= sum(sent)):
            received += len(b.recv(65536))
        g.get(timeout=5)
        assert received == sum(sent) and all(sent)


def test_sendall_and_recv_into_keyword_arguments():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(data=b'hello', flags=0)
        buf = bytearray(5)
        assert b.recv_into(buf, nbytes=5) == 5 and buf == b'hello'


def test_large_transfers_release_the_gil_for_other_threads():
    a, b = socket.socketpair()
    total = 32 * 1024 * 1024
    ticks = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.0005)

    thread = threading.Thread(target=counter)
    thread.start()
    try:
        sender = gevent_c.spawn(a.sendall, b'z' * total)
        received = 0
        buf = bytearray(1024 * 1024)
        while received < total:
            received += b.recv_into(buf)
        sender.join()
    finally:
        stop.set()
        thread.join()
        a.close()
        b.close()
    assert received == total and sender.successful()
    assert ticks


# -- waiting --------------------------------------------------------------------

def test_wait_read_and_write_take_a_timeout_and_message():
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(stdsocket.timeout, match='nothing came'):
            a._wait_read(0.01, 'nothing came')
        a._wait_write(0.5)
        b.send(b'x')
        a._wait_read(timeout=0.5)
        assert a.recv(1) == b'x'
        with pytest.raises(TypeError):
            a._wait_read('soon')
        with pytest.raises(TypeError):
            a._wait_read(bogus=1)


def test_waits_switch_through_an_overridden_greenlet_switch():
    calls = []

    class Traced(gevent_c.Greenlet):
        def switch(self, *args, **kwargs):
            calls.append(args)
            return gevent_c.Greenlet.switch(self, *args, **kwargs)

    a, b = socket.socketpair()
    with a, b:
        g = Traced(a.recv, 3)
        g.start()
        gevent_c.sleep(0)
        b.send(b'abc')
        assert g.get(timeout=2) == b'abc'
        watcher = a._read_event
    assert watcher is not None and (watcher,) in calls


class _Watcher:
    """A watcher from a loop that is not gevent_c's: forwards to a real one."""

    def __init__(self, real, log):
        self.real, self.log = real, log

    def start(self, callback, *args, update=None):
        self.log.append(('start', update))
        self.real.start(callback, *args)

    def stop(self):
        self.log.append(('stop', None))
        self.real.stop()

    def close(self):
        self.real.close()


class _Loop:
    def __init__(self, real):
        self.real, self.log = real, []

    def io(self, fd, events):
        return _Watcher(self.real.io(fd, events), self.log)

    def timer(self, seconds):
        return _Watcher(self.real.timer(seconds), self.log)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_sockets_wait_on_a_loop_that_is_not_gevent_c_s():
    loop = _Loop(_core.loop())
    hub = Hub(loop=loop)
    set_hub(hub)
    try:
        a, b = socket.socketpair()
        with a, b:
            reader = gevent_c.spawn(a.recv, 5)
            gevent_c.sleep(0)
            b.sendall(b'hello')
            assert reader.get(timeout=2) == b'hello'
            a.settimeout(0.01)
            with pytest.raises(stdsocket.timeout):
                a.recv(1)
    finally:
        hub.destroy(destroy_loop=True)
    assert ('start', None) in loop.log and ('stop', None) in loop.log
    assert ('start', True) in loop.log    # the timer is started with update=True


# -- objects that are not gevent_c sockets ----------------------------------------

def test_the_c_methods_refuse_other_objects():
    out = run_isolated('''
        import socket as stdsocket
        from gevent_c import _core, socket

        class Bare(_core.SocketMethods):
            pass

        class Unrelated(_core.SocketMethods, stdsocket.socket):
            pass

        for obj in (Bare(), Unrelated()):
            for name in ('recv', 'recv_into', 'send', 'sendall', '_wait_read', '_wait_write'):
                try:
                    getattr(obj, name)(1)
                except TypeError as exc:
                    assert 'is not a gevent_c.socket.socket' in str(exc), exc
                else:
                    raise AssertionError(name)
        try:
            _core.SocketMethods.recv(object(), 1)
        except TypeError:
            pass
        else:
            raise AssertionError('object() accepted')
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_socket_setup_refuses_classes_it_cannot_serve():
    out = run_isolated('''
        import socket as stdsocket
        from gevent_c import _core

        class NoSlots(_core.SocketMethods, stdsocket.socket):
            pass

        class NotASocket(_core.SocketMethods):
            __slots__ = ('hub', 'timeout', '_read_event', '_write_event', '_reader',
                         '_writer', '_drained')

        for cls in (int, stdsocket.socket, NoSlots, NotASocket, 'x'):
            try:
                _core._socket_setup(cls)
            except TypeError:
                pass
            else:
                raise AssertionError(cls)
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_a_reloaded_socket_module_keeps_old_and_new_sockets_working():
    out = run_isolated('''
        import importlib
        import gevent_c.socket as mod

        old_a, old_b = mod.socketpair()
        importlib.reload(mod)
        new_a, new_b = mod.socketpair()
        assert type(new_a) is not type(old_a)
        for a, b in ((old_a, old_b), (new_a, new_b)):
            a.sendall(b'ping')
            assert b.recv(4) == b'ping'
        print('ok')
    ''')
    assert out.strip() == 'ok'


# -- nothing leaks ------------------------------------------------------------------

def _rss_kib():
    import resource
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


@pytest.mark.no_sanitizer('RSS growth: the sanitizer keeps freed memory in quarantine '
                          '(the refcount and gc-object checks here still run without it)')
def test_waits_timeouts_and_errors_leak_nothing():
    import gc
    a, b = socket.socketpair()
    payload = b'p' * 100
    buf = bytearray(100)
    hub = gevent_c.get_hub()

    def work(n):
        for _ in range(n):
            reader = gevent_c.spawn(a.recv, 100)
            gevent_c.sleep(0)                  # reader waits in C
            b.sendall(payload)
            reader.join()
            b.send(payload)
            a.recv_into(buf)
            a.settimeout(0.0)
            try:
                a.recv(1)                      # BlockingIOError
            except BlockingIOError:
                pass
            a.settimeout(0.0001)
            try:
                a.recv(1)                      # a timer, then TimeoutError
            except stdsocket.timeout:
                pass
            a.settimeout(None)
            try:
                a.recv('x')                    # the stdlib's TypeError
            except TypeError:
                pass

    with a, b:
        work(200)
        gc.collect()
        refs = [sys.getrefcount(o) for o in (payload, buf, hub, a, b)]
        objs = len(gc.get_objects())
        rss = _rss_kib()
        work(1500)
        gc.collect()
        assert [sys.getrefcount(o) for o in (payload, buf, hub, a, b)] == refs
        assert len(gc.get_objects()) - objs < 100
        assert _rss_kib() - rss < 16 * 1024


# -- edge cases found in review --------------------------------------------------------

@pytest.mark.parametrize('flags', [stdsocket.MSG_NOSIGNAL, 'keyword', False],
                         ids=['msgflag', 'keyword', 'bool'])
def test_sendall_with_flags_of_any_int_type_sends_each_byte_once(flags):
    a, b = socket.socketpair()
    data = bytes(range(256)) * 4096                 # 1 MiB, more than the buffer
    got = bytearray()

    def reader():
        while len(got) < len(data):
            chunk = b.recv(65536)
            if not chunk:
                break
            got.extend(chunk)

    with a, b:
        a.settimeout(5)
        g = gevent_c.spawn(reader)
        if flags == 'keyword':
            a.sendall(data, flags=stdsocket.MSG_NOSIGNAL)
        else:
            a.sendall(data, flags)
        a.shutdown(stdsocket.SHUT_WR)
        g.get(timeout=5)
        assert b.recv(1) == b''                     # nothing beyond the 1 MiB
    assert got == data


def test_sendall_with_bad_flags_sends_nothing_and_fails_like_the_stdlib():
    results = []
    for mod in (socket, stdsocket):
        a, b = mod.socketpair()
        with a, b:
            b.setblocking(False)
            results.append(outcome(a.sendall, b'data', 'x'))
            results.append(outcome(b.recv, 10))
    assert results[:2] == results[2:]


def test_recv_of_zero_bytes_returns_at_once_like_the_stdlib():
    for timeout in (None, 5.0, 0.0):
        a, b = socket.socketpair()
        with a, b:
            a.settimeout(timeout)
            a.sendall(b'x')                         # marks the socket drained
            b.sendall(b'y')
            assert a.recv(0) == b''
            assert a.recv_into(bytearray(0)) == 0
            assert a.recv_into(bytearray(4), 0, 0) == 1   # nbytes 0: the buffer's size
    a, b = socket.socketpair()
    a.close()
    b.close()
    ref = stdsocket.socket()
    ref.close()
    assert outcome(a.recv, 0) == outcome(ref.recv, 0)
    assert outcome(a.recv_into, bytearray(0)) == outcome(ref.recv_into, bytearray(0))


def test_msg_trunc_never_returns_more_than_was_asked():
    out = run_isolated('''
        import socket as std, time
        from gevent_c import socket
        r = socket.socket(std.AF_INET, std.SOCK_DGRAM)
        r.bind(('127.0.0.1', 0))
        s = socket.socket(std.AF_INET, std.SOCK_DGRAM)
        for size, ask in ((60000, 10), (8000, 10), (60000, 20000), (100, 200)):
            s.sendto(b'A' * size, r.getsockname())
            data = r.recv(ask, std.MSG_TRUNC)
            assert data == b'A' * min(size, ask), (size, ask, len(data))
        s.sendto(b'B' * 5000, r.getsockname())
        buf = bytearray(10)
        assert r.recv_into(buf, 10, std.MSG_TRUNC) == 5000 and buf == b'B' * 10
        r.close(); s.close()
        print('ok')
    ''')
    assert out.strip() == 'ok'


def test_a_descriptor_made_blocking_elsewhere_still_waits_on_the_hub():
    import os
    a, b = socket.socketpair()
    with a, b:
        os.set_blocking(a.fileno(), True)           # as another handle on it could
        reader = gevent_c.spawn(a.recv, 5)
        gevent_c.sleep(0)
        assert not reader.ready()                   # waiting on the hub, not in recv(2)
        b.sendall(b'hello')
        assert reader.get(timeout=2) == b'hello'
        writer = gevent_c.spawn(a.sendall, b'w' * (4 * 1024 * 1024))
        gevent_c.sleep(0)
        assert not writer.ready()                   # the buffer is full: waiting on the hub
        received = 0
        while received < 4 * 1024 * 1024:
            received += len(b.recv(1024 * 1024))
        writer.get(timeout=5)


def test_msg_dontwait_raises_instead_of_waiting_like_the_stdlib():
    for mod in (socket, stdsocket):
        a, b = mod.socketpair()
        with a, b:
            a.settimeout(None)
            with pytest.raises(BlockingIOError):
                a.recv(10, stdsocket.MSG_DONTWAIT)
            with pytest.raises(BlockingIOError):
                a.recv_into(bytearray(10), 10, stdsocket.MSG_DONTWAIT)


def test_wait_timeout_messages_are_passed_whole():
    a, b = socket.socketpair()
    with a, b:
        for message in (('a', 'b'), None, 'plain'):
            with pytest.raises(stdsocket.timeout) as info:
                a._wait_read(0.001, message)
            assert info.value.args == (message,)


def test_a_cancelled_wait_raises_a_new_ebadf_error_each_time():
    from gevent_c.hub import cancel_wait_ex
    seen = []
    for _ in range(3):
        a, b = socket.socketpair()
        g = gevent_c.spawn(a.recv, 1)
        gevent_c.sleep(0)
        a.close()
        g.join()
        b.close()
        assert isinstance(g.exception, OSError) and g.exception.errno == 9
        assert g.exception.args == cancel_wait_ex.args
        seen.append(g.exception)
    assert len({id(e) for e in seen}) == 3
    assert cancel_wait_ex.__traceback__ is None     # the shared instance never grows
