"""Deliberate type errors: ``mypy --strict`` must report exactly the error
marked on each line (``# E: <code>``) and nothing else, which shows the
stubs carry real types rather than Any. Never run."""
from __future__ import annotations

import gevent_c
from gevent_c import monkey
from gevent_c.event import AsyncResult, Event
from gevent_c.local import local
from gevent_c.pool import Pool
from gevent_c.queue import Channel, Queue
from gevent_c.server import StreamServer
from gevent_c.socket import socket
from gevent_c.timeout import Timeout, with_timeout


def double(x: int) -> int:
    return 2 * x


def handle(sock: socket) -> None:
    sock.close()


class Request(local):
    user: str = 'anonymous'


def wrong() -> None:
    g = gevent_c.spawn(double, 1)
    text: str = g.get()  # E: assignment
    gevent_c.spawn(double, 'one')  # E: arg-type
    gevent_c.spawn(double)  # E: call-arg
    gevent_c.spawn_later(1, double, x='one')  # E: arg-type
    q: Queue[int] = Queue()
    q.put('one')  # E: arg-type
    ch: Channel[bytes] = Channel()
    size: str = ch.get()  # E: assignment
    result: AsyncResult[int] = AsyncResult()
    result.set('one')  # E: arg-type
    pool = Pool(2)
    names: list[str] = pool.map(double, [1, 2])  # E: arg-type
    pool.spawn(double, 'one')  # E: arg-type
    with Timeout('soon'):  # E: arg-type
        gevent_c.sleep('1')  # E: arg-type
    with_timeout(1, double, 'one')  # E: call-overload
    StreamServer(('127.0.0.1', 0), handle)  # E: arg-type
    StreamServer(8000.5, handle=None)  # E: arg-type
    monkey.patch_all(socket='yes')  # E: arg-type
    gevent_c.spawnn(double, 1)  # E: attr-defined
    gevent_c.config.threadpool_sizee = 3  # E: attr-defined
    now: int = gevent_c.get_hub().loop.now()  # E: assignment
    flag: str = Event().wait()  # E: assignment
    Request().user = 1  # E: assignment
    with gevent_c.TaskGroup() as tg:
        tg.spawn(double, 'one')  # E: arg-type
