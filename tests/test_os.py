"""gevent_c.os: fork with a reinitialised hub, cooperative waitpid, fd helpers."""
import _thread
import errno
import io
import os
import signal
import subprocess
import sys
import time

import pytest

import gevent_c
import gevent_c.os as gos

from _hubtest import clean_hub  # noqa: F401 -- autouse fixture
from _isolated import forks_beside_threads, run_isolated

pytestmark = [pytest.mark.timeout(60), forks_beside_threads]


def child(code):
    """Fork; the child runs *code()* and exits with its return value (or 99)."""
    pid = gos.fork()
    if pid == 0:
        status = 99
        try:
            status = code()
        finally:
            os._exit(status)
    return pid


def test_module_declares_what_it_implements():
    for name in gos.__implements__ + gos.__extensions__:
        assert callable(getattr(gos, name)), name
    assert {'fork', 'waitpid', 'forkpty', 'close'} <= set(gos.__implements__)
    assert {'nb_read', 'nb_write', 'tp_read', 'tp_write', 'make_nonblocking',
            'fork_and_watch', 'fork_gevent'} <= set(gos.__extensions__)
    assert gos.getpid is os.getpid and gos.WNOHANG == os.WNOHANG
    assert gevent_c.fork is gos.fork


def test_forked_child_has_a_working_hub():
    def code():
        glet = gevent_c.spawn(lambda: 7)
        gevent_c.sleep(0.001)
        return glet.get()
    pid = child(code)
    assert gos.waitpid(pid, 0) == (pid, 7 << 8)


@pytest.mark.filterwarnings('ignore:This process.*is multi-threaded:DeprecationWarning')
def test_forked_child_can_use_the_parents_threadpool():
    pool = gevent_c.get_hub().threadpool
    assert pool.apply(abs, (-1,)) == 1  # threads running in the parent

    def code():
        return pool.apply(_thread.get_ident) != _thread.get_ident() and sum(
            pool.map(abs, [-1, -2, -3]))
    pid = child(code)
    assert gos.waitpid(pid, 0) == (pid, 6 << 8)
    assert pool.apply(abs, (-2,)) == 2


def test_waitpid_blocks_only_the_calling_greenlet():
    r, w = os.pipe()
    pid = child(lambda: len(os.read(r, 1)))
    os.close(r)
    # The child exits only after another greenlet ran.
    writer = gevent_c.spawn(os.write, w, b'x')
    assert gos.waitpid(pid, 0) == (pid, 1 << 8)
    assert writer.get() == 1
    os.close(w)


def test_waitpid_wnohang_reports_running_then_exited():
    r, w = os.pipe()
    pid = child(lambda: len(os.read(r, 1)) + 2)
    os.close(r)
    assert gos.waitpid(pid, os.WNOHANG) == (0, 0)
    os.write(w, b'x')
    os.close(w)
    while True:
        got = gos.waitpid(pid, os.WNOHANG)
        if got != (0, 0):
            break
        gevent_c.sleep(0.001)
    assert got == (pid, 3 << 8)
    with pytest.raises(ChildProcessError):
        gos.waitpid(pid, os.WNOHANG)


def test_status_reaped_by_the_loop_is_kept_for_waitpid():
    pid = child(lambda: 4)
    while pid not in gos._statuses:
        gevent_c.sleep(0.001)  # the loop's SIGCHLD watcher reaps it meanwhile
    assert gos.waitpid(pid, 0) == (pid, 4 << 8)
    with pytest.raises(ChildProcessError):
        gos.waitpid(pid, 0)


def test_waitpid_with_other_options_returns_a_status_the_loop_reaped():
    # WUNTRACED goes to the real waitpid; the loop's SIGCHLD handler reaps
    # the child first, and the recorded status must come back (as gevent).
    before = child(lambda: 5)
    gevent_c.sleep(0)
    assert gos.waitpid(before, os.WUNTRACED) == (before, 5 << 8)  # exits while we poll
    done = child(lambda: 6)
    while done not in gos._statuses:
        gevent_c.sleep(0.001)  # until the loop has reaped it
    assert gos.waitpid(done, os.WUNTRACED | os.WNOHANG) == (done, 6 << 8)
    with pytest.raises(ChildProcessError):
        gos.waitpid(done, os.WUNTRACED)


def test_waitpid_any_child_and_no_children():
    pid = child(lambda: 5)
    assert gos.waitpid(-1, 0) == (pid, 5 << 8)
    with pytest.raises(ChildProcessError):
        gos.waitpid(-1, 0)
    with pytest.raises(ChildProcessError):
        gos.waitpid(-1, os.WNOHANG)


def test_waitpid_of_a_child_started_elsewhere():
    proc = subprocess.Popen([sys.executable, '-c', 'raise SystemExit(6)'])
    assert gos.waitpid(proc.pid, 0) == (proc.pid, 6 << 8)
    proc.returncode = 6  # reaped here; tell the stdlib object


def test_waitpid_reports_signals():
    pid = child(lambda: (time.sleep(30), 0)[1])
    os.kill(pid, signal.SIGKILL)
    _, status = gos.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_other_code_reaping_the_child_does_not_hang_waitpid():
    r, w = os.pipe()
    pid = child(lambda: len(os.read(r, 1)) + 7)
    os.close(r)
    outcome = {}
    done = _thread.allocate_lock()
    done.acquire()

    def plain_waitpid():
        try:
            outcome['thread'] = os.waitpid(pid, 0)
        except ChildProcessError as exc:
            outcome['thread'] = exc
        finally:
            done.release()

    _thread.start_new_thread(plain_waitpid, ())
    gevent_c.sleep(0.01)
    os.write(w, b'x')
    os.close(w)
    try:
        outcome['gevent'] = gos.waitpid(pid, 0)
    except ChildProcessError as exc:
        outcome['gevent'] = exc
    while done.locked():
        gevent_c.sleep(0.001)
    results = [v for v in outcome.values() if not isinstance(v, ChildProcessError)]
    assert results == [(pid, 8 << 8)], outcome


def test_waitpid_bad_input_matches_the_stdlib():
    for args in (('x', 0), (1, 'y'), (None, 0)):
        with pytest.raises(TypeError):
            os.waitpid(*args)
        with pytest.raises(TypeError):
            gos.waitpid(*args)
    with pytest.raises(ChildProcessError):
        gos.waitpid(1, 0)  # init is nobody's child here


def test_fork_and_watch_calls_back_with_the_status():
    seen = []
    # gevent's signature: (callback, loop, ref, fork)
    pid = gos.fork_and_watch(lambda w: seen.append((w.pid, w.rpid, w.rstatus)), None, True)
    if pid == 0:
        os._exit(9)
    while not seen:
        gevent_c.sleep(0.001)
    assert seen == [(pid, pid, 9 << 8)]
    assert gos.waitpid(pid, 0) == (pid, 9 << 8)


def test_forkpty_child_output_reaches_the_master():
    pid, master = gos.forkpty()
    if pid == 0:
        try:
            os.write(1, b'from-the-pty')
        finally:
            os._exit(0)
    gos.make_nonblocking(master)
    data = b''
    while b'from-the-pty' not in data:
        try:
            chunk = gos.nb_read(master, 100)
        except OSError:  # EIO once the child side is closed
            break
        if not chunk:
            break
        data += chunk
    assert b'from-the-pty' in data
    assert gos.waitpid(pid, 0) == (pid, 0)
    os.close(master)


def test_posix_spawn_child_can_be_waited():
    pid = gos.posix_spawn(sys.executable, [sys.executable, '-c', 'raise SystemExit(3)'],
                          os.environ)
    assert gos.waitpid(pid, 0) == (pid, 3 << 8)


def test_make_nonblocking():
    r, w = os.pipe()
    try:
        assert gos.make_nonblocking(r) is True
        assert gos.make_nonblocking(r) is False
        assert not os.get_blocking(r)
    finally:
        os.close(r)
        os.close(w)


def test_nb_read_and_nb_write_wait_cooperatively():
    r, w = os.pipe()
    gos.make_nonblocking(r)
    gos.make_nonblocking(w)
    payload = os.urandom(1 << 20)  # far more than the pipe buffer

    def write_all():
        view = memoryview(payload)
        while view:
            view = view[gos.nb_write(w, view):]
        os.close(w)

    writer = gevent_c.spawn(write_all)
    chunks = []
    while True:
        chunk = gos.nb_read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    writer.get()
    os.close(r)
    assert b''.join(chunks) == payload


def test_nb_read_bad_fd_raises_like_os_read():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        gos.nb_read(r, 1)
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        gos.nb_write(w, b'x')
    assert info.value.errno == errno.EBADF


def test_tp_read_and_tp_write_use_the_threadpool():
    r, w = os.pipe()
    try:
        # The read blocks a worker thread, not the hub.
        reader = gevent_c.spawn(gos.tp_read, r, 5)
        gevent_c.sleep(0.01)
        assert gos.tp_write(w, b'hello') == 5
        assert reader.get() == b'hello'
    finally:
        os.close(r)
        os.close(w)
    hub = gevent_c.get_hub()
    hub.exception_stream = io.StringIO()
    try:
        with pytest.raises(OSError):
            gos.tp_read(r, 1)
        with pytest.raises(TypeError):
            gos.tp_write('x', b'')
        assert hub.exception_stream.getvalue() == ''  # the caller's errors only
    finally:
        del hub.exception_stream


def test_close_wakes_a_greenlet_waiting_on_the_fd():
    r, w = os.pipe()
    gos.make_nonblocking(r)
    reader = gevent_c.spawn(gos.nb_read, r, 10)
    gevent_c.sleep(0.01)
    gos.close(r)
    with pytest.raises(OSError) as info:
        reader.get()
    assert info.value.errno == errno.EBADF
    os.close(w)


def test_every_public_name_of_os_is_offered():
    # as gevent.os: not only os.__all__ (which lacks PathLike and the
    # supports_* sets everywhere, and process_cpu_count on 3.13.0)
    import types
    for name in dir(os):
        if name.startswith('_') or isinstance(getattr(os, name), types.ModuleType):
            continue
        assert hasattr(gos, name), name
        if name not in gos.__implements__ + gos.__extensions__:
            assert getattr(gos, name) is getattr(os, name), name
    if sys.version_info >= (3, 13):
        assert gos.process_cpu_count is os.process_cpu_count


@pytest.mark.parametrize('before', ['nothing', 'sleep0', 'threadpool'])
def test_fork_watchers_fire_in_the_child_whatever_the_hub_was_doing(before):
    # sleep(0) leaves the hub suspended inside a loop iteration, where libev
    # would re-arm for the fork without ever firing the fork watchers
    code = '''
import os, sys
import gevent_c, gevent_c.os as gos
hub = gevent_c.get_hub()
seen = []
w = hub.loop.fork(ref=False)
w.start(lambda: seen.append(os.getpid()))
before = sys.argv[1]
if before == 'sleep0':
    gevent_c.sleep(0)
elif before == 'threadpool':
    hub.threadpool.apply(len, ('x',))
r, wfd = os.pipe()
pid = gos.fork_gevent()
if pid == 0:
    gevent_c.sleep(0.001)
    gevent_c.sleep(0.001)
    os.write(wfd, b'fired' if seen == [os.getpid()] else b'not fired')
    os._exit(0)
os.close(wfd)
print(os.read(r, 100).decode(), seen)
gos.waitpid(pid, 0)
'''
    out = run_isolated(code, before)
    assert out.split() == ['fired', '[]']
