"""gevent_c.threadpool: native worker threads whose results come back to the hub."""
import _thread
import concurrent.futures as cf
import io
import os
import subprocess
import sys
import textwrap
import time
import traceback

import pytest

import gevent_c
from gevent_c.exceptions import InvalidThreadUseError
from gevent_c.threadpool import ThreadPool, ThreadPoolExecutor, ThreadResult

from _hubtest import clean_hub  # noqa: F401 -- autouse fixture
from _hubtest import raised_in_native_thread

pytestmark = pytest.mark.timeout(60)


def wait_threads_gone(baseline):
    """Wait until the native threads started since *baseline* have exited."""
    while _thread._count() > baseline:
        time.sleep(0.001)


@pytest.fixture
def pool():
    baseline = _thread._count()
    tp = ThreadPool(4)
    yield tp
    tp.kill()
    wait_threads_gone(baseline)


@pytest.fixture
def quiet_hub():
    """Collect the hub's error reports instead of printing them."""
    hub = gevent_c.get_hub()
    hub.exception_stream = io.StringIO()
    yield hub
    del hub.exception_stream


def test_spawn_returns_a_thread_result_with_the_value(pool):
    result = pool.spawn(lambda a, b=0: a + b, 40, b=2)
    assert isinstance(result, ThreadResult)
    assert result.get() == 42
    assert result.successful()


def test_task_runs_in_another_native_thread(pool):
    assert pool.apply(_thread.get_ident) != _thread.get_ident()


def test_exception_is_raised_with_the_worker_traceback(pool, quiet_hub):
    def failing():
        raise KeyError('boom')

    result = pool.spawn(failing)
    with pytest.raises(KeyError) as info:
        result.get()
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert 'failing' in names
    assert not result.successful()
    report = quiet_hub.exception_stream.getvalue()
    assert 'KeyError' in report and 'failing' in report


def test_not_error_exceptions_are_not_reported(pool, quiet_hub):
    class Quiet(Exception):
        pass

    quiet_hub.NOT_ERROR = quiet_hub.NOT_ERROR + (Quiet,)
    try:
        with pytest.raises(Quiet):
            pool.apply(_raise, (Quiet(),))
    finally:
        del quiet_hub.NOT_ERROR
    assert quiet_hub.exception_stream.getvalue() == ''


def _raise(exc):
    raise exc


def test_apply_unreported_raises_in_the_caller_only(pool, quiet_hub):
    with pytest.raises(OSError):
        pool._apply_unreported(os.read, (-1, 1))
    assert pool._apply_unreported(abs, (-4,)) == 4
    assert quiet_hub.exception_stream.getvalue() == ''


def test_map_imap_and_imap_unordered(pool):
    items = list(range(50))
    assert pool.map(lambda x: x * x, items) == [x * x for x in items]
    assert list(pool.imap(lambda x: x + 1, items)) == [x + 1 for x in items]
    assert sorted(pool.imap_unordered(lambda x: -x, items)) == sorted(-x for x in items)
    assert list(pool.imap(pow, [2, 3], [3, 2])) == [8, 9]


def test_map_raises_the_first_failure_in_order(pool, quiet_hub):
    def maybe_fail(x):
        if x in (3, 7):
            raise ValueError(x)
        return x
    with pytest.raises(ValueError) as info:
        pool.map(maybe_fail, range(10))
    assert info.value.args == (3,)
    pool.join()


def test_threading_trace_hook_is_installed_for_tasks(pool):
    import threading
    calls = []

    def tracer(frame, event, arg):
        if event == 'call' and frame.f_code.co_name == 'traced_task':
            calls.append(_thread.get_ident())
        return None

    def traced_task():
        return 1

    threading.settrace(tracer)
    try:
        assert pool.apply(traced_task) == 1
    finally:
        threading.settrace(None)
    assert len(calls) == 1 and calls[0] != _thread.get_ident()
    assert pool.apply(traced_task) == 1
    assert len(calls) == 1


def test_apply_async_returns_a_greenlet_and_calls_back(pool):
    seen = []
    glet = pool.apply_async(lambda x: x * 3, (5,), callback=seen.append)
    assert glet.get() == 15
    gevent_c.sleep(0)
    assert seen == [15]


def test_ten_thousand_tasks(pool):
    results = [pool.spawn(abs, -i) for i in range(10000)]
    assert [r.get() for r in results] == list(range(10000))
    assert len(pool) == 0
    assert pool.size <= pool.maxsize


def test_hub_serves_other_greenlets_while_a_task_runs(pool):
    # The task can only finish after a greenlet ran: a blocked hub deadlocks.
    lock = _thread.allocate_lock()
    lock.acquire()
    result = pool.spawn(lock.acquire)
    gevent_c.spawn(lock.release)
    assert result.get() is True


def test_no_more_than_maxsize_tasks_run_at_once():
    baseline = _thread._count()
    tp = ThreadPool(3)
    guard = _thread.allocate_lock()
    state = {'now': 0, 'peak': 0}

    def task():
        with guard:
            state['now'] += 1
            state['peak'] = max(state['peak'], state['now'])
        time.sleep(0.002)
        with guard:
            state['now'] -= 1

    for r in [tp.spawn(task) for _ in range(30)]:
        r.get()
    assert state['peak'] <= 3
    assert tp.size <= 3
    tp.kill()
    wait_threads_gone(baseline)


def test_join_waits_for_every_task(pool):
    done = []
    for i in range(20):
        pool.spawn(lambda i=i: (time.sleep(0.001), done.append(i)))
    pool.join()
    assert sorted(done) == list(range(20))
    assert len(pool) == 0


def test_kill_stops_every_thread():
    baseline = _thread._count()
    tp = ThreadPool(5)
    tp.map(time.sleep, [0.001] * 10)
    assert tp.size > 0
    tp.kill()
    assert tp.size == 0
    wait_threads_gone(baseline)


def test_size_can_be_set_within_maxsize(pool):
    pool.size = 3
    assert pool.size == 3
    pool.size = 1
    assert pool.size == 1
    with pytest.raises(ValueError):
        pool.size = 5
    with pytest.raises(ValueError):
        pool.size = -1


def test_lowering_maxsize_retires_threads(pool):
    pool.size = 4
    pool.maxsize = 1
    pool.adjust()
    while pool.size > 1:
        gevent_c.sleep(0.001)
    assert pool.apply(lambda: 'ok') == 'ok'


def test_raising_maxsize_wakes_a_blocked_spawn():
    baseline = _thread._count()
    tp = ThreadPool(0)
    spawned = gevent_c.spawn(tp.spawn, lambda: 7)
    gevent_c.sleep(0.01)
    assert not spawned.ready()
    tp.maxsize = 1
    assert spawned.get().get() == 7
    tp.kill()
    wait_threads_gone(baseline)


def test_idle_threads_exit_after_idle_task_timeout():
    baseline = _thread._count()
    tp = ThreadPool(2, idle_task_timeout=0.01)
    tp.map(abs, range(10))
    while tp.size:
        gevent_c.sleep(0.005)
    wait_threads_gone(baseline)
    assert tp.apply(abs, (-3,)) == 3
    tp.kill()
    wait_threads_gone(baseline)


def test_bad_input_raises_at_the_call():
    with pytest.raises(ValueError):
        ThreadPool(-1)
    with pytest.raises(TypeError):
        ThreadPool('3')
    with pytest.raises(TypeError):
        ThreadPool(1, idle_task_timeout='x')
    tp = ThreadPool(1)
    with pytest.raises(TypeError):
        tp.spawn(42)
    with pytest.raises(ValueError):
        tp.maxsize = -2
    tp.kill()


def test_spawn_from_another_thread_is_refused(pool):
    exc = raised_in_native_thread(lambda: pool.spawn(abs, 1))
    assert isinstance(exc, InvalidThreadUseError)


def test_apply_from_a_worker_thread_runs_inline(pool):
    assert pool.apply(lambda: pool.apply(_thread.get_ident)) != _thread.get_ident()


def test_hub_threadpool_is_created_lazily():
    hub = gevent_c.get_hub()
    assert hub._threadpool is None
    tp = hub.threadpool
    assert isinstance(tp, ThreadPool) and tp is hub.threadpool
    assert tp.maxsize == hub.threadpool_size
    assert tp.apply(sum, ([1, 2],)) == 3


def test_executor_futures_wait_cooperatively():
    baseline = _thread._count()
    lock = _thread.allocate_lock()
    lock.acquire()
    with ThreadPoolExecutor(2) as executor:
        future = executor.submit(lock.acquire)
        assert isinstance(future, cf.Future)
        gevent_c.spawn(lock.release)
        assert future.result() is True
        assert list(executor.map(abs, [-1, -2, -3])) == [1, 2, 3]
        failing = executor.submit(_raise, ValueError('v'))
        assert isinstance(failing.exception(), ValueError)
        with pytest.raises(ValueError):
            failing.result()
        gate = _thread.allocate_lock()
        gate.acquire()
        slow = executor.submit(gate.acquire)
        with pytest.raises(cf.TimeoutError):
            slow.result(timeout=0.001)
        gate.release()
        assert slow.result() is True
        futures = [executor.submit(abs, -i) for i in range(5)]
        assert len(gevent_c.wait(futures)) == 5
        done, _ = cf.wait(futures)
        assert len(done) == 5
    with pytest.raises(RuntimeError):
        executor.submit(abs, 1)
    wait_threads_gone(baseline)


def test_executor_submit_never_blocks():
    baseline = _thread._count()
    lock = _thread.allocate_lock()
    lock.acquire()
    executor = ThreadPoolExecutor(1)
    futures = [executor.submit(lock.acquire)] + [executor.submit(abs, -i) for i in range(5)]
    assert not futures[0].done()
    lock.release()
    assert [f.result() for f in futures[1:]] == list(range(5))
    executor.shutdown()
    wait_threads_gone(baseline)


def test_executor_shutdown_cancel_futures():
    baseline = _thread._count()
    lock = _thread.allocate_lock()
    lock.acquire()
    executor = ThreadPoolExecutor(1)
    blocker = executor.submit(lock.acquire)
    queued = [executor.submit(abs, -1) for _ in range(3)]
    while not blocker.running():
        gevent_c.sleep(0.001)
    gevent_c.spawn(lock.release)
    executor.shutdown(wait=True, cancel_futures=True)
    assert blocker.result() is True
    assert all(f.cancelled() for f in queued)
    wait_threads_gone(baseline)


FORK_SCRIPT = textwrap.dedent('''
    import os, _thread, gevent_c
    pool = gevent_c.get_hub().threadpool
    assert pool.apply(_thread.get_ident) != _thread.get_ident()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            gevent_c.reinit()
            res = pool.map(lambda x: x * 2, range(100))
            ok = res == [x * 2 for x in range(100)] and pool.apply(abs, (-5,)) == 5
            os.write(w, b'ok' if ok else repr(res).encode())
        except BaseException as exc:
            os.write(w, repr(exc).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 1000)
    os.waitpid(pid, 0)
    assert pool.apply(abs, (-1,)) == 1
    pool.kill()
    print(data.decode())
''')


@pytest.mark.timeout(60)
def test_pool_works_in_a_forked_child():
    out = subprocess.run([sys.executable, '-c', FORK_SCRIPT], capture_output=True,
                         text=True, timeout=50, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'ok'


def test_join_in_a_forked_child_ignores_tasks_running_in_the_parent():
    # The parent's task never finishes in the child (no thread there), so
    # join(), len() and size must start from the forked state, as in gevent.
    from _isolated import run_isolated
    out = run_isolated('''
        import os, _thread, gevent_c
        from gevent_c.threadpool import ThreadPool
        lock = _thread.allocate_lock()
        lock.acquire()
        pool = ThreadPool(2)
        pool.spawn(lock.acquire)
        pid = gevent_c.fork()
        if pid == 0:
            try:
                with gevent_c.Timeout(30):
                    pool.join()
                ok = len(pool) == 0 and pool.size == 0 and pool.apply(abs, (-2,)) == 2
                pool.kill()
                os._exit(0 if ok else 1)
            except BaseException:
                os._exit(2)
        status = gevent_c.os.waitpid(pid, 0)[1]
        lock.release()
        pool.join()
        pool.kill()
        print(os.waitstatus_to_exitcode(status))
    ''')
    assert out.strip() == '0'


def test_a_refused_profile_hook_fails_the_task_not_the_worker():
    # audit hooks cannot be removed: in a child interpreter
    code = textwrap.dedent('''
        import sys, threading
        threading.setprofile(lambda *args: None)
        from gevent_c.threadpool import ThreadPool
        def audit(event, args):
            if event == 'sys.setprofile':
                raise RuntimeError('refused')
        sys.addaudithook(audit)
        pool = ThreadPool(2)
        try:
            pool.apply(len, ('x',))
        except RuntimeError:
            print('raised')
        pool.kill()
        ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == 'raised', out.stderr
