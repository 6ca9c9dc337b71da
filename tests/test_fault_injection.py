"""Fault injection: allocation failures and descriptor exhaustion.

Allocation failures come from CPython's own hook (_testcapi.set_nomemory):
each pass of a sweep makes one allocation fail, a little further into the
operation each time, so that every allocation of it fails once somewhere in
the sweep.  The operation must then raise MemoryError (or succeed, when the
failing allocation was one it could do without) and leave nothing behind:
no crash, no hang, no reference held to what it was given.  Each sweep runs
in a subprocess: a regression is a crash there, not of the test run.

Descriptor exhaustion lowers RLIMIT_NOFILE in a subprocess: socket(),
socketpair(), pipe() and the thread resolver raise OSError (EMFILE) or
succeed, and everything works again once descriptors are free.
"""
import sys
import textwrap

import pytest

from _isolated import run_isolated

pytestmark = pytest.mark.skipif(
    not sys.implementation.name == 'cpython', reason='_testcapi is CPython only')

# Shared by the sweeps: sweep(op, passes) calls op() once per pass with the
# pass's failing allocation; returns how many passes raised MemoryError and
# how many succeeded.  Anything else propagates and fails the test.
SWEEP = '''
import gc, sys, _testcapi

def sweep(op, passes, step=1):
    failed = ok = 0
    for k in range(0, passes, step):
        _testcapi.set_nomemory(k, k + 1)
        try:
            op()
            ok += 1
        except MemoryError:
            failed += 1
        finally:
            _testcapi.remove_mem_hooks()
    gc.collect()
    return failed, ok

class Token:
    """what the operations are given: its refcount must come back"""
token = Token()
'''


def _sweep(body, timeout=120):
    out = run_isolated(SWEEP + textwrap.dedent(body), dev=True, timeout=timeout)
    return out.split()


def test_greenlet_create_switch_throw_under_allocation_failures():
    out = _sweep('''
        from gevent_c._greenlet import greenlet, getcurrent, GreenletExit
        main = getcurrent()
        def run(arg, *more):
            got = main.switch(arg)
            try:
                main.switch(got)
            except KeyError:
                return 'caught'
        def op():
            g = greenlet(run)
            try:
                assert g.switch(token, token) is token
                assert g.switch(token) is token
                assert g.throw(KeyError, token) == 'caught'
            finally:
                if g and not g.dead:
                    g.throw(GreenletExit)   # unwind it whatever failed
        base = sys.getrefcount(token)
        failed, ok = sweep(op, 300)
        print(failed > 0, ok > 0, sys.getrefcount(token) - base)
        live = [o for o in gc.get_objects()
                if isinstance(o, greenlet) and o and o is not main]
        print(len(live))
    ''')
    assert out == ['True', 'True', '0', '0']


def test_spawn_join_and_sleep_under_allocation_failures():
    # Found here: the hub dying of a MemoryError while it started (every
    # later wait then returned at once, and a stray switch came later), and
    # a greenlet whose outcome could not be stored ending with none (its
    # joiners waited for good).  Both fixed: the spawned greenlet either
    # fails to spawn with MemoryError, or ends with its value or an error.
    out = _sweep('''
        import gevent_c
        from gevent_c.hub import get_hub
        def job(arg):
            gevent_c.sleep(0)
            return arg
        outcomes = set()
        def op():
            g = gevent_c.spawn(job, token)
            try:
                # (not joinall: CPython 3.11's frame clearing can drop a
                # pending MemoryError, a SystemError there)
                g.join(timeout=30)
                assert g.dead, g
                assert g.value is token or g.exception is not None, g
                outcomes.add('value' if g.value is token else
                             type(g.exception).__name__)
            finally:
                g.kill(block=False)
        hub = get_hub()
        hub.print_exception = lambda *a: None   # MemoryErrors in callbacks
        # read from the environment before the sweep: CPython 3.11's
        # os.environ.get can turn a MemoryError into a SystemError
        gevent_c.config.monitor_thread
        base = sys.getrefcount(token)
        failed, ok = sweep(op, 600, step=3)
        gevent_c.sleep(0.01)
        gevent_c.sleep(0.01)
        gc.collect()
        print(failed > 0, ok > 0, sys.getrefcount(token) - base)
        print(outcomes <= {'value', 'MemoryError'})
        # the hub still works
        print(gevent_c.spawn(job, 'after').get(timeout=5))
    ''')
    assert out == ['True', 'True', '0', 'True', 'after']


def test_watcher_start_and_callbacks_under_allocation_failures():
    out = _sweep('''
        from gevent_c import _core
        loop = _core.loop(default=False)
        fired = []
        def cb(*args):
            fired.append(len(args))
        def op():
            t = loop.timer(0)
            i = loop.idle()
            try:
                t.start(cb, token, token)
                i.start(cb, token)
                c = loop.run_callback(cb, token)
                loop.run(once=True)
            finally:
                t.stop()
                i.stop()
        base = sys.getrefcount(token)
        failed, ok = sweep(op, 300)
        loop.run(nowait=True)
        loop.destroy()
        gc.collect()
        print(failed > 0, ok > 0, sys.getrefcount(token) - base)
    ''')
    assert out == ['True', 'True', '0']


def test_socket_wait_under_allocation_failures():
    out = _sweep('''
        import gevent_c
        from gevent_c import socket
        from gevent_c.hub import get_hub
        get_hub().print_exception = lambda *a: None
        gevent_c.config.monitor_thread   # (see the spawn sweep)
        a, b = socket.socketpair()
        def sender():
            gevent_c.sleep(0)
            b.sendall(b'x' * 10)
        def op():
            g = gevent_c.spawn(sender)
            try:
                a.settimeout(2)
                try:
                    assert a.recv(10) == b'x' * 10
                except socket.timeout:
                    # only when the sender ran out of memory
                    if not isinstance(g.exception, MemoryError):
                        raise
                    raise MemoryError from None
            finally:
                g.kill()
                a.setblocking(False)
                try:
                    while a.recv(100):      # drop what a failed pass left
                        pass
                except OSError:
                    pass
        failed, ok = sweep(op, 600, step=3)
        # still usable
        a.settimeout(5)
        b.sendall(b'end')
        print(failed > 0, ok > 0, a.recv(10).decode())
        a.close(); b.close()
    ''')
    assert out == ['True', 'True', 'end']


def test_descriptor_exhaustion_raises_oserror_and_recovers():
    out = run_isolated('''
        import errno, os, resource
        import gevent_c
        from gevent_c import socket
        from gevent_c.hub import get_hub
        from gevent_c.resolver.thread import Resolver
        hub = get_hub()
        resolver = Resolver(hub)
        print(resolver.gethostbyname('127.0.0.1'))
        # the thread resolver's pool thread exists now; use up every fd
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        held = []
        try:
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as e:
            assert e.errno == errno.EMFILE
        results = []
        for make in (socket.socket, socket.socketpair, os.pipe):
            try:
                make()
                results.append('made')
            except OSError as e:
                results.append(errno.errorcode[e.errno])
        try:
            results.append(resolver.gethostbyname('localhost'))
        except OSError as e:
            results.append(type(e).__name__)
        print(' '.join(results))
        for fd in held:
            os.close(fd)
        a, b = socket.socketpair()
        a.sendall(b'ok')
        print(b.recv(2).decode())
        print(resolver.gethostbyname('127.0.0.1'))
    ''', timeout=60)
    lines = out.split('\n')
    assert lines[0] == '127.0.0.1'
    kinds = lines[1].split()
    assert kinds[:3] == ['EMFILE'] * 3
    assert kinds[3] in ('127.0.0.1', 'gaierror', 'OSError')   # never a hang
    assert lines[2:4] == ['ok', '127.0.0.1']


def test_hub_survives_an_error_while_it_starts():
    # The sweep's first bug, made deterministic: the hub's start failed (out
    # of memory reading the monitor setting) and the hub died, after which
    # every wait returned at once into the main greenlet.
    out = run_isolated('''
        import gevent_c
        from gevent_c.hub import get_hub
        hub = get_hub()
        calls = []
        def failing_monitor():
            calls.append(1)
            if len(calls) == 1:
                raise MemoryError('monitor')
        hub.start_periodic_monitoring_thread = failing_monitor
        try:
            gevent_c.sleep(0.001)
        except MemoryError as e:
            print('waiter got', e)
        print(hub.dead)
        g = gevent_c.spawn(lambda: 'ran')
        print(g.get(timeout=5), len(calls))
    ''')
    assert out.strip().split('\n') == ['waiter got monitor', 'False', 'ran 2']


def test_greenlet_whose_outcome_cannot_be_stored_ends_with_that_error():
    # The sweep's second bug: storing the outcome ran out of memory, so the
    # greenlet was dead with no outcome and its links never ran. Here the
    # hub's handle_error fails once while the error is reported: the
    # greenlet keeps its outcome and its links still run.
    out = run_isolated('''
        import gevent_c
        from gevent_c.hub import get_hub
        hub = get_hub()
        failures = [1]
        def handle_error(context, *exc_info):
            if failures:
                failures.pop()
                raise MemoryError('reporting the error')
        hub.handle_error = handle_error
        def boom():
            raise KeyError('x')
        g = gevent_c.spawn(boom)
        seen = []
        g.link(lambda src: seen.append(type(src.exception).__name__))
        g.join(timeout=5)
        gevent_c.sleep(0)
        print(g.dead, repr(g.exception), seen)
        print(gevent_c.spawn(lambda: 42).get(timeout=5))
    ''')
    assert out.strip().split('\n') == ["True KeyError('x') ['KeyError']", '42']


def test_hub_survives_a_memoryerror_before_its_loop_handles_errors():
    # what 3.10 does when the loop's first frame cannot be allocated (the
    # sweep above meets it there): the error comes out of the call to
    # _run_loop itself; it is thrown into the parent and the hub lives on
    out = run_isolated('''
        import gevent_c
        from gevent_c.hub import get_hub
        hub = get_hub()
        real = hub._run_loop
        calls = []
        def failing_run_loop():
            calls.append(1)
            if len(calls) == 1:
                raise MemoryError('frame')
            return real()
        hub._run_loop = failing_run_loop
        try:
            gevent_c.sleep(0.001)
        except MemoryError as e:
            print('waiter got', e)
        print(hub.dead)
        g = gevent_c.spawn(lambda: 'ran')
        print(g.get(timeout=5), len(calls))
    ''')
    assert out.strip().split('\n') == ['waiter got frame', 'False', 'ran 2']
