"""threading and _thread after patch_thread(): threads are greenlets, the
primitives cooperative, the main thread joinable, interpreter exit clean.
Each scenario runs patched in its own interpreter."""
import os
import sys
import textwrap

import pytest

from _monkeytest import run_patched

PATCH = 'from gevent_c import monkey; monkey.patch_all()\n'


def patched(code, **kw):
    proc = run_patched(PATCH + textwrap.dedent(code), **kw)
    assert proc.stderr == '', proc.stderr
    return proc.stdout


def test_threads_are_greenlets_that_run_concurrently():
    out = patched('''
        import threading, time, gevent_c
        from gevent_c._greenlet import getcurrent
        inside, most = [0], [0]
        def work(i):
            assert threading.current_thread().name == 'w%d' % i
            assert isinstance(getcurrent(), gevent_c.Greenlet)
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            inside[0] -= 1
        threads = [threading.Thread(target=work, args=(i,), name='w%d' % i) for i in range(50)]
        for t in threads:
            t.start()
        assert all(t.is_alive() for t in threads)
        for t in threads:
            t.join()
        assert not any(t.is_alive() for t in threads)
        assert len({t.ident for t in threads}) == 50
        print(most[0])
    ''')
    assert out.strip() == '50'


def test_lock_has_the_stdlib_contract_and_waits_cooperatively():
    patched('''
        import threading, _thread, gevent_c
        lock = threading.Lock()
        assert type(lock) is _thread.LockType and _thread.allocate_lock is threading.Lock
        assert lock.acquire() and lock.locked()
        assert lock.acquire(False) is False
        assert lock.acquire(timeout=0.01) is False
        for bad in [dict(blocking=False, timeout=1), dict(timeout=-2)]:
            try:
                lock.acquire(**bad)
            except ValueError:
                pass
            else:
                raise AssertionError(bad)
        try:
            lock.acquire(timeout=1e300)
        except OverflowError:
            pass
        order = []
        def other():
            with lock:
                order.append('other')
        g = gevent_c.spawn(other)
        gevent_c.sleep(0.01)
        order.append('main releases')
        lock.release()
        g.join()
        assert order == ['main releases', 'other'], order
        try:
            lock.release()
        except RuntimeError as exc:
            assert 'release unlocked lock' in str(exc)
        else:
            raise AssertionError
        try:
            class Sub(_thread.LockType):
                pass
        except TypeError:
            pass
        else:
            raise AssertionError('LockType must not be subclassable')
        # a spin loop on acquire(False) lets the holder run
        spin = threading.Lock(); spin.acquire()
        gevent_c.spawn_later(0.01, spin.release)
        while not spin.acquire(False):
            pass
    ''')


def test_rlock_condition_semaphore_event_barrier_timer():
    patched('''
        import threading, time, gevent_c
        rlock = threading.RLock()
        # the cooperative C RLock of gevent_c.threading (as threading's own
        # _CRLock, invisible to trace functions)
        assert type(rlock) is threading._CRLock is gevent_c.threading._CRLock
        with rlock:
            with rlock:
                got = []
                t = threading.Thread(target=lambda: got.append(rlock.acquire(timeout=0.01)))
                t.start(); t.join()
                assert got == [False]
        cond = threading.Condition()
        ready = []
        def consumer():
            with cond:
                cond.wait_for(lambda: ready, timeout=5)
                ready.append('consumed')
        t = threading.Thread(target=consumer); t.start()
        time.sleep(0.01)
        with cond:
            ready.append('item'); cond.notify()
        t.join()
        assert ready == ['item', 'consumed']
        sem = threading.BoundedSemaphore(2)
        inside, most = [0], [0]
        def limited():
            with sem:
                inside[0] += 1; most[0] = max(most[0], inside[0])
                time.sleep(0.005)
                inside[0] -= 1
        ts = [threading.Thread(target=limited) for _ in range(6)]
        [t.start() for t in ts]; [t.join() for t in ts]
        assert most[0] == 2
        try:
            sem.release()
        except ValueError:
            pass
        else:
            raise AssertionError
        ev = threading.Event()
        assert ev.wait(0.01) is False
        threading.Timer(0.01, ev.set).start()
        assert ev.wait(5) is True
        cancelled = threading.Timer(0.01, ev.clear); cancelled.start(); cancelled.cancel()
        time.sleep(0.03)
        assert ev.is_set()
        barrier = threading.Barrier(3)
        passed = []
        ts = [threading.Thread(target=lambda: passed.append(barrier.wait(5))) for _ in range(3)]
        [t.start() for t in ts]; [t.join() for t in ts]
        assert sorted(passed) == [0, 1, 2]
    ''')


def test_local_and_idents_are_per_greenlet():
    patched('''
        import threading, _thread, _threading_local, gevent_c, os
        import gevent_c.local
        assert threading.local is gevent_c.local.local
        assert _threading_local.local is gevent_c.local.local
        data = threading.local()
        data.x = 'main'
        seen = {}
        def work(i):
            data.x = i
            gevent_c.sleep(0.001)
            seen[i] = (data.x, threading.get_ident(), threading.get_native_id())
        ts = [threading.Thread(target=work, args=(i,)) for i in range(5)]
        [t.start() for t in ts]; [t.join() for t in ts]
        assert data.x == 'main'
        assert all(seen[i][0] == i for i in range(5))
        assert len({v[1] for v in seen.values()} | {threading.get_ident()}) == 6
        assert {v[2] for v in seen.values()} == {threading.get_native_id()}
        assert _thread.get_ident() == threading.get_ident() == id(gevent_c.getcurrent())
    ''')


def test_main_thread_and_dummy_threads():
    patched('''
        import threading, gevent_c, gc
        main = threading.main_thread()
        assert threading.current_thread() is main
        assert main.ident == threading.get_ident()
        assert threading._active[threading.get_ident()] is main
        assert isinstance(main, threading.Thread)
        baseline = len(threading._active)
        names = []
        def who():
            me = threading.current_thread()
            names.append(me.name)
            assert isinstance(me, threading._DummyThread) and me.daemon
            assert threading.current_thread() is me
            assert threading.main_thread() is main
        gs = [gevent_c.spawn(who) for _ in range(100)]
        gevent_c.joinall(gs)
        assert all(n.startswith('Dummy-') for n in names) and len(set(names)) == 100
        del gs
        gc.collect()
        gevent_c.sleep(0)
        # the dummies left threading._active with their greenlets
        assert len(threading._active) == baseline, threading._active
    ''')


def test_greenlets_can_join_the_main_thread_at_exit():
    out = patched('''
        import threading, gevent_c
        def joiner():
            threading.main_thread().join()
            print('main thread joined', threading.main_thread().is_alive())
        gevent_c.spawn(joiner)
        gevent_c.sleep(0.01)
        print('main ends')
    ''')
    assert out.split('\n')[:2] == ['main ends', 'main thread joined False']


def test_exit_waits_for_non_daemon_threads_not_daemon_ones():
    out = patched('''
        import threading, time, atexit
        def late(msg, delay):
            time.sleep(delay)
            print(msg, flush=True)
        threading.Thread(target=late, args=('non-daemon done', 0.05)).start()
        threading.Thread(target=late, args=('daemon done', 30), daemon=True).start()
        threading._register_atexit(lambda: print('threading atexit', flush=True))
        print('main ends', flush=True)
    ''')
    assert out.split() == ['main', 'ends', 'threading', 'atexit', 'non-daemon', 'done']


def test_exit_with_a_thread_blocked_forever_and_live_greenlets_is_clean():
    # gevent#534/#985/#747: no KeyError, LoopExit or hang at exit.
    out = patched('''
        import threading, gevent_c, queue
        q = queue.Queue()
        threading.Thread(target=q.get, name='blocked forever').start()
        gevent_c.spawn(q.get)
        gevent_c.spawn(gevent_c.sleep, 0.05)
        gevent_c.sleep(0)
        print('main ends')
    ''', timeout=30)
    assert out.strip() == 'main ends'


def test_thread_pool_executor_workers_are_joined_at_exit():
    out = patched('''
        import concurrent.futures, time, threading
        ex = concurrent.futures.ThreadPoolExecutor(4)
        futs = [ex.submit(time.sleep, 0.02) for _ in range(8)]
        fut = ex.submit(lambda: threading.current_thread().name)
        print(fut.result(timeout=5).startswith('ThreadPoolExecutor'))
        # no shutdown(): threading's atexit hook of concurrent.futures joins them
    ''')
    assert out.strip() == 'True'


def test_start_new_thread_contract():
    patched('''
        import _thread, gevent_c
        got = []
        ident = _thread.start_new_thread(lambda a, b=0: got.append((a, b)), (1,), {'b': 2})
        assert isinstance(ident, int)
        _thread.start_new_thread(_thread.exit, ())
        _thread.start_new_thread(lambda: (_ for _ in ()).throw(SystemExit), ())
        gevent_c.sleep(0.01)
        assert got == [(1, 2)]
        for args in [(1, ()), (print, []), (print, (), [])]:
            try:
                _thread.start_new_thread(*args)
            except TypeError:
                pass
            else:
                raise AssertionError(args)
    ''')


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
def test_fork_from_a_thread_and_from_main_keeps_threading_sane():
    patched('''
        import os, threading, time
        def child_checks(expected_name):
            me = threading.current_thread()
            assert me is threading.main_thread(), (me, threading.main_thread())
            assert len(threading._active) == 1, threading._active
            got = []
            t = threading.Thread(target=lambda: got.append(threading.current_thread().name))
            t.start(); t.join()
            assert got and got[0].startswith('Thread-'), got
        def fork_and_check(name):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    child_checks(name)
                except BaseException as exc:
                    import traceback; traceback.print_exc()
                    code = 1
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        fork_and_check('MainThread')
        t = threading.Thread(target=fork_and_check, args=('forker',), name='forker')
        t.start(); t.join()
    ''')


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
def test_in_a_child_forked_by_a_thread_the_other_threads_count_as_stopped():
    # fork copies only the forking thread: joining any other thread (here
    # the main thread) in the child returns at once, on every version
    patched('''
        import os, sys, threading
        main = threading.current_thread()
        parked = threading.Event()
        sleeper = threading.Thread(target=parked.wait, name='sleeper')
        sleeper.start()
        def forker():
            pid = os.fork()
            if pid:
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0, status
                return
            code = 1
            try:
                joined = []
                t = threading.Thread(target=lambda: (main.join(), joined.append('main')))
                t.start()
                t.join(10)
                assert joined == ['main'] and not t.is_alive(), joined
                sleeper.join(10)
                assert not sleeper.is_alive()
                code = 0
            except BaseException:
                import traceback; traceback.print_exc()
            finally:
                sys.stdout.flush(); sys.stderr.flush()
                os._exit(code)
        w = threading.Thread(target=forker)
        w.start(); w.join(30)
        assert not w.is_alive()
        assert sleeper.is_alive()
        parked.set(); sleeper.join()
    ''')


def test_existing_locks_logging_and_futures_are_replaced():
    proc = run_patched('''
        import logging, concurrent.futures.thread, threading
        handler = logging.StreamHandler()
        old_handler_lock, old_module_lock = handler.lock, logging._lock
        old_cf = concurrent.futures.thread._global_shutdown_lock
        from gevent_c import monkey
        monkey.patch_all()
        assert logging._lock is not old_module_lock and handler.lock is not old_handler_lock
        assert type(handler.lock) is threading._CRLock
        assert type(concurrent.futures.thread._global_shutdown_lock) is threading.Lock
        assert monkey.get_original('logging', '_lock') is old_module_lock
    ''')
    assert proc.stderr == ''


def test_patch_all_inside_a_module_being_imported(tmp_path):
    # The import lock of app is held by the native thread ident while it
    # patches; it must still be released (existing_locks).
    (tmp_path / 'app_patching.py').write_text(textwrap.dedent('''
        from gevent_c import monkey
        monkey.patch_all()
        import threading
        t = threading.Thread(target=lambda: __import__('json'))
        t.start(); t.join()
        VALUE = 42
    '''))
    proc = run_patched('import sys; sys.path.insert(0, %r); import app_patching; '
                       'print(app_patching.VALUE)' % str(tmp_path))
    assert proc.stdout.strip() == '42' and proc.stderr == ''


def test_native_thread_running_before_patching_warns_and_joins_cooperatively():
    proc = run_patched('''
        import threading, time
        stop = threading.Event()
        t = threading.Thread(target=stop.wait, name='native-before')
        t.start()
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            from gevent_c import monkey
            monkey.patch_all()
        msgs = [str(w.message) for w in caught if w.category is monkey.MonkeyPatchWarning]
        assert len(msgs) == 1 and 'native-before' in msgs[0], msgs
        import gevent_c
        ticks = []
        g = gevent_c.spawn(lambda: [ticks.append(gevent_c.sleep(0.01)) for _ in range(3)])
        gevent_c.spawn_later(0.05, stop.set)
        t.join()                     # other greenlets run while it waits
        assert len(ticks) == 3 and not t.is_alive()
        print('ok')
    ''')
    assert proc.stdout.strip() == 'ok'


@pytest.mark.skipif(sys.version_info[:2] < (3, 13), reason='3.13 thread handles')
def test_thread_handles_on_313():
    patched('''
        import threading, _thread, gevent_c.thread
        assert _thread.start_joinable_thread is gevent_c.thread.start_joinable_thread
        t = threading.Thread(target=lambda: None); t.start(); t.join()
        assert isinstance(t._handle, gevent_c.thread._ThreadHandle) and t._handle.is_done()
    ''')


def test_patch_thread_options():
    run_patched('''
        import threading, _thread, _threading_local
        real_local = _threading_local.local
        from gevent_c import monkey
        monkey.patch_thread(threading=False, _threading_local=False)
        import gevent_c.thread
        assert _thread.allocate_lock is gevent_c.thread.allocate_lock
        assert not monkey.is_module_patched('threading')
        assert _threading_local.local is real_local
    ''')
    run_patched('''
        import threading
        real_event = threading.Event
        from gevent_c import monkey
        monkey.patch_thread(Event=False)
        import gevent_c
        assert threading.Event is real_event
        ev = threading.Event()              # the stdlib's, over cooperative locks
        gevent_c.spawn_later(0.01, ev.set)
        assert ev.wait(5)
    ''')
