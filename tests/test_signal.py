"""gevent_c.signal: SIGCHLD handlers that leave child watching working."""
import os
import signal
import time

import pytest

import gevent_c
import gevent_c.os as gos
import gevent_c.signal as gsignal

from _hubtest import clean_hub  # noqa: F401 -- autouse fixture
from _hubtest import raised_in_native_thread
from _isolated import forks_beside_threads

pytestmark = [pytest.mark.timeout(60), forks_beside_threads]


@pytest.fixture(autouse=True)
def restore_sigchld():
    saved = gsignal._child_handler
    real = signal.getsignal(signal.SIGCHLD)
    yield
    gsignal._child_handler = saved
    if signal.getsignal(signal.SIGCHLD) != real:
        signal.signal(signal.SIGCHLD, real)


def exiting_child(code):
    pid = gos.fork()
    if pid == 0:
        os._exit(code)
    return pid


def test_module_names():
    assert set(gsignal.__implements__) == {'signal', 'getsignal', 'set_wakeup_fd'}
    assert gsignal.set_wakeup_fd(-1) == signal.set_wakeup_fd(-1)   # the stdlib's, remembered
    assert gsignal.SIGTERM == signal.SIGTERM and gsignal.SIG_IGN == signal.SIG_IGN


def test_sigchld_run_through_signal_writes_to_the_wakeup_fd():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    old = gsignal.signal(signal.SIGCHLD, lambda signum, frame: None)
    previous = gsignal.set_wakeup_fd(w)
    try:
        pid = exiting_child(0)
        gos.waitpid(pid, 0)
        gevent_c.sleep(0.01)
        # one byte per SIGCHLD: other children of this process may end
        # meanwhile, and the interpreter may write it too if an earlier test
        # left a Python-level SIGCHLD handler installed
        data = os.read(r, 100)
        assert data and set(data) == {signal.SIGCHLD}, data
    finally:
        gsignal.set_wakeup_fd(previous)
        gsignal.signal(signal.SIGCHLD, old)
        os.close(r)
        os.close(w)


def test_python_sigchld_handler_runs_and_waitpid_still_works():
    calls = []
    old = gsignal.signal(signal.SIGCHLD, lambda signum, frame: calls.append((signum, frame)))
    assert old == signal.getsignal(signal.SIGCHLD)
    handler = gsignal.getsignal(signal.SIGCHLD)
    assert callable(handler)
    pid = exiting_child(3)
    assert gos.waitpid(pid, 0) == (pid, 3 << 8)
    while not calls:
        gevent_c.sleep(0.001)
    assert calls[0] == (signal.SIGCHLD, None)
    assert gsignal.signal(signal.SIGCHLD, signal.SIG_DFL) is handler


def test_getsignal_returns_what_was_installed():
    def handler(signum, frame):
        pass
    gsignal.signal(signal.SIGCHLD, handler)
    assert gsignal.getsignal(signal.SIGCHLD) is handler
    gsignal.signal(signal.SIGCHLD, signal.SIG_DFL)
    assert gsignal.getsignal(signal.SIGCHLD) == signal.SIG_DFL
    pid = exiting_child(4)
    assert gos.waitpid(pid, 0) == (pid, 4 << 8)


def test_sig_ign_lets_the_kernel_reap_then_sig_dfl_restores_waiting():
    pid = exiting_child(0)
    gos.waitpid(pid, 0)  # child watching is active from here on
    gsignal.signal(signal.SIGCHLD, signal.SIG_IGN)
    assert signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
    pid = os.fork()
    if pid == 0:
        os._exit(1)
    with pytest.raises(ChildProcessError):  # as with the stdlib under SIG_IGN
        gos.waitpid(pid, 0)
    gsignal.signal(signal.SIGCHLD, signal.SIG_DFL)
    assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL
    pid = exiting_child(6)
    assert gos.waitpid(pid, 0) == (pid, 6 << 8)


def test_other_signals_go_to_the_stdlib():
    received = []
    old = gsignal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    try:
        assert callable(signal.getsignal(signal.SIGUSR1))
        os.kill(os.getpid(), signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            gevent_c.sleep(0.001)
        assert received == [signal.SIGUSR1]
    finally:
        gsignal.signal(signal.SIGUSR1, old)


def test_bad_input_raises_like_the_stdlib():
    for signum in (signal.SIGCHLD, signal.SIGUSR1):
        with pytest.raises(TypeError):
            signal.signal(signum, 'not callable')
        with pytest.raises(TypeError):
            gsignal.signal(signum, 'not callable')
    with pytest.raises(ValueError):
        gsignal.signal(10000, signal.SIG_DFL)
    with pytest.raises(ValueError):
        gsignal.getsignal(10000)


def test_sigchld_handler_from_another_thread_is_refused():
    exc = raised_in_native_thread(lambda: gsignal.signal(signal.SIGCHLD, lambda *a: None))
    assert isinstance(exc, ValueError)
