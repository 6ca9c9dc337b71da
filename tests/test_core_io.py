"""gevent_c.core io watchers: readiness, pass_events, attributes, bad input."""
import errno
import os
import subprocess
import sys

import pytest

from gevent_c import core
from gevent import core as gcore


@pytest.fixture
def loop():
    lp = core.loop(default=False)
    yield lp
    lp.destroy()


def test_io_fires_when_readable(loop, pair):
    a, b = pair
    got = []
    w = loop.io(a.fileno(), core.READ)

    def on_read():
        got.append(a.recv(100))
        w.stop()
    w.start(on_read)
    b.sendall(b"ping")
    loop.run()
    assert got == [b"ping"]


def test_io_fires_when_writable(loop, pair):
    a, _ = pair
    got = []
    w = loop.io(a.fileno(), core.WRITE)
    w.start(lambda: (got.append("w"), w.stop()))
    loop.run()
    assert got == ["w"]


def test_pass_events_puts_revents_first(loop, pair):
    a, b = pair
    got = []
    w = loop.io(a.fileno(), core.READWRITE)
    w.start(lambda ev, x: (got.append((ev, x)), w.stop()), "x", pass_events=True)
    assert w.args == (core.EVENTS, "x")
    b.sendall(b"1")
    loop.run()
    assert got == [(core.READ | core.WRITE, "x")]


def test_events_sentinel_is_replaced_for_any_watcher(loop):
    got = []
    t = loop.timer(0)
    t.start(got.append, core.EVENTS)
    loop.run()
    assert got == [core.TIMER]


def test_io_attributes(loop, pair):
    a, b = pair
    w = loop.io(a.fileno(), core.READ)
    assert w.fd == a.fileno()
    # like gevent, events shows libev's raw mask (_IOFDSET until started)
    assert w.events & core.READWRITE == core.READ
    assert w.events_str.startswith("READ")
    w.fd = b.fileno()
    w.events = core.READWRITE
    assert w.fd == b.fileno()
    assert w.events_str.startswith("READ|WRITE")
    w.start(lambda: None)
    with pytest.raises(AttributeError):
        w.fd = a.fileno()
    with pytest.raises(AttributeError):
        w.events = core.READ
    w.stop()
    assert w.loop is loop


def test_io_attributes_match_gevent(pair):
    a, _ = pair

    def attrs(mod):
        lp = mod.loop(default=False)
        w = lp.io(a.fileno(), mod.READWRITE)
        res = (w.fd, w.events, w.events_str, w.active, w.pending, w.ref,
               w.priority, w.callback, w.args)
        w.start(print, 1)
        res += (w.active, w.args, w.callback)
        w.stop()
        res += (w.active, w.args, w.callback)
        lp.destroy()
        return res
    assert attrs(core) == attrs(gcore)


def test_negative_fd_raises_value_error(loop):
    with pytest.raises(ValueError, match="fd must be non-negative"):
        loop.io(-1, core.READ)


@pytest.mark.parametrize("events", [4, 8, 0x100, -1])
def test_bad_event_mask_raises_value_error(loop, pair, events):
    with pytest.raises(ValueError, match="illegal event mask"):
        loop.io(pair[0].fileno(), events)


def test_closed_fd_raises_ebadf(loop):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        loop.io(r, core.READ)
    assert info.value.errno == errno.EBADF


def test_setting_closed_fd_raises_ebadf(loop, pair):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    watcher = loop.io(pair[0].fileno(), core.READ)
    with pytest.raises(OSError):
        watcher.fd = r


def test_io_accepts_objects_with_fileno(loop, pair):
    w = loop.io(pair[0], core.READ)
    assert w.fd == pair[0].fileno()


def test_io_callback_that_raises_is_stopped(loop, pair):
    a, b = pair
    calls = []

    class Handler:
        def handle_error(self, *args):
            calls.append(args[1])

    loop.error_handler = Handler()
    w = loop.io(a.fileno(), core.READ)

    def boom():
        calls.append("called")
        raise RuntimeError("boom")
    w.start(boom)
    b.sendall(b"x")     # stays readable: would spin if not stopped
    loop.run()
    assert calls == ["called", RuntimeError]
    assert not w.active


def test_closing_fd_makes_watchers_pending(loop, pair):
    a, _ = pair
    got = []
    w = loop.io(a.fileno(), core.READ)
    w.start(lambda ev: (got.append(ev), w.stop()), pass_events=True)
    assert loop.closing_fd(a.fileno()) is True
    assert w.pending
    loop.run()
    assert got and got[0] & core.READ


def test_nonblocking_echo_over_socketpair(loop, pair):
    a, b = pair
    a.setblocking(False)
    b.setblocking(False)
    got = []
    ra = loop.io(a.fileno(), core.READ)
    rb = loop.io(b.fileno(), core.READ)

    def echo():
        a.sendall(a.recv(100).upper())
        ra.stop()

    def done():
        got.append(b.recv(100))
        rb.stop()
    ra.start(echo)
    rb.start(done)
    b.sendall(b"hello")
    loop.run()
    assert got == [b"HELLO"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize('prepare_pri, io_pri', [
    (core.MAXPRI, core.MINPRI),   # io runs after the drain, queues a callback
    (core.MINPRI, 0),             # io fed after its priority's turn: stays pending
])
def test_event_fed_in_the_prepare_phase_is_handled_without_waiting_for_the_poll(prepare_pri, io_pri):
    # A prepare watcher feeds an io event (closing_fd); the io callback
    # queues a callback.  Neither may wait for the next poll, which would
    # block for libev's longest wait (~60 s).  Run in a child so a
    # regression fails instead of hanging.
    code = r'''
import os, sys
from gevent_c import core
loop = core.loop(default=False)
r, w = os.pipe()
io = loop.io(r, core.READ, priority=%d)
prep = loop.prepare(priority=%d)
log = []
def on_io():
    io.stop()
    loop.run_callback(log.append, 'callback')
def on_prepare():
    prep.stop()
    loop.closing_fd(r)
io.start(on_io)
prep.start(on_prepare)
loop.run()
print(log)
''' % (io_pri, prepare_pri)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['callback']"


def test_a_timer_of_the_same_iteration_may_free_a_pending_io_watcher():
    from _isolated import run_isolated
    out = run_isolated(dev=True, code='''
        import socket, time
        from gevent_c import _core
        loop = _core.loop(default=False)
        holder, ran = {}, []
        def on_timer():
            w = holder.pop('io')
            w.stop()
            del w                       # the last reference: freed here
        a, b = socket.socketpair()
        b.send(b'x')
        io = loop.io(a.fileno(), 1)
        io.start(ran.append, 'io')
        holder['io'] = io
        del io
        t = loop.timer(0.001)
        t.start(on_timer)
        time.sleep(0.01)                # both are due in the same iteration
        loop.run(once=True)
        a.close(); b.close(); loop.destroy()
        print('ok', ran)
    ''')
    assert out.split() == ['ok', '[]']
