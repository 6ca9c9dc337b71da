"""gevent_c.subprocess: the stdlib's Popen with cooperative pipes and waiting."""
import _thread
import os
import subprocess
import sys

import pytest

import gevent_c
import gevent_c.subprocess as gsp

from _hubtest import clean_hub  # noqa: F401 -- autouse fixture

pytestmark = pytest.mark.timeout(60)
PY = sys.executable


@pytest.fixture(autouse=True)
def no_children_left():
    yield
    try:
        left = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return
    assert left == (0, 0) and False, 'a test left a child process: %r' % (left,)


def py(code, **kwargs):
    return gsp.Popen([PY, '-c', code], **kwargs)


def test_module_exports_the_stdlib_names():
    assert set(subprocess.__all__) <= set(gsp.__all__)
    for name in ('PIPE', 'STDOUT', 'DEVNULL', 'CalledProcessError', 'TimeoutExpired',
                 'SubprocessError', 'CompletedProcess'):
        assert getattr(gsp, name) is getattr(subprocess, name)
    assert issubclass(gsp.Popen, subprocess.Popen)
    assert {'Popen', 'call', 'check_call', 'check_output', 'run'} <= set(gsp.__implements__)


def test_communicate_with_input_and_both_pipes():
    proc = py('import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1]);'
              'sys.stderr.write("E")', stdin=gsp.PIPE, stdout=gsp.PIPE, stderr=gsp.PIPE)
    payload = os.urandom(300000)
    out, err = proc.communicate(payload)
    assert out == payload[::-1] and err == b'E'
    assert proc.returncode == 0


def test_many_concurrent_communicates_with_large_outputs():
    size = 1 << 20
    code = 'import sys; n = int(sys.argv[1]); sys.stdout.buffer.write(bytes([n]) * %d)' % size
    procs = [gsp.Popen([PY, '-c', code, str(i)], stdout=gsp.PIPE) for i in range(20)]
    workers = [gevent_c.spawn(p.communicate) for p in procs]
    gevent_c.joinall(workers, raise_error=True)
    for i, worker in enumerate(workers):
        out, err = worker.value
        assert out == bytes([i]) * size and err is None
    assert [p.returncode for p in procs] == [0] * 20


def test_text_mode_translates_newlines_like_the_stdlib():
    code = 'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read() + b"a\\r\\nb\\rc")'
    ours = py(code, stdin=gsp.PIPE, stdout=gsp.PIPE, text=True).communicate('in\n')
    theirs = subprocess.Popen([PY, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True).communicate('in\n')
    assert ours == theirs == ('in\na\nb\nc', None)


def test_reading_lines_from_stdout():
    proc = py('print("one"); print("two")', stdout=gsp.PIPE, text=True)
    with proc:
        assert list(proc.stdout) == ['one\n', 'two\n']
    assert proc.returncode == 0


def test_unbuffered_pipes():
    proc = py('import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())',
              stdin=gsp.PIPE, stdout=gsp.PIPE, bufsize=0)
    assert proc.communicate(b'raw' * 50000) == (b'raw' * 50000, None)


def test_communicate_timeout_then_resume_after_kill():
    proc = py('import time; print("early", flush=True); time.sleep(60)', stdout=gsp.PIPE)
    partial = None
    # until the child has printed its line (with PYTHONUNBUFFERED, print
    # writes the text and the newline separately)
    while not (partial or b'').endswith(b'\n'):
        with pytest.raises(gsp.TimeoutExpired) as info:
            proc.communicate(timeout=0.05)
        assert info.value.timeout == 0.05 and info.value.cmd == proc.args
        partial = info.value.stdout
    assert partial == b'early\n'  # the output so far, as the stdlib reports it
    proc.kill()
    out, err = proc.communicate()
    assert out == b'early\n' and err is None
    assert proc.returncode == -9


def test_wait_timeout_then_wait():
    proc = py('import sys; sys.stdin.read()', stdin=gsp.PIPE)
    with pytest.raises(gsp.TimeoutExpired):
        proc.wait(timeout=0.01)
    assert proc.poll() is None
    proc.stdin.close()
    assert proc.wait() == 0
    assert proc.poll() == 0


def test_hub_serves_other_greenlets_while_a_child_runs():
    # The child exits only once another greenlet wrote to it.
    proc = py('import sys; sys.exit(len(sys.stdin.readline()))', stdin=gsp.PIPE)

    def release():
        proc.stdin.write(b'four\n')
        proc.stdin.close()

    gevent_c.spawn(release)
    assert proc.wait() == 5


def test_plain_waitpid_by_other_code_does_not_hang():
    proc = py('raise SystemExit(3)')
    try:
        pid, status = os.waitpid(proc.pid, 0)
    except ChildProcessError:
        pass  # the loop reaped it first: proc has the status
    else:
        assert os.waitstatus_to_exitcode(status) == 3
    assert proc.wait() in (3, 0)  # 0: the stdlib's answer when the status is gone


def test_plain_waitpid_in_another_thread_does_not_hang_wait():
    proc = py('import sys; sys.stdin.read(); sys.exit(4)', stdin=gsp.PIPE)
    outcome = {}
    done = _thread.allocate_lock()
    done.acquire()

    def plain():
        try:
            outcome['thread'] = os.waitstatus_to_exitcode(os.waitpid(proc.pid, 0)[1])
        except ChildProcessError:
            outcome['thread'] = None
        finally:
            done.release()

    _thread.start_new_thread(plain, ())
    gevent_c.sleep(0.01)
    proc.stdin.close()
    code = proc.wait()
    while done.locked():
        gevent_c.sleep(0.001)
    assert 4 in (code, outcome['thread'])


def test_poll_reports_exit():
    proc = py('pass')
    while proc.poll() is None:
        gevent_c.sleep(0.001)
    assert proc.returncode == 0


def test_run_check_output_call_and_errors():
    done = gsp.run([PY, '-c', 'print("out")'], capture_output=True, text=True)
    assert isinstance(done, gsp.CompletedProcess)
    assert (done.returncode, done.stdout, done.stderr) == (0, 'out\n', '')
    assert gsp.check_output([PY, '-c', 'print(1)']) == b'1\n'
    assert gsp.check_output([PY, '-c', 'import sys; print(sys.stdin.read())'],
                            input='in', text=True) == 'in\n'
    assert gsp.call([PY, '-c', 'raise SystemExit(2)']) == 2
    assert gsp.check_call([PY, '-c', 'pass']) == 0
    with pytest.raises(gsp.CalledProcessError) as info:
        gsp.check_output([PY, '-c', 'print("x"); raise SystemExit(5)'])
    assert info.value.returncode == 5 and info.value.output == b'x\n'
    with pytest.raises(gsp.CalledProcessError):
        gsp.check_call([PY, '-c', 'raise SystemExit(1)'])
    with pytest.raises(gsp.CalledProcessError):
        gsp.run([PY, '-c', 'raise SystemExit(1)'], check=True)
    assert gsp.getstatusoutput('echo hi; exit 3') == subprocess.getstatusoutput('echo hi; exit 3')
    assert gsp.getoutput('echo hi') == 'hi'


def test_run_timeout_kills_and_raises():
    with pytest.raises(gsp.TimeoutExpired) as info:
        gsp.run([PY, '-c', 'import time; time.sleep(60)'], capture_output=True, timeout=0.05)
    assert info.value.timeout == 0.05
    with pytest.raises(gsp.TimeoutExpired):
        gsp.call([PY, '-c', 'import time; time.sleep(60)'], timeout=0.01)


def test_bad_input_raises_like_the_stdlib():
    cases = [
        (lambda m: m.Popen(['/nonexistent/program']), FileNotFoundError),
        (lambda m: m.Popen([PY, '-c', 'pass'], bufsize='x'), TypeError),
        (lambda m: m.Popen(42), TypeError),
        (lambda m: m.run([PY], input=b'', stdin=m.PIPE), ValueError),
        (lambda m: m.run([PY], capture_output=True, stdout=m.PIPE), ValueError),
        (lambda m: m.check_output([PY], stdout=m.PIPE), ValueError),
    ]
    for make, exc in cases:
        with pytest.raises(exc):
            make(subprocess)
        with pytest.raises(exc):
            make(gsp)


def test_input_after_communication_started_is_refused():
    proc = py('import time; time.sleep(60)', stdin=gsp.PIPE, stdout=gsp.PIPE)
    with pytest.raises(gsp.TimeoutExpired):
        proc.communicate(timeout=0.01)
    with pytest.raises(ValueError):
        proc.communicate(b'late')
    proc.kill()
    proc.communicate()


def test_child_that_stops_reading_does_not_break_communicate():
    proc = py('import sys; sys.stdin.close(); print("bye")', stdin=gsp.PIPE, stdout=gsp.PIPE)
    out, _ = proc.communicate(b'z' * (4 << 20))
    assert out == b'bye\n' and proc.returncode == 0


def test_still_works_when_the_stdlib_name_points_at_it(monkeypatch):
    # What monkey patching will do: the stdlib's helpers then create ours.
    monkeypatch.setattr(subprocess, 'Popen', gsp.Popen)
    assert subprocess.run([PY, '-c', 'print(2)'], capture_output=True).stdout == b'2\n'
    assert gsp.check_output([PY, '-c', 'print(3)']) == b'3\n'


def test_signatures_match_the_stdlib():
    import inspect
    for name in ('Popen', 'call', 'check_call', 'check_output', 'run', 'getoutput',
                 'getstatusoutput'):
        assert inspect.signature(getattr(gsp, name)) == \
            inspect.signature(getattr(subprocess, name)), name


def test_popen_in_a_thread_with_its_own_hub():
    import threading
    outcome = {}

    def run():
        try:
            proc = py('print(5)', stdout=gsp.PIPE)
            outcome['result'] = (proc.communicate(), proc.returncode)
        finally:
            gevent_c.get_hub().destroy(True)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert outcome['result'] == ((b'5\n', None), 0)


def test_run_timeout_with_a_grandchild_holding_the_pipe_raises_timeout_expired():
    # The killed child's own child keeps stdout open, so the output reader is
    # still waiting when Popen.__exit__ closes stdout: that must not raise
    # "reentrant call inside BufferedReader" (the stdlib raises TimeoutExpired).
    r, w = os.pipe()
    try:
        with pytest.raises(gsp.TimeoutExpired):
            gsp.run(['sh', '-c', 'cat <&%d & exec sleep 60' % r], capture_output=True,
                    pass_fds=(r,), timeout=0.1)
    finally:
        os.close(r)
        os.close(w)  # the grandchild (cat) reads EOF and exits


def test_closing_pipes_while_communicate_workers_wait_wakes_them_quietly():
    # After TimeoutExpired the stdin feeder waits for the child to read and
    # the stdout reader for output; closing both (as __exit__ does) stops them
    # without RuntimeError and without an error reported by the hub.
    with py('import time; time.sleep(60)', stdin=gsp.PIPE, stdout=gsp.PIPE,
            text=True) as proc:
        with pytest.raises(gsp.TimeoutExpired):
            proc.communicate('x' * (8 << 20), timeout=0.1)
        workers = proc._comm[0]
        proc.kill()
    gevent_c.joinall(workers)
    assert [w.exception for w in workers] == [None, None]
    assert proc.stdin.closed and proc.stdout.closed and proc.returncode == -9


def test_communicate_keeps_what_an_earlier_read_left_in_the_buffer():
    proc = py('print("one"); print("two")', stdout=gsp.PIPE)
    assert proc.stdout.readline() == b'one\n'
    assert proc.communicate() == (b'two\n', None)


@pytest.mark.parametrize('text', [False, True], ids=['binary', 'text'])
def test_closing_a_pipe_another_greenlet_is_blocked_on_wakes_it(text):
    # A greenlet inside p.stdout.read() / p.stdin.write() holds the buffered
    # layer's lock: close() from another greenlet wakes it with EBADF and
    # closes, instead of raising "reentrant call inside BufferedReader".
    proc = py('import time; time.sleep(60)', stdin=gsp.PIPE, stdout=gsp.PIPE, text=text)
    try:
        reader = gevent_c.spawn(proc.stdout.read)
        data = ('x' if text else b'x') * (8 << 20)  # more than the pipe holds
        writer = gevent_c.spawn(lambda: (proc.stdin.write(data), proc.stdin.flush()))
        gevent_c.sleep(0.01)
        assert not reader.dead and not writer.dead
        proc.stdout.close()
        proc.stdin.close()
        gevent_c.joinall([reader, writer])
        for glet in (reader, writer):
            assert isinstance(glet.exception, OSError) and glet.exception.errno == 9
        assert proc.stdout.closed and proc.stdin.closed
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize('pipes', [
    {}, {'stdout': subprocess.PIPE}, {'stdin': subprocess.PIPE},
    {'stdout': subprocess.PIPE, 'stderr': subprocess.PIPE},
])
def test_timeout_expired_reports_the_timeout_given(pipes):
    # the child closes its stdout at once but lives on: the final wait times out
    args = [sys.executable, '-c', 'import os, time; os.close(1); time.sleep(30)']
    p = gsp.Popen(args, **pipes)
    try:
        with pytest.raises(gsp.TimeoutExpired) as info:
            p.communicate(timeout=0.05)
        assert info.value.timeout == 0.05
        with pytest.raises(gsp.TimeoutExpired) as info:
            p.wait(timeout=0.05)
        assert info.value.timeout == 0.05
    finally:
        p.kill()
        p.wait()


def test_wait_and_iwait_take_popen_objects():
    p = gsp.Popen([sys.executable, '-c', 'import sys; sys.exit(11)'])
    assert gevent_c.wait([p]) == [p]
    assert p.poll() == 11
    assert gevent_c.wait([p], timeout=5) == [p]   # already exited: at once
    slow, quick = (gsp.Popen([sys.executable, '-c', 'import time; time.sleep(%s)' % d])
                   for d in (0.5, 0.05))
    assert list(gevent_c.iwait([slow, quick])) == [quick, slow]
    seen = []
    p = gsp.Popen([sys.executable, '-c', 'pass'])
    p.rawlink(seen.append)
    p.unlink(seen.append)
    p.wait()
    gevent_c.sleep(0)
    assert seen == []
    with pytest.raises(TypeError):
        p.rawlink(1)


def test_module_has_gevents_file_object():
    from gevent_c.fileobject import FileObject
    assert gsp.FileObject is FileObject


def test_a_nonblocking_descriptor_given_as_stdin_reaches_the_child_blocking():
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        with gsp.Popen([sys.executable, '-c', 'import sys; print(sys.stdin.read())'],
                       stdin=r, stdout=gsp.PIPE) as p:
            assert os.get_blocking(r)
            gevent_c.sleep(0.2)            # the child reads: no EAGAIN
            os.write(w, b'late data')
            os.close(w)
            w = None
            assert p.communicate(timeout=30)[0].strip() == b'late data'
            assert p.returncode == 0
    finally:
        os.close(r)
        if w is not None:
            os.close(w)
