"""The gevent names that libraries written for gevent use (a survey of
gunicorn, celery, kombu, python-socketio, zerorpc, pyzmq's zmq.green, grpc,
psycogreen, geventhttpclient and locust), each used as the library uses it,
through ``gevent_c.install_as_gevent()``. Each test runs in its own
interpreter, since the alias changes sys.modules.

Names of that survey that other test files already cover:

- ``socket.socket is gevent.socket.socket`` after patching and
  ``monkey.is_module_patched``: test_monkey.py::
  test_patch_all_copies_every_implements_name_and_records_it (and kombu's
  own check below)
- ``socket.wait_read/wait_write(fd, timeout=)``: test_socket.py::
  test_wait_read_and_wait_write_on_raw_descriptors, test_dropin_db.py
- ``gevent.kill`` on a plain greenlet: test_hub.py::test_kill_a_raw_greenlet
- a ``Greenlet`` subclass overriding ``_run``: test_gevent_greenlet.py::
  test_subclass_overriding_run
- ``link(AsyncResult())``: test_gevent_greenlet.py::test_link_to_async_result,
  test_event.py::test_async_result_as_link_target_copies_failure
- iterating a ``Queue``: test_queue.py::test_iteration_stops_at_stop_iteration_item
- ``Group.join(timeout)`` returning a bool: test_pool.py::
  test_group_join_timeout_returns_false
- ``Group.killone(g, block=False)``: test_pool.py::
  test_killone_waits_only_when_it_does_the_killing
- ``sock.sendfile``: test_socket.py::test_sendfile_sends_a_file_and_advances_its_offset
"""
import shutil

import pytest

from _isolated import run_isolated
from test_ssl import certs  # noqa: F401 -- fixture: a CA and a server certificate

pytestmark = pytest.mark.timeout(60)

ALIAS = '''
    import gevent_c
    gevent_c.install_as_gevent()
    import gevent
'''


def alias(code, *args):
    return run_isolated(ALIAS + code, *args)


def test_version_compares_as_gunicorn_and_zerorpc_compare_it():
    out = alias('''
    from packaging.version import parse
    print(parse(gevent.__version__) >= parse('24.10.1'))      # gunicorn's check
    v = gevent.version_info
    print(v >= (24, 10, 1), v < (1, 1), v[:3] == (26, 9, 0), isinstance(v, tuple))
    print(v.major, v.minor, v.micro, v.releaselevel, v.serial)
    ''')
    assert out.splitlines() == ['True', 'True False True True', '26 9 0 final 0']


def test_kombu_detects_gevent_once_socket_is_patched():
    # kombu asks whether socket.socket is gevent.socket.socket
    out = alias('''
    from kombu.utils import compat
    print(compat._detect_environment())
    compat._environment = None
    from gevent import monkey
    monkey.patch_all()
    print(compat._detect_environment())
    import gevent.exceptions
    print(compat.get_gevent_concurrent_error() is gevent.exceptions.ConcurrentObjectUseError)
    ''')
    assert out.split() == ['default', 'gevent', 'True']


def test_socketio_asks_is_module_patched_socket():
    out = alias('''
    from gevent.monkey import is_module_patched
    before = is_module_patched('socket')
    from gevent import monkey
    monkey.patch_socket()
    print(before, is_module_patched('socket'), is_module_patched('threading'))
    ''')
    assert out.split() == ['False', 'True', 'False']


def test_hub_loop_io_watcher_wakes_a_greenlet_as_zmq_green_does():
    # zmq.green and zerorpc: get_hub().loop.io(fd, core.READ) started with a
    # callback taking no arguments that sets an Event a greenlet waits on;
    # stop() ends the notifications.
    out = alias('''
    import os
    from gevent import core
    from gevent.event import Event
    from gevent.hub import get_hub
    r, w = os.pipe()
    readable = Event()
    calls = []
    def state_changed():
        calls.append(os.read(r, 1))
        readable.set()
    watcher = get_hub().loop.io(r, core.READ)
    watcher.start(state_changed)
    gevent.spawn_later(0.01, os.write, w, b'x')
    print(core.READ, readable.wait(10), calls, watcher.active)
    watcher.stop()
    os.write(w, b'y')
    gevent.sleep(0.05)
    print(calls, watcher.active)
    watcher.close()
    ''')
    assert out.splitlines() == ["1 True [b'x'] True", "[b'x'] False"]


def test_threadpool_apply_blocks_on_a_native_condition_while_the_hub_runs():
    # grpc's gevent mode: threadpool.apply(f) where f waits on a native
    # condition variable that another greenlet of this thread signals.
    out = alias('''
    import threading
    from gevent.hub import get_hub
    cond = threading.Condition()     # not patched: a native one
    state = {'ready': False, 'ticks': 0}
    def wait_for_ready():
        with cond:
            while not state['ready']:
                cond.wait()
        return threading.get_ident()
    def ticker():
        while state['ticks'] < 5:
            state['ticks'] += 1
            gevent.sleep(0.01)
        with cond:
            state['ready'] = True
            cond.notify_all()
    t = gevent.spawn(ticker)
    worker = gevent.spawn(get_hub().threadpool.apply, wait_for_ready).get(timeout=30)
    print(worker != threading.get_ident(), state['ticks'], t.dead)
    try:
        get_hub().threadpool.apply(lambda: 1 / 0)
    except ZeroDivisionError:
        print('raised')
    ''')
    assert out.split() == ['True', '5', 'True', 'raised']


SSL_SERVER = '''
    import sys
    from gevent import socket, ssl
    ca, cert, key = sys.argv[1:4]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)
    address = listener.getsockname()
    def serve():
        while True:
            conn, _ = listener.accept()
            gevent.spawn(echo, conn)
    def echo(conn):
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(100))
        except (OSError, ValueError):
            conn.close()
    server = gevent.spawn(serve)
'''


def ssl_args(certs):
    return certs['ca'], certs['server'][0], certs['server'][1]


def test_sslsocket_constructed_with_context_and_server_hostname(certs):
    # geventhttpclient: gevent.ssl.SSLSocket(sock, _context=..., server_hostname=...)
    out = alias(SSL_SERVER + '''
    client_ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(address)
    tls = ssl.SSLSocket(raw, _context=client_ctx, server_hostname='localhost')
    print(type(tls) is ssl.SSLSocket, tls.server_hostname, raw.fileno())
    print(dict(x[0] for x in tls.getpeercert()['subject'])['commonName'])
    tls.sendall(b'ping')
    print(tls.recv(100).decode())
    tls.close()
    try:
        ssl.SSLSocket(socket.create_connection(address), _context=client_ctx,
                      server_hostname='other.example')
    except ssl.SSLCertVerificationError:
        print('verified')
    # without _context: the old wrap_socket arguments
    legacy = ssl.SSLSocket(socket.create_connection(address), cert_reqs=ssl.CERT_REQUIRED,
                           ca_certs=ca)
    legacy.sendall(b'legacy')
    print(legacy.recv(100).decode(), legacy.context.check_hostname)
    legacy.close()
    try:
        ssl.SSLSocket()
    except TypeError as exc:
        print('TypeError')
    server.kill()
    listener.close()
    ''', *ssl_args(certs))
    assert out.split() == ['True', 'localhost', '-1', 'localhost', 'ping', 'verified',
                           'legacy', 'False', 'TypeError']


def test_unverified_context_connects_to_an_unknown_certificate(certs):
    # locust hands gevent.ssl._create_unverified_context() to geventhttpclient
    out = alias(SSL_SERVER + '''
    ctx = ssl._create_unverified_context()
    print(isinstance(ctx, ssl.SSLContext), ctx.verify_mode == ssl.CERT_NONE,
          ctx.check_hostname)
    with ctx.wrap_socket(socket.create_connection(address),
                         server_hostname='localhost') as tls:
        tls.sendall(b'unverified')
        print(tls.recv(100).decode())
    try:   # the default context does not know the test CA
        ssl.create_default_context().wrap_socket(socket.create_connection(address),
                                                 server_hostname='localhost')
    except ssl.SSLCertVerificationError:
        print('refused')
    server.kill()
    listener.close()
    ''', *ssl_args(certs))
    assert out.split() == ['True', 'True', 'False', 'unverified', 'refused']


def test_celery_grows_and_shrinks_its_pool_through_semaphore_and_size():
    # celery's gevent TaskPool: grow() sets pool.size and releases
    # pool._semaphore; shrink() lowers pool._semaphore.counter.
    out = alias('''
    from celery.concurrency.gevent import TaskPool
    from gevent.event import Event
    pool = TaskPool(limit=2)
    pool.on_start()
    gpool = pool._pool
    def running_at_once():
        gate = Event()
        started = []
        def job():
            started.append(1)
            gate.wait()
        spawner = gevent.spawn(lambda: [gpool.spawn(job) for _ in range(6)])
        gevent.sleep(0.05)
        seen = len(started)
        gate.set()
        spawner.join()
        gpool.join()
        return seen
    print(gpool.size, gpool._semaphore.counter, running_at_once())
    pool.grow(2)
    print(gpool.size, gpool._semaphore.counter, gpool.free_count(), running_at_once())
    pool.shrink(3)
    print(gpool.size, gpool._semaphore.counter, running_at_once())
    pool.on_stop()
    ''')
    assert out.splitlines() == ['2 2 2', '4 4 4 4', '1 1 1']


def test_celery_kills_a_job_with_gevent_kill():
    # TaskPool.terminate_job(pid) calls gevent.kill(greenlet); the job's
    # wrapper turns the GreenletExit into celery's "not done" result.
    out = alias('''
    from celery.concurrency.gevent import TaskPool
    pool = TaskPool(limit=2)
    pool.on_start()
    results = []
    g = pool.on_apply(gevent.sleep, (30,), callback=results.append)
    gevent.sleep(0.01)
    pool.terminate_job(id(g))
    g.join(10)
    print(g.dead, results)
    pool.on_stop()
    ''')
    assert out.strip() == 'True [(False, None, None)]'


def test_celery_timer_greenlet_class_spawns_later_and_cancels():
    # celery's Timer: a Greenlet subclass with cancel = Greenlet.kill,
    # _Greenlet.spawn_later(secs, entry) as a classmethod, then link()
    out = alias('''
    from celery.concurrency.gevent import Timer
    timer = Timer()
    fired = []
    timer.call_after(0.01, fired.append, ('soon',))
    late = timer.call_after(30, fired.append, ('never',))
    print(type(late).__name__, isinstance(late, gevent.Greenlet), late.cancel == late.kill)
    gevent.sleep(0.1)
    print(fired, len(timer.queue))
    timer.cancel(late)
    gevent.sleep(0.01)
    print(late.dead, fired, len(timer.queue))
    ''')
    assert out.splitlines() == ['_Greenlet True True', "['soon'] 1", "True ['soon'] 0"]


def test_spawn_later_is_a_classmethod_making_the_subclass():
    out = alias('''
    class Job(gevent.Greenlet):
        pass
    g = Job.spawn_later(0.01, lambda: 'done')
    print(type(g) is Job, g.get(timeout=10), type(Job.spawn(int)) is Job)
    ''')
    assert out.split() == ['True', 'done', 'True']


def test_signal_handler_with_a_handler_taking_no_arguments():
    out = alias('''
    import os, signal
    from gevent.event import Event
    got = Event()
    def on_usr1():
        got.set()
    handle = gevent.signal_handler(signal.SIGUSR1, on_usr1)
    os.kill(os.getpid(), signal.SIGUSR1)
    print(got.wait(10))
    handle.cancel()
    ''')
    assert out.split() == ['True']


def test_iterating_a_channel_and_a_queue_stops_at_stop_iteration():
    out = alias('''
    from gevent.queue import Channel, Queue
    ch = Channel()
    def feed(target):
        for item in (1, 2, 3, StopIteration):
            target.put(item)
    gevent.spawn(feed, ch)
    print(list(ch))
    q = Queue()
    gevent.spawn(feed, q)
    print([x for x in q])
    ''')
    assert out.splitlines() == ['[1, 2, 3]', '[1, 2, 3]']
