"""gevent_c's public API used the way typed applications use it.

``mypy --strict`` must accept this file with no error and no ``Any`` leaking
into the values checked below (tests/test_typing.py), and running it must
work: each ``check_*`` function asserts what it got at run time too, so the
stubs describe what the code really does.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Iterable, Iterator

import gevent_c
from gevent_c import monkey
from gevent_c.event import AsyncResult, Event
from gevent_c.greenlet import Greenlet
from gevent_c.local import local
from gevent_c.lock import BoundedSemaphore, RLock, Semaphore
from gevent_c.pool import Group, Pool
from gevent_c.pywsgi import WSGIServer
from gevent_c.queue import Channel, Empty, JoinableQueue, PriorityQueue, Queue
from gevent_c.server import StreamServer
from gevent_c.socket import create_connection, socket
from gevent_c.threadpool import ThreadPool
from gevent_c.timeout import Timeout, with_timeout

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def double(x: int) -> int:
    gevent_c.sleep(0)
    return 2 * x


def greet(name: str, punctuation: str = '!') -> str:
    return 'hello ' + name + punctuation


def check_spawn() -> None:
    g: Greenlet[int] = gevent_c.spawn(double, 21)
    s = gevent_c.spawn(greet, 'typed', punctuation='?')
    later = gevent_c.spawn_later(0, double, 1)
    done = gevent_c.joinall([g, later], raise_error=True)
    answer: int = g.get()
    text: str = s.get(timeout=5)
    assert answer == 42 and text == 'hello typed?' and len(done) == 2
    value: int | None = later.value
    assert value == 2 and later.successful() and later.exception is None
    assert gevent_c.wait([g]) == [g]
    for ready in gevent_c.iwait([g, s]):
        assert ready.ready()
    gevent_c.killall([g, s])
    raw = gevent_c.spawn_raw(double, 1)
    gevent_c.kill(raw)


class Worker(Greenlet[str]):
    """The subclass form: _run's return type is get()'s."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word

    def _run(self) -> str:
        return self.word.upper()


def check_greenlet_subclass() -> None:
    w = Worker('up')
    w.start()
    w.join()
    out: str = w.get()
    assert out == 'UP'
    w.link(lambda glet: None)


def check_queues() -> None:
    q: Queue[int] = Queue()
    q.put(1)
    q.put_nowait(2)
    first: int = q.get()
    second: int = q.get_nowait()
    assert (first, second) == (1, 2)
    try:
        q.get(block=False)
    except Empty:
        pass
    jq: JoinableQueue[str] = JoinableQueue()
    jq.put('x')
    assert jq.get() == 'x'
    jq.task_done()
    assert jq.join(timeout=1)
    pq: PriorityQueue[tuple[int, str]] = PriorityQueue()
    pq.put((2, 'b'))
    pq.put((1, 'a'))
    prio, name = pq.get()
    assert (prio, name) == (1, 'a')
    ch: Channel[bytes] = Channel()
    gevent_c.spawn(ch.put, b'data')
    got: bytes = ch.get()
    assert got == b'data'
    items: Queue[str] = Queue(items=['a', 'b'])
    items.put(StopIteration)  # type: ignore[arg-type]  # the end-of-iteration sentinel
    assert list(items) == ['a', 'b']


def check_events_and_results() -> None:
    ev = Event()
    result: AsyncResult[str] = AsyncResult()

    def produce() -> None:
        result.set('ready')
        ev.set()

    gevent_c.spawn(produce)
    assert ev.wait(timeout=5)
    value: str = result.get()
    maybe: str | None = result.wait(0)
    assert value == 'ready' and maybe == 'ready' and result.successful()
    failed: AsyncResult[int] = AsyncResult()
    failed.set_exception(ValueError('no'))
    assert isinstance(failed.exception, ValueError)


def check_locks() -> None:
    sem = Semaphore(2)
    with sem:
        assert sem.counter == 1
    bounded = BoundedSemaphore(1)
    assert bounded.acquire(timeout=1)
    bounded.release()
    lock = RLock()
    with lock:
        with lock:
            pass


def check_pools() -> None:
    pool = Pool(4)
    squares: list[int] = pool.map(double, range(5))
    assert squares == [0, 2, 4, 6, 8]
    lengths: Iterator[int] = pool.imap(len, ['a', 'bb'])
    assert list(lengths) == [1, 2]
    unordered = sorted(pool.imap_unordered(double, [1, 2, 3]))
    assert unordered == [2, 4, 6]
    applied: str = pool.apply(greet, ('pool',))
    assert applied == 'hello pool!'
    pending = pool.apply_async(double, (5,))
    assert pending.get() == 10
    g: Greenlet[int] = pool.spawn(double, 3)
    assert pool.join(timeout=5)
    assert g.value == 6 and pool.free_count() == 4
    group = Group()
    group.spawn(greet, 'group')
    group.join()

    tp = ThreadPool(2)
    try:
        r = tp.spawn(sum, [1, 2, 3])
        total: int = r.get()
        assert total == 6
        assert tp.apply(pow, (2, 8)) == 256
    finally:
        tp.kill()


def check_timeouts() -> None:
    try:
        with Timeout(0.01):
            gevent_c.sleep(1)
    except Timeout as t:
        assert t.seconds == 0.01
    with Timeout(0.01, False):
        gevent_c.sleep(1)
    timer = Timeout.start_new(5)
    timer.cancel()
    quick: int = with_timeout(5, double, 4)
    slow: str | int = with_timeout(0.01, gevent_c.sleep, 1, timeout_value=-1) or 'slept'
    assert quick == 8 and slow == -1


class Request(local):
    user: str = 'anonymous'


def check_local() -> None:
    req = Request()
    req.user = 'main'

    def other() -> str:
        return req.user

    assert gevent_c.spawn(other).get() == 'anonymous' and req.user == 'main'


def handle_echo(sock: socket, address: tuple[str, int]) -> None:
    with sock:
        sock.sendall(sock.recv(100))


def check_stream_server() -> None:
    server = StreamServer(('127.0.0.1', 0), handle_echo)
    server.start()
    try:
        with create_connection(('127.0.0.1', server.server_port or 0)) as conn:
            conn.sendall(b'ping')
            assert conn.recv(100) == b'ping'
    finally:
        server.stop()


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'typed ', environ['PATH_INFO'].encode()]


def check_wsgi() -> None:
    server = WSGIServer(('127.0.0.1', 0), app, log=None)
    server.start()
    try:
        with create_connection(('127.0.0.1', server.server_port or 0)) as conn:
            conn.sendall(b'GET /x HTTP/1.0\r\n\r\n')
            reply = b''
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                reply += chunk
        assert reply.startswith(b'HTTP/1.1 200') and reply.endswith(b'typed /x'), reply
    finally:
        server.stop()


def check_hub_and_config() -> None:
    hub = gevent_c.get_hub()
    assert hub.loop.now() > 0
    size: int = gevent_c.config.threadpool_size
    assert size > 0
    current = gevent_c.getcurrent()
    assert not current.dead
    handler = gevent_c.signal_handler(10, print, 'SIGUSR1')
    handler.cancel()
    gevent_c.idle()
    assert not monkey.is_module_patched('ssl')
    original = monkey.get_original('time', 'sleep')
    assert callable(original)


def main() -> None:
    check_spawn()
    check_greenlet_subclass()
    check_queues()
    check_events_and_results()
    check_locks()
    check_pools()
    check_timeouts()
    check_local()
    check_stream_server()
    check_wsgi()
    check_hub_and_config()
    print('usage ok')


def patched_main() -> None:
    """What a program does first: monkey-patch (not run by the test, it
    would patch the test's interpreter; only type-checked)."""
    patched: bool | None = monkey.patch_all(thread=False)
    assert patched is not False
    monkey.patch_socket()


if __name__ == '__main__':
    if '--patch' in sys.argv:
        patched_main()
    main()
